"""The resources one running service owns, and the warm-up that builds them.

The storage stack (SQLAlchemy, SQLModel, Alembic) and the HTTP client take longer to import than
the rest of the service together. So the server listens first, and the warm-up imports and
builds them in a worker thread: a machine woken from zero answers a PING at once, and a command
with a deferral while the warm-up ends (app/interactions/endpoint.py). Everything else that needs
them awaits `Runtime.services()`. tests/test_cold_start.py keeps those imports off the start path.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import HTTPConnection

from app.errors import PlanError
from app.observability.metrics import Metrics
from app.settings import Settings
from app.storage.threads import DatabaseThreads

if TYPE_CHECKING:
    import httpx
    from sqlalchemy import Engine

    from app.charts.archive import ChartArchive
    from app.charts.store import ChartStore
    from app.discord.rest import Webhook
    from app.mock.discord import FakeDiscord
    from app.plans.quotas import Limits
    from app.plans.service import PlanService

log = logging.getLogger("coach_plans")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    engine: Engine
    probe: Callable[[], int]  # plan count over a new connection: /health sees the database now
    plans: PlanService
    metrics: Metrics
    http: httpx.AsyncClient  # chart downloads (Discord's CDN)
    threads: DatabaseThreads
    charts: ChartArchive
    store: ChartStore  # where archived charts are kept: a directory or a bucket
    webhook: Webhook  # answers after the first, to interactions we deferred (its own client)
    fake_discord: FakeDiscord | None  # mock mode: Discord's side, kept in-process

    async def write(self, call: Callable[..., T], *args: object) -> T:
        return await self.threads.write(call, *args)

    async def read(self, call: Callable[..., T], *args: object) -> T:
        return await self.threads.read(call, *args)

    async def close(self) -> None:
        await self.http.aclose()
        await self.webhook.http.aclose()
        await self.store.close()
        self.engine.dispose()


def build_services(
    settings: Settings,
    metrics: Metrics,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Services:
    """Open the database (upgrading its schema) and the HTTP client. Synchronous and slow on a
    cold process: the warm-up runs it in a worker thread. `clock` (tests) says what time it is:
    what day is today, and the time writes are stamped with."""
    import httpx

    from app.charts.archive import ChartArchive
    from app.discord.rest import Webhook
    from app.plans.service import PlanService
    from app.retry import Backoff
    from app.storage.database import make_engine, migrate, ping
    from app.storage.leases import CHART_RETRIES, Lease
    from app.storage.repository import PlanRepository

    engine = make_engine(settings.database_url)
    migrate(engine)
    probe_engine = make_engine(settings.database_url, pooled=False)
    fake_discord = None
    if settings.mock_mode:
        from app.mock.discord import FakeDiscord, name_in_logs

        # Calls to Discord are answered and kept in-process; the rest goes out as usual.
        outside = transport or httpx.AsyncHTTPTransport()
        fake_discord = FakeDiscord(settings.discord_api_base_url, outside=outside, local_cdn=True)
        name_in_logs(settings.discord_api_base_url)
        transport = fake_discord
    timeout = httpx.Timeout(settings.connection_timeout)
    # Two clients, two connection pools: chart downloads, however many and slow, never hold
    # the connections an answer to Discord waits for.
    http = httpx.AsyncClient(transport=transport, timeout=timeout)
    discord_http = httpx.AsyncClient(transport=transport, timeout=timeout)
    plans = PlanService(
        PlanRepository(engine, clock),
        coaches=settings.coaches,
        timezone=settings.zone,
        max_charts=settings.max_chart_attachments,
        limits=limits_of(settings),
        clock=clock,
    )
    threads = DatabaseThreads()
    store = open_store(settings)
    lease = Lease(engine, CHART_RETRIES, "chart-retries")
    return Services(
        settings=settings,
        engine=engine,
        probe=functools.partial(ping, probe_engine),
        plans=plans,
        metrics=metrics,
        http=http,
        threads=threads,
        charts=ChartArchive(settings, http, plans, threads, store, lease),
        store=store,
        webhook=Webhook(
            discord_http,
            settings.discord_api_base_url,
            Backoff(settings.reconnect_attempts, settings.reconnect_delay_seconds),
            settings.discord_application_id,
        ),
        fake_discord=fake_discord,
    )


def open_store(settings: Settings) -> ChartStore:
    """The bucket when CHART_BUCKET (or BUCKET_NAME) is set, else the local directory."""
    if settings.chart_bucket:
        from app.charts.bucket import BucketStore  # its client library is loaded only if used

        return BucketStore(settings)
    from app.charts.store import DirectoryStore

    return DirectoryStore(settings.chart_storage_dir)


def limits_of(settings: Settings) -> Limits:
    """The bounds on what commands post, as the settings give them."""
    from app.plans.quotas import MB, Limits

    return Limits(
        days_back=settings.plan_days_back,
        days_ahead=settings.plan_days_ahead,
        member_plans=settings.member_plans_per_day,
        guild_plans=settings.guild_plans_per_day,
        member_chart_bytes=int(settings.member_chart_mb_per_day * MB),
        guild_chart_bytes=int(settings.guild_chart_mb_per_day * MB),
    )


class NotStarted(PlanError):
    """The warm-up failed (the database could not be opened): nothing can be served."""

    status = 503
    code = "unavailable"


class Runtime:
    """The services once the warm-up has built them. Made per app by the lifespan."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock  # tests set the time; else it is the system's
        self.current: Services | None = None
        self.error: BaseException | None = None
        self.ready = anyio.Event()
        # Set by the server once it listens (app/cli.py): the warm-up's imports hold the GIL,
        # and they must not slow the start of listening, which is what a woken machine waits on.
        self.listening = anyio.Event()
        self._built = threading.Event()  # the same, for code outside the event loop (tests)

    async def warm_up(
        self,
        settings: Settings,
        metrics: Metrics,
        transport: httpx.AsyncBaseTransport | None,
        on_failure: Callable[[], None] | None = None,
        after_listening: bool = False,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Build the services in a worker thread; once they are ready, run `then` (more
        imports) in one too."""
        if after_listening:
            await self.listening.wait()
        await self._build(settings, metrics, transport, on_failure)
        if self.current is not None and then is not None:
            await anyio.to_thread.run_sync(then)

    async def _build(
        self,
        settings: Settings,
        metrics: Metrics,
        transport: httpx.AsyncBaseTransport | None,
        on_failure: Callable[[], None] | None,
    ) -> None:
        started = time.perf_counter()
        build = functools.partial(build_services, settings, metrics, transport, self.clock)
        try:
            self.current = await anyio.to_thread.run_sync(build)
            log.info("storage ready in %.0f ms", (time.perf_counter() - started) * 1000)
        except Exception as exc:
            self.error = exc
            log.exception("the service could not open its database, so it cannot serve")
            if on_failure is not None:
                on_failure()
        finally:
            self.ready.set()
            self._built.set()

    async def services(self) -> Services:
        """The services, waiting for the warm-up if it is still going."""
        if self.current is None:
            await self.ready.wait()
            if self.current is None:
                raise NotStarted(
                    "The service could not open its database; its log says why. Try again later."
                )
        return self.current

    def wait(self, timeout: float = 30.0) -> Services:
        """The services, from outside the event loop (blocks)."""
        if not self._built.wait(timeout) or self.current is None:
            raise RuntimeError(f"the warm-up did not finish: {self.error!r}")
        return self.current


async def services_for(request: HTTPConnection) -> Services:
    """The services for a request's handler (the lifespan put its Runtime in the app state)."""
    runtime: Runtime = request.state.runtime
    return await runtime.services()
