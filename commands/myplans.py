"""/myplans: the caller's own plans for a date (today by default)."""

from __future__ import annotations

from datetime import date

from app.community.roster import Setup
from app.discord import plan_messages, responses
from app.discord.interaction import Interaction, Reply
from app.plans.service import PlanService
from app.records import Plan
from app.runtime.resources import Services
from app.settings import Settings
from commands.definitions import Command, api_base, date_option, slash_command


def command(settings: Settings) -> Command:
    definition = slash_command(
        "myplans",
        "List the plans you posted (only you see the list)",
        [date_option("YYYY-MM-DD, today or yesterday (default: today)", autocomplete=False)],
    )
    return Command(definition, run)


async def run(interaction: Interaction, services: Services) -> Reply:
    user = interaction.user

    def read(plans: PlanService, _: Setup) -> tuple[date, list[Plan]]:
        day = plans.day(interaction.string("date"))
        return day, plans.list_by_author(interaction.guild, user.id, day)

    _, _, (day, found) = await services.read_as(interaction.guild, read)
    if not found:
        return Reply(
            responses.ephemeral(
                f"You have no plans for {day.isoformat()}. Post one with /plan, or pick "
                "another date with /myplans date:YYYY-MM-DD."
            )
        )
    title = f"Your plans for {day.isoformat()}"
    pointer = f"GET {api_base(services)}/api/coach-plans/all?date={day.isoformat()}"
    return Reply(plan_messages.plan_list(title, found, pointer, services.settings.coaches))
