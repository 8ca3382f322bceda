"""Who counts as a moderator: only Discord's own form of member.permissions, a canonical decimal
string, is read; anything else grants nothing."""

from __future__ import annotations

import pytest

from app.discord.protocol import ADMINISTRATOR, MANAGE_MESSAGES
from tests.support.discord_edge import (
    OTHER,
    Discord,
    button_interaction,
    command_data,
    ephemeral_text,
    guild_interaction,
)


def live_plans(discord: Discord) -> int:
    count: int = discord.client.get("/api/coach-plans/all").json()["count"]
    return count


def delete_as_other(discord: Discord, plan_id: int, permissions: object) -> str:
    """Asks to delete the author's plan as another member, then presses Confirm."""
    asked = guild_interaction(2, command_data("delete", coach="d"), user=OTHER)
    asked["member"]["permissions"] = permissions
    answer = discord.send(asked)
    if "Delete coach" not in ephemeral_text(answer):
        return ephemeral_text(answer)
    pressed = button_interaction(f"delete:yes:{plan_id}:1", user=OTHER)
    pressed["member"]["permissions"] = permissions
    content: str = discord.send(pressed)["data"]["content"]
    return content


@pytest.mark.parametrize(
    "permissions",
    [str(MANAGE_MESSAGES), str(ADMINISTRATOR), str((1 << 60) | MANAGE_MESSAGES)],
)
def test_manage_messages_or_administrator_may_delete_anothers_plan(
    discord: Discord, permissions: str
) -> None:
    plan_id = discord.post_plan()
    assert "Deleted coach d's plan" in delete_as_other(discord, plan_id, permissions)
    assert live_plans(discord) == 0


@pytest.mark.parametrize(
    "permissions",
    [
        "-1",
        "+8",
        " 8",
        "8 ",
        "08",
        "1e3",
        "0x2000",
        "8_192",
        "\uff18",  # fullwidth 8
        "\uff18\uff11\uff19\uff12",  # fullwidth 8192
        "9" * 100,  # every low bit pattern is possible in a long enough number
        MANAGE_MESSAGES,  # Discord sends a string, never a number
        "",
        None,
    ],
)
def test_permissions_not_in_discords_form_make_no_moderator(
    discord: Discord, permissions: object
) -> None:
    plan_id = discord.post_plan()
    assert "Only Mason" in delete_as_other(discord, plan_id, permissions)
    assert live_plans(discord) == 1
