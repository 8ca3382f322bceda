"""A price bar and the interface every price source offers (PRICE_SOURCE chooses one).

Kept free of pandas and of any network client: the grading rules and the storage import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: `start` (aware, UTC) and its prices."""

    start: datetime
    open: float
    high: float
    low: float
    close: float


@dataclass(frozen=True, slots=True)
class Session:
    """A market session's regular hours (aware datetimes; an early close is its close)."""

    open: datetime
    close: datetime


class PriceSourceError(Exception):
    """The source could not answer (down, refused, malformed): the plans stay pending."""


class PriceSource(Protocol):
    """Where bars come from. Another source is one class with these two members."""

    name: str

    def bars(self, ticker: str, start: datetime, end: datetime) -> list[Bar]:
        """The ticker's bars that start in [start, end), oldest first; [] when it has none.
        Raises PriceSourceError when the source itself failed."""
        ...
