"""JSON error bodies `{"error", "message", "request_id"}`, mapped once for the whole service."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.api.models import Error, answer
from app.errors import PlanError

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "too_many_requests",
    503: "service_unavailable",
}


def error_response(
    request: Request,
    status: int,
    message: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = Error(
        error=code or _CODES.get(status, "error"),
        message=message,
        request_id=getattr(request.state, "request_id", None),
    )
    return answer(body, status, headers)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    message = exc.detail
    if message == HTTPStatus(status).phrase:
        message = _default_message(request, status)
    return error_response(request, status, message, headers=exc.headers)


async def _plan_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PlanError)
    return error_response(request, exc.status, exc.message, code=exc.code)


def _default_message(request: Request, status: int) -> str:
    if status == 404:
        return f"No such endpoint: {request.url.path}. GET / lists the endpoints."
    if status == 405:
        return f"{request.method} is not allowed on {request.url.path}."
    return HTTPStatus(status).phrase


exception_handlers = {HTTPException: _http_exception, PlanError: _plan_error}
