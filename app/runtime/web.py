"""The service in one place: its routes, its middleware and the lifespan that owns its resources.

Its lifespan builds the resources (app/runtime/services.py) in a worker thread before the server
lets a request in, unless the caller built them already: a woken server's front builds them with
the app, in one worker thread, after it listens (app/runtime/wake.py)."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
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
from app.records import Clock, system_clock
from app.runtime.resources import Services
from app.runtime.services import build_services
from app.settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("coach_plans")


class NotServing(RuntimeError):
    """The app's resources could not be built: its lifespan does not start."""


def create_app(
    settings: Settings,
    *,
    http_transport: httpx.AsyncBaseTransport | None = None,
    on_failure: Callable[[], None] | None = None,
    metrics: Metrics | None = None,
    clock: Clock = system_clock,
    services: Services | None = None,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Build the service. `http_transport` carries the calls to Discord (tests fake Discord at
    the HTTP edge; mock mode keeps it in-process). The server passes `on_failure`, called when
    the database cannot be opened, to stop itself. A woken server passes the `services` its
    front built and the `metrics` it has counted in since it listened. The entry point adds mock
    mode's `routes`. Tests pass a `clock` to set what time (and so what day) it is."""
    metrics = Metrics() if metrics is None else metrics

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        if settings.mock_mode:
            log.info(
                "mock mode is on: no Discord key needed; requests are checked against the "
                "development key in %s (`coach-plans send` signs with it)",
                settings.mock_key_file,
            )
        built = services
        if built is None:
            built = await _build(settings, metrics, http_transport, clock, on_failure)
        # In an anyio task group, so that stopping waits for a database call running in a
        # worker thread: its connection must be back before the pool closes.
        try:
            async with anyio.create_task_group() as background:
                from app.outcomes.grading import keep_grading_plans
                from app.pictures.recap import post_recaps

                # Charts whose download failed earlier are retried now and then, and plans whose
                # session closed are graded, off the request path.
                background.start_soon(built.charts.keep_archiving)
                recaps = functools.partial(
                    post_recaps, built.settings, built.engine, built.webhook, built.clock
                )
                background.start_soon(
                    keep_grading_plans, built.settings, built.engine, built.clock, recaps
                )
                try:
                    yield {"services": built}
                finally:
                    background.cancel_scope.cancel()
        finally:
            await built.close()

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
    table: list[BaseRoute] = [Route("/interactions", interactions), *routes]
    # The JSON reads, chart images, status and /openapi.json; an unknown path ends here too.
    table.append(Mount("", routes=api.routes, middleware=api_middleware))
    app = Starlette(
        routes=table,
        middleware=[Middleware(RequestContextMiddleware, metrics=metrics)],
        exception_handlers=exception_handlers,
        lifespan=lifespan,
    )
    app.state.interactions = interactions  # the wake front hands it the commands it deferred
    return app


def app_with_storage(
    settings: Settings,
    metrics: Metrics,
    *,
    on_failure: Callable[[], None],
    http_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = system_clock,
) -> Starlette | None:
    """The app with its resources built in the calling thread: the wake front's worker
    (app/runtime/wake.py), so the app starts with its storage ready. None when the database
    cannot be opened (logged)."""
    try:
        services = build_services(settings, metrics, http_transport, clock)
    except Exception:
        log.exception("the service could not open its database, so it cannot serve")
        return None
    return create_app(
        settings, on_failure=on_failure, metrics=metrics, clock=clock, services=services
    )


async def _build(
    settings: Settings,
    metrics: Metrics,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
    on_failure: Callable[[], None] | None,
) -> Services:
    started = time.perf_counter()
    build = functools.partial(build_services, settings, metrics, transport, clock)
    try:
        built = await anyio.to_thread.run_sync(build)
    except Exception:
        log.exception("the service could not open its database, so it cannot serve")
        if on_failure is not None:
            on_failure()
        # The server does not start (uvicorn names this); the log above has the whole error.
        raise NotServing("the database could not be opened") from None
    log.info("storage ready in %.0f ms", (time.perf_counter() - started) * 1000)
    return built
