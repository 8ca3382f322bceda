"""What the client raises: bad input before any request, refusals, and an unreachable service."""

from __future__ import annotations


class ClientError(Exception):
    """Base of everything the Coach Plans client raises."""


class InvalidRequest(ClientError, ValueError):
    """The call's arguments are wrong (unknown coach, bad date); no request was made."""


class ApiError(ClientError):
    """The service refused the request (a 4xx other than 404); retrying would not help."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None) -> None:
        super().__init__(f"{status} {code}: {message} (request id {request_id})")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id


class ServiceUnavailable(ClientError):
    """The service could not be reached after every retry, and nothing was cached to serve."""
