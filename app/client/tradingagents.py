"""Coach Plans as a data vendor of TradingAgents (its `tradingagents.dataflows.interface`).

    from app.client.tradingagents import register
    tool = register(api_base_url="http://localhost:5000")
    route_to_vendor("get_coach_plans", "SPY", "2025-03-14")   # the plans naming SPY, as text
    # `tool` is the LangChain tool of the same name, for an agent's tool node.

`get_coach_plans(ticker, curr_date)` reads the plans whose levels name the ticker as they stood
at the end of `curr_date` in the guild's time zone (or now, if that is still to come), so a
backtest never sees an edit made later. Its category `coach_plans` is optional: when the service
cannot be reached, TradingAgents answers `DATA_UNAVAILABLE: …` instead of stopping the run, within
CONNECTION_TIMEOUT plus GRACE_SECONDS (an agent waits on it).

TradingAgents and LangChain are imported by `register()`, not by importing this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app import defaults
from app.client import create_client
from app.client.blocking import CoachPlansClient
from app.client.config import resolve_timeout
from app.client.errors import ApiError, InvalidRequest, ServiceUnavailable

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

CATEGORY = "coach_plans"
VENDOR = "coach_plans"
METHOD = "get_coach_plans"
# A read gives up this long after one request's timeout: the retries it has room for fit in.
GRACE_SECONDS = 5.0
# The client the vendor reads with; a new register() closes the one before.
_clients: list[CoachPlansClient] = []


def register(
    api_base_url: str = defaults.API_BASE_URL,
    api_key: str | None = None,
    guild_id: str | int | None = None,
    **client_options: Any,
) -> BaseTool:
    """Adds `get_coach_plans` to TradingAgents' vendors and returns it as a LangChain tool.

    `client_options` go to `create_client` (timezone, reconnect_attempts, …); a read gives
    up after CONNECTION_TIMEOUT + GRACE_SECONDS unless `deadline_seconds` says otherwise.
    The day ends at midnight in `timezone` (else the TIMEZONE environment variable, else
    America/New_York): give the service's TIMEZONE when it is another. Calling it again
    points the vendor at the new service.
    """
    from tradingagents.dataflows import interface

    if client_options.get("deadline_seconds") is None:
        timeout = resolve_timeout(client_options.get("connection_timeout"))
        client_options["deadline_seconds"] = timeout + GRACE_SECONDS
    client = create_client(
        api_base_url=api_base_url, api_key=api_key, guild_id=guild_id, **client_options
    )
    while _clients:
        _clients.pop().close()
    _clients.append(client)

    def get_coach_plans(ticker: str, curr_date: str) -> str:
        return plans_as_text(client, ticker, curr_date)

    interface.TOOLS_CATEGORIES[CATEGORY] = {
        "description": "Trading coaches' daily plans and levels (Coach Plans)",
        "tools": [METHOD],
    }
    interface.VENDOR_METHODS[METHOD] = {VENDOR: get_coach_plans}
    interface.OPTIONAL_CATEGORIES.add(CATEGORY)
    if VENDOR not in interface.VENDOR_LIST:
        interface.VENDOR_LIST.append(VENDOR)
    return _tool(interface.route_to_vendor)


def guild_zone(client: CoachPlansClient) -> ZoneInfo:
    """The guild's own time zone (`/setup timezone`), as the service says it (the client caches
    the answer); the client's TIMEZONE when the service is older than rosters. A service that
    cannot be reached fails here, within one read's deadline."""
    try:
        return ZoneInfo(str(client.fetch_coaches()["timezone"]))
    except (ApiError, KeyError, ValueError, ZoneInfoNotFoundError):
        return client.timezone


