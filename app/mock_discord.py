"""Mock mode's Discord: messages the service would send to Discord's webhook API are kept here
instead, and `coach-plans send` reads them back from GET /mock/messages/{token}.

Mock mode's CDN: `coach-plans send` serves the files it attaches on 127.0.0.1 and hands out their
URLs on the Discord API host, under MOCK_CDN (`<api base>/mock-cdn/<port>/<path>`), so charts pass
the same host check as Discord's own; this transport fetches them from 127.0.0.1:<port>.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import httpx
from cachetools import TTLCache
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# Discord's interaction webhook paths (https://discord.com/developers/docs/interactions/receiving-and-responding#endpoints).
_WEBHOOK = re.compile(
    r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)(?P<rest>/messages/(?P<msg>[^/]+))?$"
)
MOCK_CDN = "mock-cdn"
_MOCK_CDN_PATH = re.compile(rf"{MOCK_CDN}/(?P<port>[1-9][0-9]{{0,4}})/(?P<path>.+)")


def mock_cdn_base(api_base_url: str, port: int) -> str:
    """Where `coach-plans send` says the files it serves on 127.0.0.1:<port> are."""
    return f"{api_base_url.rstrip('/')}/{MOCK_CDN}/{port}"


class KeptMessages:
    """Recent interactions' messages by token; interaction tokens live 15 minutes on Discord."""

    def __init__(self) -> None:
        self._messages: TTLCache[str, dict[str, dict[str, Any]]] = TTLCache(maxsize=2000, ttl=3600)
        self._lock = threading.Lock()

    def put(self, token: str, message_id: str, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            messages = self._messages.setdefault(token, {})
            kept = {**messages.get(message_id, {}), **message, "id": message_id}
            messages[message_id] = kept
            return kept

    def get(self, token: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages.get(token, {}).values())


class MockDiscordTransport(httpx.AsyncBaseTransport):
    """Answers calls to Discord's API like Discord would, keeping the messages, and serves mock
    CDN URLs from the local file server of `coach-plans send`; anything else goes out through
    the real transport."""

    def __init__(
        self, api_base_url: str, kept: KeptMessages, inner: httpx.AsyncBaseTransport
    ) -> None:
        self.api_base = httpx.URL(api_base_url.rstrip("/") + "/")
        self.kept = kept
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if (url.scheme, url.host, url.port) != (
            self.api_base.scheme,
            self.api_base.host,
            self.api_base.port,
        ) or not url.path.startswith(self.api_base.path):
            return await self.inner.handle_async_request(request)
        local = _MOCK_CDN_PATH.fullmatch(url.path[len(self.api_base.path) :])
        if local is not None and request.method == "GET":
            return await self._local_file(request, int(local["port"]), local["path"])
        match = _WEBHOOK.search(url.path)
        if match is None:
            return httpx.Response(404, json={"message": "Unknown route (mock Discord)", "code": 0})
        await request.aread()
        body = json.loads(request.content or b"{}")
        token = match["token"]
        if request.method == "POST" and match["rest"] is None:
            message_id = str(len(self.kept.get(token)) + 1)
            return httpx.Response(200, json=self.kept.put(token, message_id, body))
        if request.method == "PATCH" and match["msg"]:
            return httpx.Response(200, json=self.kept.put(token, match["msg"], body))
        if request.method == "GET" and match["msg"]:
            found = [m for m in self.kept.get(token) if m["id"] == match["msg"]]
            return (
                httpx.Response(200, json=found[0])
                if found
                else httpx.Response(404, json={"message": "Unknown Message", "code": 10008})
            )
        return httpx.Response(405, json={"message": "405: Method Not Allowed", "code": 0})

    async def _local_file(self, request: httpx.Request, port: int, path: str) -> httpx.Response:
        if port > 65535:
            return httpx.Response(404, text="Not Found")
        local = httpx.Request(
            "GET", f"http://127.0.0.1:{port}/{path}", extensions=request.extensions
        )
        return await self.inner.handle_async_request(local)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def kept_messages(request: Request) -> Response:
    kept: KeptMessages = request.state.kept_messages
    return JSONResponse({"messages": kept.get(request.path_params["token"])})
