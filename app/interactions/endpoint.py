"""POST /interactions: Discord's interactions endpoint.

Cheap refusals come first and nothing is parsed before the signature is checked: body size (413;
503 while unsigned bodies hold all the memory they share), Ed25519 signature of timestamp + raw
body (401), timestamp freshness (401, replay), then JSON once (400). PING is answered at once; a
repeated interaction id is answered harmlessly without running again; guilds outside
ALLOWED_GUILD_IDS (and DMs) get a refusal; everything else goes to the command registry. A
refusal of the rules is an ephemeral message; an unexpected error is logged and answered with an
ephemeral apology, never a stack trace or a 5xx.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache
from nacl.signing import VerifyKey
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from app.api.errors import error_response
from app.discord import responses
from app.discord.interaction import Interaction, Reply
from app.discord.protocol import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    EPHEMERAL,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    PING,
    TOKEN_LIFETIME_SECONDS,
)
from app.errors import PlanError
from app.interactions.signatures import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADERS,
    BodiesBusy,
    BodyTooLarge,
    ClientGone,
    check_signature,
    read_body,
)
from app.observability.metrics import Metrics
from app.runtime.resources import Services, services_for
from app.text_rules import SURROGATE_ESCAPE, has_lone_surrogate
from commands import hints
from commands.deferrals import Visibility
from commands.registry import Registry, registry

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger("coach_plans")

# Discord never redelivers an interaction after its token has expired.
SEEN_TTL_SECONDS = TOKEN_LIFETIME_SECONDS
SEEN_MAX = 100_000

_KINDS = {
    APPLICATION_COMMAND: "command",
    MESSAGE_COMPONENT: "button",
    AUTOCOMPLETE: "autocomplete",
    MODAL_SUBMIT: "modal",
}


class InteractionsEndpoint:
    """One per app: it owns the registry and the recently seen interaction ids.

    A pure ASGI app, routed without Starlette's request/response wrapper: Discord's calls are
    the one path with a deadline. It answers every method, so other methods than POST get a
    JSON 405 naming POST from here."""

    # What the endpoint answers, for listings of the route table (its Route has no methods).
    methods = frozenset({"POST"})

    def __init__(self, settings: Settings, metrics: Metrics, verify_key: VerifyKey) -> None:
        self.metrics = metrics
        self.verify_key = verify_key
        self.registry: Registry = registry(settings)
        self.allowed_guilds = frozenset(settings.allowed_guild_ids)
        self.seen: TTLCache[str, bool] = TTLCache(maxsize=SEEN_MAX, ttl=SEEN_TTL_SECONDS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if scope["method"] == "POST":
            response = await self.handle(request)
        else:
            method, path = scope["method"], scope["path"]
            message = f"{method} is not allowed on {path}: Discord POSTs interactions."
            response = error_response(request, 405, message, headers={"Allow": "POST"})
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        headers = _wanted_headers(request.scope)
        try:
            body = await read_body(request.receive, headers.get(b"content-length", b""))
        except BodyTooLarge:
            # The rest of the body is not read: the connection closes after the answer.
            return error_response(
                request,
                413,
                f"The body is larger than {MAX_BODY_BYTES} bytes.",
                "payload_too_large",
                headers=_CLOSE,
            )
        except BodiesBusy:
            return error_response(
                request,
                503,
                "Too many large requests are arriving at once; try again in a moment.",
                "service_unavailable",
                headers={**_CLOSE, "Retry-After": "1"},
            )
        except ClientGone:
            # It went away (or was too slow, app/runtime/server.py) before its body was complete.
            return error_response(request, 408, "The body did not arrive in time.", "timeout")
        refusal = check_signature(headers, self.verify_key, body)
        if refusal is not None:
            return error_response(request, 401, refusal, "invalid_signature")
        try:
            payload = json.loads(body)
        except ValueError:
            return error_response(request, 400, "The body is not JSON.", "bad_json")
        except RecursionError:
            # The decoder recurses per level; Discord's payloads nest a handful of levels.
            return error_response(request, 400, "The body's JSON is nested too deeply.", "bad_json")
        if not isinstance(payload, dict):
            return error_response(request, 400, "The body is not a JSON object.", "bad_json")
        if SURROGATE_ESCAPE.search(body) and has_lone_surrogate(payload):
            # Such a string cannot be stored, nor sent back in a UTF-8 answer.
            return error_response(
                request,
                400,
                "The body's JSON holds a lone surrogate (\\uD800-\\uDFFF).",
                "bad_json",
            )
        raw_type = payload.get("type")
        if raw_type == PING and raw_type is not True:  # JSON true equals 1 in Python
            self.metrics.count_interaction("ping")
            # A new Response each time: middleware may add headers to a response's own list.
            return Response(responses.PONG_BODY, media_type="application/json")
        interaction = Interaction.parse(payload)
        kind = _KINDS.get(interaction.type)
        if kind is None:
            return error_response(
                request,
                400,
                f"Unknown interaction type {_shown(payload.get('type'))}.",
                "bad_interaction",
            )
        label, handler = self._route(interaction, kind)
        self.metrics.count_interaction(label)
        if not self._first_delivery(interaction):
            return _json(_already_handled(interaction))
        refusal = self._refusal(interaction)
        if refusal is not None:
            return _json(responses.refusal(interaction.type, refusal))
        reply = await _run(handler, interaction, services_for(request))
        later = reply.later
        return _json(reply.body, BackgroundTask(later) if later is not None else None)

    async def adopt(
        self, payload: dict[str, Any], deferral: Visibility, services: Services
    ) -> None:
        """Run a command that the wake front (app/runtime/wake.py) deferred before this app was
        built: the checks of `handle` after the signature's, then its answer replaces the
        deferral."""
        interaction = Interaction.parse(payload)
        label, handler = self._route(interaction, "command")
        self.metrics.count_interaction(label)
        if not self._first_delivery(interaction):
            return
        refusal = self._refusal(interaction)
        if refusal is not None:
            handler = _refusing(refusal)
        try:
            reply = await _run(handler, interaction, services)
            # A handler's own deferral: its later step edits the one the front sent.
            if reply.body["type"] != DEFERRED_CHANNEL_MESSAGE:
                await _replace(services, interaction, reply.body, deferral == "ephemeral")
            if reply.later is not None:
                await reply.later()
        except Exception:
            log.exception("answering interaction %s after its deferral failed", interaction.id)

    def _first_delivery(self, interaction: Interaction) -> bool:
        """False for an id seen in the last 15 minutes: Discord delivered it twice."""
        if not interaction.id:
            return True
        if interaction.id in self.seen:
            return False
        self.seen[interaction.id] = True
        return True

    def _refusal(self, interaction: Interaction) -> str | None:
        # Plans belong to a guild: a DM or group DM has none, so there is nothing to serve there.
        if interaction.guild_id is None:
            return _NO_GUILD
        if self.allowed_guilds and interaction.guild_id not in self.allowed_guilds:
            return _OTHER_GUILD
        return None

    def _route(self, interaction: Interaction, kind: str) -> tuple[str, _Handler | None]:
        """The handler for this interaction, and the metrics label it is counted under."""
        if kind == "command":
            command = self.registry.command(interaction.name)
            if command is None:
                return "unknown", None
            return command.name, command.run
        if kind == "autocomplete":
            command = self.registry.command(interaction.name)
            if command is None or command.autocomplete is None:
                return "unknown", None
            return f"{command.name}:autocomplete", command.autocomplete
        found = (
            self.registry.component(interaction.custom_id)
            if kind == "button"
            else self.registry.modal(interaction.custom_id)
        )
        if found is None:
            return "unknown", None
        return f"{found[0]}:{kind}", found[1]


_Handler = Callable[[Interaction, Services], Awaitable[Reply]]

_NO_GUILD = (
    "Coach Plans works only inside a server: each server keeps its own plans. Use its commands "
    "in your trading server's channels, not in direct messages."
)
_OTHER_GUILD = (
    "Coach Plans is not enabled in this server: it only serves the servers it was set up for. "
    "Use it in your trading server's channels."
)
_UNKNOWN = (
    "Coach Plans does not know this command or button (it may be out of date). Type / to see "
    "the current commands."
)
_NO_FORM = "Coach Plans was just starting up and could not open this here; run the command again."
_BROKEN = (
    "Something went wrong on our side, so nothing may have been saved. The error was logged; "
    "try again in a moment."
)


_CLOSE = {"Connection": "close"}
_WANTED = SIGNATURE_HEADERS | {b"content-length"}


def _wanted_headers(scope: Scope) -> dict[bytes, bytes]:
    """The three headers the checks read, in one pass over the raw list (ASGI gives names in
    lower case)."""
    return {name: value for name, value in scope["headers"] if name in _WANTED}


def _shown(value: object) -> str:
    """A client's value as quoted in an error: short, and never the repr of a nested value."""
    if isinstance(value, str | int | float | bool) or value is None:
        return repr(value)[:40]
    return f"of JSON type {'object' if isinstance(value, dict) else 'array'}"


