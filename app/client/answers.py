"""Reading the service's answers, and the instants sent to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from app.client.errors import ApiError, InvalidRequest


def instant(value: datetime | str) -> str:
    """as_of as an ISO 8601 instant in UTC; a naive time is refused rather than guessed."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidRequest(f"as_of {value!r} is not an ISO 8601 instant") from None
    if not isinstance(value, datetime):
        raise InvalidRequest("as_of must be a timezone-aware datetime or an ISO 8601 string")
    if value.tzinfo is None:
        raise InvalidRequest(
            "as_of has no timezone: pass an aware datetime, e.g. datetime.now(UTC)"
        )
    try:
        return value.astimezone(UTC).isoformat()
    except OverflowError:
        raise InvalidRequest(f"as_of {value.isoformat()!r} is out of range") from None


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(response.status_code, "invalid_response", "the answer is not JSON", None)
    return body


def api_error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ApiError(
        response.status_code,
        str(body.get("error", "http_error")),
        str(body.get("message", response.reason_phrase)),
        body.get("request_id") or response.headers.get("x-request-id"),
    )


def copy(value: object) -> object:
    # Callers get their own outer object, so marking or editing it never changes the cache.
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return [dict(item) for item in value]
    return value
