"""Each community's plans are its own: every command, button, modal and REST read sees only one
guild, and Manage Messages counts only in the plan's own guild. Through the real app with real
signatures; the migration test upgrades a real database holding plans of the old schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from starlette.testclient import TestClient

from app.client import create_client
from app.discord.protocol import MANAGE_MESSAGES
from app.settings import Settings
from app.storage.database import make_engine
from tests.support.discord_edge import (
    GUILD,
    OTHER,
    Discord,
    autocomplete_data,
    button_interaction,
    discord_app,
    ephemeral_text,
    fast_settings,
    guild_interaction,
    modal_data,
    plan_id,
)
from tests.support.migrations import upgrade_to

OTHER_GUILD = "390926798626357111"


def read(discord: Discord, path: str, **query: str) -> Any:
    return discord.client.get(path, params=query)


def plan_text(discord: Discord, guild: str) -> str | None:
    response = read(discord, "/api/coach-plans/", coach="d", guild=guild)
    return response.json()["plan"] if response.status_code == 200 else None


def post_in(discord: Discord, guild: str, text: str) -> int:
    answer = discord.command("plan", guild_id=guild, coach="d", text=text)
    assert answer["type"] == 4, answer
    return plan_id(answer["data"])


# --- commands ------------------------------------------------------------------------------------


def test_two_guilds_each_keep_their_own_plan_for_the_same_coach_and_date(discord: Discord) -> None:
    post_in(discord, GUILD, "Guild A: long above 950")
    post_in(discord, OTHER_GUILD, "Guild B: short below 940")
    assert plan_text(discord, GUILD) == "Guild A: long above 950"
    assert plan_text(discord, OTHER_GUILD) == "Guild B: short below 940"
    # A second plan in the same guild is still refused.
    again = discord.command("plan", guild_id=GUILD, coach="d", text="again")
    assert "already has a plan" in ephemeral_text(again)


def test_lists_history_and_autocomplete_see_only_the_callers_guild(discord: Discord) -> None:
    post_in(discord, GUILD, "Guild A only")
    discord.command("edit", guild_id=GUILD, coach="d", text="Guild A, edited")
    assert "No plans" in ephemeral_text(discord.command("plans", guild_id=OTHER_GUILD))
    assert "no plans" in ephemeral_text(discord.command("myplans", guild_id=OTHER_GUILD))
    assert "has no plan" in ephemeral_text(
        discord.command("history", guild_id=OTHER_GUILD, coach="d")
    )
    typed = autocomplete_data("history", "", coach="d")
    there = discord.send(guild_interaction(4, typed, guild_id=OTHER_GUILD))
    here = discord.send(guild_interaction(4, typed, guild_id=GUILD))
    assert there["data"]["choices"] == []
    assert len(here["data"]["choices"]) == 1
    # The plan's own guild still sees it all.
    assert "Guild A, edited" in str(discord.command("plans", guild_id=GUILD))
    assert "Guild A only" in str(discord.command("history", guild_id=GUILD, coach="d"))


def test_a_moderator_of_another_guild_cannot_delete_a_plan(discord: Discord) -> None:
    plan_id = post_in(discord, GUILD, "Guild A's plan")
    asked = discord.command(
        "delete", guild_id=OTHER_GUILD, user=OTHER, permissions=MANAGE_MESSAGES, coach="d"
    )
    assert "has no plan" in ephemeral_text(asked)
    # Even with a Confirm button forged for the plan's id, pressed from the other guild.
    pressed = discord.send(
        button_interaction(
            f"delete:yes:{plan_id}:1",
            user=OTHER,
            permissions=MANAGE_MESSAGES,
            guild_id=OTHER_GUILD,
        )
    )
    assert "no plan" in ephemeral_text(pressed).lower()
    assert plan_text(discord, GUILD) == "Guild A's plan"


def test_a_moderator_deletes_in_the_plans_own_guild(discord: Discord) -> None:
    plan_id = post_in(discord, GUILD, "Guild A's plan")
    pressed = discord.send(
        button_interaction(f"delete:yes:{plan_id}:1", user=OTHER, permissions=MANAGE_MESSAGES)
    )
    assert "Deleted coach d's plan" in pressed["data"]["content"]
    assert plan_text(discord, GUILD) is None


def test_the_author_cannot_edit_a_plan_from_another_guild(discord: Discord) -> None:
    plan_id = post_in(discord, GUILD, "Guild A's plan")
    edited = discord.command("edit", guild_id=OTHER_GUILD, coach="d", text="from elsewhere")
    assert "has no plan" in ephemeral_text(edited)
    saved = discord.send(
        guild_interaction(5, modal_data(f"edit:{plan_id}:1", "via a modal"), guild_id=OTHER_GUILD)
    )
    assert "no plan" in ephemeral_text(saved).lower()
    assert plan_text(discord, GUILD) == "Guild A's plan"


# --- REST reads ----------------------------------------------------------------------------------


def test_rest_reads_name_the_guild_when_several_have_plans(discord: Discord) -> None:
    post_in(discord, GUILD, "Guild A")
    post_in(discord, OTHER_GUILD, "Guild B")
    for path, query in (
        ("/api/coach-plans/", {"coach": "d"}),
        ("/api/coach-plans/all", {}),
        ("/api/coach-plans/history", {"coach": "d"}),
    ):
        response = read(discord, path, **query)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "guild_required"
        assert "guild=" in response.json()["message"]
    listed = read(discord, "/api/coach-plans/all", guild=OTHER_GUILD).json()
    assert [plan["plan"] for plan in listed["plans"]] == ["Guild B"]
    assert listed["plans"][0]["guild_id"] == OTHER_GUILD


def test_one_guild_with_plans_needs_no_guild_in_reads(discord: Discord) -> None:
    post_in(discord, GUILD, "Guild A")
    assert read(discord, "/api/coach-plans/", coach="d").json()["plan"] == "Guild A"
    assert read(discord, "/api/coach-plans/all").json()["count"] == 1
    assert read(discord, "/api/coach-plans/", coach="d", guild=OTHER_GUILD).status_code == 404


def test_default_guild_id_is_the_guild_a_read_means(settings: Settings, signer: SigningKey) -> None:
    with discord_app(fast_settings(settings, default_guild_id=OTHER_GUILD), signer) as discord:
        post_in(discord, GUILD, "Guild A")
        post_in(discord, OTHER_GUILD, "Guild B")
        assert read(discord, "/api/coach-plans/", coach="d").json()["plan"] == "Guild B"
        assert read(discord, "/api/coach-plans/", coach="d", guild=GUILD).json()["plan"] == (
            "Guild A"
        )


def test_a_guild_that_is_not_an_id_is_a_400(discord: Discord) -> None:
    response = read(discord, "/api/coach-plans/all", guild="my server")
    assert response.status_code == 400
    assert "not a Discord server id" in response.json()["message"]


def test_the_only_allowed_guild_is_the_default(settings: Settings) -> None:
    assert settings.model_copy(update={}).default_guild_id is None
    from app.settings import load_settings

    limited = load_settings(
        discord_public_key=settings.discord_public_key,
        database_path=Path("x.db"),
        allowed_guild_ids=GUILD,
    )
    assert limited.default_guild_id == GUILD


def test_the_client_reads_the_guild_it_names(discord: Discord) -> None:
    post_in(discord, GUILD, "Guild A")
    post_in(discord, OTHER_GUILD, "Guild B")
    transport = discord.client._transport  # the app itself, in process
    for guild, expected in ((GUILD, "Guild A"), (OTHER_GUILD, "Guild B")):
        client = create_client(
            api_base_url="http://testserver", guild_id=guild, transport=transport
        )
        assert client.fetch_coach_plan("d")["plan"] == expected  # type: ignore[index]
        assert [p["plan"] for p in client.fetch_all_coach_plans()] == [expected]
    unnamed = create_client(api_base_url="http://testserver", transport=transport)
    with pytest.raises(Exception, match="guild"):
        unnamed.fetch_all_coach_plans()


# --- the migration -------------------------------------------------------------------------------


def test_the_migration_keeps_each_plans_guild(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade_to(engine, "0002")
    insert = text(
        "INSERT INTO coach_plans (coach_name, date, plan, author, author_id, guild_id, "
        "created_at, is_deleted, version) VALUES (:coach, '2025-03-14', :plan, 'a', '1', :guild, "
        "CURRENT_TIMESTAMP, false, 1)"
    )
    with engine.begin() as connection:
        connection.execute(insert, {"coach": "d", "plan": "old A", "guild": GUILD})
        # A plan from before guilds were required (a DM) keeps having none.
        connection.execute(insert, {"coach": "i", "plan": "old DM", "guild": None})
    upgrade_to(engine, "head")
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT plan, guild_id FROM coach_plans ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [("old A", GUILD), ("old DM", None)]
        # The same coach and date in another guild is now a plan of its own.
        connection.execute(insert, {"coach": "d", "plan": "new", "guild": OTHER_GUILD})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"coach": "d", "plan": "twice", "guild": GUILD})
    engine.dispose()


def test_every_command_is_declared_guild_only(client: TestClient) -> None:
    from commands.registry import registry

    settings = client.app_state["services"].settings
    for definition in registry(settings).to_discord():
        assert definition["contexts"] == [0], definition["name"]
        assert definition["integration_types"] == [0], definition["name"]
