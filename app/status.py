"""Service status: the index, /health, and the counters on /metrics."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app import __version__
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


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def index(request: Request) -> Response:
    return JSONResponse({"name": "coach-plans", "version": __version__, "endpoints": ENDPOINTS})


async def health(request: Request) -> Response:
    services: Services = request.state.services
    discord = "mock" if services.settings.mock_mode else "configured"
    try:
        plan_count = await services.read(ping, services.probe_engine)
        database = {"status": "up", "plan_count": plan_count}
        status, code = "healthy", 200
    except Exception as exc:  # any database failure means unhealthy, never a crash
        log.warning("health check: database unreachable: %s", exc.__class__.__name__)
        database = {"status": "down", "error": exc.__class__.__name__}
        status, code = "unhealthy", 503
    body = {
        "status": status,
        "timestamp": _now(),
        "version": __version__,
        "components": {"database": database, "discord": {"status": discord}},
    }
    return JSONResponse(body, status_code=code, headers={"Cache-Control": "no-store"})


async def metrics(request: Request) -> Response:
    services: Services = request.state.services
    counts = await services.read(services.plans.counts)
    body = {
        "timestamp": _now(),
        **services.metrics.snapshot(),
        "database": {
            "total_plans": counts["plans"],
            "total_charts": counts["charts"],
            "total_edits": counts["edits"],
        },
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def prometheus(request: Request) -> Response:
    services: Services = request.state.services
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
