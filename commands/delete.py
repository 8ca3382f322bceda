"""/delete: an ephemeral question with Confirm and Cancel buttons; Confirm soft-deletes.

Button custom_ids are `delete:yes|no:<plan_id>:<version>`. They are checked, never trusted: the
plan must exist, still be at that version, and the presser must be its author or a moderator.
"""

from __future__ import annotations

import functools
import re

from app.community.roster import Setup
from app.discord import protocol, responses
from app.discord.interaction import Interaction, Reply
from app.errors import StaleVersion
from app.plans.service import PlanService
from app.records import Plan
from app.runtime.resources import Services
from app.settings import Settings
from commands.definitions import (
    PLAN_ID,
    VERSION,
    Command,
    bound,
    coach_choices,
    coach_option,
    date_option,
    parse_custom_id,
    slash_command,
)

PREFIX = "delete"
_BUTTON_ID = re.compile(rf"{PREFIX}:(yes|no):{PLAN_ID}:{VERSION}")


def command(settings: Settings) -> Command:
    definition = slash_command(
        "delete",
        "Delete a coach's plan (asks to confirm first)",
        [
            coach_option("The coach whose plan to delete"),
            date_option("The plan's date (default: today)", autocomplete=True),
        ],
    )
    return Command(definition, run, autocomplete=coach_choices, components={PREFIX: press})


async def run(interaction: Interaction, services: Services) -> Reply:
    def deletable(plans: PlanService, setup: Setup) -> Plan:
        return plans.deletable(
            interaction.guild,
            interaction.string("coach"),
            interaction.string("date"),
            interaction.user,
            interaction.moderator,
            lambda coach: bound(setup, coach, interaction),
        )

    _, _, plan = await services.read_as(interaction.guild, deletable)
    question = (
        f"Delete coach {plan.coach}'s plan for {plan.date.isoformat()}, posted by {plan.author} "
        f"(version {plan.version})? It leaves every list; its history is kept."
    )
    return Reply(
        responses.ephemeral(
            question,
            components=responses.buttons(
                ("Confirm", protocol.DANGER, f"{PREFIX}:yes:{plan.id}:{plan.version}"),
                ("Cancel", protocol.SECONDARY, f"{PREFIX}:no:{plan.id}:{plan.version}"),
            ),
        )
    )


async def press(interaction: Interaction, services: Services) -> Reply:
    match = parse_custom_id(_BUTTON_ID, interaction.custom_id, "/delete")
    confirm, plan_id, version = match[1] == "yes", int(match[2]), int(match[3])
    user = interaction.user
    owner = interaction.message_owner_id
    if owner is not None and owner != user.id:
        return Reply(
            responses.ephemeral(
                "These buttons belong to someone else's /delete, so nothing was deleted. "
                "Run /delete yourself if you mean to."
            )
        )
    plans, setup, plan = await services.read_as(
        interaction.guild, lambda plans, _: plans.get_by_id(interaction.guild, plan_id)
    )
    what = f"coach {plan.coach}'s plan for {plan.date.isoformat()}"
    if not confirm:
        return Reply(responses.update(f"Nothing was deleted: {what} stays as it is."))
    if plan.is_deleted:
        return Reply(responses.update(f"Nothing more to do: {what} was already deleted."))

    # Who may delete is the plan service's rule, checked on the plan as it is when deleting.
    def may(coach: str) -> bool:
        return bound(setup, coach, interaction)

    delete = functools.partial(
        plans.delete,
        moderator=interaction.moderator,
        bound=may,
        expected_version=version,
        plan_id=plan_id,
        once=interaction.once,
    )
    try:
        await services.write(delete, interaction.guild, plan.coach, plan.date, user)
    except StaleVersion as exc:
        return Reply(responses.update(f"Nothing was deleted. {exc.message}"))
    return Reply(
        responses.update(
            f"Deleted {what} (version {version}, posted by {plan.author}). Its history is kept; "
            f"post a new one with /plan coach:{plan.coach} date:{plan.date.isoformat()}."
        )
    )
