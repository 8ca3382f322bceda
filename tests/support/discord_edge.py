"""Discord at the HTTP edge, for tests: signed interaction payloads shaped like Discord's
documented examples (app/mock/payloads.py), the fake Discord of app/mock/discord.py checking
what the app sends against Discord's schema, and a clock that records when each answer was fully
sent."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from nacl.signing import SigningKey
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.discord import protocol
from app.discord.multipart import FilePart
from app.mock import discord as shared
from app.mock import payloads
from app.plans.service import PlanService
from app.records import Actor, Clock, Place, system_clock
from app.runtime.web import create_app
from app.settings import Settings
from app.storage.database import make_engine, migrate
from app.storage.repository import PlanRepository
from tests.support.discord_schema import (
    check_commands,
    check_edit,
    check_follow_up,
    check_response,
    check_upload,
)

APP_ID = payloads.APPLICATION_ID
GUILD = payloads.GUILD
CHANNEL = payloads.CHANNEL
# Discord's real CDN hosts (the only ones charts are fetched from); the fake answers for them, so
# nothing goes out.
CDN = protocol.CDN
MEDIA = protocol.MEDIA
# Where the tests' settings say Discord's API is (see conftest.py).
API_BASE = "http://discord.test/api/v10"
AUTHOR = {"id": "53908232506183680", "username": "mason", "global_name": "Mason"}
OTHER = {"id": "53908232506183681", "username": "rival", "global_name": "Rival"}
MANAGE_MESSAGES = protocol.MANAGE_MESSAGES
# The flags of a public plan card: Components V2, seen by everyone.
CARD = protocol.IS_COMPONENTS_V2


def png(size: int = 64) -> bytes:
    """Bytes that start like a PNG (the archive checks the signature, not the pixels)."""
    return b"\x89PNG\r\n\x1a\n" + b"\0" * max(size - 8, 0)


class FakeDiscord(shared.FakeDiscord):
    """The app's fake Discord, recording what it is asked and checking every edit, follow-up,
    uploaded file and command definition against Discord's schema. What it refuses is also kept
    in `refused`: the app logs and carries on after a failed call to Discord, so only
    `discord_app` asserting on it afterwards makes such a failure fail the test."""

    def __init__(self, **how: Any) -> None:
        checks = {
            "check_edit": check_edit,
            "check_commands": check_commands,
            "check_files": check_upload,
            "check_follow_up": check_follow_up,
        }
        super().__init__(API_BASE, recording=True, **(checks | how))
        self.served_at: list[float] = []  # when each CDN answer was ready, for ordering checks

    async def _cdn(self, request: httpx.Request) -> httpx.Response:
        response = await super()._cdn(request)
        self.served_at.append(time.monotonic())
        return response

    def assert_no_problems(self) -> None:
        assert not self.refused, f"the app sent Discord what it would refuse: {self.refused}"


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


def guild_interaction(
    kind: int,
    data: dict[str, Any] | None,
    *,
    user: dict[str, Any] = AUTHOR,
    permissions: int = 0,
    guild_id: str = GUILD,
) -> dict[str, Any]:
    """A guild interaction: the user arrives inside `member`."""
    return payloads.guild_interaction(
        kind, data, user=user, permissions=permissions, guild_id=guild_id
    )


def dm_interaction(kind: int, data: dict[str, Any] | None) -> dict[str, Any]:
    """A direct-message interaction: the user arrives as `user`, and there is no guild."""
    return payloads.dm_interaction(kind, data, user=AUTHOR)


def command_data(
    name: str, attachments: dict[str, dict[str, Any]] | None = None, **options: str
) -> dict[str, Any]:
    values = [payloads.option(key, value) for key, value in options.items()]
    return payloads.command_data(name, values, attachments)


def attachment(
    url: str, filename: str, size: int, content_type: str | None = "image/png"
) -> dict[str, Any]:
    return payloads.attachment(url, filename, size, content_type)


def autocomplete_data(name: str, typed: str, **options: str) -> dict[str, Any]:
    values = [payloads.option(key, value) for key, value in options.items()]
    return payloads.autocomplete_data(name, values, ("date", typed))


def modal_data(custom_id: str, text: str) -> dict[str, Any]:
    return payloads.modal_data(custom_id, {"text": text})


def button_interaction(
    custom_id: str,
    *,
    user: dict[str, Any] = AUTHOR,
    owner: dict[str, Any] | None = None,
    **how: Any,
) -> dict[str, Any]:
    return payloads.button_press(
        custom_id, user=user, owner=owner or user, content="Delete?", **how
    )


# --- the app, driven like Discord drives it ------------------------------------------------------


class Discord:
    """Sends signed interactions to the app and checks every answer against Discord's schema."""

    def __init__(self, client: TestClient, key: SigningKey, fake: FakeDiscord, clock: AnswerClock):
        self.client, self.key, self.fake, self.clock = client, key, fake, clock

    def raw(
        self, body: bytes, *, timestamp: str | None = None, key: SigningKey | None = None
    ) -> httpx.Response:
        headers = payloads.signed_headers(key or self.key, body, timestamp)
        response: httpx.Response = self.client.post("/interactions", content=body, headers=headers)
        return response

    def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.raw(json.dumps(payload).encode())
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        check_response(body)
        return body

    def command(
        self,
        name: str,
        *,
        user: dict[str, Any] = AUTHOR,
        permissions: int = 0,
        guild_id: str = GUILD,
        **options: Any,
    ) -> dict[str, Any]:
        """A slash command with these options, from `user` in the guild `guild_id`."""
        attachments = options.pop("attachments", None)
        data = command_data(name, attachments, **options)
        kind = protocol.APPLICATION_COMMAND
        interaction = guild_interaction(
            kind, data, user=user, permissions=permissions, guild_id=guild_id
        )
        return self.send(interaction)

    def post_plan(self, coach: str = "d", text: str = "Long above 950", **options: Any) -> int:
        answer = self.command("plan", coach=coach, text=text, **options)
        assert answer["type"] == protocol.CHANNEL_MESSAGE, answer
        return plan_id(answer["data"])


