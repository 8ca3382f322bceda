"""The service in one place: its routes, its middleware and the resources its lifespan owns."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from app import api, charts
from app.api.errors import exception_handlers
from app.auth import ApiKeyMiddleware
from app.discord.fake import FakeDiscord, kept_messages
from app.interactions import InteractionsEndpoint
from app.metrics import Metrics
from app.middleware import CorsMiddleware, RequestContextMiddleware
from app.services import build_services
from app.settings import Settings

log = logging.getLogger("coach_plans")


def create_app(
    settings: Settings, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """Build the service. Tests pass `http_transport` to fake Discord at the HTTP edge."""
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        timeout = httpx.Timeout(settings.connection_timeout)
        transport = http_transport
        fake_discord = None
        if settings.mock_mode:
            # Calls to Discord are answered and kept in-process; the rest goes out as usual.
            outside = http_transport or httpx.AsyncHTTPTransport()
            fake_discord = FakeDiscord(
                settings.discord_api_base_url, outside=outside, local_cdn=True
            )
            transport = fake_discord
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as http:
            services = build_services(settings, http, metrics)
            if settings.mock_mode:
                log.info(
                    "mock mode is on: no Discord key needed; requests are checked against the "
                    "development key in %s (`coach-plans send` signs with it)",
                    settings.mock_key_file,
                )
            try:
                # Charts whose download failed earlier are retried now and then, off the request
                # path. In an anyio task group, so that stopping it waits for a database call
                # running in a worker thread: its connection must be back before the pool closes.
                async with anyio.create_task_group() as background:
                    background.start_soon(charts.keep_archiving, services)
                    try:
                        yield {"services": services, "fake_discord": fake_discord}
                    finally:
                        background.cancel_scope.cancel()
            finally:
                services.engine.dispose()
                services.probe_engine.dispose()

    # The service's outside. Routes are tried in order, so Discord's endpoint (the one with a
    # deadline) comes first; it is a pure ASGI app, with no request/response wrapper, and it
    # answers other methods than POST with a JSON 405 itself.
    routes = [
        Route("/interactions", InteractionsEndpoint(settings)),
        *api.routes,  # the JSON reads, chart images, status and /openapi.json
    ]
    if settings.mock_mode:
        routes.append(Route("/mock/messages/{token}", kept_messages, methods=["GET"]))
    # Discord's calls carry no Origin and need no key: CORS and the key check let them through
    # at once.
    middleware = [
        Middleware(RequestContextMiddleware, metrics=metrics),
        Middleware(
            CorsMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["Authorization", "X-Request-ID", "If-None-Match"],
            expose_headers=["X-Request-ID", "ETag"],
        ),
        # Inside CORS, so a browser's preflight (which carries no key) is still answered.
        Middleware(ApiKeyMiddleware, api_key=settings.api_key),
    ]
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=exception_handlers,
        lifespan=lifespan,
    )


def app_from_environment() -> Starlette:
    """Factory for `serve --workers N`: each worker process loads the same settings."""
    import os

    from app.logs import configure_logging
    from app.settings import load_settings

    settings = load_settings(os.environ.get("COACH_PLANS_CONFIG"))
    configure_logging(settings)
    return create_app(settings)
