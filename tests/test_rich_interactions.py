"""The modal editor, the delete confirmation buttons and date autocomplete, through the real app
with real signatures: stale modals, forged custom_ids and double presses included."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.support.discord_edge import (
    AUTHOR,
    CARD,
    MANAGE_MESSAGES,
    OTHER,
    Discord,
    autocomplete_data,
    button_interaction,
    ephemeral_text,
    guild_interaction,
    modal_data,
    texts,
)


def open_editor(discord: Discord, coach: str = "d", **options: Any) -> dict[str, Any]:
    answer = discord.command("edit", coach=coach, **options)
    assert answer["type"] == 9, answer
    modal: dict[str, Any] = answer["data"]
    return modal


def submit(discord: Discord, custom_id: str, text: str, **how: Any) -> dict[str, Any]:
    return discord.send(guild_interaction(5, modal_data(custom_id, text), **how))


def press(discord: Discord, custom_id: str, **how: Any) -> dict[str, Any]:
    return discord.send(button_interaction(custom_id, **how))


def current_text(discord: Discord, coach: str = "d") -> str | None:
    found = discord.client.get(f"/api/coach-plans/?coach={coach}")
    return found.json()["plan"] if found.status_code == 200 else None


# --- the modal editor ----------------------------------------------------------------------------


def test_edit_without_text_opens_a_prefilled_modal(discord: Discord) -> None:
    plan_id = discord.post_plan(text="Long above 950\nStop 940")
    modal = open_editor(discord)
    assert modal["custom_id"] == f"edit:{plan_id}:1"
    row, *levels = modal["components"]
    [text_input] = row["components"]
    assert text_input["type"] == 4 and text_input["style"] == 2
    assert text_input["value"] == "Long above 950\nStop 940"
    assert text_input["max_length"] == 4000
    # Discord's five inputs: the text, then the levels (read from the text: placeholders only).
    inputs = {one["custom_id"]: one for [one] in (r["components"] for r in levels)}
    assert list(inputs) == ["ticker", "entry", "stop", "targets"]
    assert "value" not in inputs["stop"] and inputs["stop"]["placeholder"] == "from the text: 940"


def test_modal_prefill_holds_the_longest_plan(discord: Discord) -> None:
    discord.post_plan(text="z" * 4000)
    row, *_ = open_editor(discord)["components"]
    assert row["components"][0]["value"] == "z" * 4000


def test_saving_the_modal_answers_publicly_with_the_new_plan(discord: Discord) -> None:
    discord.post_plan(text="old")
    modal = open_editor(discord)
    answer = submit(discord, modal["custom_id"], "new from the modal")
    assert answer["type"] == 4 and answer["data"].get("flags") == CARD
    assert texts(answer["data"])[1] == "new from the modal"
    assert current_text(discord) == "new from the modal"


def test_stale_modal_is_refused_and_the_other_edit_kept(discord: Discord) -> None:
    discord.post_plan(text="old")
    first = open_editor(discord)
    second = open_editor(discord)
    submit(discord, first["custom_id"], "saved first")
    refusal = ephemeral_text(submit(discord, second["custom_id"], "saved second"))
    assert "changed by someone else in the meantime; nothing was changed" in refusal
    assert "saved second" in refusal  # handed back so it is not lost
    assert current_text(discord) == "saved first"


def test_stale_modal_hands_back_long_text_cut_to_discords_limit(discord: Discord) -> None:
    discord.post_plan(text="old")
    first = open_editor(discord)
    second = open_editor(discord)
    submit(discord, first["custom_id"], "saved first")
    answer = submit(discord, second["custom_id"], "long " * 799 + "tail")
    content = answer["data"]["content"]
    assert len(content) <= 2000 and "[cut]" in content and content.endswith("```")


def test_modal_saved_after_the_plan_was_deleted_is_refused(discord: Discord) -> None:
    plan_id = discord.post_plan(text="old")
    modal = open_editor(discord)
    press(discord, f"delete:yes:{plan_id}:1")
    refusal = ephemeral_text(submit(discord, modal["custom_id"], "too late"))
    assert "was deleted after the editor opened" in refusal
    assert current_text(discord) is None


def test_modal_for_a_replaced_plan_is_refused(discord: Discord) -> None:
    plan_id = discord.post_plan(text="old")
    modal = open_editor(discord)
    press(discord, f"delete:yes:{plan_id}:1")
    discord.post_plan(text="replacement")
    refusal = ephemeral_text(submit(discord, modal["custom_id"], "meant for the old one"))
    assert "nothing was saved" in refusal or "nothing was changed" in refusal
    assert current_text(discord) == "replacement"


def test_modal_submitted_by_someone_else_is_refused(discord: Discord) -> None:
    discord.post_plan(text="mine")
    modal = open_editor(discord)
    refusal = ephemeral_text(submit(discord, modal["custom_id"], "hijack", user=OTHER))
    assert "Only Mason" in refusal
    assert current_text(discord) == "mine"


@pytest.mark.parametrize(
    "custom_id",
    [
        "edit:abc:1",
        "edit:1",
        "edit:1:1:1",
        "edit:0:1",
        "edit:" + "9" * 40 + ":1",
        "edit:1:" + "1" * 95,
    ],
)
def test_forged_modal_custom_ids_are_refused(discord: Discord, custom_id: str) -> None:
    discord.post_plan(text="mine")
    refusal = ephemeral_text(submit(discord, custom_id, "forged"))
    assert "not made by Coach Plans" in refusal
    assert current_text(discord) == "mine"


def test_modal_for_an_unknown_plan_id_is_refused(discord: Discord) -> None:
    discord.post_plan(text="mine")
    assert "no plan #999" in ephemeral_text(submit(discord, "edit:999:1", "forged"))
    assert current_text(discord) == "mine"


# --- delete confirmation -------------------------------------------------------------------------


def ask_delete(discord: Discord, coach: str = "d", **how: Any) -> dict[str, str]:
    answer = discord.command("delete", coach=coach, **how)
    text = ephemeral_text(answer)
    assert "Delete coach" in text
    [row] = answer["data"]["components"]
    return {button["label"]: button["custom_id"] for button in row["components"]}


def test_delete_asks_with_confirm_and_cancel(discord: Discord) -> None:
    plan_id = discord.post_plan()
    assert ask_delete(discord) == {
        "Confirm": f"delete:yes:{plan_id}:1",
        "Cancel": f"delete:no:{plan_id}:1",
    }
    assert current_text(discord) is not None


def test_confirm_deletes_and_updates_the_message(discord: Discord) -> None:
    discord.post_plan()
    answer = press(discord, ask_delete(discord)["Confirm"])
    assert answer["type"] == 7
    assert "Deleted coach d's plan" in answer["data"]["content"]
    assert answer["data"]["components"] == []
    assert current_text(discord) is None
    assert "Deleted by Mason" in ephemeral_text(discord.command("history", coach="d"))


def test_cancel_deletes_nothing(discord: Discord) -> None:
    discord.post_plan()
    answer = press(discord, ask_delete(discord)["Cancel"])
    assert answer["type"] == 7
    assert "Nothing was deleted" in answer["data"]["content"]
    assert current_text(discord) == "Long above 950"


def test_double_press_is_harmless(discord: Discord) -> None:
    discord.post_plan()
    confirm = ask_delete(discord)["Confirm"]
    press(discord, confirm)
    discord.post_plan(text="a new plan")
    again = press(discord, confirm)
    assert again["type"] == 7 and "already deleted" in again["data"]["content"]
    assert current_text(discord) == "a new plan"


def test_confirm_after_the_plan_changed_deletes_nothing(discord: Discord) -> None:
    discord.post_plan()
    confirm = ask_delete(discord)["Confirm"]
    discord.command("edit", coach="d", text="changed since")
    answer = press(discord, confirm)
    assert answer["type"] == 7 and "Nothing was deleted" in answer["data"]["content"]
    assert current_text(discord) == "changed since"


def test_button_pressed_by_someone_else_does_nothing(discord: Discord) -> None:
    discord.post_plan()
    confirm = ask_delete(discord)["Confirm"]
    answer = press(discord, confirm, user=OTHER, owner=AUTHOR)
    assert "belong to someone else's /delete" in ephemeral_text(answer)
    assert current_text(discord) is not None


def test_forged_button_for_someone_elses_plan_is_refused(discord: Discord) -> None:
    plan_id = discord.post_plan()
    answer = press(discord, f"delete:yes:{plan_id}:1", user=OTHER)
    assert "Only Mason" in ephemeral_text(answer)
    assert current_text(discord) is not None


def test_moderator_may_confirm_someone_elses_delete(discord: Discord) -> None:
    discord.post_plan()
    confirm = ask_delete(discord, user=OTHER, permissions=MANAGE_MESSAGES)["Confirm"]
    answer = press(discord, confirm, user=OTHER, permissions=MANAGE_MESSAGES)
    assert "Deleted coach d's plan" in answer["data"]["content"]
    assert current_text(discord) is None


@pytest.mark.parametrize(
    "custom_id",
    [
        "delete:maybe:1:1",
        "delete:yes:1",
        "delete:yes:x:1",
        "delete:yes:1:1:extra",
        "delete:yes:-1:1",
        "delete:yes:" + "1" * 99,
        "garbage",
        "",
    ],
)
def test_forged_button_custom_ids_are_refused(discord: Discord, custom_id: str) -> None:
    discord.post_plan()
    answer = press(discord, custom_id)
    assert answer["type"] == 4 and answer["data"]["flags"] == 64
    assert current_text(discord) is not None


def test_button_for_an_unknown_plan_id_is_refused(discord: Discord) -> None:
    discord.post_plan()
    assert "no plan #424242" in ephemeral_text(press(discord, "delete:yes:424242:1"))


# --- date autocomplete ---------------------------------------------------------------------------


def suggest(discord: Discord, typed: str, command: str = "edit", **options: str) -> list[str]:
    answer = discord.send(guild_interaction(4, autocomplete_data(command, typed, **options)))
    assert answer["type"] == 8
    return [choice["value"] for choice in answer["data"]["choices"]]


def test_autocomplete_offers_dates_with_a_live_plan_newest_first(discord: Discord) -> None:
    for day in ("2026-01-05", "2026-02-10", "2025-12-31"):
        discord.post_plan(coach="d", date=day)
    discord.post_plan(coach="i", date="2026-03-01")
    for command in ("edit", "delete", "history"):
        assert suggest(discord, "", command, coach="d") == [
            "2026-02-10",
            "2026-01-05",
            "2025-12-31",
        ]
    assert suggest(discord, "2026-0", coach="d") == ["2026-02-10", "2026-01-05"]
    assert suggest(discord, "2025", coach="d") == ["2025-12-31"]
    assert suggest(discord, "2027", coach="d") == []


def test_autocomplete_leaves_out_deleted_plans(discord: Discord) -> None:
    plan_id = discord.post_plan(coach="d", date="2026-01-05")
    discord.post_plan(coach="d", date="2026-01-06")
    press(discord, f"delete:yes:{plan_id}:1")
    assert suggest(discord, "", coach="d") == ["2026-01-06"]


def test_autocomplete_offers_at_most_25(discord: Discord) -> None:
    start = date(2026, 1, 1)
    for n in range(30):
        discord.post_plan(coach="s", date=(start + timedelta(days=n)).isoformat())
    offered = suggest(discord, "", coach="s")
    assert len(offered) == 25 and offered[0] == "2026-01-30"


@pytest.mark.parametrize("options", [{}, {"coach": "nobody"}, {"coach": ""}])
def test_autocomplete_without_a_valid_coach_offers_nothing(
    discord: Discord, options: dict[str, str]
) -> None:
    discord.post_plan(coach="d", date="2026-01-05")
    assert suggest(discord, "", **options) == []


@pytest.mark.parametrize("typed", ["tod", "'; drop table", "%", "2026-01-05-extra"])
def test_autocomplete_with_odd_input_offers_nothing(discord: Discord, typed: str) -> None:
    discord.post_plan(coach="d", date="2026-01-05")
    assert suggest(discord, typed, coach="d") == []


def test_today_and_yesterday_are_accepted_as_date_values(discord: Discord) -> None:
    discord.post_plan(coach="d", text="today's")
    discord.post_plan(coach="i", text="yesterday's", date="yesterday")
    assert "today's" in ephemeral_text(discord.command("history", coach="d", date="today"))
    assert "yesterday's" in ephemeral_text(discord.command("history", coach="i", date="Yesterday"))
