"""Which guilds have plans, kept in memory, so a read that names no guild costs no extra round
trip to find the only one."""

from __future__ import annotations

import threading
from collections.abc import Callable

# How stale the guilds a read without `guild=` relies on may be: another instance's first plan
# in a new guild is seen within this many seconds (this instance's own, at once).
GUILDS_FRESH_SECONDS = 3.0


class KnownGuilds:
    """Which guilds have plans, kept in memory: a read that names no guild must know whether
    there is exactly one. The set only grows (a guild's counts row stays), so once it holds as
    many as a read asks about, the answer can no longer change; until then it is asked again
    when older than GUILDS_FRESH_SECONDS."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._guilds: frozenset[str] = frozenset()
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def answer(self, limit: int) -> list[str] | None:
        """Up to `limit` guilds, or None when the database must be asked."""
        guilds = self._guilds
        fresh = (
            self._read_at is not None and self._monotonic() - self._read_at < GUILDS_FRESH_SECONDS
        )
        if len(guilds) >= limit or fresh:
            return sorted(guilds)[:limit]
        return None

    def read(self, guilds: list[str], since: float) -> None:
        """The database's answer, asked at `since` (monotonic)."""
        with self._lock:
            self._guilds = self._guilds.union(guilds)
            if self._read_at is None or since > self._read_at:
                self._read_at = since

    def add(self, guild: str) -> None:
        """A plan of this guild was just committed here."""
        with self._lock:
            self._guilds = self._guilds.union((guild,))

    def since(self) -> float:
        return self._monotonic()
