"""The composition root's builder: the resources one running service owns.

The storage stack (SQLAlchemy, SQLModel, Alembic) and the HTTP client take longer to import than
the rest of the service together, so they are imported here, in the worker thread that builds
them: on a woken server the front (app/runtime/wake.py) builds them with the app, after it
listens; otherwise the app's lifespan builds them before the server lets a request in
(app/runtime/web.py). The edges read what this builds through app/runtime/resources.py.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from app.observability.metrics import Metrics
from app.records import Clock, system_clock
from app.runtime.resources import Services
from app.settings import Settings
from app.storage.threads import DatabaseThreads

if TYPE_CHECKING:
    import httpx

    from app.charts.store import ChartStore
    from app.plans.quotas import Limits


def build_services(
    settings: Settings,
    metrics: Metrics,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = system_clock,
) -> Services:
    """Open the database (upgrading its schema) and the HTTP clients. Synchronous and slow on a
    cold process: it runs in a worker thread (app/runtime/web.py, app/runtime/wake.py).
    `transport` carries every call to Discord: the fake Discord in mock mode (given by the entry
    point, app/cli.py), a test's fake, or the network. `clock` (tests) says what time it is: what
    day is today, and the time writes are stamped with."""
    import httpx

    from app.charts.archive import ChartArchive
    from app.community.service import CommunityService
    from app.discord.rest import Webhook
    from app.pictures.service import Pictures
    from app.plans.service import PlanService
    from app.retry import Backoff
    from app.storage.community import SetupStore
    from app.storage.database import make_engine, migrate, ping
    from app.storage.leases import CHART_RETRIES, Lease
    from app.storage.outcomes import OutcomeStore
    from app.storage.repository import PlanRepository

    engine = make_engine(settings.database_url)
    migrate(engine)
    probe_engine = make_engine(settings.database_url, pooled=False)
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
    outcomes = OutcomeStore(engine)
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
            Backoff(settings.reconnect_attempts, settings.reconnect_delay_seconds, clock=clock),
            settings.discord_application_id,
        ),
        clock=clock,
        community=CommunityService(
            SetupStore(engine), coaches=settings.coaches, timezone=settings.zone, clock=clock
        ),
        outcomes=outcomes,
        pictures=Pictures(settings, outcomes),
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
