"""Mock mode's parts of the app, which the entry point (app/cli.py) hands to it: Discord's side
kept in-process, and GET /mock/messages/{token}, what the service sent to Discord for one
interaction, so `coach-plans send` can show the follow-up of a deferred answer, and
GET /mock/files/{token}/{filename}, a file uploaded with them, so it can save it."""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.mock.discord import FakeDiscord, name_in_logs
from app.settings import Settings


def discord_in_process(settings: Settings) -> tuple[FakeDiscord, list[BaseRoute]]:
    """The transport for every call to Discord, which answers and keeps the calls to its API
    (the rest, a chart's download from elsewhere, goes out as usual), and the route that shows
    what it kept."""
    fake = FakeDiscord(
        settings.discord_api_base_url, outside=httpx.AsyncHTTPTransport(), local_cdn=True
    )
    name_in_logs(settings.discord_api_base_url)

    async def kept_messages(request: Request) -> Response:
        return JSONResponse({"messages": fake.messages(request.path_params["token"])})

    async def kept_file(request: Request) -> Response:
        token, name = request.path_params["token"], request.path_params["filename"]
        part = fake.uploads(token).get(name)
        if part is None:
            return JSONResponse({"error": "not_found", "message": "No such file."}, 404)
        return Response(part.data, media_type=part.content_type)

    return fake, [
        Route("/mock/messages/{token}", kept_messages, methods=["GET"]),
        Route("/mock/files/{token}/{filename}", kept_file, methods=["GET"]),
    ]
