"""The JSON bodies the HTTP API answers with, as pydantic models: they serialise every answer
and are the source of every body schema in the OpenAPI document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PlainSerializer, RootModel
from starlette.responses import Response

from app.records import json_number


def utc_iso(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with an explicit +00:00 offset (pydantic's own form would end in Z)."""
    # SQLite hands back naive datetimes; the service stores UTC, so naive means UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC).isoformat()
    return moment.astimezone(dt.UTC).isoformat()


# A moment, written as utc_iso writes it; documented as a date-time string.
Instant = Annotated[dt.datetime, PlainSerializer(utc_iso, return_type=str)]
# A price: 950 stays 950 in JSON rather than 950.0, as the trader wrote it.
Price = Annotated[float, PlainSerializer(json_number, return_type=int | float)]
# Discord ids exceed JavaScript's safe integers, so they always travel as strings.
Snowflake = Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]


class _Body(BaseModel):
    # A body holds exactly its fields: the document says so (additionalProperties: false).
    # Each model is built on first use: a cold start's first answer (a PONG) needs none.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Chart(_Body):
    """A chart image of a plan."""

    id: int
    url: str = Field(description="Absolute URL of the image.", json_schema_extra={"format": "uri"})
    filename: str
    content_type: str | None


class Entry(_Body):
    """An entry price (low == high) or zone."""

    low: Price
    high: Price


class Levels(_Body):
    """The plan version's levels: as given with the command, or as read from its text."""

    tickers: list[str] = Field(description="Symbols, upper case, e.g. SPY.")
    bias: Literal["long", "short", "neutral"] | None
    entry: Entry | None
    stop: Price | None
    targets: list[Price]
    source: Literal["given", "extracted", "none"] = Field(
        description="`given` with the command, `extracted` from the text, or `none`."
    )


class Plan(_Body):
    """One coach's plan for one date."""

    id: int
    coach: str
    date: dt.date
    plan: str = Field(description="The plan's text.")
    author: str | None
    author_id: Snowflake | None
    channel: str | None
    channel_id: Snowflake | None
    guild_id: Snowflake | None
    created_at: Instant = Field(description="UTC.")
    edited_at: Instant | None = Field(description="UTC; null if never edited.")
    charts: list[Chart]
    levels: Levels = Field(description="Versioned with the text: an as_of read gives its own.")
    outcome: Outcome | None = Field(
        description="What the market did with the plan; null when grading is off "
        "(PRICE_SOURCE none), or for an as_of read before it was graded.",
    )


class Outcome(_Body):
    """A plan graded against the market (the contract's grading rules)."""

    plan_id: int
    graded_version: int | None = Field(description="The version graded (1 = as posted).")
    ticker: str | None
    side: Literal["long", "short"] | None
    status: Literal["target", "stopped", "open", "not_triggered", "not_graded", "pending"]
    reason: str | None = Field(description="Why it is not graded; null otherwise.")
    entry_fill: Price | None
    entry_at: Instant | None
    exit_price: Price | None
    exit_at: Instant | None
    targets_hit: NonNegativeInt | None
    r_multiple: float | None
    ambiguous: bool | None = Field(description="A bar reached the stop and an unhit target.")
    graded_at: Instant | None


class CoachRecord(_Body):
    """One coach's record over the scorecard's sessions."""

    coach: str
    graded: NonNegativeInt
    triggered: NonNegativeInt
    wins: NonNegativeInt
    losses: NonNegativeInt
    open: NonNegativeInt
    not_triggered: NonNegativeInt
    win_rate: float | None
    avg_r: float | None
    total_r: float | None


class Scorecard(_Body):
    """Each coach's record over the plans dated in the `days` sessions that closed before
    `as_of`."""

    as_of: Instant
    days: int
    coaches: list[CoachRecord]


class PlanList(_Body):
    """Every coach's plan for one date, ordered by coach."""

    date: dt.date
    count: NonNegativeInt
    plans: list[Plan]


class TickerPlans(_Body):
    """The plans of one date whose levels name a ticker, ordered by coach."""

    date: dt.date
    ticker: str
    count: NonNegativeInt
    plans: list[Plan]


class HistoryEntry(_Body):
    """An earlier text of a plan."""

    plan_text: str = Field(description="The text before that edit.")
    edited_by: str | None
    edited_at: Instant = Field(description="UTC.")


