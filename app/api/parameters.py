"""The query parameters of the read API, as the OpenAPI document (openapi.py) lists them."""

from __future__ import annotations

from typing import Any

# A JSON object as the document holds it.
JSON = dict[str, Any]

COACH: JSON = {
    "name": "coach",
    "in": "query",
    "required": True,
    "description": "The coach's name, one of COACHES.",
    "schema": {"type": "string"},  # the enum is filled in from the settings
}
DATE: JSON = {
    "name": "date",
    "in": "query",
    "required": False,
    "description": "The plan's date (YYYY-MM-DD). Default: today in the service's TIMEZONE.",
    "schema": {"type": "string", "format": "date", "example": "2025-03-14"},
}
GUILD: JSON = {
    "name": "guild",
    "in": "query",
    "required": False,
    "description": (
        "The Discord server (guild) id whose plans to read: each server's plans are its own. "
        "May be left out when DEFAULT_GUILD_ID is set or plans of only one guild exist; "
        "otherwise the answer is 400 `guild_required`."
    ),
    "schema": {"type": "string", "pattern": "^[0-9]{1,20}$", "example": "290926798626357999"},
}
AS_OF: JSON = {
    "name": "as_of",
    "in": "query",
    "required": False,
    "description": (
        "An ISO 8601 instant with a UTC offset (`Z` or `+hh:mm`). The answer is the plan's text "
        "as it stood at that instant, so a backtest never sees later edits. 404 when the plan "
        "did not exist yet or was already deleted then. A time without an offset is refused "
        "with 400 rather than guessed."
    ),
    "schema": {"type": "string", "format": "date-time", "example": "2025-03-14T13:30:00+00:00"},
}

TICKER: JSON = {
    "name": "ticker",
    "in": "query",
    "required": True,
    "description": (
        "One symbol, e.g. SPY (a leading `$` and lower case are accepted). The answer holds the "
        "plans whose levels name it, given with the command or read from the text."
    ),
    "schema": {
        "type": "string",
        "pattern": "^\\$?[A-Za-z][A-Za-z0-9]{0,9}([.-][A-Za-z0-9]{1,4})?$",
        "example": "SPY",
    },
}
