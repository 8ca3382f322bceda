"""Levels through the whole service: stored with each version, read as of an instant, served by
ticker over REST and the client, given and refused in Discord commands and the editor form."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from app.client import create_async_client, create_client
from app.mock.payloads import modal_data
from app.plans.levels import GivenLevels
from app.plans.service import PlanService
from app.records import Actor, Levels, Place
from app.runtime.web import create_app
from app.settings import Settings
from app.storage.database import make_engine, migrate
from app.storage.repository import PlanRepository
from tests.support.clock import Clock
from tests.support.discord_edge import Discord, ephemeral_text, texts
from tests.support.discord_edge import guild_interaction as signed_guild_interaction
from tests.support.live_server import live_server
from tests.support.migrations import upgrade_to
from tests.test_api import PLAN_FIELDS

GUILD = "1"
HERE = Place(guild_id=GUILD)
DAY = date(2025, 3, 14)
COACH = Actor(id="123456789012345678", name="coach d")
NY = ZoneInfo("America/New_York")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 14, 14, 0, tzinfo=UTC))


@pytest.fixture
def plans(engine: Engine, clock: Clock) -> PlanService:
    return PlanService(
        PlanRepository(engine, clock), coaches=["d", "i", "s", "n"], timezone=NY, clock=clock
    )


# --- stored with each version --------------------------------------------------------------------


def test_each_version_keeps_its_levels_and_as_of_reads_them(
    plans: PlanService, clock: Clock
) -> None:
    posted = plans.post("d", DAY, "SPY long above 950, stop 940", COACH, place=HERE)
    assert posted.levels == Levels(("SPY",), "long", (950, 950), 940, (), "extracted")
    levels_only = clock.advance()
    plans.edit(GUILD, "d", DAY, COACH, levels=GivenLevels(stop="944", targets="960"))
    clock.advance()
    plans.edit(GUILD, "d", DAY, COACH, text="QQQ now; SPY paused")
    now = plans.get(GUILD, "d", DAY).levels
    assert now == Levels(("SPY",), "long", (950, 950), 944, (960,), "given")  # given: kept
    first = plans.as_of(GUILD, "d", DAY, posted.created_at)
    assert first.levels == posted.levels and first.text == posted.text
    between = plans.as_of(GUILD, "d", DAY, levels_only)
    assert between.levels == now and between.text == posted.text
    # A levels-only edit is a version of its own in the history.
    _, history = plans.history(GUILD, "d", DAY)
    assert [entry.plan_text for entry in history] == [posted.text, posted.text]


def test_plans_stored_before_levels_existed_read_them_from_their_text(
    plans: PlanService,
) -> None:
    # A row as revision 0003 left it: no levels column value.
    plans.repository.insert(
        GUILD, "i", DAY, "$QQQ short below 400, stop 404", COACH, HERE, (), None
    )
    found = plans.get(GUILD, "i", DAY).levels
    assert found == Levels(("QQQ",), "short", (400, 400), 404, (), "extracted")
    assert [p.coach for p in plans.by_ticker(GUILD, "qqq", DAY)] == ["i"]


def test_by_ticker_sees_each_plan_as_it_stood(plans: PlanService, clock: Clock) -> None:
    plans.post("d", DAY, "SPY long above 950", COACH, place=HERE)
    plans.post("s", DAY, "no levels", COACH, place=HERE, levels=GivenLevels(ticker="SPY, QQQ"))
    plans.post("i", DAY, "QQQ only", COACH, place=HERE)
    before = clock()
    clock.advance()
    plans.edit(GUILD, "d", DAY, COACH, text="Switched to IWM above 225")
    assert [p.coach for p in plans.by_ticker(GUILD, "SPY", DAY)] == ["s"]
    assert [p.coach for p in plans.by_ticker(GUILD, "$spy", DAY, before)] == ["d", "s"]
    assert [p.coach for p in plans.by_ticker(GUILD, "QQQ", DAY)] == ["i", "s"]


def test_upgrading_from_0003_keeps_old_plans_and_reads_their_levels(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade_to(engine, "0003")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO coach_plans (coach_name, date, plan, author, author_id, guild_id, "
                "created_at, is_deleted, version) VALUES ('d', '2025-03-14', "
                "'$SPY short below 945, stop 951', 'a', '1', :guild, CURRENT_TIMESTAMP, false, 1)"
            ),
            {"guild": GUILD},
        )
    migrate(engine)
    plans = PlanService(PlanRepository(engine), coaches=["d"], timezone=NY)
    assert plans.get(GUILD, "d", DAY).levels == Levels(
        ("SPY",), "short", (945, 945), 951, (), "extracted"
    )
    engine.dispose()


# --- REST and the client -------------------------------------------------------------------------


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[str, datetime]]:
    engine = make_engine(settings.database_url)
    migrate(engine)
    clock = Clock()  # from now: the client asks for today by the system's clock
    plans = PlanService(
        PlanRepository(engine, clock),
        coaches=settings.coaches,
        timezone=settings.zone,
        clock=clock,
    )
    today = plans.today()
    plans.post("d", today, "$SPY 948-951 zone, stop 944, targets 958/965", COACH, place=HERE)
    plans.post("i", today, "See the chart", COACH, place=HERE)
    before_edit = clock.advance()
    clock.advance()
    plans.edit(GUILD, "d", today, COACH, levels=GivenLevels(bias="short", entry="960"))
    with live_server(create_app(settings, clock=clock)) as base_url:
        yield base_url, before_edit
    engine.dispose()


def test_by_ticker_over_rest(served: tuple[str, datetime]) -> None:
    base_url, before_edit = served
    with create_client(api_base_url=base_url) as reader:
        [plan] = reader.fetch_plans_for_ticker("spy")
        [then] = reader.fetch_plans_for_ticker("SPY", date=plan["date"], as_of=before_edit)
        assert reader.fetch_plans_for_ticker("AAPL") == []
        state = reader.agent_state()
        # One plan read as of an instant carries that version's levels too.
        as_of = reader.fetch_coach_plan("d", as_of=before_edit)
        assert as_of is not None and as_of["levels"] == then["levels"]
    assert asyncio.run(_async_by_ticker(base_url, before_edit)) == [then]
    assert plan["levels"] == {
        "tickers": ["SPY"],
        "bias": "short",
        "entry": {"low": 960, "high": 960},
        "stop": 944,
        "targets": [958, 965],
        "source": "given",
    }
    assert then["levels"]["entry"] == {"low": 948, "high": 951}
    assert then["levels"]["source"] == "extracted"
    assert state["coach_d_levels"] == plan["levels"]
    assert state["coach_i_levels"]["source"] == "none" and state["coach_s_levels"] is None


async def _async_by_ticker(base_url: str, as_of: datetime) -> list[dict[str, Any]]:
    async with create_async_client(api_base_url=base_url) as reader:
        return await reader.fetch_plans_for_ticker("$SPY", date=None, as_of=as_of)


def test_by_ticker_answers_its_documented_shape_and_refuses_a_bad_ticker(
    client: TestClient,
) -> None:
    plans = client.app_state["services"].plans
    plans.post("d", "2025-03-14", "$SPY long above 950, stop 940", COACH, place=HERE)
    found = client.get("/api/coach-plans/by-ticker", params={"ticker": "SPY", "date": "2025-03-14"})
    assert found.status_code == 200
    body = found.json()
    assert {key: body[key] for key in ("date", "ticker", "count")} == {
        "date": "2025-03-14",
        "ticker": "SPY",
        "count": 1,
    }
    [plan] = body["plans"]
    assert set(plan) == PLAN_FIELDS and plan["coach"] == "d"
    none = client.get("/api/coach-plans/by-ticker", params={"ticker": "QQQ", "date": "2025-03-14"})
    assert none.json()["count"] == 0 and none.json()["plans"] == []
    bad = client.get("/api/coach-plans/by-ticker", params={"ticker": "SPY QQQ"})
    assert bad.status_code == 400 and bad.json()["error"] == "bad_levels"
    assert "not one ticker" in bad.json()["message"]
    missing = client.get("/api/coach-plans/by-ticker")
    assert missing.status_code == 422
    # The hint names a ticker, not a coach.
    assert "?ticker=SPY" in missing.json()["message"]


# --- Discord -------------------------------------------------------------------------------------


def _fields(answer: dict[str, Any]) -> dict[str, str]:
    """The card's Text Displays that start with a bold name: {name: the lines below it}."""
    found = {}
    for block in texts(answer["data"]):
        match = re.fullmatch(r"\*\*(.+?)\*\*\n(.*)", block, re.S)
        if match:
            found[match[1]] = match[2]
    return found


