"""The JSON reads: one coach's plan, every plan of a day, and a plan's edit history.

Every read is about one guild (Discord server): `guild=<id>`, else DEFAULT_GUILD_ID, else the
only guild that has plans; with several and none named, 400 `guild_required`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.api import access, models
from app.api.models import answer
from app.api.outcome_fields import OutcomeJSON, outcome_json
from app.api.parameters import HISTORY_LIMIT_MAX
from app.community.roster import Setup
from app.errors import GuildRequired, PlanNotFound
from app.plans.service import HISTORY_PAGE, PlanService
from app.records import NO_LEVELS, HistoryEntry, HistoryPage, Plan
from app.runtime.resources import Services, services_for

# Reads carry everything in a short query string; anything bigger is a client bug or abuse.
MAX_QUERY_BYTES = 2048
_SNOWFLAKE = re.compile(r"[0-9]{1,20}")
T = TypeVar("T")


async def plan(request: Request) -> Response:
    """One plan by coach and date; with `as_of`, the text as it stood at that instant."""
    params = _params(request, ("coach", "date", "as_of", "guild"), required="coach")
    services = services_for(request)
    as_of = params.get("as_of")
    instant = None if as_of is None else parse_instant(as_of)

    def read(seen: Reading) -> tuple[Plan, OutcomeJSON]:
        guild, plans = seen.guild, seen.plans
        if guild is None:
            raise nothing_posted(plans, params)
        coach, day = params["coach"], params.get("date")
        found = (
            plans.get(guild, coach, day)
            if instant is None
            else plans.as_of(guild, coach, day, instant)
        )
        return found, outcome_json(services, [found], instant)[found.id]

    found, outcome = await reading(request, params, services, read)
    fields = plan_fields(found, _base_url(request, services), outcome)
    return answer(models.Plan.model_validate(fields))


async def plans_of_day(request: Request) -> Response:
    """Every coach's plan for one date, ordered by coach."""
    params = _params(request, ("date", "guild"))
    services = services_for(request)

    def read(seen: Reading) -> tuple[date, list[Plan], dict[int, OutcomeJSON]]:
        day = seen.plans.day(params.get("date"))
        found = [] if seen.guild is None else seen.plans.list_by_date(seen.guild, day)
        return day, found, outcome_json(services, found)

    day, found, outcomes = await reading(request, params, services, read)
    base = _base_url(request, services)
    # One validation of the whole list: pydantic-core walks the nested dicts faster than a model
    # built per plan and per chart.
    listed = [plan_fields(p, base, outcomes[p.id]) for p in found]
    body = {"date": day, "count": len(found), "plans": listed}
    return answer(models.PlanList.model_validate(body))


async def by_ticker(request: Request) -> Response:
    """The plans of a date whose levels name a ticker; with `as_of`, as they stood then."""
    params = _params(request, ("ticker", "date", "as_of", "guild"), required="ticker")
    services = services_for(request)
    as_of = params.get("as_of")
    instant = None if as_of is None else parse_instant(as_of)

    def read(seen: Reading) -> tuple[date, str, list[Plan], dict[int, OutcomeJSON]]:
        plans = seen.plans
        day, ticker = plans.day(params.get("date")), plans.ticker(params["ticker"])
        found = [] if seen.guild is None else plans.by_ticker(seen.guild, ticker, day, instant)
        return day, ticker, found, outcome_json(services, found, instant)

    day, ticker, found, outcomes = await reading(request, params, services, read)
    base = _base_url(request, services)
    body = {
        "date": day,
        "ticker": ticker,
        "count": len(found),
        "plans": [plan_fields(p, base, outcomes[p.id]) for p in found],
    }
    return answer(models.TickerPlans.model_validate(body))


