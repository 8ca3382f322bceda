"""/myplans: the caller's own plans for a date, or their 25 newest when no date is given."""

from __future__ import annotations

from app.discord import messages
from app.discord.interaction import Interaction, Reply
from app.services import Services
from app.settings import Settings
from commands.definitions import Command, api_base, date_option, slash_command


def command(settings: Settings) -> Command:
    definition = slash_command(
        "myplans",
        "List the plans you posted (only you see the list)",
        [
            date_option(
                "YYYY-MM-DD, today or yesterday (default: your latest plans)", autocomplete=False
            )
        ],
    )
    return Command(definition, run)


async def run(interaction: Interaction, services: Services) -> Reply:
    user = interaction.user
    typed = interaction.string("date")
    day = None if typed is None else services.plans.day(typed)
    found = await services.read(services.plans.list_by_author, user.id, day)
    if not found:
        when = f"for {day.isoformat()}" if day else "yet"
        return Reply(messages.ephemeral(f"You have no plans {when}. Post one with /plan."))
    title = f"Your plans for {day.isoformat()}" if day else "Your latest plans"
    pointer = f"GET {api_base(services)}/api/coach-plans/?coach=<coach>&date=<date>"
    return Reply(messages.plan_list(title, found, pointer))
