"""/plans: every coach's plan for a date, as an ephemeral list."""

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
        "plans",
        "List every coach's plan for a date (only you see the list)",
        [date_option("YYYY-MM-DD, today or yesterday (default: today)", autocomplete=False)],
    )
    return Command(definition, run)


async def run(interaction: Interaction, services: Services) -> Reply:
    def read(plans: PlanService, _: Setup) -> tuple[date, list[Plan]]:
        day = plans.day(interaction.string("date"))
        return day, plans.list_by_date(interaction.guild, day)

    plans, _, (day, found) = await services.read_as(interaction.guild, read)
    if not found:
        return Reply(
            responses.ephemeral(f"No plans for {day.isoformat()} yet. Post one with /plan.")
        )
    pointer = f"GET {api_base(services)}/api/coach-plans/all?date={day.isoformat()}"
    coaches = (*plans.coaches, *plans.retired)  # a retired coach keeps its colour
    return Reply(plan_messages.plan_list(f"Plans for {day.isoformat()}", found, pointer, coaches))
