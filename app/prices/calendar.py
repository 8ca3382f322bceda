"""The market's sessions from exchange-calendars (MARKET_CALENDAR, default XNYS): regular hours,
holidays and early closes, never hand-written. The package (and pandas under it) loads when a
session is first asked for, off the start path."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any

from app.prices.bars import PriceSourceError, Session


class MarketCalendar:
    def __init__(self, name: str) -> None:
        self.name = name
        self._calendar: Any = None
        self._loading = threading.Lock()
        self._sessions: dict[date, Session | None] = {}

    def session(self, day: date) -> Session | None:
        """The day's regular hours, or None when the market does not open that day."""
        if day in self._sessions:
            return self._sessions[day]
        calendar = self._load()
        label = day.isoformat()
        try:
            if not calendar.is_session(label):
                found = None
            else:
                opens, closes = calendar.session_open(label), calendar.session_close(label)
                found = Session(_utc(opens), _utc(closes))
        except ValueError:  # outside the calendar's years: no session known
            found = None
        self._sessions[day] = found
        return found

    def sessions_closed_before(self, instant: datetime, count: int) -> list[date]:
        """The `count` latest sessions whose close is before `instant`, oldest first."""
        calendar = self._load()
        import pandas

        try:
            day = instant.astimezone(calendar.tz).date()
        except OverflowError:  # within a day of datetime's first or last: before or after all
            day = date.min if instant.year == 1 else date.max
        first, last_known = calendar.first_session.date(), calendar.last_session.date()
        if day < first:
            return []
        try:
            if day > last_known:  # beyond the calendar's years: its last session stands in
                last = calendar.last_session
            else:
                last = calendar.date_to_session(pandas.Timestamp(day.isoformat()), "previous")
            if _utc(calendar.session_close(last)) >= instant:
                if last == calendar.first_session:
                    return []
                last = calendar.previous_session(last)
            count = min(count, calendar.sessions.get_loc(last) + 1)
            labels = calendar.sessions_window(last, -count)
        except (ValueError, OverflowError):  # an instant pandas cannot represent
            return []
        return [label.date() for label in labels]

    def _load(self) -> Any:
        with self._loading:
            if self._calendar is None:
                import exchange_calendars

                try:
                    self._calendar = exchange_calendars.get_calendar(self.name)
                except exchange_calendars.errors.InvalidCalendarName as exc:
                    raise PriceSourceError(
                        f"MARKET_CALENDAR {self.name!r} is not an exchange-calendars name"
                    ) from exc
            return self._calendar


def _utc(moment: Any) -> datetime:
    return datetime.fromtimestamp(moment.timestamp(), UTC)
