"""A start from zero: listen first, then load the settings and build the app and its storage.

A machine woken by a slash command must answer within Discord's 3 s, and most of a cold start
is imports: the settings' validation (pydantic), the app and its storage (SQLAlchemy, Alembic,
httpx) take longer to import than a bare Starlette app takes to start. When the environment
alone gives what a first answer needs (the listen address and DISCORD_PUBLIC_KEY; no --config
file, no mock mode), `serve` puts this front before the app. It listens at once, answers a
signed PING, and defers a command (Discord's "thinking…") while one worker thread loads the
settings and builds the app with its storage; the app then runs the command, whose answer
replaces the deferral. This front is the only part of the service that defers for a start:
any other request waits for the app, which answers it as usual, and once the app is built,
every request goes straight to it, its storage ready.

Its figure, on and off: docs/performance.md ("The wake front").
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup
from nacl.signing import VerifyKey

from app import defaults
from app.discord import protocol, responses
from app.interactions.signatures import MAX_BODY_BYTES, SIGNATURE_HEADERS, check_signature
from app.observability.metrics import Metrics
from app.observability.middleware import RequestContextMiddleware
from app.runtime.server import settle_collector
from app.text_rules import SURROGATE_ESCAPE
from commands.deferrals import WHILE_WARMING, Visibility

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.types import Message, Receive, Scope, Send

log = logging.getLogger("coach_plans")

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_FALSE = frozenset(("0", "off", "f", "false", "n", "no"))  # what pydantic reads as false


@dataclass(frozen=True, slots=True)
class Early:
    """What the first answer needs, known before the settings are loaded."""

    host: str
    port: int
    public_key: str  # 64 hex digits in lower case, as the settings keep it
    forwarded_allow_ips: str = defaults.FORWARDED_ALLOW_IPS


def early_start(
    environ: Mapping[str, str],
    *,
    config: object | None,
    mock: bool,
    host: str | None,
    port: int | None,
) -> Early | None:
    """The flags and environment read as the settings read them (names in any case); None when
    only the settings can tell: a --config file, mock mode, or a value they would refuse (and
    then name, before anything listens)."""
    if config is not None or mock:
        return None
    env: dict[str, str] = {}
    for name, value in environ.items():
        if env.setdefault(name.lower(), value) != value:
            return None  # one setting in two spellings
    if env.get("mock_mode", "false").strip().lower() not in _FALSE:
        return None
    key = env.get("discord_public_key", "").strip()
    if not _HEX64.fullmatch(key):
        return None
    if port is None:
        raw = env.get("api_port", str(defaults.API_PORT))
        if not raw.isdigit():
            return None
        port = int(raw)
    host = env.get("api_host", defaults.API_HOST) if host is None else host
    if not host or not 1 <= port <= 65535:
        return None
    forwarded = env.get("forwarded_allow_ips", defaults.FORWARDED_ALLOW_IPS)
    return Early(host, port, key.lower(), forwarded)


class WakeApp:
    """The ASGI app the server runs for a start from zero; see the module's docstring.

    `build` runs in a worker thread once the server listens and returns the app, its storage
    built and handed to it (app/cli.py), or None when it cannot serve (it has said why);
    `on_failure` then stops the server."""

    def __init__(
        self,
        early: Early,
        metrics: Metrics,
        build: Callable[[], Starlette | None],
        on_failure: Callable[[], None],
    ) -> None:
        self.key = VerifyKey(bytes.fromhex(early.public_key))
        self.metrics = metrics
        self.build = build
        self.on_failure = on_failure
        self.app: Starlette | None = None
        self.state: dict[str, Any] = {}  # the app's lifespan state, for requests made before
        self._tasks: TaskGroup | None = None
        # Made in the lifespan, on the server's event loop.
        self._listening: anyio.Event | None = None
        self._ready: anyio.Event | None = None
        self._stopping: anyio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app
        if app is not None:
            scope.setdefault("state", {}).update(self.state)
            await app(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        else:
            await self._early(scope, receive, send)

    def listening(self) -> None:
        """Called by the server once it accepts connections: the build starts then."""
        assert self._listening is not None
        self._listening.set()

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self._listening, self._ready, self._stopping = anyio.Event(), anyio.Event(), anyio.Event()
        async with anyio.create_task_group() as self._tasks:
            self._tasks.start_soon(self._run_app, scope.get("state"))
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            self._stopping.set()
        await send({"type": "lifespan.shutdown.complete"})

    async def _run_app(self, server_state: dict[str, Any] | None) -> None:
        """Build the app, then run its lifespan until the server stops."""
        assert self._listening and self._ready and self._stopping
        async with anyio.create_task_group() as waiting:
            # The server may stop before it listens (its address taken, a signal): then
            # there is nothing to build.
            for event in (self._listening, self._stopping):
                waiting.start_soon(_cancel_when_set, event, waiting.cancel_scope)
        if self._stopping.is_set():
            self._ready.set()
            return
        try:
            app = await anyio.to_thread.run_sync(self.build)
        except Exception:
            log.exception("the service could not be built, so it cannot serve")
            app = None
        if app is None:
            self._ready.set()
            self.on_failure()
            return
        async with app.router.lifespan_context(app) as state:
            self.state = dict(state or {})
            if server_state is not None:  # requests from now on are made with it
                server_state.update(self.state)
            settle_collector()  # the build's objects too: none is looked at again
            self.app = app
            self._ready.set()
            await self._stopping.wait()

    async def _early(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/interactions"
            and scope["method"] == "POST"
        ):
            body, receive = await _read_body(receive)
            answer = self._answer_now(scope, body)
            if answer is not None:
                await RequestContextMiddleware(_respond(answer), self.metrics)(scope, receive, send)
                return
        assert self._ready is not None
        await self._ready.wait()
        if self.app is None:
            await _respond(_UNAVAILABLE, 503)(scope, receive, send)
            return
        await self(scope, receive, send)

    def _answer_now(self, scope: Scope, body: bytes) -> bytes | None:
        """A PONG or a deferral, for a signed PING or command that needs nothing else; None
        leaves the request to the app, which checks and answers it in full."""
        headers = {name: value for name, value in scope["headers"] if name in SIGNATURE_HEADERS}
        if check_signature(headers, self.key, body) is not None or SURROGATE_ESCAPE.search(body):
            return None
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(payload, dict) or payload.get("type") is True:
            return None
        if payload.get("type") == protocol.PING:
            self.metrics.count_interaction("ping")
            answer = responses.PONG_BODY
        else:
            deferral = _deferral(payload)
            if deferral is None:
                return None
            assert self._tasks is not None
            self._tasks.start_soon(self._hand_over, payload, deferral)
            answer = json.dumps(responses.deferred(ephemeral=deferral == "ephemeral")).encode()
        scope["route"] = _ROUTE  # the metrics' label, as the app's route table names it
        return answer

    async def _hand_over(self, payload: dict[str, Any], deferral: Visibility) -> None:
        """The app runs a command deferred here; its answer replaces the deferral."""
        assert self._ready is not None
        await self._ready.wait()
        if self.app is not None:
            endpoint = self.app.state.interactions
            await endpoint.adopt(payload, deferral, self.state["services"])


async def _cancel_when_set(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def _deferral(payload: dict[str, Any]) -> Visibility | None:
    """How a command in a guild is deferred; None for anything the app must see first."""
    data = payload.get("data")
    name = data.get("name") if isinstance(data, dict) else None
    if payload.get("type") != protocol.APPLICATION_COMMAND or not isinstance(name, str):
        return None
    if not isinstance(payload.get("guild_id"), str):
        return None  # a DM gets the app's refusal
    return WHILE_WARMING.get(name)


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The body, up to the endpoint's limit, and a receive that gives the app all of it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    last: Message | None = None
    while more and size <= MAX_BODY_BYTES:
        last = await receive()
        if last["type"] != "http.request":
            break
        chunk = last.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = last.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        if last is not None and last["type"] != "http.request":
            return last
        return {"type": "http.request", "body": body, "more_body": more}

    complete = not more and size <= MAX_BODY_BYTES
    return (body if complete else b""), replay


def _respond(body: bytes, status: int = 200) -> Callable[[Scope, Receive, Send], Any]:
    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return respond


class _Route:
    path = "/interactions"


_ROUTE = _Route()
_UNAVAILABLE = json.dumps(
    {"error": "unavailable", "message": "Coach Plans could not start; its log says why."}
).encode()
