"""A community's own setup, driven as Discord drives it: a server manager binds coaches to members
and roles with /coaches, sets the server's time zone and ping role with /setup; with a roster only
bound members post as a coach; bad input changes nothing; a second instance sees every change."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey
from sqlalchemy import Engine

from app.community import roster
from app.community.roster import SetupError
from app.community.service import key_hash
from app.discord import protocol
from app.mock import payloads
from app.settings import Settings
from app.storage.community import SetupChange, SetupStore, StoredSetup
from tests.support.discord_edge import (
    AUTHOR,
    OTHER,
    Discord,
    attachment,
    button_interaction,
    discord_app,
    ephemeral_text,
    fast_settings,
    guild_interaction,
    png,
)
from tests.support.discord_edge import edited as edited_card

MANAGER = {"id": "53908232506183690", "username": "admin", "global_name": "Admin"}
MANAGE_SERVER = protocol.MANAGE_GUILD
ROLE = payloads.ROLE  # every member of the payloads holds it


def coaches(
    discord: Discord,
    action: str,
    *,
    permissions: int = MANAGE_SERVER,
    user: dict[str, Any] = MANAGER,
    **options: Any,
) -> dict[str, Any]:
    kinds = {"member": protocol.USER, "role": protocol.ROLE}
    values = [payloads.option(k, v, kinds.get(k, protocol.STRING)) for k, v in options.items()]
    data = payloads.subcommand_data("coaches", action, values)
    return discord.send(
        guild_interaction(protocol.APPLICATION_COMMAND, data, user=user, permissions=permissions)
    )


def setup(discord: Discord, *, permissions: int = MANAGE_SERVER, **options: Any) -> str:
    answer = discord.command("setup", user=MANAGER, permissions=permissions, **options)
    return ephemeral_text(answer)


def roster_text(discord: Discord) -> str:
    return ephemeral_text(coaches(discord, "list"))


def plan_answer(
    discord: Discord, coach: str, user: dict[str, Any], **options: Any
) -> dict[str, Any]:
    return discord.command("plan", user=user, coach=coach, text="Long above 950", **options)


# --- the roster ----------------------------------------------------------------------------------


def test_with_a_roster_only_the_bound_member_posts_as_the_coach(discord: Discord) -> None:
    said = ephemeral_text(coaches(discord, "add", name="Alex", member=OTHER["id"]))
    assert "Coach alex" in said and f"<@{OTHER['id']}>" in said

    refused = plan_answer(discord, "alex", AUTHOR)
    text = ephemeral_text(refused)
    assert f"Only <@{OTHER['id']}> may post as coach alex" in text
    assert refused["data"]["allowed_mentions"] == {"parse": []}  # named, never pinged

    posted = plan_answer(discord, "alex", OTHER)
    assert posted["type"] == protocol.CHANNEL_MESSAGE
    assert not posted["data"].get("flags", 0) & protocol.EPHEMERAL

    # The default coaches are not this server's any more: refused, listing the roster.
    assert "Coaches are: alex" in ephemeral_text(plan_answer(discord, "d", AUTHOR))


def test_a_role_binds_every_member_holding_it(discord: Discord) -> None:
    coaches(discord, "add", name="maria", role=ROLE)
    answer = plan_answer(discord, "maria", AUTHOR)  # AUTHOR's member.roles holds ROLE
    assert answer["type"] == protocol.CHANNEL_MESSAGE
    assert not answer["data"].get("flags", 0) & protocol.EPHEMERAL


def test_a_bound_member_edits_and_deletes_anothers_plan_but_others_do_not(
    discord: Discord,
) -> None:
    coaches(discord, "add", name="alex", member=AUTHOR["id"])
    coaches(discord, "add", name="alex", member=OTHER["id"])  # adding again adds more
    discord.post_plan(coach="alex")  # by AUTHOR
    edited = discord.command("edit", user=OTHER, coach="alex", text="Short below 940")
    assert edited["type"] == protocol.CHANNEL_MESSAGE, edited

    coaches(discord, "remove", name="alex", member=OTHER["id"])
    refused = discord.command("edit", user=OTHER, coach="alex", text="Flat")
    assert "can edit it" in ephemeral_text(refused)
    asked = discord.command("delete", user=OTHER, coach="alex")
    assert "Delete coach" not in ephemeral_text(asked)


def test_the_coach_option_autocompletes_from_the_servers_roster(discord: Discord) -> None:
    coaches(discord, "add", name="alex", member=AUTHOR["id"])
    coaches(discord, "add", name="maria", member=AUTHOR["id"])
    data = payloads.autocomplete_data("edit", [], ("coach", "MA"))
    answer = discord.send(guild_interaction(protocol.AUTOCOMPLETE, data))
    assert [c["value"] for c in answer["data"]["choices"]] == ["maria"]


def test_the_list_shows_who_posts_and_who_changed_it_last(discord: Discord) -> None:
    assert "no roster" in roster_text(discord)
    coaches(discord, "add", name="alex", member=OTHER["id"], role=ROLE)
    listed = roster_text(discord)
    assert f"**alex**: <@{OTHER['id']}>, <@&{ROLE}>" in listed
    assert "last changed by Admin" in listed and re.search(r"<t:[0-9]+:f>", listed)


def test_removing_a_coach_keeps_its_plans_readable_and_refuses_new_ones(
    discord: Discord,
) -> None:
    coaches(discord, "add", name="alex", member=AUTHOR["id"])
    coaches(discord, "add", name="maria", member=AUTHOR["id"])
    discord.post_plan(coach="alex", text="Long above 950")
    said = ephemeral_text(coaches(discord, "remove", name="alex"))
    assert "plans stay readable" in said

    history = discord.command("history", coach="alex")
    assert "Long above 950" in ephemeral_text(history)
    read = discord.client.get("/api/coach-plans/", params={"coach": "alex"})
    assert read.status_code == 200 and read.json()["plan"] == "Long above 950"
    refused = plan_answer(discord, "alex", AUTHOR, date="2020-01-02")
    assert "Coaches are: maria" in ephemeral_text(refused)
    # A reader who mistypes is told the coaches now, not those removed.
    typo = discord.client.get("/api/coach-plans/", params={"coach": "alx"})
    assert typo.status_code == 400 and typo.json()["message"].endswith("Coaches are: maria.")


# --- who may set the server up -------------------------------------------------------------------


@pytest.mark.parametrize("command", ["coaches", "setup"])
def test_only_server_managers_change_the_setup(discord: Discord, command: str) -> None:
    if command == "coaches":
        answer = coaches(discord, "add", permissions=protocol.MANAGE_MESSAGES, name="x",
                         member=OTHER["id"])  # fmt: skip
    else:
        answer = discord.command(
            "setup", user=OTHER, permissions=protocol.MANAGE_MESSAGES, timezone="Europe/London"
        )
    assert "Manage Server" in ephemeral_text(answer)
    assert "no roster" in roster_text(discord)
    assert "America/New_York (the default)" in setup(discord)
    # Administrator counts as Manage Server.
    assert "Coach x" in ephemeral_text(
        coaches(discord, "add", permissions=protocol.ADMINISTRATOR, name="x", member=OTHER["id"])
    )


# --- bad input: a refusal that says how, and nothing changed -----------------------------------


def test_bad_roster_changes_are_refused_and_change_nothing(discord: Discord) -> None:
    coaches(discord, "add", name="alex", member=OTHER["id"])
    before = roster_text(discord)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"name": "big al", "member": OTHER["id"]}, "add", "no spaces"),
        ({"name": "alex"}, "add", "member:@someone"),
        ({"name": "alex", "member": "not-an-id"}, "add", "not a Discord id"),
        ({"name": "nobody"}, "remove", "no coach 'nobody'"),
        ({"name": "alex", "member": AUTHOR["id"]}, "remove", "does not post as coach alex"),
    ]
    for options, action, hint in cases:
        answer = coaches(discord, action, **options)
        assert hint in ephemeral_text(answer), (options, answer)
        assert roster_text(discord) == before


def test_the_26th_coach_is_refused(discord: Discord) -> None:
    for n in range(roster.MAX_COACHES):
        coaches(discord, "add", name=f"c{n}", member=OTHER["id"])
    answer = coaches(discord, "add", name="one-more", member=OTHER["id"])
    assert "25 coaches" in ephemeral_text(answer)
    assert "one-more" not in roster_text(discord)


# --- /setup --------------------------------------------------------------------------------------


def test_the_time_zone_decides_what_today_is(settings: Settings, signer: SigningKey) -> None:
    # 23:30 UTC on 2 January: still 2 January in New York, already 3 January in Kiritimati.
    now = datetime(2030, 1, 2, 23, 30, tzinfo=UTC)
    with discord_app(fast_settings(settings), signer, now=lambda: now) as app:
        assert "2030-01-02" in ephemeral_text(app.command("plans"))
        bad = setup(app, timezone="Mars/Olympus")
        assert "not a time zone" in bad and "Europe/London" in bad
        assert "time zone: Pacific/Kiritimati" in setup(app, timezone="Pacific/Kiritimati")
        assert "2030-01-03" in ephemeral_text(app.command("plans"))
        read = app.client.get("/api/coach-plans/all", params={"guild": payloads.GUILD})
        assert read.json()["date"] == "2030-01-03"


def test_time_zones_autocomplete_from_iana_names(discord: Discord) -> None:
    data = payloads.autocomplete_data("setup", [], ("timezone", "europe/lon"))
    answer = discord.send(guild_interaction(protocol.AUTOCOMPLETE, data, permissions=MANAGE_SERVER))
    assert [c["value"] for c in answer["data"]["choices"]] == ["Europe/London"]


def test_a_read_key_is_shown_once_and_kept_only_as_a_hash(discord: Discord) -> None:
    shown = setup(discord, api_key="new")
    [key] = re.findall(r"`(cpg_[A-Za-z0-9_-]+)`", shown)
    assert "API read key: set" in shown
    again = setup(discord)
    assert key not in again and "API read key: set" in again
    stored = discord.client.app_state["services"].community.store.load(payloads.GUILD)
    assert stored.key_hash == key_hash(key) and key not in repr(stored)
    reads = {"Authorization": f"Bearer {key}"}
    assert discord.client.get("/api/coach-plans/coaches", headers=reads).status_code == 200
    assert "API read key: none" in setup(discord, api_key="revoke")
    assert discord.client.get("/api/coach-plans/coaches", headers=reads).status_code == 401


def test_several_settings_at_once_are_refused_whole(discord: Discord) -> None:
    answer = setup(discord, timezone="Europe/London", api_key="new")
    assert "one setting at a time" in answer
    assert "America/New_York (the default)" in setup(discord)


# --- several instances ---------------------------------------------------------------------------


def test_a_change_through_one_instance_applies_on_the_other_at_its_next_request(
    settings: Settings, signer: SigningKey
) -> None:
    with (
        discord_app(fast_settings(settings), signer) as first,
        discord_app(fast_settings(settings), signer) as second,
    ):
        assert plan_answer(second, "d", AUTHOR)["type"] == protocol.CHANNEL_MESSAGE
        coaches(first, "add", name="alex", member=OTHER["id"])
        refused = plan_answer(second, "alex", AUTHOR, date="2020-01-02")
        assert "may post as coach alex" in ephemeral_text(refused)
        setup(first, timezone="Europe/London")
        assert "time zone: Europe/London" in setup(second)


# --- storage: every change recorded, changes are compare-and-set ---------------------------------


def test_every_change_is_recorded_and_a_stale_change_is_refused(engine: Engine) -> None:
    store = SetupStore(engine)
    empty = store.load("1")
    at = datetime(2030, 1, 2, tzinfo=UTC)
    first = StoredSetup("1", "Europe/London", None, None, empty.roster, 1, "Admin", at)
    change = SetupChange("9", "Admin", at, "timezone Europe/London", "{}", '{"timezone": 1}')
    assert store.replace(empty, first, change)
    assert not store.replace(empty, first, change)  # someone else changed it first
    stored = store.load("1")
    assert (stored.timezone, stored.version) == ("Europe/London", 1)
    [recorded] = store.changes("1")
    assert (recorded.actor, recorded.what, recorded.after) == (
        "Admin", "timezone Europe/London", '{"timezone": 1}'
    )  # fmt: skip


@given(st.text(max_size=40))
def test_coach_names_are_letters_digits_dash_underscore_up_to_32(name: str) -> None:
    valid = re.fullmatch(r"[A-Za-z0-9_-]{1,32}", name.strip()) is not None
    try:
        assert roster.coach_name(name) == name.strip().lower() and valid
    except SetupError:
        assert not valid


def test_a_button_press_from_a_non_bound_member_deletes_nothing(discord: Discord) -> None:
    coaches(discord, "add", name="alex", member=AUTHOR["id"])
    plan_id = discord.post_plan(coach="alex")
    pressed = button_interaction(f"delete:yes:{plan_id}:1", user=OTHER)
    assert "Only Mason" in discord.send(pressed)["data"]["content"]
    assert discord.client.get("/api/coach-plans/", params={"coach": "alex"}).status_code == 200


# --- the ping role -------------------------------------------------------------------------------

PING_ROLE = "539082325061836777"


def test_a_new_plan_mentions_the_ping_role_alone_and_edits_ping_nobody(discord: Discord) -> None:
    assert f"new plans mention: <@&{PING_ROLE}>" in setup(discord, ping_role=PING_ROLE)
    posted = plan_answer(discord, "d", AUTHOR)["data"]
    assert posted["allowed_mentions"] == {"parse": [], "roles": [PING_ROLE]}
    assert posted["components"][0] == {"type": protocol.TEXT_DISPLAY, "content": f"<@&{PING_ROLE}>"}
    edited = discord.command("edit", coach="d", text="Short below 940")["data"]
    assert edited["allowed_mentions"] == {"parse": []}
    assert f"<@&{PING_ROLE}>" not in str(edited["components"])

    assert "new plans mention: none" in setup(discord, clear_ping_role=True)
    again = plan_answer(discord, "i", AUTHOR)["data"]
    assert again["allowed_mentions"] == {"parse": []}


def test_a_plan_with_charts_mentions_the_ping_role_when_its_card_arrives(
    discord: Discord,
) -> None:
    setup(discord, ping_role=PING_ROLE)
    url = discord.fake.add_file("spy.png", png(256))
    attachments = {"chart1": attachment(url, "spy.png", 256)}
    deferred = discord.command("plan", coach="d", text="See chart", attachments=attachments)
    assert deferred["type"] == protocol.DEFERRED_CHANNEL_MESSAGE
    body, _ = edited_card(discord.fake)
    assert body["allowed_mentions"] == {"parse": [], "roles": [PING_ROLE]}


def test_the_daily_quota_day_is_the_servers_day(settings: Settings, signer: SigningKey) -> None:
    # 23:30 UTC on 2 January: Kiritimati's day (UTC+14) ends at 10:00 UTC on 3 January,
    # New York's (the default) at 05:00 UTC.
    now = datetime(2030, 1, 2, 23, 30, tzinfo=UTC)
    limits = fast_settings(settings, member_plans_per_day=1)
    with discord_app(limits, signer, now=lambda: now) as app:
        setup(app, timezone="Pacific/Kiritimati")
        assert plan_answer(app, "d", AUTHOR)["type"] == protocol.CHANNEL_MESSAGE
        refused = ephemeral_text(plan_answer(app, "i", AUTHOR))
    kiritimati_midnight = datetime(2030, 1, 3, 10, 0, tzinfo=UTC)
    assert f"<t:{int(kiritimati_midnight.timestamp())}:R>" in refused
