"""/outcome and /scorecard: a graded plan drawn over its session, and the coaches' records with
their cumulative R, as Components V2 cards with the picture uploaded (`attachment://`). Both
defer: the database is read first (so nothing to show is an immediate ephemeral answer), then
the price source and the drawing run in a worker thread and the deferred answer is edited. The
Result button of a graded plan card (custom_id `result:<plan_id>`) shows its /outcome card to
the presser alone."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from datetime import tzinfo
from typing import Any

import anyio.to_thread

from app.discord import components as ui
from app.discord import protocol, responses
from app.discord.components import Upload
from app.discord.interaction import Interaction, Reply
from app.discord.plan_messages import ANY_COACH_ACCENT, RESULT_PREFIX, accent_color, plain
from app.errors import PlanError
from app.outcomes.rules import SCORECARD_DAYS, SCORECARD_DAYS_MAX, Outcome, scorecard_lines
from app.pictures.service import (
    GRADED,
    NoPicture,
    Picture,
    scorecard_rows,
    status_words,
)
from app.records import Plan
from app.runtime.resources import Services
from app.settings import Settings
from commands.definitions import (
    PLAN_ID,
    Command,
    coach_choices,
    coach_option,
    date_option,
    guild_plans,
    parse_custom_id,
    slash_command,
)

log = logging.getLogger("coach_plans")
_BUTTON_ID = re.compile(rf"{RESULT_PREFIX}:{PLAN_ID}")


class NothingToShow(PlanError):
    """Nothing to draw: the reason, in words, answered to the asker alone."""


def outcome_command(settings: Settings) -> Command:
    definition = slash_command(
        "outcome",
        "Show what the market did with a coach's plan, drawn over the session",
        [
            coach_option("The coach whose plan to look at"),
            date_option("The plan's date, YYYY-MM-DD (default: today)", autocomplete=False),
        ],
    )
    return Command(
        definition, run_outcome, autocomplete=coach_choices, components={RESULT_PREFIX: press}
    )


def scorecard_command(settings: Settings) -> Command:
    coach = coach_option("One coach's record (default: every coach)")
    coach["required"] = False
    definition = slash_command(
        "scorecard",
        "Each coach's record over the last sessions, with its cumulative R",
        [
            coach,
            {
                "type": protocol.INTEGER,
                "name": "days",
                "description": f"How many sessions back (default {SCORECARD_DAYS})",
                "required": False,
                "min_value": 1,
                "max_value": SCORECARD_DAYS_MAX,
            },
            {
                "type": protocol.BOOLEAN,
                "name": "share",
                "description": "Show it to the channel (default: only you)",
                "required": False,
            },
        ],
    )
    return Command(definition, run_scorecard, autocomplete=coach_choices)


async def graded(services: Services, plan_id: int) -> bool:
    """Whether the plan has an outcome to show (its card then has a Result button)."""
    found = await services.read(services.outcomes.of_plans, [plan_id])
    return plan_id in found and found[plan_id].status in GRADED


async def run_outcome(interaction: Interaction, services: Services) -> Reply:
    coach, day = interaction.string("coach"), interaction.string("date")
    plans, _, plan = await services.read_as(
        interaction.guild, lambda plans, _: plans.get(interaction.guild, coach, day)
    )
    return await _outcome(interaction, services, plan, plans.timezone, private=False)


async def press(interaction: Interaction, services: Services) -> Reply:
    """A plan card's Result button: its /outcome card, to the presser alone; before the plan
    is graded, why not yet."""
    match = parse_custom_id(_BUTTON_ID, interaction.custom_id, "/outcome")
    plans, _, plan = await services.read_as(
        interaction.guild, lambda plans, _: plans.get_by_id(interaction.guild, int(match[1]))
    )
    return await _outcome(interaction, services, plan, plans.timezone, private=True)


async def _outcome(
    interaction: Interaction, services: Services, plan: Plan, zone: tzinfo, private: bool
) -> Reply:
    pictures, coach, day = services.pictures, plan.coach, plan.date
    found = (await services.read(pictures.store.of_plans, [plan.id])).get(plan.id)
    if found is None or found.status not in GRADED:
        grading = services.settings.grading
        words = (
            status_words(found or Outcome(plan.id, "pending"))
            if found is not None or grading
            else "not graded: grading is off here (PRICE_SOURCE is none)"
        )
        raise NothingToShow(f"{coach}'s plan for {day} is {words}.")
    heading = f"## Coach {plain(coach)}: the plan for {day} against the tape"
    accent = accent_color(coach, services.settings.coaches)
    later = functools.partial(
        _show, interaction, services, private, heading, accent, pictures.outcome, found, plan.id,
        coach, day, zone,
    )  # fmt: skip
    return Reply(responses.deferred(ephemeral=private), later=later)


async def run_scorecard(interaction: Interaction, services: Services) -> Reply:
    plans, _ = await guild_plans(interaction, services)
    named = interaction.string("coach")
    coach = None if named is None else plans.coach(named)
    days = interaction.options.get("days", SCORECARD_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= SCORECARD_DAYS_MAX:
        raise NothingToShow(f"days must be a whole number from 1 to {SCORECARD_DAYS_MAX}.")
    share = interaction.options.get("share") is True
    pictures = services.pictures
    sessions, rows = await services.read(
        scorecard_rows, pictures, interaction.guild, coach, days, services.clock()
    )
    if not any(row.status in GRADED for row in rows):
        raise NothingToShow(
            f"No graded plans for {coach or 'any coach'} in the last {days} sessions."
        )
    record = [_record_line(line) for line in scorecard_lines(rows, coach, plans.coaches)]
    heading = f"## Scorecard: the last {len(sessions)} sessions\n" + "\n".join(record)
    accent = accent_color(coach, services.settings.coaches) if coach else ANY_COACH_ACCENT
    later = functools.partial(
        _show, interaction, services, not share, heading, accent, pictures.scorecard, rows,
        sessions, coach, days,
    )  # fmt: skip
    return Reply(responses.deferred(ephemeral=not share), later=later)


def _record_line(line: dict[str, Any]) -> str:
    rate = "—" if line["win_rate"] is None else f"{line['win_rate']:.0%}"
    avg = "—" if line["avg_r"] is None else f"{line['avg_r']:+.2f}R"
    total = "—" if line["total_r"] is None else f"{line['total_r']:+.2f}R"
    return (
        f"**{plain(line['coach'])}**: {line['graded']} graded · {line['wins']} won · "
        f"{line['losses']} lost · {line['open']} open · {line['not_triggered']} not triggered · "
        f"win rate {rate} · average {avg} · total {total}"
    )


async def _show(
    interaction: Interaction,
    services: Services,
    private: bool,
    heading: str,
    accent: int,
    draw: Callable[..., Picture],
    *args: Any,
) -> None:
    """After the deferral went out: draw in a worker thread, then edit the deferred answer.
    Nothing to draw (no bars now) takes the public deferral away and tells the asker alone."""
    app, token = interaction.application_id, interaction.token
    try:
        try:
            picture: Picture = await anyio.to_thread.run_sync(draw, *args)
        except NoPicture as exc:
            if private:
                data = ui.message_data([ui.text(str(exc))], ephemeral=True)
                await services.webhook.edit_original(app, token, data)
            else:
                await services.webhook.delete_original(app, token)
                await services.webhook.follow_up(
                    app, token, ui.message_data([ui.text(str(exc))], ephemeral=True)
                )
            return
        upload = Upload(picture.filename, "image/png", picture.png, picture.words)
        card = ui.container(
            accent, [ui.text(f"{heading}\n**{picture.words}**"), ui.gallery([upload])]
        )
        data = ui.message_data([card], [upload], ephemeral=private)
        await services.webhook.edit_original(app, token, data, [upload])
    except Exception:
        log.exception("showing a picture after the deferral of %s failed", interaction.id)
