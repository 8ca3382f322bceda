"""Service status: the index, /health, and the counters on /metrics and /metrics/prometheus."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from app import __version__
from app.api import models
from app.api.models import answer
from app.services import Services
from app.storage.database import ping

log = logging.getLogger("coach_plans")


ENDPOINTS = [
    "POST /interactions",
    "GET /health",
    "GET /metrics",
    "GET /metrics/prometheus",
    "GET /api/coach-plans/?coach=&date=&as_of=",
    "GET /api/coach-plans/all?date=",
    "GET /api/coach-plans/history?coach=&date=",
    "GET /charts/{chart_id}",
    "GET /openapi.json",
]


async def index(request: Request) -> Response:
    return answer(models.Index(name="coach-plans", version=__version__, endpoints=ENDPOINTS))


async def health(request: Request) -> Response:
    services: Services = request.state.services
    discord: Literal["mock", "configured"] = "mock" if services.settings.mock_mode else "configured"
    database: models.DatabaseUp | models.DatabaseDown
    status: Literal["healthy", "unhealthy"]
    try:
        plan_count = await services.read(ping, services.probe_engine)
        database = models.DatabaseUp(status="up", plan_count=plan_count)
        status, code = "healthy", 200
    except Exception as exc:  # any database failure means unhealthy, never a crash
        log.warning("health check: database unreachable: %s", exc.__class__.__name__)
        database = models.DatabaseDown(status="down", error=exc.__class__.__name__)
        status, code = "unhealthy", 503
    body = models.Health(
        status=status,
        timestamp=datetime.now(UTC),
        version=__version__,
        components=models.Components(
            database=database, discord=models.DiscordStatus(status=discord)
        ),
    )
    return answer(body, code, headers={"Cache-Control": "no-store"})


async def metrics(request: Request) -> Response:
    services: Services = request.state.services
    counts = await services.read(services.plans.counts)
    body = {
        "timestamp": datetime.now(UTC),
        **services.metrics.snapshot(),
        "database": {
            "total_plans": counts["plans"],
            "total_charts": counts["charts"],
            "total_edits": counts["edits"],
        },
    }
    return answer(models.Metrics.model_validate(body), headers={"Cache-Control": "no-store"})


async def prometheus(request: Request) -> Response:
    services: Services = request.state.services
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
