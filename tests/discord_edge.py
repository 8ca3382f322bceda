"""Discord at the HTTP edge, for tests: signed interaction payloads shaped like Discord's
documented examples, a fake of Discord's CDN and webhook API behind httpx.MockTransport, and a
clock that records when each answer was fully sent."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from nacl.signing import SigningKey
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings
from app.signatures import sign
from app.web import create_app
from tests.discord_schema import check_edit, check_response

APP_ID = "123456789012345678"
GUILD = "290926798626357999"
CHANNEL = "645027906669510667"
# Discord's real CDN hosts (the only ones charts are fetched from); the MockTransport answers
# for them, so nothing goes out.
CDN = "https://cdn.discordapp.com"
MEDIA = "https://media.discordapp.net"
AUTHOR = {"id": "53908232506183680", "username": "mason", "global_name": "Mason"}
OTHER = {"id": "53908232506183681", "username": "rival", "global_name": "Rival"}
MANAGE_MESSAGES = 1 << 13
_ids = itertools.count(786008729715212338)


def png(size: int = 64) -> bytes:
    """Bytes that start like a PNG (the archive checks the signature, not the pixels)."""
    return b"\x89PNG\r\n\x1a\n" + b"\0" * max(size - 8, 0)


@dataclass
class CdnFile:
    body: bytes
    status: int = 200
    delay: float = 0.0
    failures: int = 0  # answer 503 this many times first
    drip: float = 0.0  # send the body one byte every `drip` seconds
    headers: dict[str, str] = field(default_factory=dict)

    async def dripped(self) -> AsyncIterator[bytes]:
        for n in range(len(self.body)):
            await anyio.sleep(self.drip)
            yield self.body[n : n + 1]


@dataclass
class FakeDiscord:
    """Discord's CDN (attachment downloads) and webhook API (edits of @original)."""

    files: dict[str, CdnFile] = field(default_factory=dict)
    edits: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL asked for, CDN or not
    cdn_down: bool = False
    edit_refusals: list[int] = field(default_factory=list)  # statuses to answer edits with first

    def add_file(self, name: str, body: bytes, **how: Any) -> str:
        url = f"{CDN}/attachments/{CHANNEL}/{len(self.files) + 1}/{name}"
        self.files[url] = CdnFile(body, **how)
        return url

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        if url.startswith((CDN, MEDIA)):
            self.downloads.append(url)
            if self.cdn_down:
                raise httpx.ConnectError("connection refused", request=request)
            found = self.files.get(url)
            if found is None:
                return httpx.Response(404, text="Not Found")
            if found.delay:
                await anyio.sleep(found.delay)
            if found.failures:
                found.failures -= 1
                return httpx.Response(503, text="Service Unavailable")
            if found.drip:
                return httpx.Response(found.status, headers=found.headers, content=found.dripped())
            return httpx.Response(found.status, headers=found.headers, content=found.body)
        if request.method == "PATCH" and "/webhooks/" in url:
            body = json.loads(request.content)
            check_edit(body)
            if self.edit_refusals:
                status = self.edit_refusals.pop(0)
                return httpx.Response(status, json={"message": "Unknown Webhook", "code": 10015})
            self.edits.append((time.monotonic(), request.url.path, body))
            return httpx.Response(200, json={"id": "1", **body})
        return httpx.Response(404, json={"message": "Unknown route", "code": 0})