def plans_as_text(client: CoachPlansClient, ticker: str, curr_date: str) -> str:
    """The plans naming `ticker` as they stood at the end of `curr_date`, for an LLM to read."""
    day = date.fromisoformat(curr_date.strip()[:10])
    zone = guild_zone(client)
    end_of_day = datetime.combine(day + timedelta(days=1), time(), zone) - timedelta.resolution
    now = datetime.now(zone)  # once: the read and the header name the same instant
    # A day not over yet is read as it is now: the live read (one query, and cached by the
    # client) gives what an as_of of now would.
    as_of = end_of_day.astimezone(UTC) if end_of_day < now else None
    try:
        plans = client.fetch_plans_for_ticker(ticker, day, as_of=as_of)
    except (ApiError, InvalidRequest) as refused:
        if isinstance(refused, ApiError) and refused.code != "bad_levels":
            raise
        plans = []  # not a symbol a coach can name
    if as_of is None:
        when = f"as they stand at {now:%Y-%m-%d %H:%M} {zone.key}, the day not over"
    else:
        when = f"as they stood at {end_of_day:%Y-%m-%d %H:%M} {zone.key}"
    if not plans:
        return f"No coach plan names {ticker} for {day.isoformat()} ({when})."
    header = f"Coach plans naming {ticker} for {day.isoformat()}, {when}:"
    records = _records(client, day, zone)
    return "\n\n".join([header, *(_plan_text(p, records.get(p["coach"]), day) for p in plans)])


RECORD_SESSIONS = 30


def _records(client: CoachPlansClient, day: date, zone: Any) -> dict[str, dict[str, Any]]:
    """Each coach's record over the RECORD_SESSIONS sessions before `day`: as of the day's
    start, so never that day's own outcome. None known when the scorecard cannot be read."""
    start = datetime.combine(day, time(), zone)
    try:
        card = client.fetch_scorecard(days=RECORD_SESSIONS, as_of=start)
    except (ApiError, ServiceUnavailable):
        return {}  # the plans still stand without their coaches' records
    return {row["coach"]: row for row in card.get("coaches", [])}


def _record_line(record: dict[str, Any] | None, day: date) -> str | None:
    if record is None:
        return None
    span = f"Record over the {RECORD_SESSIONS} sessions before {day.isoformat()}"
    if not record["graded"]:
        return f"{span}: no graded plans."
    rate = "n/a" if record["win_rate"] is None else f"{record['win_rate']:.0%}"
    return (
        f"{span}: {record['graded']} graded, {record['triggered']} triggered, "
        f"{record['wins']} reached a target, {record['losses']} stopped, {record['open']} open "
        f"at the close (win rate {rate}), average R {record['avg_r']}, total R {record['total_r']}."
    )


def _plan_text(plan: dict[str, Any], record: dict[str, Any] | None, day: date) -> str:
    levels = plan.get("levels") or {}
    edited = f", edited {plan['edited_at']}" if plan.get("edited_at") else ""
    lines = [
        f"## Coach {plan['coach']} (posted by {plan['author']} at {plan['created_at']}{edited})"
    ]
    stated = _levels_line(levels)
    if stated:
        how = "given by the coach" if levels.get("source") == "given" else "read from the text"
        lines.append(f"Levels ({how}): {stated}")
    track = _record_line(record, day)
    if track:
        lines.append(track)
    lines.append(plan["plan"])
    return "\n".join(lines)


def _levels_line(levels: dict[str, Any]) -> str:
    parts: list[str] = []
    if levels.get("tickers"):
        parts.append(", ".join(levels["tickers"]))
    if levels.get("bias"):
        parts.append(f"bias {levels['bias']}")
    entry = levels.get("entry")
    if entry:
        low, high = entry["low"], entry["high"]
        parts.append(f"entry {low}" if low == high else f"entry zone {low}-{high}")
    if levels.get("stop") is not None:
        parts.append(f"stop {levels['stop']}")
    targets: Sequence[float] = levels.get("targets") or ()
    if targets:
        parts.append("targets " + ", ".join(map(str, targets)))
    return "; ".join(parts)


def _tool(route: Any) -> BaseTool:
    from langchain_core.tools import tool

    @tool(METHOD)
    def get_coach_plans(
        ticker: Annotated[str, "ticker symbol, e.g. SPY"],
        curr_date: Annotated[str, "the trading date, yyyy-mm-dd"],
    ) -> str:
        """The trading coaches' plans for the ticker on that date: each coach's text and
        levels (bias, entry price or zone, stop, targets), as they stood at the end of that
        day. Uses the configured coach_plans vendor."""
        return str(route(METHOD, ticker, curr_date))

    return get_coach_plans
