"""/history: a plan's earlier versions, newest first, as an ephemeral list; a deleted plan's too,
saying who deleted it and when."""

from __future__ import annotations

from app.discord import plan_messages
from app.discord.interaction import Interaction, Reply
from app.services import Services
from app.settings import Settings
from commands.definitions import (
    Command,
    api_base,
    coach_option,
    date_option,
    history_date_choices,
    slash_command,
)


def command(settings: Settings) -> Command:
    definition = slash_command(
        "history",
        "Show a plan's earlier versions, newest first (only you see them)",
        [
            coach_option(settings, "The coach whose plan to look at"),
            date_option("The plan's date (default: today)", autocomplete=True),
        ],
    )
    return Command(definition, run, autocomplete=history_date_choices)


async def run(interaction: Interaction, services: Services) -> Reply:
    plans = services.plans
    coach = plans.coach(interaction.string("coach"))
    day = plans.day(interaction.string("date"))
    current, entries = await services.read(plans.history, interaction.guild, coach, day)
    return Reply(plan_messages.history_list(current, entries, api_base(services)))