async def _run(handler: _Handler | None, interaction: Interaction, services: Services) -> Reply:
    if handler is None:
        return Reply(responses.refusal(interaction.type, _UNKNOWN))
    try:
        return await handler(interaction, services)
    except PlanError as exc:
        return Reply(responses.refusal(interaction.type, hints.refusal(exc)))
    except Exception:
        log.exception(
            "interaction %s (type %s, %s) failed",
            interaction.id,
            interaction.type,
            interaction.name or interaction.custom_id[:100],
        )
        return Reply(responses.refusal(interaction.type, _BROKEN))


async def _replace(
    services: Services, interaction: Interaction, body: dict[str, Any], ephemeral: bool
) -> None:
    """The answer takes the place of the front's deferral, seen by those who saw the
    deferral."""
    webhook = services.webhook
    application_id = interaction.application_id
    data: dict[str, Any] = body.get("data") or {}
    if body["type"] != CHANNEL_MESSAGE:
        # A form or a message update cannot follow a deferral.
        data = responses.message_data(_NO_FORM, ephemeral=True)
    if data.get("flags", 0) & EPHEMERAL and not ephemeral:
        # A refusal meant for the user alone must not replace a deferral everyone sees.
        await webhook.delete_original(application_id, interaction.token)
        await webhook.follow_up(application_id, interaction.token, data)
        return
    await webhook.edit_original(application_id, interaction.token, data)


def _refusing(message: str) -> _Handler:
    async def refuse(interaction: Interaction, services: Services) -> Reply:
        return Reply(responses.refusal(interaction.type, message))

    return refuse


def _already_handled(interaction: Interaction) -> dict[str, Any]:
    return responses.refusal(
        interaction.type, "This interaction was already handled (Discord delivered it twice)."
    )


def _json(body: dict[str, Any], background: BackgroundTask | None = None) -> Response:
    return JSONResponse(body, background=background)
