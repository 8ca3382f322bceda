"""/outcome, /scorecard and the Result button, driven like Discord drives them (signed
interactions, the fake Discord at the HTTP edge, CSV prices in a temporary folder): each defers,
then the deferred answer becomes a card with its picture uploaded as the message's own file;
nothing to draw is a clear ephemeral answer, never a broken picture."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey
from PIL import Image

from app.discord import protocol
from app.settings import Settings
from app.storage.database import make_engine
from tests.support.discord_edge import (
    Discord,
    FakeDiscord,
    button_interaction,
    card_text,
    components,
    discord_app,
    edited,
    ephemeral_text,
    gallery,
    plan_id,
)
from tests.test_grading import CLOSE, DAY, OPEN, TEXT, WINNING, grader, write_bars
from tests.test_outcome_api import AUTHOR, MONDAY, graded_settings


@pytest.fixture
def discord(
    settings: Settings, signer: SigningKey, fake: FakeDiscord, tmp_path: Path
) -> Iterator[Discord]:
    configured = graded_settings(settings, tmp_path)
    with discord_app(configured, signer, fake, now=lambda: CLOSE + timedelta(days=1)) as app:
        deadline = time.monotonic() + 60  # the start's grading pass runs in the background
        while time.monotonic() < deadline:
            found = app.client.get("/api/coach-plans/outcome", params={"coach": "i", "date": DAY})
            if found.json()["status"] != "pending":
                break
            time.sleep(0.05)
        yield app


def picture_of(fake: FakeDiscord) -> tuple[dict[str, Any], Image.Image]:
    """The edited answer and the one picture uploaded with it (a readable PNG)."""
    card, files = edited(fake)
    [name] = gallery(card)
    body = files[name].data
    assert isinstance(body, bytes) and len(body) < 1_000_000
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG" and image.width >= 1000
    return card, image


def test_outcome_is_a_public_card_with_the_session_drawn(
    discord: Discord, fake: FakeDiscord
) -> None:
    assert discord.command("outcome", coach="d", date=DAY.isoformat()) == {"type": 5}
    card, _ = picture_of(fake)
    assert not card["flags"] & protocol.EPHEMERAL
    text = card_text(card)
    assert "Coach d" in text and "2025-03-14" in text
    assert "Target hit (2 targets), +2.20R" in text


def test_scorecard_is_private_unless_shared(discord: Discord, fake: FakeDiscord) -> None:
    first = discord.command("scorecard")
    assert first == {"type": 5, "data": {"flags": protocol.EPHEMERAL}}
    card, _ = picture_of(fake)  # the deferral decided who sees it: the asker alone
    text = card_text(card)
    assert "**d**: 1 graded · 1 won · 0 lost" in text and "total +2.20R" in text
    assert "**i**: 1 graded · 0 won · 1 lost" in text and "total -1.00R" in text
    fake.edits.clear()
    assert discord.command("scorecard", coach="i", share=True) == {"type": 5}
    shared, _ = picture_of(fake)
    assert "**i**" in card_text(shared) and "**d**" not in card_text(shared)


def test_a_graded_plans_card_has_a_result_button_for_the_presser_alone(
    discord: Discord, fake: FakeDiscord
) -> None:
    coach_d = {"id": AUTHOR.id, "username": "coachd", "global_name": AUTHOR.name}
    answer = discord.command(
        "edit", user=coach_d, coach="d", date=DAY.isoformat(), text=f"{TEXT} (reviewed)"
    )
    [button] = [c for c in components(answer["data"]) if c.get("label") == "Result"]
    assert button["custom_id"] == f"result:{plan_id(answer['data'])}"
    pressed = discord.send(button_interaction(button["custom_id"]))
    assert pressed == {"type": 5, "data": {"flags": protocol.EPHEMERAL}}
    card, _ = picture_of(fake)
    assert "Target hit (2 targets), +2.20R" in card_text(card)  # the grade, not the late edit
    # The Monday's plan is not graded yet: its card's button says why, to the presser alone.
    fake.edits.clear()
    monday = discord.command(
        "edit", user=coach_d, coach="d", date=MONDAY.isoformat(), text=f"{TEXT} (again)"
    )
    [early] = [c for c in components(monday["data"]) if c.get("label") == "Result"]
    why = ephemeral_text(discord.send(button_interaction(early["custom_id"])))
    assert "not graded yet" in why and "session has not closed" in why
    assert fake.edits == []  # no deferral, no picture


def test_a_card_posted_before_its_session_shows_the_outcome_once_graded(
    settings: Settings, signer: SigningKey, fake: FakeDiscord, tmp_path: Path
) -> None:
    """The message already in the channel is not edited: its Result button, there from the
    start, answers with the outcome once a grader (here another instance) has made it."""
    prices = tmp_path / "prices"
    write_bars(prices, "SPY", *WINNING)
    configured = settings.model_copy(update={"price_source": f"csv:{prices}"})
    with discord_app(configured, signer, fake, now=lambda: OPEN - timedelta(hours=1)) as app:
        posted = app.command("plan", coach="d", date=DAY.isoformat(), text=TEXT)
        [button] = [c for c in components(posted["data"]) if c.get("label") == "Result"]
        early = ephemeral_text(app.send(button_interaction(button["custom_id"])))
        assert "not graded yet" in early
        engine = make_engine(configured.database_url)
        try:
            assert grader(engine, prices, CLOSE + timedelta(hours=1)).grade_due().lines() == [
                "target 1"
            ]
        finally:
            engine.dispose()
        pressed = app.send(button_interaction(button["custom_id"]))
        assert pressed == {"type": 5, "data": {"flags": protocol.EPHEMERAL}}
        card, _ = picture_of(fake)
        assert "Target hit (2 targets), +2.20R" in card_text(card)


def test_without_grading_a_card_has_no_result_button(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    off = settings.model_copy(update={"price_source": "none"})
    with discord_app(off, signer, fake) as app:
        posted = app.command("plan", coach="d", text=TEXT)
        labels = [c.get("label") for c in components(posted["data"])]
        assert "History" in labels and "Result" not in labels


@pytest.mark.parametrize(
    ("coach", "says"),
    [("d", "not graded yet"), ("i", "no plan")],  # on the Monday: d's is pending, i has none
)
def test_an_outcome_with_nothing_to_draw_says_why_to_the_asker(
    discord: Discord, fake: FakeDiscord, coach: str, says: str
) -> None:
    answer = discord.command("outcome", coach=coach, date=MONDAY.isoformat())
    assert says in ephemeral_text(answer).lower()
    assert fake.edits == []


def test_a_scorecard_with_nothing_to_draw_says_why(
    discord: Discord, fake: FakeDiscord, settings: Settings
) -> None:
    idle = next(name for name in settings.coaches if name not in ("d", "i"))
    answer = discord.command("scorecard", coach=idle)
    assert f"No graded plans for {idle} in the last 30 sessions" in ephemeral_text(answer)
    for days in (0, 366):
        assert "1 to 365" in ephemeral_text(discord.command("scorecard", days=days))
    assert fake.edits == []


def test_an_outcome_whose_bars_are_gone_is_taken_back_and_explained(
    discord: Discord, fake: FakeDiscord, tmp_path: Path
) -> None:
    (tmp_path / "prices" / "SPY.csv").unlink()
    assert discord.command("outcome", coach="d", date=DAY.isoformat()) == {"type": 5}
    assert fake.edits == []  # no broken picture, no half card
    methods = [(r.method, r.url.path.split("/")[-1]) for r in fake.requests]
    assert ("DELETE", "@original") in methods
    [follow_up] = [r for r in fake.requests if r.method == "POST" and "webhooks" in r.url.path]
    body = json.loads(follow_up.content)
    assert body["flags"] & protocol.EPHEMERAL
    assert "no SPY bars for 2025-03-14" in card_text(body)
