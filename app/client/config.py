"""The client's settings: arguments beat environment variables beat the contract's defaults."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app import defaults

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ClientConfig:
    api_base_url: str
    api_key: str | None
    # None: the client does not know the coach names and lets the service judge them.
    coaches: tuple[str, ...] | None
    zone: ZoneInfo
    cache_ttl_seconds: float
    max_cache_size: int
    reconnect_attempts: int
    reconnect_delay_seconds: float
    connection_timeout: float
    guild_id: str | None = None  # the Discord server whose plans are read; None: the service's
    # Seconds a read may take, retries included; None: only reconnect_attempts bounds it.
    deadline_seconds: float | None = None

    @property
    def absent_ttl_seconds(self) -> float:
        # "No plan yet" changes as soon as the coach posts, so it is trusted only briefly.
        return min(60.0, self.cache_ttl_seconds)


def build_config(
    *,
    api_base_url: str,
    api_key: str | None,
    coaches: Iterable[str] | str | None,
    timezone: str | None,
    cache_ttl_seconds: float | None,
    max_cache_size: int | None,
    reconnect_attempts: int | None,
    reconnect_delay_seconds: float | None,
    connection_timeout: float | None,
    guild_id: str | int | None = None,
    deadline_seconds: float | None = None,
) -> ClientConfig:
    """Fill what the caller left out from the environment, then from the contract's defaults."""
    names = coaches if coaches is not None else os.environ.get("COACHES") or None
    return ClientConfig(
        api_base_url=api_base_url.rstrip("/"),
        api_key=api_key if api_key is not None else os.environ.get("API_KEY") or None,
        coaches=None if names is None else _coach_names(names),
        zone=_zone(timezone or os.environ.get("TIMEZONE") or defaults.TIMEZONE),
        cache_ttl_seconds=_pick(
            "CACHE_TTL_SECONDS", cache_ttl_seconds, float, defaults.CACHE_TTL_SECONDS, 0
        ),
        max_cache_size=_pick("MAX_CACHE_SIZE", max_cache_size, int, defaults.MAX_CACHE_SIZE, 1),
        reconnect_attempts=_pick(
            "RECONNECT_ATTEMPTS", reconnect_attempts, int, defaults.RECONNECT_ATTEMPTS, 0
        ),
        reconnect_delay_seconds=_pick(
            "RECONNECT_DELAY_SECONDS",
            reconnect_delay_seconds,
            float,
            defaults.RECONNECT_DELAY_SECONDS,
            0,
        ),
        connection_timeout=resolve_timeout(connection_timeout),
        guild_id=_guild(guild_id),
        deadline_seconds=_deadline(deadline_seconds),
    )


def resolve_timeout(given: float | None) -> float:
    """The seconds one request may take: `given`, else CONNECTION_TIMEOUT, else the default."""
    return _pick("CONNECTION_TIMEOUT", given, float, defaults.CONNECTION_TIMEOUT, 0.001)


def _deadline(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise ValueError(f"deadline_seconds must be more than 0, got {value!r}")
    return value


def _guild(value: str | int | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        raise ValueError(f"guild_id {value!r} is not a Discord server id (digits)")
    return text


def _pick(name: str, given: T | None, kind: Callable[[str], T], default: T, least: float) -> T:
    value: T
    if given is not None:
        value = given
    elif os.environ.get(name, "").strip():
        try:
            value = kind(os.environ[name].strip())
        except ValueError:
            raise ValueError(f"{name}={os.environ[name]!r} is not a number") from None
    else:
        value = default
    if value < least:  # type: ignore[operator]  # T is int or float here
        raise ValueError(f"{name.lower()} must be at least {least}, got {value!r}")
    return value


def _coach_names(names: Iterable[str] | str) -> tuple[str, ...]:
    parts = names.split(",") if isinstance(names, str) else names
    cleaned = tuple(part.strip().lower() for part in parts if part.strip())
    if not cleaned:
        raise ValueError("coaches must name at least one coach, e.g. d,i,s,n")
    return cleaned


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"timezone {name!r} is not an IANA time zone, e.g. America/New_York"
        ) from None
