"""The HTTP API beside Discord's endpoint: the JSON reads, chart images, status and the OpenAPI
document, as the route table app/runtime/web.py serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.api import charts, openapi, outcomes, reads, status

Endpoint = Callable[[Request], Awaitable[Response]]


def _with_twin(path: str, endpoint: Endpoint) -> list[Route]:
    """`path`, then its twin with or without the trailing slash, both answered rather than
    redirected: API clients rarely follow redirects on GET with auth headers."""
    twin = path.removesuffix("/") if path.endswith("/") else f"{path}/"
    return [Route(path, endpoint, methods=["GET"]), Route(twin, endpoint, methods=["GET"])]


# Tried in order: the reads, the hot path, come first. The first of twins is the documented one.
routes: list[Route] = [
    *_with_twin("/api/coach-plans/", reads.plan),
    *_with_twin("/api/coach-plans/all", reads.plans_of_day),
    *_with_twin("/api/coach-plans/history", reads.history),
    *_with_twin("/api/coach-plans/by-ticker", reads.by_ticker),
    *_with_twin("/api/coach-plans/coaches", reads.coaches),
    *_with_twin("/api/coach-plans/outcome", outcomes.outcome),
    *_with_twin("/api/coach-plans/scorecard", outcomes.scorecard),
    Route("/api/coach-plans/outcome.png", outcomes.outcome_png, methods=["GET"]),
    Route("/api/coach-plans/scorecard.png", outcomes.scorecard_png, methods=["GET"]),
    Route("/charts/{chart_id}", charts.chart, methods=["GET"]),
    Route("/", status.index, methods=["GET"]),
    Route("/health", status.health, methods=["GET"]),
    Route("/metrics", status.metrics, methods=["GET"]),
    Route("/metrics/prometheus", status.prometheus, methods=["GET"]),
    Route("/openapi.json", openapi.openapi, methods=["GET"]),
]

__all__ = ["routes"]
