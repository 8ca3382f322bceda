"""The resources one running service owns, built by the lifespan and handed to every handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio.to_thread
import httpx
from anyio import CapacityLimiter
from nacl.signing import VerifyKey
from sqlalchemy import Engine

from app.metrics import Metrics
from app.plans import PlanService
from app.settings import Settings
from app.signatures import load_or_create_mock_key
from app.storage.database import make_engine, migrate
from app.storage.repository import PlanRepository

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    engine: Engine
    probe_engine: Engine  # unpooled, so /health sees the database as it is now
    plans: PlanService
    metrics: Metrics
    http: httpx.AsyncClient
    verify_key: VerifyKey
    # The database calls are synchronous: they run in worker threads so the event loop never
    # blocks. One write at a time per process keeps p99 flat (writers serialise anyway).
    write_limiter: CapacityLimiter
    read_limiter: CapacityLimiter
    # Ids of charts being downloaded now, so a command and the background retry never fetch
    # the same chart at once.
    charts_in_flight: set[int] = field(default_factory=set)

    async def write(self, call: Callable[..., T], *args: object) -> T:
        return await anyio.to_thread.run_sync(call, *args, limiter=self.write_limiter)

    async def read(self, call: Callable[..., T], *args: object) -> T:
        return await anyio.to_thread.run_sync(call, *args, limiter=self.read_limiter)


def build_services(settings: Settings, http: httpx.AsyncClient, metrics: Metrics) -> Services:
    engine = make_engine(settings.database_url)
    migrate(engine)
    if settings.mock_mode:
        verify_key = load_or_create_mock_key(settings.mock_key_file).verify_key
    else:
        assert settings.discord_public_key is not None  # enforced by Settings
        verify_key = VerifyKey(bytes.fromhex(settings.discord_public_key))
    plans = PlanService(
        PlanRepository(engine),
        coaches=settings.coaches,
        timezone=settings.zone,
        max_charts=settings.max_chart_attachments,
    )
    return Services(
        settings=settings,
        engine=engine,
        probe_engine=make_engine(settings.database_url, pooled=False),
        plans=plans,
        metrics=metrics,
        http=http,
        verify_key=verify_key,
        write_limiter=CapacityLimiter(1),
        read_limiter=CapacityLimiter(4),
    )
