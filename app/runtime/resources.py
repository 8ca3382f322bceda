"""The resources one running service owns, as the edges use them.

Discord's endpoint, the API and the commands read them; the composition root
(app/runtime/services.py) builds them and hands them to the app. This module sits below the edges
in the layer contract (pyproject.toml) and imports nothing that builds them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from starlette.requests import HTTPConnection

from app.observability.metrics import Metrics
from app.records import Clock, system_clock
from app.settings import Settings
from app.storage.threads import DatabaseThreads

if TYPE_CHECKING:
    import httpx
    from sqlalchemy import Engine

    from app.charts.archive import ChartArchive
    from app.charts.store import ChartStore
    from app.community.roster import Setup
    from app.community.service import CommunityService
    from app.discord.rest import Webhook
    from app.pictures.service import Pictures
    from app.plans.service import PlanService
    from app.storage.outcomes import OutcomeStore

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
    community: CommunityService  # each guild's own roster and settings (app/community)
    outcomes: OutcomeStore  # what the market did with each plan (app/outcomes)
    pictures: Pictures  # outcome and scorecard pictures, cached (app/pictures)
    clock: Clock = system_clock  # the one clock: the plans, their storage, status timestamps

    async def write(self, call: Callable[..., T], *args: object) -> T:
        return await self.threads.write(call, *args)

    async def read(self, call: Callable[..., T], *args: object) -> T:
        return await self.threads.read(call, *args)

    async def guild(self, guild: str, *, posting: bool = False) -> tuple[PlanService, Setup]:
        """The plan rules as `guild` sees them (its roster and time zone), and its setup: read
        from the database on every call, so every instance sees a change at once."""
        return await self.read(functools.partial(self.rules, guild, posting=posting))

    def rules(self, guild: str, *, posting: bool = False) -> tuple[PlanService, Setup]:
        """guild(), in the worker thread of a call that reads more after it (one hop)."""
        setup = self.community.setup(guild)
        return self.community.plans_for(self.plans, setup, posting=posting), setup

    async def read_as(
        self, guild: str, call: Callable[[PlanService, Setup], T], *, posting: bool = False
    ) -> tuple[PlanService, Setup, T]:
        """guild(), and `call` given what it returns, in one worker-thread call: a command or
        read that needs the guild's rules costs one hop off the event loop, not two."""
        return await self.read(self._as, guild, call, posting)

    async def write_as(
        self, guild: str, call: Callable[[PlanService, Setup], T], *, posting: bool = False
    ) -> tuple[PlanService, Setup, T]:
        """read_as, for a call that writes (one at a time)."""
        return await self.write(self._as, guild, call, posting)

    def _as(
        self, guild: str, call: Callable[[PlanService, Setup], T], posting: bool
    ) -> tuple[PlanService, Setup, T]:
        plans, setup = self.rules(guild, posting=posting)
        return plans, setup, call(plans, setup)

    async def close(self) -> None:
        await self.http.aclose()
        await self.webhook.http.aclose()
        await self.store.close()
        self.engine.dispose()


def services_for(request: HTTPConnection) -> Services:
    """The services for a request's handler: the app's lifespan put them in its state, before
    the server let any request in."""
    services: Services = request.state.services
    return services
