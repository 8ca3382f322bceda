"""The service in one place: its routes, its middleware and the resources its lifespan owns."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route

from app import api
from app.api.auth import ApiKeyMiddleware
from app.api.errors import exception_handlers
from app.interactions.endpoint import InteractionsEndpoint
from app.interactions.signatures import verify_key_for
from app.observability.metrics import Metrics
from app.observability.middleware import RequestContextMiddleware
from app.runtime.services import Runtime
from app.settings import Settings

if TYPE_CHECKING:
    from datetime import datetime

    import httpx

log = logging.getLogger("coach_plans")


def create_app(
    settings: Settings,
    *,
    http_transport: httpx.AsyncBaseTransport | None = None,
    on_failure: Callable[[], None] | None = None,
    warm_up_after_listening: bool = False,
    metrics: Metrics | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """Build the service. Tests pass `http_transport` to fake Discord at the HTTP edge. The
    server passes `on_failure`, called when the database cannot be opened, to stop itself; and
    with `warm_up_after_listening` it sets `app.state.runtime.listening` once it listens. A
    woken server passes the `metrics` its front has counted in since it listened. Tests pass a
    `clock` to set what time (and so what day) it is."""
    metrics = Metrics() if metrics is None else metrics

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        runtime = Runtime(clock)
        app.state.runtime = runtime  # the server reads the warm-up's outcome when it stops
        if settings.mock_mode:
            log.info(
                "mock mode is on: no Discord key needed; requests are checked against the "
                "development key in %s (`coach-plans send` signs with it)",
                settings.mock_key_file,
            )
        # In an anyio task group, so that stopping waits for a database call running in a
        # worker thread: its connection must be back before the pool closes.
        async with anyio.create_task_group() as background:
            background.start_soon(
                _warm_up,
                runtime,
                settings,
                metrics,
                http_transport,
                on_failure,
                warm_up_after_listening,
            )
            try:
                yield {"runtime": runtime}
            finally:
                background.cancel_scope.cancel()
        if runtime.current is not None:
            await runtime.current.close()

    # The service's outside. Routes are tried in order, so Discord's endpoint (the one with a
    # deadline) comes first; it is a pure ASGI app, with no request/response wrapper, and it
    # answers other methods than POST with a JSON 405 itself. CORS and the key check wrap the
    # API alone: Discord's calls carry no Origin and sign themselves, so they pass neither.
    api_middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["Authorization", "X-Request-ID", "If-None-Match"],
            expose_headers=["X-Request-ID", "ETag"],
        ),
        # Inside CORS, so a browser's preflight (which carries no key) is still answered.
        Middleware(ApiKeyMiddleware, api_key=settings.api_key),
    ]
    interactions = InteractionsEndpoint(settings, metrics, verify_key_for(settings))
    routes: list[BaseRoute] = [Route("/interactions", interactions)]
    if settings.mock_mode:
        from app.mock.routes import kept_messages

        routes.append(Route("/mock/messages/{token}", kept_messages, methods=["GET"]))
    # The JSON reads, chart images, status and /openapi.json; an unknown path ends here too.
    routes.append(Mount("", routes=api.routes, middleware=api_middleware))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestContextMiddleware, metrics=metrics)],
        exception_handlers=exception_handlers,
        lifespan=lifespan,
    )
    app.state.interactions = interactions  # the wake front hands it the commands it deferred
    return app


async def _warm_up(
    runtime: Runtime,
    settings: Settings,
    metrics: Metrics,
    transport: httpx.AsyncBaseTransport | None,
    on_failure: Callable[[], None] | None,
    after_listening: bool,
) -> None:
    # The API's modules load after the storage, so that the first API request need not.
    await runtime.warm_up(settings, metrics, transport, on_failure, after_listening, api.load)
    if runtime.current is not None:
        from app.outcomes.grading import keep_grading_plans

        # Charts whose download failed earlier are retried now and then, and plans whose session
        # closed are graded, off the request path.
        async with anyio.create_task_group() as background:
            background.start_soon(runtime.current.charts.keep_archiving)
            current = runtime.current
            background.start_soon(
                keep_grading_plans, current.settings, current.engine, current.plans.clock
            )


def app_from_environment() -> Starlette:
    """Factory for `serve --workers N`: each worker process loads the same settings."""
    import os
    import signal

    from app.observability.logs import configure_logging
    from app.settings import load_settings

    settings = load_settings(os.environ.get("COACH_PLANS_CONFIG"))
    configure_logging(settings)
    # Without its database a worker cannot serve: it stops, as a lone server does.
    return create_app(settings, on_failure=lambda: os.kill(os.getpid(), signal.SIGTERM))