def test_plan_with_level_options_shows_them_on_the_card(discord: Discord) -> None:
    answer = discord.command(
        "plan",
        coach="d",
        text="Opening drive plan",
        ticker="SPY, qqq",
        bias="long",
        entry="948-951",
        stop="944",
        targets="958, 965.5",
    )
    assert _fields(answer)["Levels"] == (
        "SPY, QQQ · long\nentry 948-951 · stop 944 · targets 958 / 965.5"
    )
    levels = discord.client.get("/api/coach-plans/?coach=d").json()["levels"]
    assert levels["source"] == "given" and levels["targets"] == [958, 965.5]


def test_a_plan_without_options_shows_the_levels_read_from_its_text(discord: Discord) -> None:
    answer = discord.command("plan", coach="d", text="$SPY long above 950, stop 940")
    assert _fields(answer)["Levels (read from the text)"] == "SPY · long\nentry 950 · stop 940"


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"stop": "abc"}, "`stop` takes one price, e.g. 940 or 939.5; 'abc' is not a price."),
        ({"entry": "951-948"}, "The entry zone '951-948' is written backwards"),
        ({"targets": "960, soon"}, "'soon' is not a price"),
    ],
)
def test_bad_level_options_are_refused_privately_and_nothing_is_posted(
    discord: Discord, options: dict[str, Any], said: str
) -> None:
    answer = discord.command("plan", coach="d", text="Long above 950", **options)
    assert said in ephemeral_text(answer)
    assert discord.client.get("/api/coach-plans/?coach=d").status_code == 404


