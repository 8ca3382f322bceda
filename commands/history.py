"""/history: a plan's earlier versions, newest first, as an ephemeral list; a deleted plan's too,
saying who deleted it and when. The History button of a plan card (custom_id
`history:<plan_id>`) gives the same list to whoever presses it, to them alone."""

from __future__ import annotations

import re

from app.discord import plan_messages
from app.discord.interaction import Interaction, Reply
from app.runtime.resources import Services
from app.settings import Settings
from commands.definitions import (
    PLAN_ID,
    Command,
    api_base,
    coach_option,
    date_option,
    history_date_choices,
    parse_custom_id,
    slash_command,
)

PREFIX = plan_messages.HISTORY_PREFIX
_BUTTON_ID = re.compile(rf"{PREFIX}:{PLAN_ID}")


def command(settings: Settings) -> Command:
    definition = slash_command(
        "history",
        "Show a plan's earlier versions, newest first (only you see them)",
        [
            coach_option("The coach whose plan to look at"),
            date_option("The plan's date (default: today)", autocomplete=True),
        ],
    )
    return Command(definition, run, autocomplete=history_date_choices, components={PREFIX: press})


async def run(interaction: Interaction, services: Services) -> Reply:
    coach, day = interaction.string("coach"), interaction.string("date")
    _, _, (current, entries) = await services.read_as(
        interaction.guild, lambda plans, _: plans.history(interaction.guild, coach, day)
    )
    return Reply(plan_messages.history_list(current, entries, api_base(services)))


async def press(interaction: Interaction, services: Services) -> Reply:
    """The History button of a plan card: the history of that card's plan, seen by the presser
    only (a button's answer is a new message, flagged ephemeral)."""
    match = parse_custom_id(_BUTTON_ID, interaction.custom_id, "/history")
    current, entries = await services.read(
        services.plans.history_of, interaction.guild, int(match[1])
    )
    return Reply(plan_messages.history_list(current, entries, api_base(services)))