async def history(request: Request) -> Response:
    """A plan's earlier texts, newest first, `limit` at a time (older ones with `before`);
    without a live plan, the last deleted one's, with who deleted it, when, and its text then."""
    params = _params(request, ("coach", "date", "guild", "limit", "before"), required="coach")
    services = services_for(request)
    limit = _limit(params.get("limit"))
    before = params.get("before")
    instant = None if before is None else parse_instant(before, "before")

    def read(seen: Reading) -> tuple[Plan, HistoryPage]:
        if seen.guild is None:
            raise nothing_posted(seen.plans, params)
        return seen.plans.history(seen.guild, params["coach"], params.get("date"), limit, instant)

    current, entries = await reading(request, params, services, read)
    body = {
        "coach": current.coach,
        "date": current.date,
        "plan_id": current.id,
        "history": [_history_fields(entry) for entry in entries],
        "deleted": _deletion_fields(current),
    }
    return answer(models.History.model_validate(body))


def plan_fields(
    plan: Plan, base_url: str, outcome: dict[str, object] | None = None
) -> dict[str, object]:
    """The fields of models.Plan, from the service's frozen dataclass."""
    return {
        "outcome": outcome,
        "id": plan.id,
        "coach": plan.coach,
        "date": plan.date,
        "plan": plan.text,
        "author": plan.author,
        "author_id": plan.author_id,
        "channel": plan.channel,
        "channel_id": plan.channel_id,
        "guild_id": plan.guild_id,
        "created_at": plan.created_at,
        "edited_at": plan.edited_at,
        "levels": (plan.levels or NO_LEVELS).as_dict(),
        "charts": [
            {
                "id": chart.id,
                "url": f"{base_url}/charts/{chart.id}",
                "filename": chart.filename,
                "content_type": chart.content_type,
            }
            for chart in plan.charts
        ],
    }


def _history_fields(entry: HistoryEntry) -> dict[str, object]:
    return {
        "plan_text": entry.plan_text,
        "edited_by": entry.edited_by,
        "edited_at": entry.edited_at,
    }


def _deletion_fields(plan: Plan) -> dict[str, object] | None:
    deletion = plan.deletion
    if deletion is None:
        return None
    return {
        "by": deletion.by,
        "by_id": deletion.by_id,
        "at": deletion.at,
        "plan_text": plan.text,
    }


def parse_instant(value: str, name: str = "as_of") -> datetime:
    """An ISO 8601 instant with an offset; a naive time is refused rather than guessed."""
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            400, f"{name} {value!r} is not an ISO 8601 instant, e.g. 2025-03-14T13:30:00Z."
        ) from None
    if instant.tzinfo is None:
        # A backtest that reads local time as UTC would silently see the wrong version.
        raise HTTPException(
            400,
            f"{name} {value!r} has no UTC offset: add one, e.g. {value}Z or {value}-04:00.",
        )
    try:
        return instant.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before the first representable UTC
        raise HTTPException(400, f"{name} {value!r} is out of range.") from None


def _limit(value: str | None) -> int:
    if value is None:
        return HISTORY_PAGE
    if not re.fullmatch(r"[0-9]{1,4}", value) or not 1 <= int(value) <= HISTORY_LIMIT_MAX:
        raise HTTPException(
            400, f"limit {value[:20]!r} is not a whole number from 1 to {HISTORY_LIMIT_MAX}."
        )
    return int(value)


@dataclass(frozen=True, slots=True)
class Reading:
    """What a read sees: its guild (None: no guild has plans yet), the plan rules as that guild
    sees them (its coaches, its today), and its setup."""

    guild: str | None
    plans: PlanService
    setup: Setup | None = None


async def reading(
    request: Request, params: dict[str, str], services: Services, read: Callable[[Reading], T]
) -> T:
    """`read`, for the guild the request is about (a guild read key's own, else as _guild
    says). The guild's setup (read at every request, so a change made on another instance
    applies at once) and what `read` reads share one worker-thread call: one hop off the event
    loop per read. Refused with 401 when the guild has a read key and the request carries
    neither it nor API_KEY."""
    guild = await access.key_guild(request, services, params.get("guild"))
    if guild is None:
        guild = await _guild(params, services)
    if guild is None:
        return read(Reading(None, services.plans))  # nothing was posted: no database to ask

    def in_guild(plans: PlanService, setup: Setup) -> T:
        access.check(request, setup.key_hash is not None)  # before anything of it is read
        return read(Reading(guild, plans, setup))

    return (await services.read_as(guild, in_guild))[2]


