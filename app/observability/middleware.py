"""Pure-ASGI middleware around every request: request id, access log line, metrics, and a JSON
500 for crashes."""

from __future__ import annotations

import json
import logging
import re
import time
from random import getrandbits

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import log_access, request_id_var
from app.observability.metrics import Metrics

log = logging.getLogger("coach_plans")

# Accept a caller's id only if it is short and safe to echo into logs and headers. Ours are
# random, not secret: the Mersenne Twister makes one without the system call os.urandom costs.
_ID_HEADER = b"x-request-id"
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = (
            incoming if incoming and _VALID_ID.fullmatch(incoming) else f"{getrandbits(128):032x}"
        )
        request_id_bytes = request_id.encode()
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False
        logged = False

        def log_line() -> None:
            # The answer's time: a response's background work (a command's follow-ups, its
            # charts) runs after its last byte is sent and is not part of it.
            nonlocal logged
            logged = True
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, elapsed)
            log_access(scope["method"], scope["path"], status, elapsed)

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                # A new list: a response object may be sent more than once with its own.
                message["headers"] = [*message.get("headers", ()), (_ID_HEADER, request_id_bytes)]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                log_line()

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error while serving %s %s", scope["method"], scope["path"])
            if response_started:
                raise
            status = 500
            await _send_json_500(send_with_id, request_id)
        finally:
            if not logged:
                log_line()
            request_id_var.reset(token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


async def _send_json_500(send: Send, request_id: str) -> None:
    body = json.dumps(
        {
            "error": "internal_error",
            "message": "Something went wrong on our side. The error was logged; try again.",
            "request_id": request_id,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
