"""Python client of the Coach Plans read API, for TradingAgents and other programs.

    from app.client import create_client
    client = create_client(api_base_url="http://localhost:5000")
    client.fetch_coach_plan("d")            # today's plan of coach d, or None
    client.agent_state()                    # {"coach_d_plan": ..., "coach_d_levels": {...}, ...}
    client.fetch_plans_for_ticker("SPY")    # today's plans whose levels name SPY

`create_async_client(...)` takes the same arguments and returns the async twin, whose methods
are coroutines. Arguments left as None come from the environment (the service's setting
names: API_KEY, COACHES, TIMEZONE, CACHE_TTL_SECONDS, MAX_CACHE_SIZE, RECONNECT_ATTEMPTS,
RECONNECT_DELAY_SECONDS, CONNECTION_TIMEOUT), else from the service's defaults.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import httpx

from app import defaults
from app.client.asynchronous import AsyncCoachPlansClient
from app.client.blocking import CoachPlansClient
from app.client.config import build_config
from app.client.core import ClientCore
from app.client.errors import ApiError, ClientError, InvalidRequest, ServiceUnavailable

__all__ = [
    "ApiError",
    "AsyncCoachPlansClient",
    "ClientError",
    "CoachPlansClient",
    "InvalidRequest",
    "ServiceUnavailable",
    "create_async_client",
    "create_client",
]


def create_client(
    api_base_url: str = defaults.API_BASE_URL,
    api_key: str | None = None,
    coaches: Iterable[str] | str | None = None,
    timezone: str | None = None,
    cache_ttl_seconds: float | None = None,
    max_cache_size: int | None = None,
    reconnect_attempts: int | None = None,
    reconnect_delay_seconds: float | None = None,
    connection_timeout: float | None = None,
    guild_id: str | int | None = None,
    deadline_seconds: float | None = None,
    transport: httpx.BaseTransport | None = None,
    timer: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> CoachPlansClient:
    """A blocking client; share one per process (it pools connections and is thread-safe).

    `guild_id` names the Discord server whose plans to read (each server's plans are its own);
    None lets the service choose (DEFAULT_GUILD_ID, or the only server with plans).
    `deadline_seconds` bounds each read, retries included: a retry is made only when it can
    end in time, else the read fails (or answers stale) at once; None leaves the bound to
    `reconnect_attempts`. `transport` replaces the network (tests pass an
    httpx.MockTransport); `timer` replaces the clock of the cache and of the deadline
    (monotonic seconds), and `sleep` the wait between tries (tests pass a clock that moves
    when slept).
    """
    config = build_config(
        api_base_url=api_base_url,
        api_key=api_key,
        coaches=coaches,
        timezone=timezone,
        cache_ttl_seconds=cache_ttl_seconds,
        max_cache_size=max_cache_size,
        reconnect_attempts=reconnect_attempts,
        reconnect_delay_seconds=reconnect_delay_seconds,
        connection_timeout=connection_timeout,
        guild_id=guild_id,
        deadline_seconds=deadline_seconds,
    )
    return CoachPlansClient(ClientCore(config, timer, sleep=sleep), transport)


def create_async_client(
    api_base_url: str = defaults.API_BASE_URL,
    api_key: str | None = None,
    coaches: Iterable[str] | str | None = None,
    timezone: str | None = None,
    cache_ttl_seconds: float | None = None,
    max_cache_size: int | None = None,
    reconnect_attempts: int | None = None,
    reconnect_delay_seconds: float | None = None,
    connection_timeout: float | None = None,
    guild_id: str | int | None = None,
    deadline_seconds: float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timer: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> AsyncCoachPlansClient:
    """The async twin of `create_client`: the same arguments (`sleep` a coroutine function),
    methods to await."""
    config = build_config(
        api_base_url=api_base_url,
        api_key=api_key,
        coaches=coaches,
        timezone=timezone,
        cache_ttl_seconds=cache_ttl_seconds,
        max_cache_size=max_cache_size,
        reconnect_attempts=reconnect_attempts,
        reconnect_delay_seconds=reconnect_delay_seconds,
        connection_timeout=connection_timeout,
        guild_id=guild_id,
        deadline_seconds=deadline_seconds,
    )
    return AsyncCoachPlansClient(ClientCore(config, timer, pause=sleep), transport)