def fast_settings(settings: Settings, **overrides: Any) -> Settings:
    """Retries that take milliseconds, not seconds."""
    return settings.model_copy(
        update={"reconnect_attempts": 2, "reconnect_delay_seconds": 0.01, **overrides}
    )


@contextmanager
def discord_app(
    settings: Settings,
    key: SigningKey,
    fake: FakeDiscord | None = None,
    now: Clock = system_clock,
) -> Iterator[Discord]:
    """The app driven like Discord drives it; `now` sets the app's time (and so its today)."""
    fake = fake or FakeDiscord()
    clock = AnswerClock(create_app(settings, http_transport=fake, clock=now))
    with TestClient(clock) as client:
        yield Discord(client, key, fake, clock)
    # After the app stopped: its answers sent after a deferral have all gone out.
    fake.assert_no_problems()


def components(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every component of a message, nested ones too, in reading order."""
    found: list[dict[str, Any]] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for one in items:
            found.append(one)
            walk(one.get("components") or [])

    walk(data.get("components") or [])
    return found


def texts(data: dict[str, Any]) -> list[str]:
    """The Text Displays of a Components V2 message, in reading order."""
    return [one["content"] for one in components(data) if one["type"] == protocol.TEXT_DISPLAY]


def card_text(data: dict[str, Any]) -> str:
    """All the text a message shows: its content or its Text Displays."""
    return "\n".join([data.get("content") or "", *texts(data)])


def edited(fake: FakeDiscord) -> tuple[dict[str, Any], dict[str, FilePart]]:
    """The one edit of @original: its payload, and the files uploaded with it by name."""
    [(_, path, body)] = fake.edits
    return body, fake.uploads(path.split("/")[-3])


def chart_path(url: str) -> str:
    """The path of a chart URL the API gives (its host is PUBLIC_BASE_URL's)."""
    return url[url.index("/charts/") :]


def gallery(data: dict[str, Any]) -> list[str]:
    """The files a message's Media Galleries show, as `attachment://` names stripped."""
    return [
        item["media"]["url"].removeprefix("attachment://")
        for one in components(data)
        if one["type"] == protocol.MEDIA_GALLERY
        for item in one["items"]
    ]


def plan_id(data: dict[str, Any]) -> int:
    """The plan a card shows, from its History button."""
    [button] = [one for one in components(data) if one.get("custom_id", "").startswith("history:")]
    return int(button["custom_id"].split(":")[1])


def ephemeral_text(answer: dict[str, Any]) -> str:
    data = answer["data"]
    assert answer["type"] == protocol.CHANNEL_MESSAGE, answer
    assert data["flags"] & protocol.EPHEMERAL, answer
    return card_text(data)


def seed_plan(database_url: str, day: str, text: str) -> None:
    """Coach d's plan of `day` by AUTHOR in GUILD, on a database brought to the newest schema:
    what a service started on it finds, as a woken machine finds its volume."""
    engine = make_engine(database_url)
    migrate(engine)
    service = PlanService(PlanRepository(engine), coaches=["d"], timezone=ZoneInfo("UTC"))
    author = Actor(id=AUTHOR["id"], name=AUTHOR["username"])
    service.post("d", day, text, author, place=Place(GUILD))
    engine.dispose()
