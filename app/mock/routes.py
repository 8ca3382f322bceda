"""GET /mock/messages/{token} (mock mode only): what the service sent to Discord for one
interaction, so `coach-plans send` can show the follow-up of a deferred answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.runtime.services import services_for


async def kept_messages(request: Request) -> Response:
    fake = (await services_for(request)).fake_discord
    assert fake is not None  # the route exists in mock mode only
    return JSONResponse({"messages": fake.messages(request.path_params["token"])})
