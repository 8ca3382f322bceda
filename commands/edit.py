"""/edit: change a plan's text and/or add charts. Without text (and charts), a modal editor opens
prefilled with the current text; its custom_id `edit:<plan_id>:<version>` carries the version it
was based on, so a save after someone else's edit or delete is refused instead of overwriting."""

from __future__ import annotations

import functools
import re

from app import charts
from app.discord import protocol, responses
from app.discord.interaction import Interaction, Reply
from app.errors import StaleVersion
from app.plans import check_may_edit
from app.services import Services
from app.settings import Settings
from commands import plan as plan_command
from commands.definitions import (
    PLAN_ID,
    VERSION,
    Command,
    chart_names,
    chart_options,
    coach_option,
    date_choices,
    date_option,
    parse_custom_id,
    plan_post,
    slash_command,
    text_option,
)

MODAL_PREFIX = "edit"
TEXT_INPUT = "text"
_MODAL_ID = re.compile(rf"{MODAL_PREFIX}:{PLAN_ID}:{VERSION}")


def command(settings: Settings) -> Command:
    definition = slash_command(
        "edit",
        "Edit a plan's text or attach more charts; without text, opens an editor",
        [
            coach_option(settings, "The coach whose plan to change"),
            date_option("The plan's date (default: today)", autocomplete=True),
            text_option("The new text; leave out to open the editor", required=False),
            *chart_options(settings),
        ],
    )
    return Command(
        definition,
        run,
        autocomplete=date_choices,
        modals={MODAL_PREFIX: submit},
        while_warming=None,
    )


async def run(interaction: Interaction, services: Services) -> Reply:
    plans = services.plans
    coach = plans.coach(interaction.string("coach"))
    day = plans.day(interaction.string("date"))
    text = interaction.string("text")
    new_charts = charts.accept(
        interaction.attachments(chart_names(services.settings)), services.settings
    )
    user = interaction.user
    if text is None and not new_charts:
        current = await services.read(plans.get, interaction.guild, coach, day)
        check_may_edit(current, user)
        return Reply(
            responses.modal(
                f"{MODAL_PREFIX}:{current.id}:{current.version}",
                f"Edit coach {coach}'s plan for {day.isoformat()}",
                TEXT_INPUT,
                "Plan text",
                current.text,
            )
        )
    edit = functools.partial(plans.edit, text=text, charts=new_charts, once=interaction.once)
    edited = await services.write(edit, interaction.guild, coach, day, user)
    return plan_command.answer(interaction, services, edited)


async def submit(interaction: Interaction, services: Services) -> Reply:
    """The modal editor was saved: apply it only to the version it was opened on."""
    match = parse_custom_id(_MODAL_ID, interaction.custom_id, "/edit")
    plan_id, version = int(match[1]), int(match[2])
    text = interaction.modal_value(TEXT_INPUT)
    plans = services.plans
    plan = await services.read(plans.get_by_id, interaction.guild, plan_id)
    try:
        if plan.is_deleted:
            raise StaleVersion(
                f"Coach {plan.coach}'s plan for {plan.date} was deleted after the editor opened; "
                "nothing was saved."
            )
        edit = functools.partial(
            plans.edit,
            text=text,
            expected_version=version,
            plan_id=plan_id,
            once=interaction.once,
        )
        edited = await services.write(
            edit, interaction.guild, plan.coach, plan.date, interaction.user
        )
    except StaleVersion as exc:
        # The other change is kept; hand the user's text back so it is not lost.
        kept = f"{exc.message}\nYour unsaved text, to copy:\n"
        room = protocol.CONTENT_MAX - len(kept) - 8
        unsaved = responses.clip((text or "").replace("```", "'''"), room)
        return Reply(responses.ephemeral(f"{kept}```\n{unsaved}\n```"))
    return Reply(plan_post(services, edited))
