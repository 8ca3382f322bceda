"""/edit: change a plan's text, levels and/or add charts. Without any of them, a modal editor
opens prefilled with the current text and levels (Discord's five inputs: the text, tickers with
the bias, entry, stop, targets); its custom_id `edit:<plan_id>:<version>` carries the version it
was based on, so a save after someone else's edit or delete is refused instead of overwriting."""

from __future__ import annotations

import functools
import re

from app.charts import attachments as charts
from app.discord import protocol, responses
from app.discord.interaction import Interaction, Reply
from app.discord.responses import ShortInput
from app.errors import StaleVersion
from app.plans.extraction import extract
from app.plans.levels import GivenLevels, as_form, split_tickers_and_bias
from app.records import Plan
from app.runtime.resources import Services
from app.settings import Settings
from commands import plan as plan_command
from commands import results
from commands.definitions import (
    PLAN_ID,
    VERSION,
    Command,
    bound,
    chart_names,
    chart_options,
    coach_choices,
    coach_option,
    date_option,
    given_levels,
    guild_plans,
    level_options,
    parse_custom_id,
    slash_command,
    text_option,
)

_FORM = (
    ("ticker", "Tickers, then bias (long, short, neutral)", "SPY, QQQ long"),
    ("entry", "Entry price or zone (low-high)", "948-951"),
    ("stop", "Stop", "940"),
    ("targets", "Targets", "960, 975"),
)
MODAL_PREFIX = "edit"
TEXT_INPUT = "text"
_MODAL_ID = re.compile(rf"{MODAL_PREFIX}:{PLAN_ID}:{VERSION}")


def command(settings: Settings) -> Command:
    definition = slash_command(
        "edit",
        "Edit a plan's text or attach more charts; without text, opens an editor",
        [
            coach_option("The coach whose plan to change"),
            date_option("The plan's date (default: today)", autocomplete=True),
            text_option("The new text; leave out to open the editor", required=False),
            *level_options(edit=True),
            *chart_options(settings),
        ],
    )
    return Command(
        definition,
        run,
        autocomplete=coach_choices,
        modals={MODAL_PREFIX: submit},
    )


async def run(interaction: Interaction, services: Services) -> Reply:
    # The options as typed: the plan service checks them (app/plans/service.py).
    plans, setup = await guild_plans(interaction, services)
    coach, day = interaction.string("coach"), interaction.string("date")

    def may(coach: str) -> bool:
        return bound(setup, coach, interaction)

    text = interaction.string("text")
    given = given_levels(interaction)
    new_charts = charts.accept(
        interaction.attachments(chart_names(services.settings)), services.settings
    )
    user = interaction.user
    if text is None and not new_charts and not given.any():
        current = await services.read(plans.editable, interaction.guild, coach, day, user, may)
        return Reply(_editor(current))
    edit = functools.partial(
        plans.edit,
        text=text,
        charts=new_charts,
        levels=given,
        once=interaction.once,
        bound=may,
    )
    edited = await services.write(edit, interaction.guild, coach, day, user)
    return plan_command.answer(
        interaction, services, edited, graded=await results.graded(services, edited.id)
    )


async def submit(interaction: Interaction, services: Services) -> Reply:
    """The modal editor was saved: apply it only to the version it was opened on."""
    match = parse_custom_id(_MODAL_ID, interaction.custom_id, "/edit")
    plan_id, version = int(match[1]), int(match[2])
    text = interaction.modal_value(TEXT_INPUT)
    tickers, bias = split_tickers_and_bias(interaction.modal_value("ticker"))
    form = GivenLevels(
        ticker=tickers,
        bias=bias,
        entry=_filled(interaction.modal_value("entry")),
        stop=_filled(interaction.modal_value("stop")),
        targets=_filled(interaction.modal_value("targets")),
        whole=True,
    )
    plans, setup, plan = await services.read_as(
        interaction.guild, lambda plans, _: plans.get_by_id(interaction.guild, plan_id)
    )
    try:
        if plan.is_deleted:
            raise StaleVersion(
                f"Coach {plan.coach}'s plan for {plan.date} was deleted after the editor opened; "
                "nothing was saved."
            )
        edit = functools.partial(
            plans.edit,
            text=text,
            levels=form,
            expected_version=version,
            plan_id=plan_id,
            once=interaction.once,
            bound=lambda coach: bound(setup, coach, interaction),
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
    return plan_command.answer(
        interaction, services, edited, graded=await results.graded(services, edited.id)
    )


def _editor(current: Plan) -> dict[str, object]:
    """The form: the text, then the levels. Given levels are filled in; what the text states is
    shown as placeholders, since an empty field is read from the saved text."""
    stated = current.levels
    given = as_form(stated) if stated is not None and stated.source == "given" else {}
    from_text = as_form(extract(current.text))
    inputs = [
        ShortInput(
            name,
            label,
            value=given.get(name, ""),
            placeholder=f"from the text: {from_text[name]}"
            if from_text[name]
            else f"e.g. {example}",
        )
        for name, label, example in _FORM
    ]
    return responses.modal(
        f"{MODAL_PREFIX}:{current.id}:{current.version}",
        f"Edit coach {current.coach}'s plan for {current.date.isoformat()}",
        TEXT_INPUT,
        "Plan text",
        current.text,
        inputs,
    )


def _filled(value: str | None) -> str | None:
    """An emptied field of the form: the level is not set."""
    return value if value and value.strip() else None
