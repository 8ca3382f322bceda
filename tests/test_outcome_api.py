"""Outcomes over HTTP: the running service grades what closed, at start, in the background;
every plan's JSON carries its `outcome`; /outcome and /scorecard answer as the contract says,
`as_of` never showing a result that was not known then."""

from __future__ import annotations

import contextlib
import glob
import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.client import create_client
from app.client.tradingagents import plans_as_text
from app.records import Actor, Place
from app.runtime.web import create_app
from app.settings import Settings
from app.storage.database import make_engine, migrate
from tests.support.live_server import live_server
from tests.test_grading import CLOSE, DAY, OPEN, TEXT, WINNING, Clock, service, write_bars

GUILD = "290926798626357999"
AUTHOR = Actor(id="123456789012345678", name="coach d")
LOSING = ((100.5, 101, 100, 100.8), (100.8, 101, 97.5, 97.8))
MONDAY = date(2025, 3, 17)


def graded_app(settings: Settings, tmp_path: Path) -> Starlette:
    """A service with CSV prices whose plans (d wins, i loses, posted before the open of DAY;
    d again on the Monday after) were posted before it started; it is a day after DAY."""
    return create_app(graded_settings(settings, tmp_path), clock=lambda: CLOSE + timedelta(days=1))


def graded_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The settings of graded_app: its database holds those plans, its prices are CSV."""
    prices = tmp_path / "prices"
    write_bars(prices, "SPY", *WINNING)
    write_bars(prices, "QQQ", *LOSING)
    engine = make_engine(settings.database_url)
    migrate(engine)
    plans = service(engine, Clock(OPEN - timedelta(hours=1)))
    plans.post("d", DAY, TEXT, AUTHOR, place=Place(guild_id=GUILD))
    plans.post("i", DAY, TEXT.replace("SPY", "QQQ"), AUTHOR, place=Place(guild_id=GUILD))
    plans.post("d", MONDAY, TEXT, AUTHOR, place=Place(guild_id=GUILD))
    engine.dispose()
    return settings.model_copy(update={"price_source": f"csv:{prices}"})


@pytest.fixture
def graded_client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(graded_app(settings, tmp_path)) as client:
        yield client


def outcome(client: TestClient, coach: str) -> dict[str, Any]:
    """The coach's outcome once graded (the start's pass runs in the background)."""
    deadline = time.monotonic() + 60
    while True:
        response = client.get("/api/coach-plans/outcome", params={"coach": coach, "date": DAY})
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        if body["status"] != "pending" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_the_service_grades_closed_sessions_at_start_and_serves_the_outcome(
    graded_client: TestClient,
) -> None:
    won = outcome(graded_client, "d")
    assert won["status"] == "target"
    assert (won["ticker"], won["side"], won["graded_version"]) == ("SPY", "long", 1)
    assert (won["entry_fill"], won["exit_price"], won["targets_hit"], won["r_multiple"]) == (
        100.5, 106, 2, 2.2,
    )  # fmt: skip
    assert won["entry_at"] == OPEN.isoformat()
    lost = outcome(graded_client, "i")
    assert (lost["status"], lost["exit_price"], lost["r_multiple"]) == ("stopped", 98, -1.0)

    # Every plan's JSON carries its outcome.
    listed = graded_client.get("/api/coach-plans/all", params={"date": DAY}).json()["plans"]
    assert [(p["coach"], p["outcome"]["status"]) for p in listed] == [
        ("d", "target"), ("i", "stopped"),
    ]  # fmt: skip
    one = graded_client.get("/api/coach-plans/", params={"coach": "d", "date": DAY}).json()
    assert one["outcome"] == won
    # As of the session's close (before the grade was made) a backtest sees it pending.
    then = graded_client.get(
        "/api/coach-plans/", params={"coach": "d", "date": DAY, "as_of": CLOSE.isoformat()}
    ).json()
    assert then["outcome"]["status"] == "pending"


def test_scorecard_counts_only_sessions_closed_before_as_of(graded_client: TestClient) -> None:
    outcome(graded_client, "d"), outcome(graded_client, "i")
    after = datetime(2025, 3, 17, 12, tzinfo=UTC)  # the Monday after, before its open
    card = graded_client.get("/api/coach-plans/scorecard", params={"as_of": after.isoformat()})
    assert card.status_code == 200
    body = card.json()
    assert (body["as_of"], body["days"]) == (after.isoformat(), 30)
    rows = {row["coach"]: row for row in body["coaches"]}
    assert rows["d"] == {
        "coach": "d", "graded": 1, "triggered": 1, "wins": 1, "losses": 0, "open": 0,
        "not_triggered": 0, "win_rate": 1.0, "avg_r": 2.2, "total_r": 2.2,
    }  # fmt: skip
    assert (rows["i"]["losses"], rows["i"]["win_rate"], rows["i"]["total_r"]) == (1, 0.0, -1.0)

    during = CLOSE - timedelta(hours=1)  # the session is still open: nothing counts yet
    early = graded_client.get(
        "/api/coach-plans/scorecard", params={"coach": "d", "as_of": during.isoformat()}
    ).json()
    assert early["coaches"] == [
        {
            "coach": "d", "graded": 0, "triggered": 0, "wins": 0, "losses": 0, "open": 0,
            "not_triggered": 0, "win_rate": None, "avg_r": None, "total_r": None,
        }
    ]  # fmt: skip
    # One session back from a week later no longer reaches DAY.
    later = datetime(2025, 3, 24, 12, tzinfo=UTC)
    short = graded_client.get(
        "/api/coach-plans/scorecard", params={"days": 1, "as_of": later.isoformat()}
    ).json()
    assert all(row["graded"] == 0 for row in short["coaches"])


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"days": "0"}, 400),
        ({"days": "366"}, 400),
        ({"as_of": "2025-03-14T13:30:00"}, 400),
        ({"coach": "nobody"}, 400),
        ({"sessions": "3"}, 422),
    ],
)
def test_scorecard_refuses_bad_input_clearly(
    client: TestClient, params: dict[str, str], status: int
) -> None:
    response = client.get("/api/coach-plans/scorecard", params=params)
    assert response.status_code == status
    assert set(response.json()) == {"error", "message", "request_id"}


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59+00:00"])
def test_a_scorecard_as_of_the_ends_of_time_is_an_answer(client: TestClient, as_of: str) -> None:
    """Before the calendar's first session none is counted, after its last its last ones: an
    answer either way, never a 500."""
    response = client.get("/api/coach-plans/scorecard", params={"as_of": as_of, "days": "5"})
    assert response.status_code == 200, response.text
    assert response.json()["days"] == 5
    picture = client.get("/api/coach-plans/scorecard.png", params={"as_of": as_of, "days": "5"})
    assert picture.status_code == 404  # no graded plans: said in words, no broken picture
    assert "No graded plans" in picture.json()["message"]


def test_outcome_of_a_missing_plan_is_404(client: TestClient) -> None:
    response = client.get("/api/coach-plans/outcome", params={"coach": "d", "date": DAY})
    assert response.status_code == 404


def test_client_reads_outcomes_scorecards_and_records_never_the_days_own(
    settings: Settings, tmp_path: Path
) -> None:
    with (
        live_server(graded_app(settings, tmp_path)) as base_url,
        create_client(
            api_base_url=base_url, timezone="America/New_York", cache_ttl_seconds=0
        ) as client,
    ):
        deadline = time.monotonic() + 60
        while (client.fetch_outcome("i", DAY) or {}).get("status") != "stopped":
            assert time.monotonic() < deadline, "the start's grading pass never ended"
            time.sleep(0.05)
        won = client.fetch_outcome("d", DAY)
        assert won is not None and (won["status"], won["r_multiple"]) == ("target", 2.2)
        assert client.fetch_outcome("s", DAY) is None  # no plan
        card = client.fetch_scorecard(coach="d", as_of=datetime(2025, 3, 17, 12, tzinfo=UTC))
        assert [(row["coach"], row["wins"]) for row in card["coaches"]] == [("d", 1)]

        # The state of the Monday after holds Friday's record; Friday's own state does not.
        monday = client.agent_state(MONDAY)
        assert monday["coach_d_record"]["wins"] == 1
        assert monday["coach_i_record"]["losses"] == 1
        friday = client.agent_state(DAY)
        assert friday["coach_d_record"]["graded"] == 0

        # The TradingAgents vendor's text adds each coach's record, never that day's outcome.
        text = plans_as_text(client, "SPY", MONDAY.isoformat())
        assert "Record over the 30 sessions before 2025-03-17: 1 graded" in text
        assert "1 reached a target" in text
        same_day = plans_as_text(client, "SPY", DAY.isoformat())
        assert "Record over the 30 sessions before 2025-03-14: no graded plans." in same_day


def test_a_hanging_price_source_holds_up_neither_the_start_nor_a_read(
    settings: Settings, tmp_path: Path
) -> None:
    prices = tmp_path / "stuck"
    prices.mkdir()
    os.mkfifo(prices / "SPY.csv")  # opening it for reading waits for a writer
    engine = make_engine(settings.database_url)
    migrate(engine)
    service(engine, Clock(OPEN - timedelta(hours=1))).post(
        "d", DAY, TEXT, AUTHOR, place=Place(guild_id=GUILD)
    )
    engine.dispose()
    configured = settings.model_copy(update={"price_source": f"csv:{prices}"})
    app = create_app(configured, clock=lambda: CLOSE + timedelta(days=1))
    try:
        with TestClient(app) as client:
            deadline = time.monotonic() + 60
            while not _opening_a_fifo():  # the start's grading pass is stuck on the source
                assert time.monotonic() < deadline, "grading never asked the source"
                time.sleep(0.05)
            assert client.get("/health").json()["status"] == "healthy"
            read = client.get("/api/coach-plans/", params={"coach": "d", "date": DAY})
            assert read.status_code == 200 and read.json()["outcome"]["status"] == "pending"
            answer = client.get("/api/coach-plans/outcome", params={"coach": "d", "date": DAY})
            assert answer.json()["status"] == "pending"
    finally:
        # Let the reader the grading pass left behind go, with a file of no bars: a failure
        # would be logged after the test, outside its captured output.
        with contextlib.suppress(OSError):  # ENXIO: no reader is waiting
            pipe = os.open(prices / "SPY.csv", os.O_WRONLY | os.O_NONBLOCK)
            try:
                os.write(pipe, b"timestamp,open,high,low,close\n")
            finally:
                os.close(pipe)


def _opening_a_fifo() -> bool:
    """Whether a thread of this process waits in open() for a named pipe's writer (Linux)."""
    for wchan in glob.glob("/proc/self/task/*/wchan"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            if Path(wchan).read_text() == "wait_for_partner":
                return True
    return False