class Deletion(_Body):
    """Who deleted a plan, when, and the text it had then."""

    by: str = Field(description="The name of whoever deleted it (the author or a moderator).")
    by_id: Snowflake = Field(description="Their Discord user id.")
    at: Instant = Field(description="When it was deleted; UTC.")
    plan_text: str = Field(description="The plan's last text: the one it had when deleted.")


class History(_Body):
    """A plan's earlier texts. Without a live plan for the coach and date, those of the deleted
    one (the last deleted, if several), whose `deleted` says by whom and when."""

    coach: str
    date: dt.date
    plan_id: int
    history: list[HistoryEntry] = Field(description="Earlier texts, newest first.")
    deleted: Deletion | None = Field(
        description="null for a live plan; for a deleted one, who deleted it, when, and its "
        "last text (not in `history`, which holds the texts edits replaced)."
    )


class RosterCoach(_Body):
    """A coach of the guild and who posts as it."""

    name: str
    members: list[str] = Field(description="User ids bound to the coach (empty for defaults).")
    roles: list[str] = Field(description="Role ids bound to the coach (empty for defaults).")


class Roster(_Body):
    """A guild's coaches (its roster, or the default COACHES) and its time zone."""

    guild_id: str | None
    timezone: str = Field(description="IANA zone deciding the guild's today.")
    source: Literal["roster", "default"]
    coaches: list[RosterCoach]


class Error(_Body):
    """Every error answer."""

    error: str = Field(description="A stable code, e.g. `not_found`.")
    message: str = Field(description="What was wrong, for a person to read.")
    request_id: str | None = Field(description="Also in X-Request-ID.")


# --- status -------------------------------------------------------------------------------------


class Index(_Body):
    """The service's name, version and endpoints."""

    name: str
    version: str
    endpoints: list[str] = Field(description="`METHOD /path`, as in the route table.")


class DatabaseUp(_Body):
    status: Literal["up"]
    plan_count: NonNegativeInt


class DatabaseDown(_Body):
    status: Literal["down"]
    error: str = Field(description="The kind of failure (an exception's class name).")


class DiscordStatus(_Body):
    status: Literal["configured", "mock"]


class ChartsStatus(_Body):
    status: Literal["up", "down"] = Field(
        description="Whether the chart store can be written to and read now."
    )
    backend: Literal["directory", "bucket"] = Field(
        description="Where archived charts are kept: CHART_STORAGE_DIR or CHART_BUCKET."
    )


class Components(_Body):
    database: DatabaseUp | DatabaseDown
    discord: DiscordStatus
    charts: ChartsStatus


class Health(_Body):
    """Whether the service and its database are up."""

    status: Literal["healthy", "unhealthy"]
    timestamp: Instant
    version: str
    components: Components


class HealthStatus(_Body):
    """/health to a caller without the key when API_KEY is set: up or down, nothing more."""

    status: Literal["healthy", "unhealthy"]
    timestamp: Instant


class HealthAnswer(RootModel[Health | HealthStatus]):
    """/health when API_KEY is set: Health to the key's holders, HealthStatus to anyone else."""


class RequestCounts(_Body):
    total: NonNegativeInt
    success: NonNegativeInt
    error: NonNegativeInt
    error_rate_percent: float = Field(ge=0, le=100)


class InteractionCounts(_Body):
    total: NonNegativeInt
    by_command: dict[str, NonNegativeInt]


class DatabaseCounts(_Body):
    total_plans: NonNegativeInt
    total_charts: NonNegativeInt
    total_edits: NonNegativeInt


class Metrics(_Body):
    """Request, interaction and database counters."""

    timestamp: Instant
    uptime_seconds: float = Field(ge=0)
    requests: RequestCounts
    interactions: InteractionCounts
    database: DatabaseCounts


# What the OpenAPI document lists under components/schemas (with the models these refer to).
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    Plan,
    Outcome,
    Scorecard,
    PlanList,
    TickerPlans,
    History,
    Error,
    Index,
    Health,
    HealthStatus,
    HealthAnswer,
    Metrics,
)


def answer(
    body: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response holding `body`, serialised by its model (pydantic-core, no json.dumps)."""
    return Response(
        body.__pydantic_serializer__.to_json(body),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )
