"""A fake Discord behind an httpx transport: the interaction webhook API (messages kept per token),
the application commands API and the CDN. Mock mode answers the service's calls to Discord with
it; the tests give it files and failures, and read what it kept. Its parts: files on its CDN and
how they are served, the messages and files it keeps for each interaction, and how the log names
the calls it answers."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from cachetools import TTLCache

from app.discord import protocol
from app.discord.multipart import BadForm, FilePart, is_form, read_form
from app.mock import payloads

__all__ = ["CdnFile", "FakeDiscord", "KeptMessages", "local_cdn_base", "name_in_logs"]

# Paths under the API base URL. The interaction webhook:
# https://discord.com/developers/docs/interactions/receiving-and-responding#endpoints
_WEBHOOK = re.compile(r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)(?:/messages/(?P<message>[^/]+))?")
# Application commands, global or a guild's:
# https://discord.com/developers/docs/interactions/application-commands#endpoints
_CHANNEL = re.compile(r"/channels/(?P<channel>\d+)/messages")
_COMMANDS = re.compile(r"/applications/(?P<app>[^/]+)(?:/guilds/[^/]+)?/commands")
# Mock mode's CDN: `coach-plans send` serves the files it attaches on 127.0.0.1:<port> and hands
# out their URLs on the API host, so charts pass the same host check as Discord's own.
LOCAL_CDN = "mock-cdn"
_LOCAL_CDN = re.compile(rf"/{LOCAL_CDN}/(?P<port>[1-9][0-9]{{0,4}})/(?P<path>.+)")

Check = Callable[[Any], None]
CheckFiles = Callable[[dict[str, Any], list[FilePart]], None]


@dataclass
class CdnFile:
    """A file on the fake CDN, and how it is served."""

    body: bytes
    status: int = 200
    delay: float = 0.0
    failures: int = 0  # answer 503 this many times first
    drip: float = 0.0  # send the body one byte every `drip` seconds
    headers: dict[str, str] = field(default_factory=dict)

    async def serve(self) -> httpx.Response:
        if self.delay:
            await anyio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            return httpx.Response(503, text="Service Unavailable")
        if self.drip:
            return httpx.Response(self.status, headers=self.headers, content=self._dripped())
        return httpx.Response(self.status, headers=self.headers, content=self.body)

    async def _dripped(self) -> AsyncIterator[bytes]:
        for n in range(len(self.body)):
            await anyio.sleep(self.drip)
            yield self.body[n : n + 1]


class KeptMessages:
    """Recent interactions' messages by token; an hour outlives any token's 15 minutes."""

    def __init__(self) -> None:
        self._messages: TTLCache[str, dict[str, dict[str, Any]]] = TTLCache(maxsize=2000, ttl=3600)
        # Uploads are kept for fewer messages: images take room, and mock mode runs for days.
        self._files: TTLCache[str, dict[str, FilePart]] = TTLCache(maxsize=200, ttl=3600)
        self._lock = threading.Lock()  # the blocking transport may be used from other threads

    def put(self, token: str, message_id: str, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            messages = self._messages.setdefault(token, {})
            kept = {**messages.get(message_id, {}), **message, "id": message_id}
            messages[message_id] = kept
            return kept

    def get(self, token: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages.get(token, {}).values())

    def drop(self, token: str, message_id: str) -> None:
        with self._lock:
            self._messages.get(token, {}).pop(message_id, None)

    def put_files(self, token: str, files: list[FilePart]) -> None:
        """The files of the message last sent or edited for `token` (an edit replaces them)."""
        with self._lock:
            self._files[token] = {one.filename: one for one in files}

    def files(self, token: str) -> dict[str, FilePart]:
        with self._lock:
            return dict(self._files.get(token, {}))


def as_shown(body: dict[str, Any], files: list[FilePart]) -> dict[str, Any]:
    """The message as Discord gives it back: its attachments as files it holds, with their
    sizes (https://discord.com/developers/docs/resources/message#attachment-object)."""
    if "attachments" not in body:
        return body
    by_id = {str(one.n): one for one in files}
    shown = []
    for entry in body["attachments"]:
        part = by_id.get(str(entry.get("id")))
        if part is not None:
            shown.append(
                {
                    "id": str(part.n),
                    "filename": part.filename,
                    "size": len(part.data),
                    "content_type": part.content_type,
                }
            )
    return {**body, "attachments": shown}


class _NamedInLogs(logging.Filter):
    """httpx's request lines say "mock discord /webhooks/…" for calls the fake answers: in
    mock mode nothing goes to Discord's address, and the log must not say otherwise."""

    def __init__(self, api_base_url: str) -> None:
        super().__init__()
        self.base = api_base_url.rstrip("/")

    def filter(self, record: logging.LogRecord) -> bool:
        # httpx logs 'HTTP Request: %s %s "%s %d %s"': method, URL, then the status line.
        args = record.args
        if isinstance(args, tuple) and len(args) > 1 and str(args[1]).startswith(self.base):
            record.args = (args[0], f"mock discord {str(args[1])[len(self.base) :]}", *args[2:])
        return True


def name_in_logs(api_base_url: str) -> None:
    """From now on, httpx's log lines name the calls to `api_base_url` as the fake's."""
    httpx_log = logging.getLogger("httpx")
    named = (f for f in httpx_log.filters if isinstance(f, _NamedInLogs))
    if all(f.base != api_base_url.rstrip("/") for f in named):
        httpx_log.addFilter(_NamedInLogs(api_base_url))


def local_cdn_base(api_base_url: str, port: int) -> str:
    """Where `coach-plans send` says the files it serves on 127.0.0.1:<port> are."""
    return f"{api_base_url.rstrip('/')}/{LOCAL_CDN}/{port}"


def _error(status: int, message: str, code: int = 0) -> httpx.Response:
    # Discord's error body (https://discord.com/developers/docs/reference#error-messages).
    return httpx.Response(status, json={"message": message, "code": code})


class FakeDiscord(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """Answers like Discord at `api_base_url` and its CDN hosts. What it does not know goes to
    `outside` when given (mock mode: the network), else gets a 404. The blocking transport
    (register_commands.py's client) serves the API only."""

    def __init__(
        self,
        api_base_url: str = protocol.API_BASE_URL,
        *,
        outside: httpx.AsyncBaseTransport | None = None,
        local_cdn: bool = False,
        recording: bool = False,
        bot_token: str | None = None,
        check_edit: Check | None = None,
        check_commands: Check | None = None,
        check_files: CheckFiles | None = None,
        check_follow_up: Check | None = None,
    ) -> None:
        self.api_base = httpx.URL(api_base_url.rstrip("/") + "/")
        self.outside = outside
        self.local_cdn = local_cdn  # serve LOCAL_CDN URLs from 127.0.0.1 through `outside`
        self.bot_token = bot_token  # when set, the commands API wants it
        self.check_edit, self.check_commands = check_edit, check_commands
        self.check_files = check_files  # a message's files against its payload
        self.check_follow_up = check_follow_up
        # What Discord would have refused: bodies it cannot read, and failed checks. The app
        # only logs a failed call, so tests read this afterwards.
        self.refused: list[str] = []
        self.kept = KeptMessages()
        self.files: dict[str, CdnFile] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}  # by URL path, one list per scope
        # Faults, served first.
        self.cdn_down = False
        self.edit_refusals: list[int] = []  # statuses to answer edits with
        self.rate_limits: list[float] = []  # retry_after of 429s to answer the commands API with
        self.commands_refusal: tuple[int, dict[str, Any]] | None = None
        # What was asked, for tests; off in mock mode, which runs for days.
        self.recording = recording
        self.requests: list[httpx.Request] = []
        self.downloads: list[str] = []  # CDN URLs
        self.edits: list[tuple[float, str, dict[str, Any]]] = []  # (monotonic time, path, body)
        # The bot's own messages (the daily recap): (channel id, body, files).
        self.channel_messages: list[tuple[str, dict[str, Any], list[FilePart]]] = []

    # --- what tests set and read ---------------------------------------------------------------

    def add_file(self, name: str, body: bytes, **how: Any) -> str:
        """A file on the CDN, served as `how` says (see CdnFile); returns its URL."""
        url = f"{protocol.CDN}/attachments/{payloads.CHANNEL}/{len(self.files) + 1}/{name}"
        self.files[url] = CdnFile(body, **how)
        return url

    def messages(self, token: str) -> list[dict[str, Any]]:
        """The messages kept for one interaction: its edited answer and its follow-ups."""
        return self.kept.get(token)

    def uploads(self, token: str) -> dict[str, FilePart]:
        """The files last uploaded with the interaction's messages, by filename."""
        return self.kept.files(token)

    @property
    def urls(self) -> list[str]:
        return [str(request.url) for request in self.requests]

    def methods(self) -> list[str]:
        return [request.method for request in self.requests]

    # --- the transports ------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.recording:
            self.requests.append(request)
        url = request.url
        if url.scheme == "https" and url.host in protocol.CDN_HOSTS and url.port is None:
            return await self._cdn(request)
        path = self._api_path(url)
        if path is None:
            return await self._outside(request)
        local = _LOCAL_CDN.fullmatch(path)
        if local is not None and self.local_cdn and request.method == "GET":
            return await self._local_file(request, int(local["port"]), local["path"])
        await request.aread()
        return self._api(request, path)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.recording:
            self.requests.append(request)
        path = self._api_path(request.url)
        if path is None:
            return _error(404, "Unknown route")
        request.read()
        return self._api(request, path)

    async def aclose(self) -> None:
        if self.outside is not None:
            await self.outside.aclose()

    def _api_path(self, url: httpx.URL) -> str | None:
        """The path after the API base URL ("/webhooks/…"), or None when not on the API."""
        base = self.api_base
        same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
        if not same_origin or not url.path.startswith(base.path):
            return None
        return url.path[len(base.path) - 1 :]

    async def _outside(self, request: httpx.Request) -> httpx.Response:
        if self.outside is None:
            return _error(404, "Unknown route")
        return await self.outside.handle_async_request(request)

    # --- the CDN -------------------------------------------------------------------------------

    async def _cdn(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if self.recording:
            self.downloads.append(url)
        if self.cdn_down:
            raise httpx.ConnectError("connection refused", request=request)
        found = self.files.get(url)
        if found is not None:
            return await found.serve()
        if self.outside is not None:
            return await self.outside.handle_async_request(request)
        return httpx.Response(404, text="Not Found")

    async def _local_file(self, request: httpx.Request, port: int, path: str) -> httpx.Response:
        if port > 65535 or self.outside is None:
            return httpx.Response(404, text="Not Found")
        local = httpx.Request(
            "GET", f"http://127.0.0.1:{port}/{path}", extensions=request.extensions
        )
        return await self.outside.handle_async_request(local)

    # --- the API -------------------------------------------------------------------------------

    def _api(self, request: httpx.Request, path: str) -> httpx.Response:
        webhook = _WEBHOOK.fullmatch(path)
        if webhook is not None:
            return self._webhook(request, webhook["token"], webhook["message"])
        commands = _COMMANDS.fullmatch(path)
        if commands is not None:
            return self._commands(request, commands["app"])
        channel = _CHANNEL.fullmatch(path)
        if channel is not None and request.method == "POST":
            return self._channel_message(request, channel["channel"])
        return _error(404, "404: Not Found")

    def _channel_message(self, request: httpx.Request, channel: str) -> httpx.Response:
        """POST /channels/{id}/messages: the bot's token is required, as Discord requires it."""
        wanted = f"Bot {self.bot_token}"
        given = request.headers.get("authorization") or ""
        if not given.startswith("Bot ") or (self.bot_token is not None and given != wanted):
            return _error(401, "401: Unauthorized")
        try:
            body, files = _message(request)
        except (BadForm, ValueError) as exc:
            return _error(400, f"Cannot parse the form body: {exc}", 50109)
        self._check(self.check_files, body, files)
        self.channel_messages.append((channel, body, files))
        return httpx.Response(200, json={"id": str(len(self.channel_messages)), **body})

    def _webhook(
        self, request: httpx.Request, token: str, message_id: str | None
    ) -> httpx.Response:
        sends = (request.method == "POST" and message_id is None) or (
            request.method == "PATCH" and message_id is not None
        )
        if sends:  # a follow-up message, or an edit
            try:
                body, files = _message(request)
            except (BadForm, ValueError) as exc:
                if self.recording:
                    self.refused.append(f"{request.method} {request.url.path}: {exc}")
                return _error(400, f"Cannot parse the form body: {exc}", 50109)
            self._check(
                self.check_edit if request.method == "PATCH" else self.check_follow_up, body
            )
            if request.method == "PATCH" and self.edit_refusals:
                status = self.edit_refusals.pop(0)
                return _error(status, "Unknown Webhook", protocol.UNKNOWN_WEBHOOK)
            self._check(self.check_files, body, files)
            if message_id is None:
                message_id = str(len(self.kept.get(token)) + 1)
            elif self.recording:
                self.edits.append((time.monotonic(), request.url.path, body))
            self.kept.put_files(token, files)
            kept = self.kept.put(token, message_id, as_shown(body, files))
            return httpx.Response(200, json=kept)
        if request.method == "DELETE" and message_id is not None:
            self.kept.drop(token, message_id)
            return httpx.Response(204)
        if request.method == "GET" and message_id is not None:
            found = [m for m in self.kept.get(token) if m["id"] == message_id]
            if found:
                return httpx.Response(200, json=found[0])
            return _error(404, "Unknown Message", protocol.UNKNOWN_MESSAGE)
        return _error(405, "405: Method Not Allowed")

    def _check(self, check: Callable[..., None] | None, *args: Any) -> None:
        """A check the tests gave; its failure is kept in `refused`, then raised."""
        if check is None:
            return
        try:
            check(*args)
        except AssertionError as exc:
            self.refused.append(str(exc))
            raise

    def _commands(self, request: httpx.Request, application_id: str) -> httpx.Response:
        wanted = f"Bot {self.bot_token}"
        if self.bot_token is not None and request.headers.get("authorization") != wanted:
            return _error(401, "401: Unauthorized")
        if self.rate_limits:
            # https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit
            limited = {"message": "You are being rate limited.", "global": False}
            return httpx.Response(429, json={**limited, "retry_after": self.rate_limits.pop(0)})
        if self.commands_refusal is not None:
            status, refusal = self.commands_refusal
            return httpx.Response(status, json=refusal)
        scope = request.url.path
        if request.method == "GET":
            return httpx.Response(200, json=self.commands.get(scope, []))
        if request.method == "PUT":
            sent = _body(request)
            self._check(self.check_commands, sent)
            self.commands[scope] = [_as_kept(c, n, application_id) for n, c in enumerate(sent)]
            return httpx.Response(200, json=self.commands[scope])
        return _error(405, "405: Method Not Allowed")


def _body(request: httpx.Request) -> Any:
    return json.loads(request.content or b"{}")


def _message(request: httpx.Request) -> tuple[dict[str, Any], list[FilePart]]:
    """A message's JSON and files: a JSON body, or a form with payload_json and files[n]."""
    content_type = request.headers.get("content-type", "")
    if is_form(content_type):
        return read_form(content_type, request.content)
    body = _body(request)
    if not isinstance(body, dict):
        raise BadForm("the body is not a JSON object")
    return body, []


def _without_false_required(option: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in option.items() if (key, value) != ("required", False)}
    if "options" in kept:
        kept["options"] = [_without_false_required(o) for o in kept["options"]]
    return kept


def _as_kept(command: dict[str, Any], n: int, application_id: str) -> dict[str, Any]:
    """A command as Discord's GET shows it: ids, a version and fields it fills in, with
    `required: false` left out of options; so an unchanged command never reads back verbatim."""
    return {
        "id": str(1000 + n),
        "application_id": application_id,
        "version": "1",
        "default_member_permissions": None,
        "nsfw": False,
        **command,
        "options": [_without_false_required(o) for o in command.get("options", [])],
    }
