"""The time a test sets: the app reads it where it would read the system's clock, and the test
moves it on instead of sleeping until an instant has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """A Clock (app/records.py) that stands still until the test moves it."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now if now is not None else datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 1.0) -> datetime:
        """Move on by `seconds`, so what happens next has an instant of its own."""
        self.now += timedelta(seconds=seconds)
        return self.now
