"""The API key: when API_KEY is set, the read API, charts and metrics need a bearer token, and
only its holders see /health's details."""

from __future__ import annotations

import hmac

from pydantic import SecretStr
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import error_response
from app.community.roster import KEY_PREFIX

# Everything else (/, /health, /interactions, /openapi.json) stays open: Discord signs its own
# calls, and health checks and API discovery must work without a secret (/health then says only
# up or down: holds_key).
PROTECTED_PREFIXES = ("/api", "/charts", "/metrics")

# Set in a protected request's scope: EVERY guild (API_KEY), or a guild read key for the read to
# look up (app/api/access.py); absent: no key at all.
READER = "coach_plans.reader"
EVERY = "every"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="coach-plans"'}
_GUILD_KEY = KEY_PREFIX.encode()


def _reads_guilds(path: str) -> bool:
    """Plans and charts belong to a guild, so its read key reads them; /metrics is the
    deployment's."""
    return path.startswith(("/api/", "/charts/"))


def is_protected(path: str) -> bool:
    # One startswith() lets the paths of no prefix (/interactions, /health) through at once.
    return path.startswith(PROTECTED_PREFIXES) and any(
        path == prefix or path.startswith(prefix + "/") for prefix in PROTECTED_PREFIXES
    )


class ApiKeyMiddleware:
    """Pure-ASGI guard. It sits inside CORS so browsers' preflight requests still succeed."""

    def __init__(self, app: ASGIApp, api_key: SecretStr | None) -> None:
        self.app = app
        self.expected = None if api_key is None else api_key.get_secret_value().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = _bearer_token(scope)
        if given is not None and self.expected is not None and _same(given, self.expected):
            scope[READER] = EVERY
            await self.app(scope, receive, send)
            return
        if given is not None and given.startswith(_GUILD_KEY) and _reads_guilds(scope["path"]):
            # A guild's own read key: the read looks it up and reads that guild alone.
            scope[READER] = given.decode("ascii", "replace")
            await self.app(scope, receive, send)
            return
        if self.expected is None:  # no API_KEY: guilds without their own key are read freely
            await self.app(scope, receive, send)
            return
        message = (
            "Missing API key: send the header 'Authorization: Bearer <API_KEY>'."
            if given is None
            else "Wrong API key: check the key sent in 'Authorization: Bearer <API_KEY>'."
        )
        response = error_response(Request(scope), 401, message, headers=_CHALLENGE)
        await response(scope, receive, send)


def _bearer_token(scope: Scope) -> bytes | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            scheme, _, token = value.partition(b" ")
            # The scheme name is case-insensitive (RFC 9110); the token is not.
            return token.strip() if scheme.lower() == b"bearer" else None
    return None


def holds_key(scope: Scope, api_key: SecretStr | None) -> bool:
    """Whether the request carries API_KEY as its bearer token (always so when there is none)."""
    if api_key is None:
        return True
    given = _bearer_token(scope)
    return given is not None and _same(given, api_key.get_secret_value().encode())


def _same(given: bytes, expected: bytes) -> bool:
    # compare_digest keeps the comparison time independent of where the keys differ.
    return hmac.compare_digest(given, expected)
