"""Service status: the index (derived from the route table), /health, and the counters on
/metrics and /metrics/prometheus.

/health stays open for the platform's health check, which sends no key; when API_KEY is set, a
caller without it learns up or down and nothing else (no counts, no components, no mock mode)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Literal

import anyio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from app import __version__
from app.api import models, openapi
from app.api.auth import holds_key
from app.api.models import answer
from app.charts.store import StoreError
from app.runtime.resources import Services, services_for

log = logging.getLogger("coach_plans")

# A health check has a short deadline of its own (Fly's is 5 s, fly.toml): a chart store that
# has not answered within this counts as down, so a stalled bucket never makes the whole service
# miss its checks and be taken out of rotation.
CHARTS_PROBE_SECONDS = 2.0


async def index(request: Request) -> Response:
    endpoints = list(listed_endpoints(request.app.routes))
    return answer(models.Index(name="coach-plans", version=__version__, endpoints=endpoints))


def listed_endpoints(routes: Iterable[BaseRoute]) -> Iterator[str]:
    """`METHOD /path` per endpoint of the route table, with the query a read takes; a path's
    twin (the same endpoint with or without the trailing slash) is not listed again."""
    seen: set[object] = set()
    for route in _flattened(routes):
        if route.endpoint in seen:
            continue
        seen.add(route.endpoint)
        # A Route without methods takes them all; its ASGI endpoint says which it answers.
        methods: Iterable[str] = route.methods or getattr(route.endpoint, "methods", None) or ()
        query = "&".join(f"{name}=" for name in openapi.query_parameters(route.path))
        for method in sorted(set(methods) - {"HEAD"}):
            yield f"{method} {route.path}" + (f"?{query}" if query else "")


def _flattened(routes: Iterable[BaseRoute]) -> Iterator[Route]:
    """The routes of the table, a Mount's own ones included (the API is mounted at the root)."""
    for route in routes:
        if isinstance(route, Mount):
            yield from _flattened(route.routes)
        elif isinstance(route, Route):
            yield route


async def health(request: Request) -> Response:
    services = services_for(request)
    discord: Literal["mock", "configured"] = "mock" if services.settings.mock_mode else "configured"
    charts: models.ChartsStatus | None = None

    async def probe_charts() -> None:
        nonlocal charts
        charts = await _charts_status(services)

    # The two probes side by side: a slow store must not add to a slow database.
    async with anyio.create_task_group() as probes:
        probes.start_soon(probe_charts)
        database = await _database_status(services)
    assert charts is not None
    up = isinstance(database, models.DatabaseUp)
    status: Literal["healthy", "unhealthy"] = "healthy" if up else "unhealthy"
    body: models.Health | models.HealthStatus = models.Health(
        status=status,
        timestamp=services.clock(),
        version=__version__,
        components=models.Components(
            database=database, discord=models.DiscordStatus(status=discord), charts=charts
        ),
    )
    if not holds_key(request.scope, services.settings.api_key):
        body = models.HealthStatus(status=status, timestamp=body.timestamp)
    return answer(body, 200 if up else 503, headers={"Cache-Control": "no-store"})


async def _database_status(services: Services) -> models.DatabaseUp | models.DatabaseDown:
    try:
        plan_count = await services.read(services.probe)
    except Exception as exc:  # any database failure means unhealthy, never a crash
        log.warning("health check: database unreachable: %s", exc.__class__.__name__)
        return models.DatabaseDown(status="down", error=exc.__class__.__name__)
    return models.DatabaseUp(status="up", plan_count=plan_count)


async def _charts_status(services: Services) -> models.ChartsStatus:
    """Down does not make the service unhealthy: plans are still taken, and their charts wait
    (pending) until the store is back."""
    store = services.store
    seconds = min(services.settings.connection_timeout, CHARTS_PROBE_SECONDS)
    why = f"no answer within {seconds:g}s"
    with anyio.move_on_after(seconds):
        try:
            await store.check()
            return models.ChartsStatus(status="up", backend=store.backend)
        except StoreError as exc:
            why = exc.reason
    log.warning("health check: chart %s is down: %s", store.backend, why)
    return models.ChartsStatus(status="down", backend=store.backend)


async def metrics(request: Request) -> Response:
    services = services_for(request)
    counts = await services.read(services.plans.counts)
    body = {
        "timestamp": services.clock(),
        **services.metrics.snapshot(),
        "database": {
            "total_plans": counts["plans"],
            "total_charts": counts["charts"],
            "total_edits": counts["edits"],
        },
    }
    return answer(models.Metrics.model_validate(body), headers={"Cache-Control": "no-store"})


async def prometheus(request: Request) -> Response:
    services = services_for(request)
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
