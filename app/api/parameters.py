"""The query parameters of the read API, as the OpenAPI document (openapi.py) lists them."""

from __future__ import annotations

from typing import Any

from app.plans import levels

# A JSON object as the document holds it.
JSON = dict[str, Any]


def _query(name: str, description: str, schema: JSON, *, required: bool = False) -> JSON:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


COACH = _query(
    "coach",
    "The coach's name: one of the guild's coaches (GET /api/coach-plans/coaches). The enum "
    "lists COACHES, the coaches of a guild without a roster of its own.",
    {"type": "string"},  # the enum is filled in from the settings
    required=True,
)
DATE = _query(
    "date",
    "The plan's date (YYYY-MM-DD). Default: today in the service's TIMEZONE.",
    {"type": "string", "format": "date", "example": "2025-03-14"},
)
GUILD = _query(
    "guild",
    "The Discord server (guild) id whose plans to read: each server's plans are its own. "
    "May be left out when DEFAULT_GUILD_ID is set or plans of only one guild exist; "
    "otherwise the answer is 400 `guild_required`.",
    {"type": "string", "pattern": "^[0-9]{1,20}$", "example": "290926798626357999"},
)
_INSTANT = {"type": "string", "format": "date-time", "example": "2025-03-14T13:30:00+00:00"}
_OFFSET = (
    "An ISO 8601 instant with a UTC offset (`Z` or `+hh:mm`); a time without an offset is "
    "refused with 400 rather than guessed."
)
AS_OF = _query(
    "as_of",
    f"{_OFFSET} The answer is the plan's text as it stood at that instant, so a backtest never "
    "sees later edits. 404 when the plan did not exist yet or was already deleted then.",
    _INSTANT,
)
# By ticker answers a list: a plan that did not stand at that instant is left out of it.
AS_OF_LIST = _query(
    "as_of",
    f"{_OFFSET} The answer holds the plans as they stood at that instant, with the levels they "
    "had then, so a backtest never sees later edits; plans not standing then are left out.",
    _INSTANT,
)
TICKER = _query(
    "ticker",
    "One symbol, e.g. SPY (a leading `$` and lower case are accepted). The answer holds the "
    "plans whose levels name it, given with the command or read from the text.",
    # The rule the service applies itself (app/plans/levels.py), so the two cannot drift.
    {"type": "string", "pattern": f"^{levels.TICKER}$", "example": "SPY"},
    required=True,
)
# A plan's history is read a page at a time, so a plan edited a thousand times answers as fast.
HISTORY_LIMIT_MAX = 1000
LIMIT = _query(
    "limit",
    f"How many earlier versions to return, newest first: 1 to {HISTORY_LIMIT_MAX}, default 100. "
    "A page shorter than `limit` is the last one.",
    {"type": "integer", "minimum": 1, "maximum": HISTORY_LIMIT_MAX, "default": 100},
)
BEFORE = _query(
    "before",
    f"{_OFFSET} Only the versions replaced before that instant: pass the last `edited_at` of a "
    "page to read the next, older one.",
    _INSTANT,
)
COACH_OPTIONAL = _query(
    "coach", "Only this coach's record (one of COACHES). Default: every coach.", {"type": "string"}
)
DAYS = _query(
    "days",
    "How many market sessions the record covers, the latest that closed before `as_of`: "
    "1 to 365, default 30.",
    {"type": "integer", "minimum": 1, "maximum": 365, "default": 30},
)
AS_OF_SCORECARD = _query(
    "as_of",
    f"{_OFFSET} Only sessions that closed before it count, so a backtest never sees a result it "
    "could not have known then. Default: now.",
    _INSTANT,
)
