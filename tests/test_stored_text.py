"""What text is stored, the same on SQLite and PostgreSQL: text with nothing visible is no text,
control characters are dropped (newlines and tabs kept in plans), and Discord's names are cut to
fit their columns. First through PlanService, then through the app with signed interactions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nacl.signing import SigningKey
from sqlalchemy import Engine

from app.errors import BadText
from app.plans.service import PlanService
from app.records import Actor, NewChart, Place
from app.settings import Settings
from app.storage.repository import PlanRepository
from tests.support.discord_edge import (
    AUTHOR,
    CARD,
    Discord,
    attachment,
    command_data,
    discord_app,
    ephemeral_text,
    fast_settings,
    guild_interaction,
    png,
)

GUILD = "290926798626357999"
HERE = Place(guild_id=GUILD)

DAY = date(2025, 3, 14)
COACH_D = Actor(id="123456789012345678", name="coach d")
# Each draws nothing: spaces, zero-width spaces and joiners, word joiner, BOM, controls, a
# Hangul filler and the braille blank.
INVISIBLE = [
    "\u200b\u200b\u200b",
    "\x00",
    " \u200c\u200d\u2060\ufeff ",
    "\u00a0\u3000\t\n",
    "\u3164",
    "\u2800",
    "\u202e\u200e",
]


@pytest.fixture
def plans(engine: Engine) -> PlanService:
    return PlanService(
        PlanRepository(engine), coaches=["d", "i", "s", "n"], timezone=ZoneInfo("UTC")
    )


# --- PlanService, on both databases ------------------------------------------------------------


@pytest.mark.parametrize("text", INVISIBLE)
def test_a_plan_of_only_invisible_characters_is_refused(plans: PlanService, text: str) -> None:
    with pytest.raises(BadText, match="empty"):
        plans.post("d", DAY, text, COACH_D, place=HERE)
    plans.post("d", DAY, "Long 950", COACH_D, place=HERE)
    with pytest.raises(BadText, match="empty"):
        plans.edit(GUILD, "d", DAY, COACH_D, text=text)


def test_control_characters_in_plan_text_are_dropped_keeping_lines_and_tabs(
    plans: PlanService,
) -> None:
    posted = plans.post(
        "d", DAY, "\x00Long\x00 950\r\nStop\t940\x1b[0m\rDone\x7f", COACH_D, place=HERE
    )
    assert posted.text == "Long 950\nStop\t940[0m\nDone"
    assert plans.get(GUILD, "d", DAY).text == posted.text
    edited = plans.edit(GUILD, "d", DAY, COACH_D, text="Short\x00 960\x0b")
    assert (edited.text, plans.history(GUILD, "d", DAY)[1][0].plan_text) == (
        "Short 960",
        posted.text,
    )


def test_emoji_sequences_and_joiners_inside_text_are_kept(plans: PlanService) -> None:
    text = (
        "Long \u2764\ufe0f 950 \U0001f468\u200d\U0001f4bb \U0001f3f4\U000e0067\U000e0062\U000e007f"
    )
    assert plans.post("d", DAY, text, COACH_D, place=HERE).text == text
    # A flag on its own is visible: its tag characters are format characters, its base is not.
    assert plans.post("i", DAY, "\U0001f3f4\U000e0067\U000e007f", COACH_D, place=HERE).text


def test_over_long_discord_names_are_stored_cut_to_their_columns(plans: PlanService) -> None:
    author = Actor(id="123456789012345678", name="N" * 150)
    place = Place(guild_id="1" * 19, channel_id="2" * 19, channel="c" * 150)
    chart = NewChart("https://cdn.discordapp.test/1.png", "f" * 300 + ".png", "image/png", 10)
    posted = plans.post("d", DAY, "Long 950", author, place=place, charts=[chart])
    stored = plans.get("1" * 19, "d", DAY)
    assert stored == posted
    assert (stored.author, stored.channel) == ("N" * 100, "c" * 100)
    assert stored.charts[0].filename == "f" * 255


def test_control_characters_in_names_ids_and_filenames_are_dropped(plans: PlanService) -> None:
    author = Actor(id="1234\x00", name="Ma\x00son\n[INFO] forged")
    place = Place(guild_id="77\x00", channel_id="\x00", channel="trading\x00\nplans")
    chart = NewChart("https://cdn.discordapp.test/1\x00.png", "sp\x00y\n.png", "image/png", 10)
    plans.post("d", DAY, "Long 950", author, place=place, charts=[chart])
    stored = plans.get("77", "d", DAY)
    assert (stored.author_id, stored.author) == ("1234", "Mason [INFO] forged")
    assert (stored.guild_id, stored.channel_id, stored.channel) == ("77", None, "trading plans")
    assert (stored.charts[0].url, stored.charts[0].filename) == (
        "https://cdn.discordapp.test/1.png",
        "spy .png",
    )
    # The same author, however the id was written, may still edit and delete it.
    plans.edit("77", "d", DAY, Actor(id="1234", name="\u200b"), text="Short 960")
    assert plans.history("77", "d", DAY)[1][0].edited_by == "1234"  # no visible name: the id
    assert plans.delete("77", "d", DAY, Actor(id="\x001234", name="Mason")).is_deleted


# --- through the app, on both databases ---------------------------------------------------------


@pytest.fixture
def discord(settings: Settings, signer: SigningKey, database_url: str) -> Iterator[Discord]:
    on = fast_settings(settings, database_url=database_url, database_path=None)
    with discord_app(on, signer) as app:
        yield app


def stored_plan(discord: Discord) -> dict[str, Any]:
    response = discord.client.get("/api/coach-plans?coach=d")
    assert response.status_code == 200, response.text
    plan: dict[str, Any] = response.json()
    return plan


def plan_payload(text: str = "Long 950", **options: Any) -> dict[str, Any]:
    return guild_interaction(2, command_data("plan", coach="d", text=text, **options))


def test_a_plan_of_only_zero_width_spaces_is_refused(discord: Discord) -> None:
    answer = discord.command("plan", coach="d", text="\u200b\u200b\u200b")
    assert "The plan text is empty" in ephemeral_text(answer)
    assert discord.client.get("/api/coach-plans/all").json()["count"] == 0


def test_a_plan_of_only_a_nul_is_refused(discord: Discord) -> None:
    answer = discord.command("plan", coach="d", text="\x00")
    assert "The plan text is empty" in ephemeral_text(answer)


def test_a_nul_in_plan_text_is_dropped_alike_on_either_database(discord: Discord) -> None:
    answer = discord.command("plan", coach="d", text="Long\x00 950")
    assert answer["type"] == 4 and answer["data"].get("flags") == CARD, answer
    assert stored_plan(discord)["plan"] == "Long 950"
    edited = discord.command("edit", coach="d", text="Short\x00 960")
    assert edited["data"].get("flags") == CARD, edited
    assert stored_plan(discord)["plan"] == "Short 960"


def test_a_nul_in_a_chart_filename_is_dropped_alike_on_either_database(discord: Discord) -> None:
    url = discord.fake.add_file("spy.png", png())
    file = attachment(url, "sp\x00y.png", 64)
    answer = discord.command("plan", coach="d", text="Long 950", attachments={"chart1": file})
    assert answer["type"] == 5, answer  # deferred while the chart downloads
    [chart] = stored_plan(discord)["charts"]
    assert chart["filename"] == "spy.png"


def test_over_long_author_channel_and_file_names_are_stored_cut_to_fit(discord: Discord) -> None:
    url = discord.fake.add_file("spy.png", png())
    file = attachment(url, "f" * 300 + ".png", 64)
    payload = plan_payload(attachments={"chart1": file})
    payload["member"]["nick"] = "N" * 150
    payload["channel"]["name"] = "c" * 150
    assert discord.send(payload)["type"] == 5
    plan = stored_plan(discord)
    assert (plan["author"], plan["channel"]) == ("N" * 100, "c" * 100)
    assert plan["charts"][0]["filename"] == "f" * 255


def test_control_characters_in_author_and_channel_names_are_dropped(discord: Discord) -> None:
    payload = plan_payload()
    payload["member"]["nick"] = "Ma\x00son"
    payload["channel"]["name"] = "trading\x00-plans"
    assert discord.send(payload)["data"].get("flags") == CARD
    plan = stored_plan(discord)
    assert (plan["author"], plan["channel"]) == ("Mason", "trading-plans")


def test_a_nick_of_only_zero_width_spaces_gives_way_to_the_global_name(discord: Discord) -> None:
    payload = plan_payload()
    payload["member"]["nick"] = "\u200b\u200b"
    discord.send(payload)
    assert stored_plan(discord)["author"] == AUTHOR["global_name"]


def test_a_user_id_that_is_not_a_discord_id_is_refused(discord: Discord) -> None:
    payload = plan_payload()
    payload["member"]["user"]["id"] = AUTHOR["id"] + "\x00"
    assert "carries no user" in ephemeral_text(discord.send(payload))
    assert discord.client.get("/api/coach-plans/all").json()["count"] == 0


def test_a_channel_id_that_is_not_a_discord_id_is_not_stored(discord: Discord) -> None:
    payload = plan_payload()
    payload["channel_id"] = payload["channel"]["id"] = "6450\x00"
    assert discord.send(payload)["data"].get("flags") == CARD
    assert stored_plan(discord)["channel_id"] is None


def test_an_interaction_id_with_a_nul_is_still_carried_out_once(discord: Discord) -> None:
    payload = plan_payload()
    payload["id"] = "7860\x00"
    assert discord.send(payload)["data"].get("flags") == CARD
    assert "already handled" in ephemeral_text(discord.send(payload))
    assert discord.client.get("/api/coach-plans/all").json()["count"] == 1
