"""The grading rules: what the market did with a plan's call, as pure functions of the plan's
versions, its session's hours and the bars of that session.

Nothing here reads a clock, a database or a price source: the caller hands in `now`, the session
and the bars, so a re-grade with the same bars gives the same outcome. The numbered rules of the
product contract ("Outcomes") are followed one for one; each function says which it implements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from app.prices.bars import Bar, Session
from app.records import Levels, json_number

# Missing bars are looked for again this long after the session's close, then `no_data`.
DATA_GRACE = timedelta(days=7)

__all__ = ["Bar", "Outcome", "Session", "Version", "call_of", "grade", "graded_version", "trade"]

SCORECARD_DAYS, SCORECARD_DAYS_MAX = 30, 365  # a scorecard's sessions: default and most
STATUSES = ("target", "stopped", "open", "not_triggered", "not_graded", "pending")


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a plan: its number (1 = as posted), its levels, and since when it stood."""

    number: int
    levels: Levels
    since: datetime


@dataclass(frozen=True, slots=True)
class Call:
    """What is graded: one ticker, a side, an entry zone, a stop, targets nearest first."""

    ticker: str
    side: str  # "long" | "short"
    entry_low: float
    entry_high: float
    stop: float
    targets: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    plan_id: int
    status: str
    graded_version: int | None = None
    ticker: str | None = None
    side: str | None = None
    reason: str | None = None
    entry_fill: float | None = None
    entry_at: datetime | None = None
    exit_price: float | None = None
    exit_at: datetime | None = None
    targets_hit: int | None = None
    r_multiple: float | None = None
    ambiguous: bool | None = None
    graded_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        def number(value: float | None) -> float | int | None:
            return None if value is None else json_number(value)

        return {
            "plan_id": self.plan_id,
            "graded_version": self.graded_version,
            "ticker": self.ticker,
            "side": self.side,
            "status": self.status,
            "reason": self.reason,
            "entry_fill": number(self.entry_fill),
            "entry_at": self.entry_at,
            "exit_price": number(self.exit_price),
            "exit_at": self.exit_at,
            "targets_hit": self.targets_hit,
            "r_multiple": self.r_multiple,
            "ambiguous": self.ambiguous,
            "graded_at": self.graded_at,
        }


def call_of(levels: Levels) -> Call | str:
    """Rule 1: the call a version's levels make, or the reason it cannot be graded."""
    if not levels.tickers:
        return "no_ticker"
    if len(levels.tickers) > 1:
        return "several_tickers"
    if levels.entry is None:
        return "no_entry"
    if levels.stop is None:
        return "no_stop"
    low, high = min(levels.entry), max(levels.entry)
    stop = levels.stop
    if levels.bias == "neutral":
        return "neutral"
    side = levels.bias
    if side is None:
        # No stated bias: the stop's side of the zone says which way the call is.
        if stop < low:
            side = "long"
        elif stop > high:
            side = "short"
        else:
            return "no_side"
    if (side == "long" and stop >= low) or (side == "short" and stop <= high):
        return "bad_stop"  # inside the zone, or on the side the trade would profit from
    if side == "long":
        targets = sorted(t for t in levels.targets if t > high)
    else:
        targets = sorted((t for t in levels.targets if t < low), reverse=True)
    return Call(levels.tickers[0], side, low, high, stop, tuple(targets))


def graded_version(
    versions: Sequence[Version], session: Session, deleted_at: datetime | None
) -> tuple[Version, datetime] | str:
    """Rule 2: the version graded and the instant grading starts from, or why none is.

    `versions` oldest first. Posted before the open: the version standing at the open, from the
    open. Posted during the session: the first version, from its posting instant (the bars
    taken are those starting at or after it). Later edits and deletes change nothing."""
    first = versions[0]
    if first.since >= session.close:
        return "posted_after_close"
    if first.since <= session.open:
        version = [v for v in versions if v.since <= session.open][-1]
        start = session.open
    else:
        version, start = first, first.since
    if deleted_at is not None and deleted_at <= start:
        return "deleted"
    return version, start


def window(bars: Sequence[Bar], start: datetime, close: datetime) -> list[Bar]:
    """Rule 3: the bars that start in [start, close), oldest first."""
    return sorted((bar for bar in bars if start <= bar.start < close), key=lambda bar: bar.start)


@dataclass(frozen=True, slots=True)
class Trade:
    status: str  # target | stopped | open | not_triggered
    entry_fill: float | None = None
    entry_at: datetime | None = None
    exit_price: float | None = None
    exit_at: datetime | None = None
    targets_hit: int | None = None
    r_multiple: float | None = None
    ambiguous: bool | None = None


def r_multiple(call: Call, fill: float, exit_price: float) -> float:
    """Rule 6: the result in units of the risk taken (fill to stop), rounded to 2 decimals."""
    if call.side == "long":
        return round((exit_price - fill) / (fill - call.stop), 2)
    return round((fill - exit_price) / (call.stop - fill), 2)


