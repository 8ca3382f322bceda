"""The daily recap, through the real app: `/setup recap_channel` (only with DISCORD_BOT_TOKEN),
then, once the day's plans are graded, one message with the day's outcomes and a picture in that
channel, once per guild and day however many instances start on the same database."""

from __future__ import annotations

import io
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from PIL import Image
from pydantic import SecretStr

from app.discord import protocol
from app.settings import Settings
from tests.support.discord_edge import FakeDiscord, card_text, discord_app, ephemeral_text
from tests.test_grading import CLOSE, DAY
from tests.test_outcome_api import GUILD, graded_settings

CHANNEL = "700000000000000001"
LATER = CLOSE + timedelta(days=1)


def set_channel(settings: Settings, signer: SigningKey, fake: FakeDiscord) -> str:
    with discord_app(settings, signer, fake, now=lambda: LATER) as discord:
        if settings.price_source != "none":  # the start's grading pass, done before it stops

            def graded() -> bool:
                read = discord.client.get(
                    "/api/coach-plans/outcome", params={"coach": "i", "date": DAY}
                )
                return bool(read.json()["status"] != "pending")

            wait_for(graded, "grade")
        answer = discord.command(
            "setup", permissions=protocol.MANAGE_GUILD, guild_id=GUILD, recap_channel=CHANNEL
        )
    return ephemeral_text(answer)


def checks(caplog: pytest.LogCaptureFixture) -> int:
    """How many recap checks the instances have made (each logs one line)."""
    return sum("daily recaps checked" in r.getMessage() for r in caplog.records)


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"no {what} within 60 s"
        time.sleep(0.05)


def test_without_a_bot_token_setup_says_why_there_is_no_recap(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    said = set_channel(
        settings.model_copy(update={"discord_bot_token": None, "price_source": "none"}),
        signer,
        fake,
    )
    assert "DISCORD_BOT_TOKEN" in said


def test_the_recap_is_posted_once_per_guild_and_day(
    settings: Settings,
    signer: SigningKey,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    database_url: str,
) -> None:
    caplog.set_level(logging.INFO, logger="coach_plans")
    on = settings.model_copy(update={"database_url": database_url, "database_path": None})
    configured = graded_settings(on, tmp_path).model_copy(
        update={"discord_bot_token": SecretStr("bot-token")}
    )
    fake = FakeDiscord(bot_token="bot-token")
    assert f"daily recap: <#{CHANNEL}>" in set_channel(configured, signer, fake)
    # Two instances on the same database, one after the other and then side by side.
    for _ in range(2):
        with discord_app(configured, signer, fake, now=lambda: LATER) as one:
            before = checks(caplog)
            wait_for(lambda b=before: checks(caplog) > b, "recap check")
            with discord_app(configured, signer, fake, now=lambda: LATER):
                wait_for(lambda b=before: checks(caplog) > b + 1, "second recap check")
            assert one.client.get("/health").status_code == 200
    [(channel, body, files)] = fake.channel_messages
    assert channel == CHANNEL
    text = card_text(body)
    assert "Daily recap: Fri 2025-03-14" in text
    assert "**d** · SPY long: target hit (2 targets), +2.20R" in text
    assert "**i** · QQQ long: stopped out, -1.00R" in text
    [picture] = files
    image = Image.open(io.BytesIO(picture.data))
    assert image.format == "PNG" and image.width >= 1000 and len(picture.data) < 1_000_000
