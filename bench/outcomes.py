"""The `outcomes` case: grading a year of one coach's plans from CSV bars (250 sessions x 78
five-minute bars), and `/plans` answered while the price source hangs.

The year is graded in this process, as `coach-plans grade` does it, and set against the bare
cost of reading the same CSV file, measured in the same run. The hanging source is a real one:
PRICE_SOURCE=csv:<dir> whose SPY.csv is a named pipe no one writes to, so the grading pass at
the server's start blocks on it (until its deadline) while wrk sends `/plans`; the same server
with PRICE_SOURCE=none is the baseline, in turn, ROUNDS times.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from run import Bench, Result

YEAR = 2025
BAR = timedelta(minutes=5)
ROUNDS = 3


def write_year(folder: Path) -> list[tuple[date, datetime, float]]:
    """SPY.csv: a random walk over every session of YEAR; each session's (date, open, price)."""
    from app.prices.calendar import MarketCalendar

    calendar = MarketCalendar("XNYS")
    rng = random.Random(27)
    price = 500.0
    lines = ["timestamp,open,high,low,close,volume"]
    sessions = []
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        session = calendar.session(day)
        if session is not None:
            sessions.append((day, session.open, price))
            start = session.open
            while start < session.close:
                close = max(1.0, price + rng.gauss(0, 0.6))
                high = max(price, close) + abs(rng.gauss(0, 0.3))
                low = min(price, close) - abs(rng.gauss(0, 0.3))
                stamp = start.isoformat().replace("+00:00", "Z")
                lines.append(f"{stamp},{price:.2f},{high:.2f},{low:.2f},{close:.2f},1000")
                price, start = close, start + BAR
        day += timedelta(days=1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SPY.csv").write_text("\n".join(lines) + "\n")
    return sessions


def seed(database: Path, plans: list[tuple[date, datetime, str]]) -> None:
    """Coach d's plans, each posted at its instant, through the service's own rules."""
    from app.plans.service import Actor, Place, PlanService
    from app.settings import load_settings
    from app.storage.database import make_engine, migrate
    from app.storage.repository import PlanRepository

    settings = load_settings(database_path=database, mock_mode=True, plan_days_back=0)
    engine = make_engine(settings.database_url)
    migrate(engine)
    now = [datetime.now(UTC)]
    service = PlanService(
        PlanRepository(engine, lambda: now[0]),
        coaches=settings.coaches,
        timezone=settings.zone,
        clock=lambda: now[0],
    )
    for day, posted, text in plans:
        now[0] = posted
        service.post("d", day, text, Actor("1", "coach d"), place=Place("200000000000000001"))
    engine.dispose()


def _seconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def grade_a_year(b: Bench) -> dict[str, object]:
    from sqlalchemy import text

    from app.outcomes.grading import Grader
    from app.prices.calendar import MarketCalendar
    from app.prices.sources import CsvSource, read_csv
    from app.storage.database import make_engine
    from app.storage.outcomes import OutcomeStore

    prices = b.work / "year-prices"
    sessions = write_year(prices)
    plans = [
        (day, opens - timedelta(hours=1), f"SPY long {p - 0.5:.2f}-{p + 0.5:.2f}, "
         f"stop {p - 3:.2f}, targets {p + 2:.2f}, {p + 4:.2f}")
        for day, opens, p in sessions
    ]  # fmt: skip
    database = b.work / "year.db"
    seed(database, plans)
    engine = make_engine(f"sqlite:///{database}")
    after = datetime(YEAR + 1, 2, 1, tzinfo=UTC)
    calendar = MarketCalendar("XNYS")
    calendar.session(date(YEAR, 1, 2))  # the calendar's load is not the grading's cost
    parse, first, again = [], [], []
    counts: dict[str, int] = {}
    for _ in range(ROUNDS):
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM plan_outcomes"))
        grader = Grader(OutcomeStore(engine), CsvSource(prices), calendar, lambda: after)
        parse.append(_seconds(lambda: read_csv(prices / "SPY.csv")))
        started = time.perf_counter()
        counts = dict(grader.grade_due().counts)
        first.append(time.perf_counter() - started)
        started = time.perf_counter()
        grader.grade_due(again=True)
        again.append(time.perf_counter() - started)
    engine.dispose()
    bars = sum(1 for _ in (prices / "SPY.csv").open()) - 1
    row = {
        "sessions": len(sessions),
        "bars": bars,
        "plans": len(plans),
        "statuses": counts,
        "csv_parse_s": statistics.median(parse),
        "grade_s": statistics.median(first),
        "regrade_s": statistics.median(again),
    }
    ratio = row["grade_s"] / row["csv_parse_s"]  # type: ignore[operator]
    print(f"== Grading a year: {len(plans)} plans, {len(sessions)} sessions, {bars} bars")
    print(f"{'bare: parse SPY.csv':<36}{row['csv_parse_s']:>9.3f} s")
    print(f"{'grade every plan (first pass)':<36}{row['grade_s']:>9.3f} s")
    print(f"{'re-grade (same bars, rows kept)':<36}{row['regrade_s']:>9.3f} s")
    print(f"statuses {counts}; ratio grade/parse {ratio:.2f} (median of {ROUNDS})\n")
    row["ratio_grade_to_parse"] = ratio
    return row


def plans_while_the_source_hangs(b: Bench) -> dict[str, object]:
    """The same server and plans with a healthy CSV source and with one that hangs, in turn.
    Each run's load starts once the start's grading pass has asked its source for bars (the
    server's DEBUG log says so): the healthy one has graded, the hanging one is stuck."""
    from run import SEED_DAY, _data, show

    healthy, hanging = b.work / "healthy-prices", b.work / "hanging-prices"
    write_bars_of(healthy, SEED_DAY)
    hanging.mkdir(exist_ok=True)
    if not (hanging / "SPY.csv").exists():
        os.mkfifo(hanging / "SPY.csv")  # opening it for reading waits for a writer, forever
    posted = datetime.combine(SEED_DAY, datetime.min.time(), UTC) + timedelta(hours=12)
    plans = [
        (SEED_DAY - timedelta(days=7 * n), posted - timedelta(days=7 * n),
         "SPY long 950-951, stop 940, target 960")
        for n in range(20)
    ]  # fmt: skip
    command = _data("plans", date=SEED_DAY.isoformat())
    results: list[Result] = []
    ratios = []
    for _ in range(ROUNDS):
        pair = []
        for label, folder in (("healthy", healthy), ("hanging", hanging)):
            name = f"plans-{label}-{len(results)}"
            seed(Path(b.ours_env(name)["DATABASE_PATH"]), plans)
            requests = b.requests_file(
                "plans", [b.interaction(2, command) for _ in range(b.budget(3000))]
            )
            env = {"PRICE_SOURCE": f"csv:{folder}", "LOG_LEVEL": "DEBUG"}
            ctx, base = b.ours(name, env)
            with ctx:
                _wait_for(Path(b.ours_env(name)["LOG_FILE"]), "asking the price source")
                pair.append(
                    b.wrk(f"ours: /plans, source {label}", base + "/interactions", requests)
                )
        results += pair
        ratios.append(pair[1].requests_per_s / pair[0].requests_per_s)
    shown = ", ".join(f"{r:.2f}" for r in ratios)
    ratio = statistics.median(ratios)
    show("/plans while the price source hangs", results,
         f"ratio hanging/healthy {ratio:.2f}, median of {shown}")  # fmt: skip
    return {"results": [r.__dict__ for r in results], "ratio_hanging_to_healthy": ratio}


def write_bars_of(folder: Path, day: date) -> None:
    """SPY.csv with one session's bars, for the healthy source."""
    from app.prices.calendar import MarketCalendar

    session = MarketCalendar("XNYS").session(day)
    assert session is not None
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["timestamp,open,high,low,close"]
    start = session.open
    while start < session.close:
        lines.append(f"{start.isoformat().replace('+00:00', 'Z')},950,955,949,952")
        start += BAR
    (folder / "SPY.csv").write_text("\n".join(lines) + "\n")


def _wait_for(log_file: Path, words: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log_file.exists() and words in log_file.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{log_file} never said {words!r}")


def case_outcomes(b: Bench) -> dict[str, object]:
    return {"year": grade_a_year(b), "hanging": plans_while_the_source_hangs(b)}
