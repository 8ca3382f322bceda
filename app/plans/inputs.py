"""The plan rules' checks of input: coach names, dates, text, chart counts and levels.

PlanService (app/plans/service.py) inherits them; commands and the API call them to refuse bad input
before any storage work.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app import text_rules
from app.errors import BadDate, BadLevels, BadText, TooManyCharts, UnknownCoach
from app.plans import levels
from app.plans.levels import GivenLevels

MAX_TEXT = 4000  # Discord's longest text input, so a plan always fits the modal editor
_TICKER = re.compile(levels.TICKER)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # \d would take other scripts' digits


class PlanInputs:
    coaches: tuple[str, ...]
    timezone: ZoneInfo
    max_charts: int
    clock: Callable[[], datetime]  # now, as an aware datetime

    def today(self) -> date:
        return self.clock().astimezone(self.timezone).date()

    def coach(self, name: str | None) -> str:
        """A coach name from COACHES, whatever case it was typed in."""
        wanted = (name or "").strip().lower()
        if wanted in self.coaches:
            return wanted
        names = ", ".join(self.coaches)
        if not wanted:
            raise UnknownCoach(f"No coach given. Coaches are: {names}.")
        raise UnknownCoach(f"Unknown coach {name!r}. Coaches are: {names}.")

    def day(self, value: str | date | None) -> date:
        """A real calendar date in YYYY-MM-DD; none means today in TIMEZONE."""
        if value is None:
            return self.today()
        if isinstance(value, date):
            return value
        text = value.strip().lower()
        if text == "today":
            return self.today()
        if text == "yesterday":
            return self.today() - timedelta(days=1)
        example = self.today().isoformat()
        if not _DATE.fullmatch(text):
            raise BadDate(
                f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. {example} "
                "(or today, yesterday)."
            )
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise BadDate(
                f"{value!r} is not a real calendar date: write it as YYYY-MM-DD, e.g. {example}."
            ) from None

    @staticmethod
    def text(value: str | None) -> str:
        text = text_rules.multiline(value)
        if not text:  # nothing visible: whitespace, zero-width spaces, control characters
            raise BadText("The plan text is empty: write what you plan to trade.")
        if len(text) > MAX_TEXT:
            raise BadText(
                f"The plan text is {len(text)} characters; the limit is {MAX_TEXT}. "
                "Shorten it, or put details in chart images."
            )
        return text

    def _check_chart_count(self, existing: int, adding: int) -> None:
        if existing + adding > self.max_charts:
            room = max(self.max_charts - existing, 0)
            raise TooManyCharts(
                f"A plan holds at most {self.max_charts} charts; this one has {existing} and "
                f"you added {adding}. Add at most {room}."
            )

    @staticmethod
    def given_levels(given: GivenLevels) -> GivenLevels:
        """Refuses level options that are not levels (a stop that is not a price, a zone
        written backwards) before anything is saved."""
        levels.check(given)
        return given

    @staticmethod
    def ticker(value: str | None) -> str:
        """One symbol, upper case, without its `$`."""
        match = _TICKER.fullmatch(value or "")
        if match is None:
            raise BadLevels(f"{(value or '')[:20]!r} is not one ticker: name one, e.g. SPY.")
        return match[1].upper()