class AnswerClock:
    """ASGI wrapper noting when each response body was completely sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.sent_at: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def timed(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.sent_at.append(time.monotonic())

        await self.app(scope, receive, timed)


# --- payloads shaped like Discord's documented examples ------------------------------------------


def member(user: dict[str, Any], permissions: int = 0) -> dict[str, Any]:
    return {
        "user": {**user, "avatar": None, "discriminator": "0", "public_flags": 0},
        "roles": ["539082325061836999"],
        "premium_since": None,
        "permissions": str(permissions),
        "pending": False,
        "nick": None,
        "mute": False,
        "joined_at": "2017-03-13T19:19:14.040000+00:00",
        "deaf": False,
    }


def guild_interaction(
    kind: int,
    data: dict[str, Any] | None,
    *,
    user: dict[str, Any] = AUTHOR,
    permissions: int = 0,
    guild_id: str = GUILD,
) -> dict[str, Any]:
    """A guild interaction: the user arrives inside `member`."""
    payload: dict[str, Any] = {
        "type": kind,
        "token": f"token-{next(_ids)}",
        "member": member(user, permissions),
        "id": str(next(_ids)),
        "application_id": APP_ID,
        "guild_id": guild_id,
        "guild": {"id": guild_id, "locale": "en-US", "features": []},
        "app_permissions": "442368",
        "guild_locale": "en-US",
        "locale": "en-US",
        "channel_id": CHANNEL,
        "channel": {"id": CHANNEL, "name": "trading-plans", "type": 0, "guild_id": guild_id},
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id},
        "context": 0,
        "version": 1,
    }
    if data is not None:
        payload["data"] = data
    return payload


def dm_interaction(kind: int, data: dict[str, Any] | None) -> dict[str, Any]:
    """A direct-message interaction: the user arrives as `user`, and there is no guild."""
    payload: dict[str, Any] = {
        "type": kind,
        "token": f"token-{next(_ids)}",
        "user": {**AUTHOR, "avatar": None, "discriminator": "0", "public_flags": 0},
        "id": str(next(_ids)),
        "application_id": APP_ID,
        "app_permissions": "442368",
        "locale": "en-US",
        "channel_id": "845027906669510667",
        "channel": {"id": "845027906669510667", "type": 1},
        "entitlements": [],
        "authorizing_integration_owners": {"1": AUTHOR["id"]},
        "context": 1,
        "version": 1,
    }
    if data is not None:
        payload["data"] = data
    return payload


def command_data(
    name: str, attachments: dict[str, dict[str, Any]] | None = None, **options: str
) -> dict[str, Any]:
    values = [{"name": key, "type": 3, "value": value} for key, value in options.items()]
    data: dict[str, Any] = {"id": "771825006014889984", "name": name, "type": 1}
    resolved: dict[str, Any] = {}
    for option, attachment in (attachments or {}).items():
        values.append({"name": option, "type": 11, "value": attachment["id"]})
        resolved[attachment["id"]] = attachment
    if values:
        data["options"] = values
    if resolved:
        data["resolved"] = {"attachments": resolved}
    return data


def attachment(
    url: str, filename: str, size: int, content_type: str | None = "image/png"
) -> dict[str, Any]:
    found = {
        "id": str(next(_ids)),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url.replace("cdn.", "media."),
        "width": 800,
        "height": 600,
        "ephemeral": True,
    }
    if content_type is not None:
        found["content_type"] = content_type
    return found


def autocomplete_data(name: str, typed: str, **options: str) -> dict[str, Any]:
    values: list[dict[str, Any]] = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
    values.append({"name": "date", "type": 3, "value": typed, "focused": True})
    return {"id": "771825006014889984", "name": name, "type": 1, "options": values}


def modal_data(custom_id: str, text: str) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "text", "value": text}]}
        ],
    }


def button_interaction(
    custom_id: str,
    *,
    user: dict[str, Any] = AUTHOR,
    owner: dict[str, Any] | None = None,
    **how: Any,
) -> dict[str, Any]:
    payload = guild_interaction(3, {"custom_id": custom_id, "component_type": 2}, user=user, **how)
    payload["message"] = {
        "id": "100000000000000003",
        "channel_id": CHANNEL,
        "content": "Delete?",
        "flags": 64,
        "components": [],
        "interaction_metadata": {"id": "1", "type": 2, "user": owner or user},
    }
    return payload


# --- the app, driven like Discord drives it ------------------------------------------------------


class Discord:
    """Sends signed interactions to the app and checks every answer against Discord's schema."""

    def __init__(self, client: TestClient, key: SigningKey, fake: FakeDiscord, clock: AnswerClock):
        self.client, self.key, self.fake, self.clock = client, key, fake, clock

    def raw(
        self, body: bytes, *, timestamp: str | None = None, key: SigningKey | None = None
    ) -> httpx.Response:
        timestamp = timestamp or str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Signature-Ed25519": sign(key or self.key, timestamp, body),
            "X-Signature-Timestamp": timestamp,
        }
        return self.client.post("/interactions", content=body, headers=headers)

    def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.raw(json.dumps(payload).encode())
        assert response.status_code == 200, response.text
        body = response.json()
        check_response(body)
        return body

    def command(
        self, name: str, *, user: dict[str, Any] = AUTHOR, **options: Any
    ) -> dict[str, Any]:
        attachments = options.pop("attachments", None)
        permissions = options.pop("permissions", 0)
        data = command_data(name, attachments, **options)
        return self.send(guild_interaction(2, data, user=user, permissions=permissions))

    def post_plan(self, coach: str = "d", text: str = "Long above 950", **options: str) -> int:
        answer = self.command("plan", coach=coach, text=text, **options)
        assert answer["type"] == 4, answer
        footer = answer["data"]["embeds"][0]["footer"]["text"]
        return int(footer.split("#")[1].split(" ")[0])


def fast_settings(settings: Settings, **overrides: Any) -> Settings:
    """Retries that take milliseconds, not seconds."""
    return settings.model_copy(
        update={"reconnect_attempts": 2, "reconnect_delay_seconds": 0.01, **overrides}
    )


@contextmanager
def discord_app(
    settings: Settings, key: SigningKey, fake: FakeDiscord | None = None
) -> Iterator[Discord]:
    fake = fake or FakeDiscord()
    clock = AnswerClock(create_app(settings, http_transport=httpx.MockTransport(fake)))
    with TestClient(clock) as client:
        yield Discord(client, key, fake, clock)


def ephemeral_text(answer: dict[str, Any]) -> str:
    assert answer["type"] == 4 and answer["data"]["flags"] == 64, answer
    data = answer["data"]
    parts = [data.get("content") or ""]
    for embed in data.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields") or []]
    return "\n".join(parts)
