"""The HTTP API beside Discord's endpoint: the JSON reads, chart images, status and the OpenAPI
document, as the route table app/runtime/web.py serves."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]

# The modules behind the routes. They build the API's pydantic models when imported, a sizeable
# share of a cold start that Discord's first interaction does not need: the routes import them at
# their first request, and the warm-up (app/runtime/web.py) loads them once the storage is ready.
MODULES = ("reads", "outcomes", "charts", "status", "openapi")


def load() -> None:
    for module in MODULES:
        importlib.import_module(f"app.api.{module}")


def _lazy(module: str, name: str) -> Endpoint:
    """The handler `name` of app.api.<module>, imported when first asked for."""
    handler: Endpoint | None = None

    async def endpoint(request: Request) -> Response:
        nonlocal handler
        if handler is None:
            found = getattr(importlib.import_module(f"app.api.{module}"), name)
            handler = cast(Endpoint, found)
        return await handler(request)

    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint


def _with_twin(path: str, endpoint: Endpoint) -> list[Route]:
    """`path`, then its twin with or without the trailing slash, both answered rather than
    redirected: API clients rarely follow redirects on GET with auth headers."""
    twin = path.removesuffix("/") if path.endswith("/") else f"{path}/"
    return [Route(path, endpoint, methods=["GET"]), Route(twin, endpoint, methods=["GET"])]


# Tried in order: the reads, the hot path, come first. The first of twins is the documented one.
routes: list[Route] = [
    *_with_twin("/api/coach-plans/", _lazy("reads", "plan")),
    *_with_twin("/api/coach-plans/all", _lazy("reads", "plans_of_day")),
    *_with_twin("/api/coach-plans/history", _lazy("reads", "history")),
    *_with_twin("/api/coach-plans/by-ticker", _lazy("reads", "by_ticker")),
    *_with_twin("/api/coach-plans/outcome", _lazy("outcomes", "outcome")),
    *_with_twin("/api/coach-plans/scorecard", _lazy("outcomes", "scorecard")),
    Route("/charts/{chart_id}", _lazy("charts", "chart"), methods=["GET"]),
    Route("/", _lazy("status", "index"), methods=["GET"]),
    Route("/health", _lazy("status", "health"), methods=["GET"]),
    Route("/metrics", _lazy("status", "metrics"), methods=["GET"]),
    Route("/metrics/prometheus", _lazy("status", "prometheus"), methods=["GET"]),
    Route("/openapi.json", _lazy("openapi", "openapi"), methods=["GET"]),
]

__all__ = ["load", "routes"]
