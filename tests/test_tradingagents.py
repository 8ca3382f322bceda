"""Coach Plans as a TradingAgents data vendor: the real TradingAgents package (installed from its
wheel) routes `get_coach_plans` to the real service, which serves the plans as they stood at the
end of the asked day."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from tradingagents.dataflows import interface

from app import defaults
from app.client.tradingagents import register
from app.plans.levels import GivenLevels
from app.plans.service import PlanService
from app.records import Actor, Place
from app.runtime.web import create_app
from app.storage.database import make_engine, migrate
from app.storage.repository import PlanRepository
from tests.conftest import settings_in
from tests.support.live_server import live_server
from tests.support.service_process import free_port

GUILD = "290926798626357999"
HERE = Place(guild_id=GUILD)
DAY = date(2025, 3, 14)
NEW_YORK = ZoneInfo("America/New_York")
FAST: dict[str, Any] = {"reconnect_attempts": 0, "timezone": NEW_YORK.key, "cache_ttl_seconds": 0}


class Clock:
    """The time writes are stamped with: these plans are replayed as they happened that week."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 14, 13, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = settings_in(tmp_path_factory.mktemp("vendor"))
    engine = make_engine(settings.database_url)
    migrate(engine)
    clock = Clock()
    plans = PlanService(
        PlanRepository(engine, clock), coaches=settings.coaches, timezone=settings.zone
    )
    d, s = Actor(id="111", name="coach d"), Actor(id="333", name="coach s")
    plans.post("d", DAY, "$SPY long above 950, stop 940, targets 960/975", d, place=HERE)
    plans.post("i", DAY, "QQQ short below 400", Actor(id="222", name="coach i"), place=HERE)
    plans.post(
        "s", DAY, "Fade the open", s, place=HERE, levels=GivenLevels(ticker="SPY", bias="short")
    )
    # 23:30 in New York is still the 14th there: this edit belongs to the day.
    clock.now = datetime(2025, 3, 15, 3, 30, tzinfo=UTC)
    plans.edit(GUILD, "s", DAY, s, text="Fade the open; stop 958")
    # The next afternoon, coach d rewrites the plan: a backtest of the 14th must not see it.
    clock.now = datetime(2025, 3, 15, 19, 0, tzinfo=UTC)
    plans.edit(GUILD, "d", DAY, d, text="$SPY short below 945, stop 955, target 930")
    today = datetime.now(NEW_YORK).date()
    plans.post("n", today, "IWM long above 225", Actor(id="444", name="coach n"), place=HERE)
    with live_server(create_app(settings)) as base_url:
        yield base_url
    engine.dispose()


def test_the_vendor_answers_the_days_version_not_a_later_edit(service: str) -> None:
    register(api_base_url=service, **FAST)
    answer = interface.route_to_vendor("get_coach_plans", "SPY", DAY.isoformat())
    assert "long above 950" in answer and "short below 945" not in answer
    assert "Levels (read from the text): SPY; bias long; entry 950; stop 940; targets 960, 975" in (
        answer
    )
    assert "Fade the open; stop 958" in answer  # edited 23:30 New York time, the same day
    assert "Levels (given by the coach): SPY; bias short" in answer
    assert "Coach i" not in answer  # QQQ only


def test_the_next_day_sees_the_edit(service: str) -> None:
    register(api_base_url=service, **FAST)
    answer = interface.route_to_vendor("get_coach_plans", "$spy", "2025-03-15")
    # The plans are for the 14th: on the 15th there are none for that date.
    assert answer.startswith("No coach plan names $spy for 2025-03-15")
    client_answer = interface.route_to_vendor("get_coach_plans", "QQQ", DAY.isoformat())
    assert "Coach i" in client_answer and "short below 400" in client_answer


