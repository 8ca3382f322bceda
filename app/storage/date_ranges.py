"""The dates whose ISO text starts with what a user has typed, as a range of dates: date
autocomplete then asks for a range an index answers, instead of a cast to text for LIKE."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

_DATE_PREFIX = re.compile(r"[0-9]{0,4}|[0-9]{4}-[0-9]{0,2}|[0-9]{4}-[0-9]{2}-[0-9]{0,2}")


def date_range(prefix: str) -> tuple[date, date] | None:
    """The first and last date whose ISO text starts with `prefix` (ISO dates sort as their
    text does, so they are one range); None when no date can start so."""
    if not _DATE_PREFIX.fullmatch(prefix):
        return None
    low = _date_at_or_after(prefix + "0000-00-00"[len(prefix) :])
    high = _date_at_or_before(prefix + "9999-99-99"[len(prefix) :])
    if low is None or high is None or low > high:
        return None
    return low, high


def _date_at_or_after(text: str) -> date | None:
    year, month, day = (int(part) for part in text.split("-"))
    if year == 0:
        year, month, day = 1, 1, 1
    if month > 12:
        year, month, day = year + 1, 1, 1
    month, day = max(month, 1), max(day, 1)
    if day > calendar.monthrange(year, month)[1]:
        year, month, day = (year + 1, 1, 1) if month == 12 else (year, month + 1, 1)
    return date(year, month, day) if year <= date.max.year else None


def _date_at_or_before(text: str) -> date | None:
    year, month, day = (int(part) for part in text.split("-"))
    month = min(month, 12)
    if month == 0:
        year, month, day = year - 1, 12, 31
    if year < 1:
        return None
    if day == 0:
        return date(year, month, 1) - timedelta(days=1) if (year, month) > (1, 1) else None
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))