def nothing_posted(plans: PlanService, params: dict[str, str]) -> PlanNotFound:
    """The answer to a read of one plan before any guild posted one (its coach and date
    checked first, as any read checks them)."""
    coach, day = plans.coach(params["coach"]), plans.day(params.get("date"))
    return PlanNotFound(f"Coach {coach} has no plan for {day}: no plans were posted yet.")


async def coaches(request: Request) -> Response:
    """The guild's coaches (its roster, or COACHES) and its time zone."""
    params = _params(request, ("guild",))
    services = services_for(request)
    seen = await reading(request, params, services, lambda seen: seen)
    setup = seen.setup
    listed = [{"name": name, "members": [], "roles": []} for name in services.settings.coaches]
    if setup is not None and setup.has_roster:
        listed = [
            {"name": c.name, "members": list(c.members), "roles": list(c.roles)}
            for c in setup.coaches
        ]
    body = {
        "guild_id": seen.guild,
        "timezone": seen.plans.timezone.key,
        "source": "roster" if setup is not None and setup.has_roster else "default",
        "coaches": listed,
    }
    return answer(models.Roster.model_validate(body))


async def _guild(params: dict[str, str], services: Services) -> str | None:
    """The guild a read is about; None when no guild has plans yet (nothing to find)."""
    named = params.get("guild")
    if named is not None:
        if not _SNOWFLAKE.fullmatch(named):
            raise HTTPException(
                400,
                f"guild {named[:40]!r} is not a Discord server id (digits only).",
            )
        return named
    if services.settings.default_guild_id is not None:
        return services.settings.default_guild_id
    # Kept in memory: the read then costs the one round trip a read naming its guild costs.
    guilds = services.plans.known_guilds()
    if guilds is None:
        guilds = await services.read(services.plans.guilds_with_plans)
    if len(guilds) > 1:
        raise GuildRequired(
            "Plans of several servers are kept here: name one with guild=<server id>, or set "
            "DEFAULT_GUILD_ID."
        )
    return guilds[0] if guilds else None


def _params(
    request: Request, allowed: Collection[str], required: str | None = None
) -> dict[str, str]:
    """The query as a plain dict; refuses what a reader would get silently wrong."""
    if len(request.scope["query_string"]) > MAX_QUERY_BYTES or _has_body(request):
        raise HTTPException(
            413,
            f"Request too large: reads take a query of at most "
            f"{MAX_QUERY_BYTES} bytes and no body.",
        )
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            # A typo such as `data=` would otherwise return today's plan without a word.
            raise HTTPException(
                422, f"Unknown query parameter {name!r}; this endpoint takes {_names(allowed)}."
            )
        if name in params:
            raise HTTPException(422, f"Query parameter {name!r} is given more than once.")
        params[name] = value
    if required is not None and required not in params:
        example = _EXAMPLES[required]
        raise HTTPException(
            422, f"Query parameter {required!r} is required, e.g. ?{required}={example}."
        )
    return params


# What a missing required parameter's hint shows: a value of the parameter's own kind.
_EXAMPLES = {"coach": "d", "ticker": "SPY"}


def _has_body(request: Request) -> bool:
    headers = request.headers
    return "transfer-encoding" in headers or headers.get("content-length", "0") not in ("", "0")


def _names(allowed: Collection[str]) -> str:
    return ", ".join(repr(name) for name in allowed)


def _base_url(request: Request, services: Services) -> str:
    return services.settings.public_base_url or str(request.base_url).rstrip("/")
