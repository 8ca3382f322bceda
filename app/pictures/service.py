"""What a picture shows, read and checked before anything is drawn, and the cache of drawn
pictures: the same inputs (an outcome as graded, a scorecard's rows) answer at once.

Every call here blocks (database, price source, drawing): callers run it in a worker thread.
A case with nothing to draw (a plan not graded, a ticker without bars, a coach without graded
plans) raises NoPicture with the reason in words, never a broken picture.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING

from cachetools import LRUCache

from app.discord.plan_messages import accent_color
from app.outcomes import rules
from app.pictures import draw
from app.plans.extraction import extract
from app.prices.bars import PriceSource, PriceSourceError
from app.prices.calendar import MarketCalendar
from app.prices.sources import price_source, within
from app.settings import Settings

if TYPE_CHECKING:  # storage (SQLAlchemy) loads with the resources: off the start path
    from app.storage.outcomes import OutcomeStore, ScoredRow

PICTURE_SOURCE_DEADLINE_SECONDS = 10.0  # a user waits on this one
_TRADED = ("target", "stopped", "open")
GRADED = (*_TRADED, "not_triggered")
_REASONS = {
    "no_ticker": "it names no ticker",
    "several_tickers": "it names several tickers",
    "no_entry": "it has no entry",
    "no_stop": "it has no stop",
    "neutral": "its bias is neutral",
    "no_side": "neither a bias nor its stop says long or short",
    "bad_stop": "its stop is inside the entry zone or on the wrong side",
    "market_closed": "the market was closed that day",
    "deleted": "it was deleted before the session opened",
    "no_data": "the price source had no bars for that session",
    "posted_after_close": "it was posted after the session closed",
}


class NoPicture(Exception):
    """Nothing to draw; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Picture:
    filename: str
    png: bytes
    words: str  # the status and R (outcome) or the record's gist (scorecard), in words


def status_words(outcome: rules.Outcome) -> str:
    """The outcome in words: what the title of its picture and the card say."""
    r = "" if outcome.r_multiple is None else f", {outcome.r_multiple:+.2f}R"
    if outcome.status == "target":
        hit = outcome.targets_hit or 1
        return f"target hit ({hit} target{'s' if hit > 1 else ''}){r}"
    if outcome.status == "stopped":
        return f"stopped out{r}"
    if outcome.status == "open":
        return f"open at the close{r}"
    if outcome.status == "not_triggered":
        return "not triggered: price never reached the entry zone"
    if outcome.status == "not_graded":
        return f"not graded: {_REASONS.get(outcome.reason or '', outcome.reason or 'no reason')}"
    return "not graded yet: its session has not closed or its bars are not in yet"


class Pictures:
    def __init__(self, settings: Settings, store: OutcomeStore) -> None:
        self.coaches = tuple(settings.coaches)
        self.store = store
        self.source: PriceSource | None = price_source(settings.price_source)
        self.calendar = MarketCalendar(settings.market_calendar)
        self._cache: LRUCache[object, Picture] = LRUCache(maxsize=128)
        self._lock = threading.Lock()

    def _cached(self, key: object) -> Picture | None:
        with self._lock:
            return self._cache.get(key)

    def _keep(self, key: object, picture: Picture) -> Picture:
        with self._lock:
            self._cache[key] = picture
        return picture

    def colour(self, coach: str) -> str:
        """The coach's colour: its plan cards' accent, so a line reads as its coach."""
        return f"#{accent_color(coach, self.coaches):06x}"

    def outcome(
        self, outcome: rules.Outcome | None, plan_id: int, coach: str, day: date, zone: tzinfo = UTC
    ) -> Picture:
        """The plan's session with its graded version's levels drawn on it, its clock in
        `zone` (the guild's); `outcome` is the plan's as stored (None: none yet), read by the
        caller with the plan."""
        if outcome is None or outcome.status not in GRADED:
            words = status_words(outcome or rules.Outcome(plan_id, "pending"))
            raise NoPicture(f"{coach}'s plan for {day} is {words}.")
        key = ("outcome", outcome, coach, day, zone)
        found = self._cached(key)
        if found is not None:
            return found
        ticker = outcome.ticker or ""
        session = self.calendar.session(day)
        if self.source is None or session is None:
            raise NoPicture("No price source is set (PRICE_SOURCE is none): nothing to draw.")
        try:
            source = self.source
            bars = within(
                lambda: source.bars(ticker, session.open, session.close),
                PICTURE_SOURCE_DEADLINE_SECONDS,
            )
        except PriceSourceError as exc:
            raise NoPicture(f"The price source did not answer for {ticker}: {exc}") from exc
        if not bars:
            raise NoPicture(f"The price source has no {ticker} bars for {day}: nothing to draw.")
        words = status_words(outcome)
        title = f"{coach} · {ticker} {outcome.side or ''} · {day}: {words}"
        png = draw.outcome_png(title, bars, self._call(plan_id, outcome), outcome, zone)
        shown = words[:1].upper() + words[1:]
        return self._keep(key, Picture(f"outcome-{coach}-{day}.png", png, shown))

    def _call(self, plan_id: int, outcome: rules.Outcome) -> rules.Call | None:
        plan = self.store.plan(plan_id)
        if plan is None:
            return None
        for version in plan.versions:
            if version.number == outcome.graded_version:
                levels = version.levels if version.levels is not None else extract(version.text)
                call = rules.call_of(levels)
                return None if isinstance(call, str) else call
        return None

    def scorecard(
        self, rows: Sequence[ScoredRow], sessions: Sequence[date], coach: str | None, days: int
    ) -> Picture:
        """Cumulative R by session, one line per coach with graded plans."""
        graded = sorted(
            (r.coach, r.date, r.status, r.r_multiple) for r in rows if r.status in GRADED
        )
        if not graded:
            who = coach or "any coach"
            raise NoPicture(f"No graded plans for {who} in the last {days} sessions.")
        key = ("scorecard", tuple(sessions), tuple(graded), days)
        found = self._cached(key)
        if found is not None:
            return found
        lines: dict[str, list[float]] = {}
        for name in sorted({row[0] for row in graded}):
            total, values = 0.0, []
            for day in sessions:
                total += sum(
                    r or 0.0 for c, d, s, r in graded if c == name and d == day and s in _TRADED
                )
                values.append(round(total, 2))
            lines[name] = values
        title = f"Cumulative R over the last {len(sessions)} sessions"
        png = draw.scorecard_png(title, sessions, lines, {c: self.colour(c) for c in lines})
        gist = "Total R: " + ", ".join(
            f"{name} {values[-1]:+.2f}R" for name, values in lines.items()
        )
        return self._keep(key, Picture(f"scorecard-{days}d.png", png, gist))


def scorecard_rows(
    pictures: Pictures, guild: str, coach: str | None, days: int, instant: datetime
) -> tuple[list[date], list[ScoredRow]]:
    """The `days` sessions closed before `instant` and the guild's outcomes on them."""
    sessions = pictures.calendar.sessions_closed_before(instant, days)
    return sessions, pictures.store.scored(guild, sessions, instant, coach)