def test_the_langchain_tool_reads_through_the_router(service: str) -> None:
    tool = register(api_base_url=service, **FAST)
    assert tool.name == "get_coach_plans"
    assert set(tool.args) == {"ticker", "curr_date"}
    answer = tool.invoke({"ticker": "SPY", "curr_date": DAY.isoformat()})
    assert answer == interface.route_to_vendor("get_coach_plans", "SPY", DAY.isoformat())
    assert "Coach d" in answer


def test_a_day_not_over_is_read_as_it_stands(service: str) -> None:
    register(api_base_url=service, **FAST)
    today = datetime.now(NEW_YORK).date()
    answer = interface.route_to_vendor("get_coach_plans", "IWM", today.isoformat())
    assert "Coach n" in answer and "IWM long above 225" in answer
    if datetime.now(NEW_YORK).date() == today:  # not past midnight meanwhile
        assert answer.splitlines()[0].endswith("the day not over:")


def test_a_ticker_no_coach_names_is_said_plainly(service: str) -> None:
    register(api_base_url=service, **FAST)
    assert interface.route_to_vendor("get_coach_plans", "AAPL", DAY.isoformat()).startswith(
        "No coach plan names AAPL for 2025-03-14"
    )
    # Index symbols such as ^GSPC cannot be in a plan's levels: no plans, not an error.
    assert interface.route_to_vendor("get_coach_plans", "^GSPC", DAY.isoformat()).startswith(
        "No coach plan names ^GSPC"
    )


def test_the_service_down_gives_data_unavailable_not_a_crash() -> None:
    before = {
        method: dict(vendors)
        for method, vendors in interface.VENDOR_METHODS.items()
        if method != "get_coach_plans"  # ours: an earlier register() may have put it there
    }
    register(api_base_url=f"http://127.0.0.1:{free_port()}", **FAST)  # nothing listens there
    answer = interface.route_to_vendor("get_coach_plans", "SPY", DAY.isoformat())
    assert answer.startswith("DATA_UNAVAILABLE: optional coach_plans could not be retrieved")
    # TradingAgents' own vendors are still routed as before.
    after = interface.VENDOR_METHODS
    assert {method: dict(after[method]) for method in before} == before


def test_importing_the_vendor_module_loads_neither_tradingagents_nor_the_service() -> None:
    code = (
        "import sys, app.client.tradingagents; "
        "heavy = {'tradingagents', 'langchain_core', 'pandas', 'sqlalchemy', 'starlette'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


class HungService:
    """A host that takes every connection and never answers: each try costs its whole timeout
    on the injected clock, and the tries started after `deadline` are kept."""

    def __init__(self, deadline: float) -> None:
        self.now, self.deadline = 0.0, deadline
        self.late: list[float] = []

    def clock(self) -> float:
        return self.now

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.now > self.deadline:
            self.late.append(self.now)
            raise RuntimeError("a try after the deadline")  # ends the read at once
        self.now += request.extensions["timeout"]["connect"]
        raise httpx.ConnectTimeout("timed out", request=request)


def test_the_service_down_answers_within_the_timeout_and_says_it_gave_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # CONNECTION_TIMEOUT plus a few seconds; the default retries (5, from 5 s) took about 100 s.
    hung = HungService(deadline=defaults.CONNECTION_TIMEOUT + 5)
    register(
        api_base_url="http://coach-plans.test",
        timezone=NEW_YORK.key,
        transport=httpx.MockTransport(hung),
        timer=hung.clock,
    )
    with caplog.at_level(logging.WARNING, logger="app.client"):
        answer = interface.route_to_vendor("get_coach_plans", "SPY", DAY.isoformat())
    assert answer.startswith("DATA_UNAVAILABLE: optional coach_plans could not be retrieved")
    assert hung.late == [] and hung.now <= hung.deadline
    [gave_up] = [r.getMessage() for r in caplog.records if r.name.startswith("app.client")]
    assert "did not answer within its 15 s deadline" in gave_up and "giving up" in gave_up
