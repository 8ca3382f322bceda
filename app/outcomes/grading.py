"""The grading job: every plan whose session has closed gets its outcome, once.

Run by the service in the background (at start, then every GRADE_INTERVAL_SECONDS, by one
instance at a time: a lease in the shared database, as chart retries do) and by
`coach-plans grade` from a schedule for a machine that sleeps. The price source is asked in a
thread of its own with a deadline (app/prices/sources.py `within`), and after one failure it is
not asked again in that pass: a source that fails or hangs delays no command, read or start, and
its plans stay pending for the next pass. A session's missing bars are looked for again for a
week (rules.DATA_GRACE), then the plan is not graded (`no_data`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from app.outcomes import rules
from app.plans.extraction import extract
from app.prices.bars import Bar, PriceSource, PriceSourceError, Session
from app.prices.calendar import MarketCalendar
from app.prices.sources import SOURCE_DEADLINE_SECONDS, price_source, session_bounds, within
from app.storage.outcomes import DuePlan, OutcomeStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from app.settings import Settings
    from app.storage.leases import Lease

log = logging.getLogger("coach_plans")

GRADE_INTERVAL_SECONDS = 900.0
_Graded = tuple[DuePlan, rules.Outcome, datetime | None]  # a plan, its outcome, its close


@dataclass
class GradingReport:
    """What one pass did: outcomes written by status ("pending": left for a later pass)."""

    counts: Counter[str] = field(default_factory=Counter)
    source_failed: bool = False

    def lines(self) -> list[str]:
        return [
            f"{status} {self.counts[status]}" for status in rules.STATUSES if self.counts[status]
        ]


class Grader:
    def __init__(
        self,
        store: OutcomeStore,
        source: PriceSource,
        calendar: MarketCalendar,
        clock: Callable[[], datetime] | None = None,
        deadline: float = SOURCE_DEADLINE_SECONDS,
    ) -> None:
        self.store = store
        self.source = source
        self.calendar = calendar
        self.clock = clock or (lambda: datetime.now(UTC))
        self.deadline = deadline

    def grade_due(
        self, since: date | None = None, until: date | None = None, again: bool = False
    ) -> GradingReport:
        """Grade every due plan dated in [since, until] (until: today); `again`: the graded
        ones too (a re-grade that finds what was found before leaves the row as it was)."""
        now = self.clock()
        report = GradingReport()
        bars: dict[tuple[str, date], list[Bar] | None] = {}
        after: tuple[date, int] | None = None
        while True:
            page = self.store.due(until or now.date(), since, after, graded_too=again)
            if not page:
                return report
            after = (page[-1].date, page[-1].plan_id)
            graded = [g for g in (self._one(plan, now, bars, report) for plan in page) if g]
            for _, outcome, _ in graded:
                report.counts[outcome.status] += 1
            if again:
                graded = self._changed(graded)
            self.store.save(graded)

    def _changed(self, graded: list[_Graded]) -> list[_Graded]:
        before = self.store.of_plans(plan.plan_id for plan, _, _ in graded)

        def same(old: rules.Outcome | None, new: rules.Outcome) -> bool:
            if old is None:
                return False
            if new.status == "pending":
                return True  # bars not found now (a source down) never undo a grade
            return replace(old, graded_at=None) == replace(new, graded_at=None)

        return [g for g in graded if not same(before.get(g[0].plan_id), g[1])]

    def _one(
        self,
        plan: DuePlan,
        now: datetime,
        bars: dict[tuple[str, date], list[Bar] | None],
        report: GradingReport,
    ) -> _Graded | None:
        session = self.calendar.session(plan.date)
        if session is not None and now < session.close:
            return None  # its session has not closed: graded by a later pass
        versions = [
            rules.Version(v.number, v.levels if v.levels is not None else extract(v.text), v.since)
            for v in plan.versions
        ]
        close = None if session is None else session.close

        def graded(bars: list[Bar] | None, at: datetime) -> rules.Outcome:
            return rules.grade(plan.plan_id, versions, plan.deleted_at, session, bars, at)

        # As if the session had just closed: does the outcome rest on bars at all? One that
        # does not (no session, no version at the open, no call) is the same now, stamped now.
        first = graded(None, close or now)
        if session is None or first.status != "pending" or first.ticker is None:
            return plan, replace(first, graded_at=now), close
        key = (first.ticker, plan.date)
        if key not in bars:
            bars[key] = None if report.source_failed else self._bars(first.ticker, session, report)
        found = bars[key]
        if found is None:
            return plan, first, close  # the source failed: pending, never no_data for its fault
        return plan, graded(found, now), close

    def _bars(self, ticker: str, session: Session, report: GradingReport) -> list[Bar] | None:
        start, end = session_bounds(session.open, session.close)
        log.debug("asking the price source (%s) for %s bars of %s", self.source.name, ticker, start)
        try:
            return within(lambda: self.source.bars(ticker, start, end), self.deadline)
        except PriceSourceError as exc:
            log.warning("price source %s failed; plans stay pending: %s", self.source.name, exc)
            report.source_failed = True
            return None


def grader_for(
    settings: Settings, engine: Engine, clock: Callable[[], datetime] | None = None
) -> Grader | None:
    """The grader the settings call for; None when PRICE_SOURCE is `none` (grading off)."""
    source = price_source(settings.price_source)
    if source is None:
        return None
    return Grader(OutcomeStore(engine), source, MarketCalendar(settings.market_calendar), clock)


async def keep_grading_plans(
    settings: Settings,
    engine: Engine,
    clock: Callable[[], datetime] | None = None,
    after: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """The service's grading: nothing when PRICE_SOURCE is `none`."""
    from app.storage.leases import GRADING, Lease

    grader = grader_for(settings, engine, clock)
    if grader is not None:
        await keep_grading(grader, Lease(engine, GRADING, "grading"), after=after)


