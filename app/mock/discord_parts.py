"""Parts of the fake Discord (app/mock/discord.py): files on its CDN and how they are served,
the messages and files it keeps for each interaction, and how the log names the calls it
answers."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from cachetools import TTLCache

from app.discord.multipart import FilePart


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
