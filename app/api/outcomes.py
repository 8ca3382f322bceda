"""The outcome reads: one plan's outcome, a scorecard of the coaches' records, and the
`outcome` every plan's JSON carries. A scorecard as of an instant counts only the sessions that
closed before it, so a backtest never sees a result it could not have known."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.api import models
from app.api.models import answer
from app.api.outcome_fields import as_json, pending
from app.api.reads import Reading, _params, nothing_posted, parse_instant, reading
from app.outcomes.rules import SCORECARD_DAYS, SCORECARD_DAYS_MAX, Outcome, scorecard_lines
from app.pictures.service import scorecard_rows
from app.records import Plan
from app.runtime.resources import Services, services_for

if TYPE_CHECKING:
    from app.pictures.service import Picture
    from app.plans.service import PlanService
    from app.storage.outcomes import ScoredRow


async def outcome(request: Request) -> Response:
    """One coach's plan's outcome for a date."""
    services, plan, stored, _ = await _plan(request)
    found = as_json(plan.id, stored, services.settings.grading, None)
    return answer(models.Outcome.model_validate(found or pending(plan.id)))


async def outcome_png(request: Request) -> Response:
    """outcome.png: the plan's session with its graded levels drawn on it."""
    services, plan, stored, zone = await _plan(request)
    return await _png(services.pictures.outcome, stored, plan.id, plan.coach, plan.date, zone)


async def _plan(request: Request) -> tuple[Services, Plan, Outcome | None, ZoneInfo]:
    """The plan an outcome read names (coach, date, guild), its guild's read key checked, its
    outcome as stored, and the guild's time zone."""
    params = _params(request, ("coach", "date", "guild"), required="coach")
    services = services_for(request)

    def read(seen: Reading) -> tuple[Plan, Outcome | None, ZoneInfo]:
        if seen.guild is None:
            raise nothing_posted(seen.plans, params)
        found = seen.plans.get(seen.guild, params["coach"], params.get("date"))
        return found, services.outcomes.of_plans([found.id]).get(found.id), seen.plans.timezone

    return services, *await reading(request, params, services, read)


async def scorecard_png(request: Request) -> Response:
    """scorecard.png: cumulative R by session, one line per coach."""
    services, coach, days, _, sessions, found, _ = await _scorecard(request)
    return await _png(services.pictures.scorecard, found, sessions, coach, days)


async def _png(draw: Callable[..., Picture], *args: object) -> Response:
    from app.pictures.service import NoPicture

    try:
        picture = await anyio.to_thread.run_sync(draw, *args)
    except NoPicture as exc:
        raise HTTPException(404, str(exc)) from exc
    return Response(picture.png, media_type="image/png")


async def scorecard(request: Request) -> Response:
    _, _, days, instant, _, _, lines = await _scorecard(request)
    body = {"as_of": instant, "days": days, "coaches": lines}
    return answer(models.Scorecard.model_validate(body))


async def _scorecard(
    request: Request,
) -> tuple[Services, str | None, int, datetime, list[date], list[ScoredRow], list[dict[str, Any]]]:
    """A scorecard's parameters and rows: the coach asked for, days, as_of, its sessions, the
    outcomes counted and each coach's line."""
    params = _params(request, ("coach", "days", "as_of", "guild"))
    services = services_for(request)
    days = _days(params.get("days"))
    as_of = params.get("as_of")
    instant = services.clock() if as_of is None else parse_instant(as_of)
    pictures = services.pictures

    def read(seen: Reading) -> tuple[PlanService, str | None, list[date], list[ScoredRow]]:
        plans, named = seen.plans, params.get("coach")
        coach = None if named is None else plans.coach(named)
        if seen.guild is None:
            return plans, coach, pictures.calendar.sessions_closed_before(instant, days), []
        return plans, coach, *scorecard_rows(pictures, seen.guild, coach, days, instant)

    plans, coach, sessions, found = await reading(request, params, services, read)  # key checked
    lines = scorecard_lines(found, coach, plans.coaches)
    return services, coach, days, instant, sessions, found, lines


def _days(value: str | None) -> int:
    if value is None:
        return SCORECARD_DAYS
    if not re.fullmatch(r"[0-9]{1,3}", value) or not 1 <= int(value) <= SCORECARD_DAYS_MAX:
        raise HTTPException(
            400, f"days {value[:20]!r} is not a whole number from 1 to {SCORECARD_DAYS_MAX}."
        )
    return int(value)