async def keep_grading(
    grader: Grader,
    lease: Lease | None,
    interval: float = GRADE_INTERVAL_SECONDS,
    after: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Background task of the lifespan: a pass now, then every `interval`. Each pass runs in a
    worker thread of its own, so the event loop and the database's reader threads never wait.
    `after` runs after each pass (the daily recaps), whichever instance graded."""
    limiter = anyio.CapacityLimiter(1)
    while True:
        try:
            await anyio.to_thread.run_sync(
                _pass, grader, lease, limiter=limiter, abandon_on_cancel=True
            )
        except Exception:
            log.exception("grading plans failed; will try again later")
        if after is not None:
            try:
                await after()
            except Exception:
                log.exception("posting the daily recaps failed; will try again later")
        await anyio.sleep(interval)


def _pass(grader: Grader, lease: Lease | None) -> None:
    if lease is not None and not lease.acquire():
        log.info("another instance is grading plans; this one leaves them to it")
        return
    try:
        report = grader.grade_due()
    finally:
        if lease is not None:
            lease.release()
    if report.counts:
        log.info("graded plans: %s", ", ".join(report.lines()))


def run(settings: Settings, day: date | None = None, since: date | None = None) -> int:
    """`coach-plans grade`: one pass, its counts on stdout; 1 when the price source failed."""
    from app.storage.database import make_engine, migrate
    from app.storage.leases import GRADING, Lease

    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        grader = grader_for(settings, engine)
        if grader is None:
            print("grading is off (PRICE_SOURCE=none)")
            return 0
        lease = Lease(engine, GRADING, "grading")
        if not lease.acquire():
            print("another process is grading plans now; nothing done")
            return 0
        try:
            report = grader.grade_due(since or day, day, again=bool(day or since))
        finally:
            lease.release()
    finally:
        engine.dispose()
    for line in report.lines() or ["nothing to grade"]:
        print(line)
    if report.source_failed:
        print(f"the price source ({settings.price_source}) failed: those plans stay pending")
        return 1
    return 0
