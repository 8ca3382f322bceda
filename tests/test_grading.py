"""The grading job on a real database (SQLite and PostgreSQL) with CSV bars: one row per plan
naming the version graded, edits and deletes after the start ignored, missing bars pending for
a week, a failing or hanging source never turning into a grade; and `coach-plans grade`."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from app.outcomes.grading import Grader
from app.plans.levels import GivenLevels
from app.plans.service import PlanService
from app.prices.bars import Bar
from app.prices.calendar import MarketCalendar
from app.prices.sources import CsvSource
from app.records import Actor, Place
from app.storage.database import make_engine, migrate
from app.storage.outcomes import OutcomeStore
from app.storage.repository import PlanRepository
from tests.support.service_process import BIN, service_env

GUILD = "290926798626357999"
HERE = Place(guild_id=GUILD)
AUTHOR = Actor(id="123456789012345678", name="coach d")
DAY = date(2025, 3, 14)  # a Friday: 13:30 to 20:00 UTC
OPEN = datetime(2025, 3, 14, 13, 30, tzinfo=UTC)
CLOSE = datetime(2025, 3, 14, 20, 0, tzinfo=UTC)
TEXT = "SPY long 100-101, stop 98, targets 104, 106"
CALENDAR = MarketCalendar("XNYS")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def write_bars(folder: Path, ticker: str, *prices: tuple[float, float, float, float]) -> None:
    """Bars from the open, five minutes apart, as the contract's CSV layout has them."""
    lines = ["timestamp,open,high,low,close,volume"]
    for i, (o, h, low, c) in enumerate(prices):
        start = (OPEN + i * timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
        lines.append(f"{start},{o},{h},{low},{c},100")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{ticker}.csv").write_text("\n".join(lines) + "\n")


def service(engine: Engine, clock: Clock) -> PlanService:
    repository = PlanRepository(engine, clock)
    return PlanService(repository, coaches=["d", "i"], timezone=ZoneInfo("UTC"), clock=clock)


def grader(engine: Engine, folder: Path, now: datetime, **kwargs: float) -> Grader:
    return Grader(OutcomeStore(engine), CsvSource(folder), CALENDAR, lambda: now, **kwargs)


WINNING = ((100.5, 101, 100, 100.8), (100.8, 104.5, 100.2, 104), (104, 106.5, 103, 106))


def test_the_version_at_the_open_is_graded_once_and_a_regrade_gives_the_same_row(
    engine: Engine, tmp_path: Path
) -> None:
    clock = Clock(OPEN - timedelta(hours=2))
    plans = service(engine, clock)
    plan = plans.post("d", DAY, TEXT, AUTHOR, place=HERE)
    # After the open the coach moves the stop up and then deletes the plan: neither counts.
    clock.now = OPEN + timedelta(minutes=20)
    plans.edit(GUILD, "d", DAY, AUTHOR, levels=GivenLevels(stop="100.9"))
    clock.now = OPEN + timedelta(hours=1)
    plans.delete(GUILD, "d", DAY, AUTHOR)
    write_bars(tmp_path, "SPY", *WINNING)
    store = OutcomeStore(engine)

    during = grader(engine, tmp_path, CLOSE - timedelta(minutes=1)).grade_due()
    assert during.counts == {} and store.of_plans([plan.id]) == {}  # its session is still open

    report = grader(engine, tmp_path, CLOSE + timedelta(hours=1)).grade_due()
    assert report.lines() == ["target 1"] and not report.source_failed
    outcome = store.of_plans([plan.id])[plan.id]
    assert (outcome.status, outcome.graded_version, outcome.targets_hit) == ("target", 1, 2)
    assert (outcome.entry_fill, outcome.exit_price, outcome.r_multiple) == (100.5, 106, 2.2)
    assert outcome.graded_at == CLOSE + timedelta(hours=1)

    # Graded plans are not due again; asked to re-grade, the same bars give the same row.
    assert grader(engine, tmp_path, CLOSE + timedelta(days=2)).grade_due().counts == {}
    again = grader(engine, tmp_path, CLOSE + timedelta(days=3)).grade_due(since=DAY, again=True)
    assert again.lines() == ["target 1"]
    assert store.of_plans([plan.id])[plan.id] == outcome


def test_missing_bars_stay_pending_for_a_week_then_no_data(engine: Engine, tmp_path: Path) -> None:
    plan = service(engine, Clock(OPEN - timedelta(hours=1))).post(
        "d", DAY, TEXT, AUTHOR, place=HERE
    )
    store = OutcomeStore(engine)
    first = grader(engine, tmp_path, CLOSE + timedelta(days=1)).grade_due()
    assert first.lines() == ["pending 1"]
    pending = store.of_plans([plan.id])[plan.id]
    assert (pending.status, pending.ticker, pending.graded_at) == ("pending", "SPY", None)
    assert grader(engine, tmp_path, CLOSE + timedelta(days=6)).grade_due().lines() == ["pending 1"]
    write_bars(tmp_path, "SPY", *WINNING)  # the data arrives within the week: graded then
    assert grader(engine, tmp_path, CLOSE + timedelta(days=6)).grade_due().lines() == ["target 1"]

    late = service(engine, Clock(OPEN - timedelta(hours=1))).post(
        "i", DAY, TEXT.replace("SPY", "QQQ"), AUTHOR, place=HERE
    )
    assert grader(engine, tmp_path, CLOSE + timedelta(days=8)).grade_due().lines() == [
        "not_graded 1"
    ]
    outcome = store.of_plans([late.id])[late.id]
    assert (outcome.status, outcome.reason) == ("not_graded", "no_data")


def test_a_failing_source_leaves_plans_pending_never_no_data(
    engine: Engine, tmp_path: Path
) -> None:
    plan = service(engine, Clock(OPEN - timedelta(hours=1))).post(
        "d", DAY, TEXT, AUTHOR, place=HERE
    )
    tmp_path.joinpath("SPY.csv").write_text("not,a,price,file\n")
    report = grader(engine, tmp_path, CLOSE + timedelta(days=30)).grade_due()
    assert report.source_failed and report.lines() == ["pending 1"]
    assert OutcomeStore(engine).of_plans([plan.id])[plan.id].status == "pending"


class HangingSource:
    """A price source that never answers (a network call stuck on a dead connection)."""

    name = "hanging"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.asked = 0

    def bars(self, ticker: str, start: datetime, end: datetime) -> list[Bar]:
        self.asked += 1
        self.release.wait()
        return []


def test_a_hanging_source_is_given_up_and_asked_once_per_pass(engine: Engine) -> None:
    plans = service(engine, Clock(OPEN - timedelta(hours=1)))
    plans.post("d", DAY, TEXT, AUTHOR, place=HERE)
    plans.post("i", DAY, TEXT.replace("SPY", "QQQ"), AUTHOR, place=HERE)
    source = HangingSource()
    try:
        graded = Grader(
            OutcomeStore(engine), source, CALENDAR, lambda: CLOSE + timedelta(days=1), 0.3
        )
        report = graded.grade_due()
    finally:
        source.release.set()
    assert report.source_failed and report.lines() == ["pending 2"]
    assert source.asked == 1  # after one failure the pass asks it nothing more


def test_plans_on_a_day_without_a_session_are_market_closed(engine: Engine, tmp_path: Path) -> None:
    saturday = date(2025, 3, 15)
    plan = service(engine, Clock(OPEN)).post("d", saturday, TEXT, AUTHOR, place=HERE)
    report = grader(engine, tmp_path, CLOSE + timedelta(days=2)).grade_due()
    assert report.lines() == ["not_graded 1"]
    assert OutcomeStore(engine).of_plans([plan.id])[plan.id].reason == "market_closed"


def test_grade_command_prints_counts_and_exits_1_when_the_source_failed(tmp_path: Path) -> None:
    database = tmp_path / "data" / "plans.db"
    engine = make_engine(f"sqlite:///{database}")
    migrate(engine)
    plans = service(engine, Clock(OPEN - timedelta(hours=1)))
    plans.post("d", DAY, TEXT, AUTHOR, place=HERE)
    plans.post("i", DAY, "QQQ long 200, stop 199", AUTHOR, place=HERE)
    engine.dispose()
    prices = tmp_path / "prices"
    write_bars(prices, "SPY", *WINNING)
    env = service_env(tmp_path, PRICE_SOURCE=f"csv:{prices}")

    def grade(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(BIN / "coach-plans"), "grade", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    # The session closed long ago: QQQ's bars, never found, are no_data.
    done = grade()
    assert (done.returncode, done.stdout.splitlines()) == (0, ["target 1", "not_graded 1"])
    prices.joinpath("QQQ.csv").write_text("timestamp,open\n")
    failed = grade("--date", DAY.isoformat())
    assert failed.returncode == 1
    assert failed.stdout.splitlines()[:2] == ["target 1", "pending 1"]
    assert "price source" in failed.stdout
    wrong = grade("--date", "14/03/2025")
    assert wrong.returncode == 2 and "YYYY-MM-DD" in wrong.stderr
    off = subprocess.run(
        [str(BIN / "coach-plans"), "grade"], env={**env, "PRICE_SOURCE": "none"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (off.returncode, off.stdout.strip()) == (0, "grading is off (PRICE_SOURCE=none)")


def test_grade_command_leaves_the_plans_to_a_process_already_grading(tmp_path: Path) -> None:
    from app.storage.leases import GRADING, Lease

    database = tmp_path / "data" / "plans.db"
    engine = make_engine(f"sqlite:///{database}")
    migrate(engine)
    service(engine, Clock(OPEN - timedelta(hours=1))).post("d", DAY, TEXT, AUTHOR, place=HERE)
    write_bars(tmp_path / "prices", "SPY", *WINNING)
    env = service_env(tmp_path, PRICE_SOURCE=f"csv:{tmp_path / 'prices'}")
    command = [str(BIN / "coach-plans"), "grade"]
    held = Lease(engine, GRADING, "grading")  # as a running service holds it during its pass
    assert held.acquire()
    try:
        busy = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    finally:
        held.release()
    assert (busy.returncode, busy.stdout.strip()) == (
        0, "another process is grading plans now; nothing done",
    )  # fmt: skip
    assert OutcomeStore(engine).of_plans([1]) == {}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.splitlines()) == (0, ["target 1"])
    engine.dispose()
