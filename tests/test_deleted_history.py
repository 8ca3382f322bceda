"""A deleted plan's history stays readable: /history and GET /api/coach-plans/history show its
earlier versions, its last text, and who deleted it when; only in its own guild. Through the real
app with real signatures, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from nacl.signing import SigningKey
from sqlalchemy import DateTime, bindparam, text

from app.client import create_client
from app.plans.service import PlanService
from app.settings import Settings
from app.storage.database import make_engine
from app.storage.repository import PlanRepository
from tests.support.clock import Clock
from tests.support.discord_edge import (
    AUTHOR,
    CARD,
    GUILD,
    MANAGE_MESSAGES,
    OTHER,
    Discord,
    autocomplete_data,
    button_interaction,
    card_text,
    discord_app,
    ephemeral_text,
    fast_settings,
    guild_interaction,
    plan_id,
    texts,
)
from tests.support.migrations import upgrade_to

OTHER_GUILD = "390926798626357111"
DAY = "2026-01-05"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def discord(
    settings: Settings, signer: SigningKey, database_url: str, clock: Clock
) -> Iterator[Discord]:
    on = fast_settings(settings, database_url=database_url, database_path=None)
    with discord_app(on, signer, now=clock) as app:
        yield app


def post(discord: Discord, plan: str, *, guild: str = GUILD, day: str = DAY) -> int:
    answer = discord.command("plan", guild_id=guild, coach="d", text=plan, date=day)
    assert answer["type"] == 4 and answer["data"].get("flags") == CARD, answer
    return plan_id(answer["data"])


def edit(discord: Discord, plan: str, *, guild: str = GUILD) -> None:
    answer = discord.command("edit", guild_id=guild, coach="d", text=plan, date=DAY)
    assert answer["type"] == 4 and answer["data"].get("flags") == CARD, answer


def delete(
    discord: Discord,
    *,
    guild: str = GUILD,
    user: dict[str, Any] = AUTHOR,
    permissions: int = 0,
    day: str = DAY,
) -> None:
    """/delete, then Confirm, as the same user."""
    asked = discord.command(
        "delete", guild_id=guild, user=user, permissions=permissions, coach="d", date=day
    )
    [row] = asked["data"]["components"]
    [confirm] = [b["custom_id"] for b in row["components"] if b["label"] == "Confirm"]
    pressed = discord.send(
        button_interaction(confirm, user=user, permissions=permissions, guild_id=guild)
    )
    assert "Deleted coach d's plan" in pressed["data"]["content"], pressed


def history_text(discord: Discord, *, guild: str = GUILD) -> str:
    return ephemeral_text(discord.command("history", guild_id=guild, coach="d", date=DAY))


def history_json(discord: Discord, *, guild: str = GUILD) -> httpx.Response:
    query = {"coach": "d", "date": DAY, "guild": guild}
    response: httpx.Response = discord.client.get("/api/coach-plans/history", params=query)
    return response


def suggested(discord: Discord, command_name: str, *, guild: str = GUILD) -> list[str]:
    typed = autocomplete_data(command_name, "", coach="d")
    answer = discord.send(guild_interaction(4, typed, guild_id=guild))
    return [choice["value"] for choice in answer["data"]["choices"]]


# --- post, edit, delete; then read the history ---------------------------------------------------


def test_a_deleted_plans_history_shows_every_text_and_who_deleted_it_when(
    discord: Discord, clock: Clock
) -> None:
    plan_id = post(discord, "Long above 950")
    edit(discord, "Long above 955")
    deleted_at = clock.advance(60)
    delete(discord)

    response = history_json(discord)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"coach", "date", "plan_id", "history", "deleted"}
    assert (body["coach"], body["date"], body["plan_id"]) == ("d", DAY, plan_id)
    [earlier] = body["history"]
    assert set(earlier) == {"plan_text", "edited_by", "edited_at"}
    assert (earlier["plan_text"], earlier["edited_by"]) == ("Long above 950", "Mason")
    deleted = body["deleted"]
    assert set(deleted) == {"by", "by_id", "at", "plan_text"}
    assert (deleted["by"], deleted["by_id"]) == ("Mason", AUTHOR["id"])
    assert deleted["plan_text"] == "Long above 955"
    at = datetime.fromisoformat(deleted["at"])
    assert at.utcoffset() == timedelta(0)
    assert at == deleted_at

    shown = history_text(discord)
    assert f"coach d's deleted plan for {DAY}" in shown
    assert f"Deleted by Mason (<@{AUTHOR['id']}>) on <t:{int(at.timestamp())}:f>." in shown
    assert "1 earlier version(s), newest first" in shown
    assert "**Its last text** (version 2, by Mason):\nLong above 955" in shown
    assert (
        shown.index("Long above 955")
        < shown.index("Replaced by Mason")
        < shown.index("Long above 950")
    )
    # Deleted everywhere else all the same.
    plan = discord.client.get("/api/coach-plans/", params={"coach": "d", "date": DAY})
    assert plan.status_code == 404
    assert "has no plan" in ephemeral_text(discord.command("edit", coach="d", date=DAY))


def test_a_moderators_delete_names_the_moderator(discord: Discord) -> None:
    post(discord, "Mason's plan")
    delete(discord, user=OTHER, permissions=MANAGE_MESSAGES)
    deleted = history_json(discord).json()["deleted"]
    assert (deleted["by"], deleted["by_id"], deleted["plan_text"]) == (
        "Rival",
        OTHER["id"],
        "Mason's plan",
    )
    shown = history_text(discord)
    assert f"Deleted by Rival (<@{OTHER['id']}>)" in shown
    assert "Never edited, so there are no earlier versions." in shown
    assert "**Its last text** (version 1, by Mason):\nMason's plan" in shown


def test_a_live_plan_comes_first_then_the_last_deleted_one(discord: Discord) -> None:
    first = post(discord, "first plan")
    edit(discord, "first plan, edited")
    delete(discord)
    second = post(discord, "second plan")
    # A live plan of that coach and date: exactly as before, nothing about deletions.
    body = history_json(discord).json()
    assert (body["plan_id"], body["history"], body["deleted"]) == (second, [], None)
    shown = history_text(discord)
    assert "**Now** (version 1, by Mason):\nsecond plan" in shown
    assert "Deleted" not in shown and "deleted" not in shown and "first plan" not in shown

    edit(discord, "second plan, edited")
    delete(discord, user=OTHER, permissions=MANAGE_MESSAGES)
    body = history_json(discord).json()
    assert body["plan_id"] == second != first
    assert [entry["plan_text"] for entry in body["history"]] == ["second plan"]
    assert (body["deleted"]["plan_text"], body["deleted"]["by"]) == ("second plan, edited", "Rival")
    shown = history_text(discord)
    assert "Deleted by Rival" in shown and "second plan, edited" in shown
    assert "first plan" not in shown


def test_a_coach_and_date_that_never_had_a_plan_is_still_not_found(discord: Discord) -> None:
    assert "has no plan" in history_text(discord)
    post(discord, "another day's plan", day="2026-01-06")
    delete(discord, day="2026-01-06")
    assert "has no plan" in history_text(discord)
    response = history_json(discord)
    assert (response.status_code, response.json()["error"]) == (404, "plan_not_found")


def test_a_long_deleted_history_fits_discords_limits(discord: Discord) -> None:
    post(discord, "v0 " + "y" * 3000)
    for n in range(1, 28):
        edit(discord, f"v{n} " + "y" * 3000)
    delete(discord)
    # discord.send checks the answer against Discord's schema, limits included.
    answer = discord.command("history", coach="d", date=DAY)
    head, last, *_ = texts(answer["data"])
    assert "Deleted by Mason" in head
    # The cut last text points where it can still be read: the plan read answers 404 now.
    pointer = f"[cut; full text: GET /api/coach-plans/history?coach=d&date={DAY}]"
    assert f"v27 {'y' * 900}" in last and pointer in last
    assert "older version(s) not shown" in card_text(answer["data"])


# --- only in its own guild ----------------------------------------------------------------------


def test_another_guild_never_sees_a_deleted_plan(discord: Discord) -> None:
    post(discord, "Guild A's plan")
    edit(discord, "Guild A's plan, edited")
    delete(discord)
    assert "has no plan" in history_text(discord, guild=OTHER_GUILD)
    response = history_json(discord, guild=OTHER_GUILD)
    assert (response.status_code, response.json()["error"]) == (404, "plan_not_found")
    assert suggested(discord, "history", guild=OTHER_GUILD) == []

    # The other guild's own deleted plan for the same coach and date is the one it sees.
    post(discord, "Guild B's plan", guild=OTHER_GUILD)
    delete(discord, guild=OTHER_GUILD, user=OTHER, permissions=MANAGE_MESSAGES)
    theirs = history_json(discord, guild=OTHER_GUILD).json()
    assert (theirs["history"], theirs["deleted"]["plan_text"]) == ([], "Guild B's plan")
    assert "Guild A" not in history_text(discord, guild=OTHER_GUILD)
    ours = history_json(discord).json()
    assert ours["deleted"]["plan_text"] == "Guild A's plan, edited"
    assert [entry["plan_text"] for entry in ours["history"]] == ["Guild A's plan"]


# --- date autocomplete ---------------------------------------------------------------------------


def test_history_also_suggests_dates_whose_plan_was_deleted(discord: Discord) -> None:
    post(discord, "deleted", day="2026-01-05")
    delete(discord, day="2026-01-05")
    post(discord, "live", day="2026-01-06")
    post(discord, "deleted, then posted again", day="2026-01-07")
    delete(discord, day="2026-01-07")
    post(discord, "posted again", day="2026-01-07")
    assert suggested(discord, "history") == ["2026-01-07", "2026-01-06", "2026-01-05"]
    # /edit and /delete act on live plans only, so they offer only those.
    for name in ("edit", "delete"):
        assert suggested(discord, name) == ["2026-01-07", "2026-01-06"]


# --- the Python client ---------------------------------------------------------------------------


def test_the_client_returns_the_deletion(discord: Discord) -> None:
    post(discord, "Long above 950")
    delete(discord)
    client = create_client(
        api_base_url="http://testserver", guild_id=GUILD, transport=discord.client._transport
    )
    found = client.fetch_history("d", DAY)
    assert found is not None
    assert found["history"] == []
    assert (found["deleted"]["by"], found["deleted"]["plan_text"]) == ("Mason", "Long above 950")


# --- the migration -------------------------------------------------------------------------------


def test_plans_deleted_before_the_upgrade_get_their_deleters_name(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade_to(engine, "0003")
    insert = text(
        "INSERT INTO coach_plans (coach_name, date, plan, author, author_id, guild_id, "
        "created_at, is_deleted, deleted_at, deleted_by, version) VALUES (:coach, '2025-03-14', "
        ":plan, :author, :author_id, '1', CURRENT_TIMESTAMP, :deleted, :deleted_at, :by, 2)"
    ).bindparams(bindparam("deleted_at", type_=DateTime(timezone=True)))
    gone = {"deleted": True, "deleted_at": datetime(2025, 3, 14, 15, tzinfo=UTC)}
    with engine.begin() as connection:
        for row in (
            {"coach": "d", "plan": "by its author", "author": "Ann", "author_id": "11", "by": "11"},
            # A moderator known by a plan of their own.
            {
                "coach": "i",
                "plan": "by a moderator",
                "author": "Ann",
                "author_id": "11",
                "by": "22",
            },
            # A moderator who never posted: their id stands in for the name.
            {"coach": "s", "plan": "by a stranger", "author": "Ann", "author_id": "11", "by": "33"},
        ):
            connection.execute(insert, {**row, **gone})
        live = {"coach": "n", "plan": "live", "author": "Mo", "author_id": "22", "by": None}
        connection.execute(insert, {**live, "deleted": False, "deleted_at": None})
    upgrade_to(engine, "head")
    plans = PlanService(
        PlanRepository(engine), coaches=["d", "i", "s", "n"], timezone=ZoneInfo("UTC")
    )
    deletions = {}
    for coach in "dis":
        found, _ = plans.history("1", coach, date(2025, 3, 14))
        assert found.deletion is not None
        deletions[coach] = (found.deletion.by, found.deletion.by_id, found.deletion.at)
    assert deletions == {
        "d": ("Ann", "11", gone["deleted_at"]),
        "i": ("Mo", "22", gone["deleted_at"]),
        "s": ("33", "33", gone["deleted_at"]),
    }
    assert plans.history("1", "n", date(2025, 3, 14))[0].deletion is None
    engine.dispose()


def test_an_old_cards_history_button_shows_that_plan_not_the_one_posted_after_it(
    discord: Discord,
) -> None:
    first = post(discord, "First take")
    edit(discord, "First take, edited")
    delete(discord)
    second = post(discord, "Second take")
    assert second != first
    pressed = discord.send(button_interaction(f"history:{first}", user=AUTHOR, guild_id=GUILD))
    shown = ephemeral_text(pressed)
    assert "First take, edited" in shown and "First take" in shown
    assert "Second take" not in shown