def trade(call: Call, bars: Sequence[Bar], close: datetime) -> Trade:
    """Rules 4 to 6 over a session's windowed bars (non-empty, oldest first)."""
    long = call.side == "long"
    trigger = next(
        (
            i
            for i, bar in enumerate(bars)
            if bar.low <= call.entry_high and bar.high >= call.entry_low
        ),
        None,
    )
    if trigger is None:
        return Trade("not_triggered")
    entry_bar = bars[trigger]
    fill = min(max(entry_bar.open, call.entry_low), call.entry_high)
    hit = 0  # targets hit so far, nearest first
    hit_at: datetime | None = None
    ambiguous = False
    for i in range(trigger, len(bars)):
        bar = bars[i]
        stopped = bar.low <= call.stop if long else bar.high >= call.stop
        # In the trigger bar only the stop counts: the bar's path inside it is unknown.
        reached = hit
        if i > trigger:
            while reached < len(call.targets) and (
                bar.high >= call.targets[reached] if long else bar.low <= call.targets[reached]
            ):
                reached += 1
        if stopped:
            # A bar reaching the stop and a new target counts the stop: the conservative reading.
            ambiguous = reached > hit
            if hit:
                break
            return Trade(
                "stopped", fill, entry_bar.start, call.stop, bar.start, 0,
                r_multiple(call, fill, call.stop), ambiguous,
            )  # fmt: skip
        if reached > hit:
            hit, hit_at = reached, bar.start
        if hit == len(call.targets) and hit:
            break  # every target is in: nothing later changes the outcome
    if hit:
        exit_price = call.targets[hit - 1]
        r = r_multiple(call, fill, exit_price)
        return Trade("target", fill, entry_bar.start, exit_price, hit_at, hit, r, ambiguous)
    exit_price = bars[-1].close
    if call.targets:
        # Only the trigger bar can close beyond a target unhit (targets count from the next bar);
        # such a close is credited no more than the farthest target.
        far = call.targets[-1]
        exit_price = min(exit_price, far) if long else max(exit_price, far)
    r = r_multiple(call, fill, exit_price)
    return Trade("open", fill, entry_bar.start, exit_price, close, 0, r, False)


def grade(
    plan_id: int,
    versions: Sequence[Version],
    deleted_at: datetime | None,
    session: Session | None,
    bars: Sequence[Bar] | None,
    now: datetime,
) -> Outcome:
    """A plan's outcome (rules 1 to 7). `session` None: the date is not a session. `bars`: the
    ticker's bars around the session, or None when they were not fetched yet."""
    if session is None:
        return Outcome(plan_id, "not_graded", reason="market_closed", graded_at=now)
    if now < session.close:
        return Outcome(plan_id, "pending")
    chosen = graded_version(versions, session, deleted_at)
    if isinstance(chosen, str):
        return Outcome(plan_id, "not_graded", reason=chosen, graded_at=now)
    version, start = chosen
    call = call_of(version.levels)
    if isinstance(call, str):
        return Outcome(plan_id, "not_graded", version.number, reason=call, graded_at=now)
    outcome = Outcome(plan_id, "pending", version.number, call.ticker, call.side)
    taken = window(bars or (), start, session.close)
    if not taken:
        if now < session.close + DATA_GRACE:
            return outcome  # the bars may come later: looked for again
        return replace(outcome, status="not_graded", reason="no_data", graded_at=now)
    if deleted_at is not None and deleted_at <= taken[0].start:
        return replace(outcome, status="not_graded", reason="deleted", graded_at=now)
    result = trade(call, taken, session.close)
    traded = {field.name: getattr(result, field.name) for field in fields(Trade)}
    return replace(outcome, **traded, graded_at=now)


class Scored(Protocol):
    """An outcome as a scorecard counts it (app/storage/outcomes.py's rows)."""

    @property
    def coach(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def r_multiple(self) -> float | None: ...


def scorecard_lines(
    rows: Sequence[Scored], coach: str | None, coaches: Sequence[str]
) -> list[dict[str, Any]]:
    """The scorecard of `coach`, or of every coach (the listed ones, then any other with
    rows), in that order."""
    names = [coach] if coach is not None else list(coaches)
    names += sorted({row.coach for row in rows} - set(names))
    return [
        scorecard_line(name, [(r.status, r.r_multiple) for r in rows if r.coach == name])
        for name in names
    ]


def scorecard_line(coach: str, found: Sequence[tuple[str, float | None]]) -> dict[str, Any]:
    """One coach's scorecard from its outcomes' (status, R): graded = neither pending nor
    not_graded; triggered = target + stopped + open; averages over the triggered."""
    count = {status: 0 for status in STATUSES}
    r_values = []
    for status, r in found:
        count[status] += 1
        if status in ("target", "stopped", "open") and r is not None:
            r_values.append(r)
    wins, losses = count["target"], count["stopped"]
    total = round(sum(r_values), 2)
    return {
        "coach": coach,
        "graded": sum(count[s] for s in ("target", "stopped", "open", "not_triggered")),
        "triggered": wins + losses + count["open"],
        "wins": wins,
        "losses": losses,
        "open": count["open"],
        "not_triggered": count["not_triggered"],
        "win_rate": round(wins / (wins + losses), 4) if wins + losses else None,
        "avg_r": round(total / len(r_values), 2) if r_values else None,
        "total_r": total if r_values else None,
    }
