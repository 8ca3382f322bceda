"""The six slash commands end to end: definitions as Discord requires them, public plan
cards, ephemeral lists and refusals, and answers cut to Discord's limits."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nacl.signing import SigningKey

from app.discord import protocol
from app.mock import payloads
from app.settings import Settings
from commands.deferrals import WHILE_WARMING
from commands.registry import registry
from tests.support.discord_edge import (
    AUTHOR,
    MANAGE_MESSAGES,
    OTHER,
    Discord,
    card_text,
    components,
    discord_app,
    ephemeral_text,
    fast_settings,
    guild_interaction,
    texts,
)
from tests.support.discord_schema import check_commands


def today() -> date:
    return datetime.now(ZoneInfo("America/New_York")).date()


# --- definitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("charts", [1, 10, 20])
def test_definitions_obey_discords_rules(settings: Settings, charts: int) -> None:
    wanted = registry(settings.model_copy(update={"max_chart_attachments": charts})).to_discord()
    check_commands(wanted)
    assert sorted(c["name"] for c in wanted) == [
        "coaches",
        "delete",
        "edit",
        "history",
        "myplans",
        "outcome",
        "plan",
        "plans",
        "scorecard",
        "setup",
    ]
    for command in wanted:
        assert re.fullmatch(r"[a-z0-9_-]{1,32}", command["name"])
        assert 1 <= len(command["description"]) <= 100
        assert command["contexts"] == [0] and command["integration_types"] == [0]
        assert len(command["options"]) <= 25
        required = [o.get("required", False) for o in command["options"]]
        assert required == sorted(required, reverse=True), "required options must come first"
        for option in command["options"]:
            assert re.fullmatch(r"[a-z0-9_-]{1,32}", option["name"])
            assert 1 <= len(option["description"]) <= 100
            assert len(option.get("choices", [])) <= 25
    by_name = {c["name"]: {o["name"]: o for o in c["options"]} for c in wanted}
    for name in ("plan", "edit"):
        # Up to 17 chart options: Discord's 25 less coach, text, date and the five levels.
        shown = min(charts, 17)
        assert [n for n in by_name[name] if n.startswith("chart")] == [
            f"chart{n}" for n in range(1, shown + 1)
        ]
        assert all(by_name[name][f"chart{n}"]["type"] == 11 for n in range(1, shown + 1))
        assert {"ticker", "bias", "entry", "stop", "targets"} <= set(by_name[name])
    for name in ("plan", "edit", "delete", "history"):
        # Each server may have its own roster: the coach is offered by autocomplete.
        coach = by_name[name]["coach"]
        assert coach["required"] and coach["autocomplete"] is True and "choices" not in coach
    for name in ("edit", "delete", "history"):
        assert by_name[name]["date"]["autocomplete"] is True
    assert by_name["plan"]["text"]["required"] and by_name["plan"]["text"]["max_length"] == 4000
    managed = {c["name"]: c.get("default_member_permissions") for c in wanted}
    assert managed == {name: "32" if name in ("coaches", "setup") else None for name in managed}


def test_every_command_says_how_it_waits_for_a_start_from_zero(settings: Settings) -> None:
    # A woken server defers a command by this table before the commands are loaded
    # (app/runtime/wake.py): a command missing from it would never get its deferral there.
    assert set(WHILE_WARMING) == set(registry(settings).commands)


def test_coach_autocomplete_offers_the_coaches_setting_without_a_roster(
    settings: Settings, signer: SigningKey
) -> None:
    with discord_app(fast_settings(settings, coaches=["alpha", "beta"]), signer) as app:
        data = payloads.autocomplete_data("plan", [], ("coach", "a"))
        answer = app.send(guild_interaction(protocol.AUTOCOMPLETE, data))
    assert [c["value"] for c in answer["data"]["choices"]] == ["alpha"]


# --- /plan ---------------------------------------------------------------------------------------


def test_plan_answers_publicly_with_a_components_v2_card(discord: Discord) -> None:
    answer = discord.command("plan", coach="D", text="Long above 950, stop 940")
    data = answer["data"]
    assert answer["type"] == 4 and data["flags"] == 1 << 15  # public: no ephemeral bit
    assert "content" not in data and "embeds" not in data
    [card] = data["components"]
    assert card["type"] == 17 and isinstance(card["accent_color"], int)
    title, body, *rest = texts(data)
    assert title == f"## Coach d — plan for {today().isoformat()}"
    assert body == "Long above 950, stop 940"
    assert f"Posted by Mason · {today():%a %Y-%m-%d}" in rest[-1]
    [button] = [one for one in components(data) if one["type"] == 2]
    assert button["label"] == "History" and button["custom_id"].startswith("history:")


def test_each_coach_has_its_own_accent_colour(discord: Discord) -> None:
    colours = {
        discord.command("plan", coach=coach, text="x")["data"]["components"][0]["accent_color"]
        for coach in "disn"
    }
    assert len(colours) == 4


def test_plan_for_a_given_date(discord: Discord) -> None:
    answer = discord.command("plan", coach="i", text="Gap fill", date="2026-01-05")
    assert "plan for 2026-01-05" in texts(answer["data"])[0]
    found = discord.client.get("/api/coach-plans/?coach=i&date=2026-01-05").json()
    assert found["plan"] == "Gap fill"


def test_plan_text_never_pings(discord: Discord) -> None:
    answer = discord.command("plan", coach="d", text="@everyone <@53908232506183681> <@&1> go")
    assert answer["data"]["allowed_mentions"] == {"parse": []}
    assert "@everyone" in texts(answer["data"])[1]


def test_second_plan_same_day_is_refused_pointing_to_edit(discord: Discord) -> None:
    discord.command("plan", coach="d", text="first")
    refusal = ephemeral_text(discord.command("plan", coach="d", text="second"))
    assert "already has a plan" in refusal and "/edit coach:d" in refusal


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"coach": "zz", "text": "x"}, "Unknown coach 'zz'. Coaches are: d, i, s, n."),
        ({"coach": "d", "text": "x", "date": "05/01/2026"}, "write it as YYYY-MM-DD"),
        ({"coach": "d", "text": "x", "date": "2026-02-30"}, "not a real calendar date"),
        ({"coach": "d", "text": "   "}, "The plan text is empty"),
        ({"coach": "d", "text": "x" * 4001}, "the limit is 4000"),
        ({"text": "x"}, "No coach given"),
    ],
)
def test_plan_refusals_are_ephemeral_and_say_how(
    discord: Discord, options: dict[str, Any], says: str
) -> None:
    assert says in ephemeral_text(discord.command("plan", **options))
    assert discord.client.get("/api/coach-plans/all").json()["count"] == 0


def test_longest_plan_is_cut_to_discords_4000_characters_with_a_pointer(
    discord: Discord,
) -> None:
    answer = discord.command("plan", coach="d", text="word " * 799 + "end.")
    body = texts(answer["data"])[1]  # the schema check holds the message to 4000 in all
    assert body.startswith("word word") and not body.endswith("end.")
    assert body.endswith(f"[cut; full text: GET /api/coach-plans/?coach=d&date={today()}]")


def test_a_short_plan_is_shown_whole(discord: Discord) -> None:
    text = "word " * 600 + "end."
    assert texts(discord.command("plan", coach="d", text=text)["data"])[1] == text


# --- /edit with text -----------------------------------------------------------------------------


def test_edit_with_text_answers_publicly_with_the_new_plan(discord: Discord) -> None:
    discord.command("plan", coach="d", text="Long above 950")
    answer = discord.command("edit", coach="d", text="Long above 955")
    assert answer["type"] == 4 and answer["data"]["flags"] == 1 << 15
    _, body, *_, meta = texts(answer["data"])
    assert body == "Long above 955" and "version 2 · edited" in meta


def test_edit_by_someone_else_is_refused(discord: Discord) -> None:
    discord.command("plan", coach="d", text="mine")
    refusal = ephemeral_text(discord.command("edit", coach="d", text="theirs", user=OTHER))
    assert "Only Mason" in refusal
    refusal = ephemeral_text(discord.command("edit", coach="d", user=OTHER))
    assert "Only Mason" in refusal


def test_edit_of_a_missing_plan_points_to_plan(discord: Discord) -> None:
    refusal = ephemeral_text(discord.command("edit", coach="s", text="x", date="2026-01-02"))
    assert "has no plan for 2026-01-02" in refusal and "/plan coach:s date:2026-01-02" in refusal


# --- /plans, /myplans, /history ------------------------------------------------------------------


def test_plans_lists_every_coach_ephemerally_in_coach_order(discord: Discord) -> None:
    discord.command("plan", coach="s", text="S plan")
    discord.command("plan", coach="d", text="D plan", user=OTHER)
    text = ephemeral_text(discord.command("plans"))
    assert text.index("D plan") < text.index("S plan")
    assert "Rival" in text and "Mason" in text


def test_plans_for_an_empty_day_says_so(discord: Discord) -> None:
    text = ephemeral_text(discord.command("plans", date="2020-01-01"))
    assert "No plans for 2020-01-01" in text and "/plan" in text


def test_plans_of_four_long_plans_are_cut_with_a_marker_and_pointer(discord: Discord) -> None:
    colours = []
    for coach in "disn":
        card = discord.command("plan", coach=coach, text=f"{coach} " + "x" * 3990)["data"]
        colours.append(card["components"][0]["accent_color"])
    answer = discord.command("plans")
    text = ephemeral_text(answer)
    assert "[cut; full text: GET /api/coach-plans/all?date=" in text
    # Each plan in the list wears its card's colour.
    assert [c["accent_color"] for c in answer["data"]["components"] if c["type"] == 17] == colours
    for coach in "disn":
        assert f"**Coach {coach}** · by Mason" in text


def test_myplans_lists_only_the_callers_plans(discord: Discord) -> None:
    discord.command("plan", coach="d", text="Mason's plan")
    discord.command("plan", coach="i", text="Rival's plan", user=OTHER)
    discord.command("plan", coach="s", text="Mason's older plan", date="2020-01-02")
    mine = ephemeral_text(discord.command("myplans"))  # today by default
    assert "Mason's plan" in mine and "Rival's plan" not in mine
    assert "older plan" not in mine
    dated = ephemeral_text(discord.command("myplans", date="2020-01-02"))
    assert "Mason's older plan" in dated and "Mason's plan" not in dated
    assert "no plans for 2020-01-01" in ephemeral_text(
        discord.command("myplans", date="2020-01-01")
    )


def test_history_lists_earlier_versions_newest_first(discord: Discord) -> None:
    discord.command("plan", coach="d", text="version one")
    discord.command("edit", coach="d", text="version two")
    discord.command("edit", coach="d", text="version three")
    answer = discord.command("history", coach="d")
    text = ephemeral_text(answer)
    assert text.index("version three") < text.index("version two") < text.index("version one")
    assert "2 earlier version(s)" in text


def test_history_of_an_unedited_plan_and_of_yesterday(discord: Discord) -> None:
    yesterday = (today() - timedelta(days=1)).isoformat()
    discord.command("plan", coach="n", text="old", date=yesterday)
    text = ephemeral_text(discord.command("history", coach="n", date="yesterday"))
    assert "no earlier versions" in text and "old" in text
    assert "has no plan" in ephemeral_text(discord.command("history", coach="n"))


def test_history_with_many_long_versions_fits_discords_limits(discord: Discord) -> None:
    discord.command("plan", coach="d", text="v0 " + "y" * 3000)
    for n in range(1, 28):
        discord.command("edit", coach="d", text=f"v{n} " + "y" * 3000)
    answer = discord.command("history", coach="d")  # the schema check enforces every limit
    text = card_text(answer["data"])
    assert "v26 " in text and "v0 " not in text
    assert re.search(
        r"… \d+ older version\(s\) not shown: GET /api/coach-plans/history\?coach=d", text
    )
    assert "[cut; full text: GET /api/coach-plans/history?coach=d" in text


def test_moderator_is_recognised_from_member_permissions(discord: Discord) -> None:
    discord.command("plan", coach="d", text="mine")
    asked = discord.command("delete", coach="d", user=OTHER, permissions=MANAGE_MESSAGES)
    assert "Delete coach d's plan" in ephemeral_text(asked)
    refused = discord.command("delete", coach="d", user=OTHER, permissions=0)
    assert "Only Mason" in ephemeral_text(refused)
    assert AUTHOR["id"] != OTHER["id"]
