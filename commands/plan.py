"""/plan: post today's (or a date's) plan for a coach, with up to MAX_CHART_ATTACHMENTS charts.

Text-only plans are answered at once. With charts, the plan is saved first (so a refusal is still
an immediate ephemeral answer), Discord gets a deferral, and once that has gone out the charts
are downloaded into the archive and the deferred answer is edited into the plan card, the charts
uploaded from the archive with it (an interaction's first answer, a JSON body here, cannot carry
files).
"""

from __future__ import annotations

import functools
import logging

from app.charts import attachments as charts
from app.community import roster
from app.community.roster import Setup
from app.discord import responses
from app.discord.interaction import Interaction, Reply
from app.plans.service import MAX_TEXT, PlanService
from app.records import Chart, Plan
from app.runtime.resources import Services
from app.settings import Settings
from commands.definitions import (
    Command,
    chart_names,
    chart_options,
    coach_choices,
    coach_option,
    date_option,
    given_levels,
    level_options,
    plan_card,
    slash_command,
    text_only_card,
    text_option,
)

log = logging.getLogger("coach_plans")


def command(settings: Settings) -> Command:
    definition = slash_command(
        "plan",
        "Post a coach's daily plan, with chart images",
        [
            coach_option("The coach whose plan this is"),
            text_option(
                f"The plan: levels, setups, risk (up to {MAX_TEXT} characters)", required=True
            ),
            date_option("YYYY-MM-DD, today or yesterday (default: today)", autocomplete=False),
            *level_options(edit=False),
            *chart_options(settings),
        ],
    )
    return Command(definition, run, autocomplete=coach_choices)


async def run(interaction: Interaction, services: Services) -> Reply:
    # The options as typed: the plan service checks them (app/plans/service.py).
    new_charts = charts.accept(
        interaction.attachments(chart_names(services.settings)), services.settings
    )
    levels = given_levels(interaction)
    coach, day, text = (interaction.string(name) for name in ("coach", "date", "text"))

    def post(plans: PlanService, setup: Setup) -> Plan:
        def may_post(coach: str) -> None:
            roster.check_may_post(setup, coach, interaction.user.id, interaction.roles)

        return plans.post(
            coach, day, text, interaction.user, place=interaction.place, charts=new_charts,
            levels=levels, once=interaction.once, may_post=may_post,
        )  # fmt: skip

    # The server's setup (its roster, time zone, ping role) is read in the write's own call.
    _, setup, plan = await services.write_as(interaction.guild, post, posting=True)
    # Only a new plan mentions the server's ping role; edits and every other answer ping nobody.
    return answer(interaction, services, plan, ping_role=setup.ping_role)


def _pending(plan: Plan) -> list[Chart]:
    """Charts worth a download now: neither archived nor refused for good."""
    return [c for c in plan.charts if not c.stored_path and not c.failed_reason]


def answer(
    interaction: Interaction,
    services: Services,
    plan: Plan,
    *,
    ping_role: str | None = None,
    graded: bool = False,
) -> Reply:
    """The plan shown publicly: at once when it has no chart to upload, else deferred while
    its charts are archived and read back for the upload. A `graded` plan's card has a Result
    button."""
    if all(chart.failed_reason for chart in plan.charts):
        return Reply(text_only_card(services, plan, ping_role, graded))
    return Reply(
        responses.deferred(),
        later=functools.partial(_archive_then_show, interaction, services, plan, ping_role, graded),
    )


async def _archive_then_show(
    interaction: Interaction, services: Services, plan: Plan, ping_role: str | None, graded: bool
) -> None:
    # Runs after the deferral went out (a response background task): Discord answers 404 to an
    # edit of an answer it has not seen yet. archive_now ends within one download deadline, so
    # the "thinking…" answer is always replaced, whatever the charts' sources do.
    try:
        try:
            pending = _pending(plan)
            if pending:  # charts archived before (an edit's) need no download nor a re-read
                await services.charts.archive_now(pending, plan.guild_id)
                plan = await services.read(services.plans.get_by_id, interaction.guild, plan.id)
        except Exception:
            # The plan is saved either way; the card names the charts it cannot show.
            log.exception("archiving the charts of plan %s failed", plan.id)
        async with plan_card(
            services, plan, ping_role, graded
        ) as card:  # the charts stream from their files
            await services.webhook.edit_original(
                interaction.application_id, interaction.token, card.data, card.files
            )
    except Exception:
        log.exception("showing plan %s after its deferral failed", plan.id)