def test_edit_with_a_level_option_changes_only_that_level(discord: Discord) -> None:
    discord.post_plan(text="$SPY long above 950, stop 940")
    answer = discord.command("edit", coach="d", stop="946")
    assert _fields(answer)["Levels"] == "SPY · long\nentry 950 · stop 946"
    refused = discord.command("edit", coach="d", bias="none", entry="x")
    assert "`entry` takes one price" in ephemeral_text(refused)


def test_the_editor_form_saves_text_and_levels(discord: Discord) -> None:
    discord.post_plan(text="Long above 950", ticker="SPY", stop="940")
    opened = discord.command("edit", coach="d")
    form = opened["data"]
    inputs = {row["components"][0]["custom_id"]: row["components"][0] for row in form["components"]}
    # Options given on top of the text's levels: the bias and entry came from the text.
    assert inputs["ticker"]["value"] == "SPY long" and inputs["entry"]["value"] == "950"
    assert inputs["stop"]["value"] == "940"
    values = {
        "text": "Short below 945",
        "ticker": "SPY short",
        "entry": "945",
        "stop": "",
        "targets": "930",
    }
    saved = discord.send(signed_guild_interaction(5, modal_data(form["custom_id"], values)))
    assert _fields(saved)["Levels"] == "SPY · short\nentry 945 · targets 930"
    refused = discord.command("edit", coach="d")["data"]
    bad = {"text": "x", "ticker": "SPY", "entry": "951-948", "stop": "", "targets": ""}
    answer = discord.send(signed_guild_interaction(5, modal_data(refused["custom_id"], bad)))
    assert "written backwards" in ephemeral_text(answer)


def test_by_ticker_takes_an_as_of_in_the_future(served: tuple[str, datetime]) -> None:
    # A backtest running up to now may ask past the present: it reads the plans as they are.
    base_url, _ = served
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    found = httpx.get(
        f"{base_url}/api/coach-plans/by-ticker", params={"ticker": "SPY", "as_of": later}
    )
    assert found.status_code == 200 and found.json()["count"] == 1
    assert found.json()["plans"][0]["levels"]["bias"] == "short"  # the edited version
