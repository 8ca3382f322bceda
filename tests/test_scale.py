"""Costs that stay flat as plans pile up: each hot query is answered from an index (checked with
EXPLAIN on SQLite and PostgreSQL), /health and /metrics read kept counts that stay right after
every kind of write (also another instance's, and on a database upgraded with plans in it), a
read naming no guild costs the one round trip a read naming it costs, and a long history is read
a page at a time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, func, select, text
from starlette.testclient import TestClient

from app.plans.service import PlanService
from app.records import Actor, NewChart, Place, system_clock
from app.runtime.web import create_app
from app.settings import Settings
from app.storage.database import make_engine, migrate, ping
from app.storage.known_guilds import GUILDS_FRESH_SECONDS
from app.storage.repository import PlanRepository
from app.storage.rows import charts_t, history_t, plans_t
from tests.support.migrations import upgrade_to

GUILD = "290926798626357999"
OTHER = "390926798626357111"
DAY = date(2025, 3, 14)
AUTHOR = Actor(id="111", name="coach")
DIALECTS = [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=DIALECTS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'plans.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


class Clock:
    """Seconds or instants that move only when the test moves them."""

    def __init__(self) -> None:
        self.seconds = 1000.0
        self.instant = datetime(2025, 3, 14, 13, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        self.instant += timedelta(seconds=1)
        return self.instant


def service(
    engine: Engine, monotonic: Clock | None = None, clock: Clock | None = None
) -> PlanService:
    repository = PlanRepository(
        engine,
        clock=system_clock if clock is None else clock.now,
        monotonic=time.monotonic if monotonic is None else monotonic.monotonic,
    )
    return PlanService(repository, coaches=["d", "n"], timezone=ZoneInfo("UTC"))


def chart(n: int) -> NewChart:
    return NewChart(f"https://cdn.discordapp.com/a/{n}.png", f"c{n}.png", "image/png", 10)


def counted(engine: Engine) -> dict[str, int]:
    """The counts as a count over the whole tables finds them."""
    with engine.connect() as connection:
        live = connection.execute(
            select(func.count()).select_from(plans_t).where(plans_t.c.is_deleted.is_(False))
        ).scalar_one()
        charts = connection.execute(select(func.count()).select_from(charts_t)).scalar_one()
        edits = connection.execute(select(func.count()).select_from(history_t)).scalar_one()
    return {"plans": live, "charts": charts, "edits": edits}


# --- EXPLAIN: the indexes serve the queries ------------------------------------------------------


def explain(engine: Engine, sql: str, args: Any, without: tuple[str, ...] = ()) -> str:
    """The plan the engine's planner picks for `sql`, with the indexes named in `without` out of
    the way (dropped in a transaction rolled back), so an index that fits as well does not hide
    whether the one asked about fits. PostgreSQL is told to avoid a table scan wherever an index
    can serve at all, so a tiny table still shows which index fits."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN")
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
        for index in without:
            cursor.execute(f"DROP INDEX {index}")
        prefix = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
        cursor.execute(f"{prefix} {sql}", args)
        lines = [str(row[-1]) for row in cursor.fetchall()]
        cursor.close()
    finally:
        connection.rollback()
        connection.close()
    return "\n".join(lines)


@contextlib.contextmanager
def selects(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs SQLAlchemy sends for the engine meanwhile, with their driver arguments."""
    seen: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]  # SQLAlchemy's event signature
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_each_hot_read_is_answered_from_its_index(engine: Engine) -> None:
    plans = service(engine, clock=Clock())
    for day in (DAY, DAY - timedelta(days=1), DAY - timedelta(days=40)):
        plans.post("d", day, "long above 950", AUTHOR, place=Place(GUILD), charts=[chart(1)])
    plans.edit(GUILD, "d", DAY, AUTHOR, text="long above 951")
    plans.delete(GUILD, "d", DAY - timedelta(days=1), AUTHOR)
    repository = plans.repository
    assert isinstance(repository, PlanRepository)
    live_index = "uq_coach_plans_live_guild_coach_date"
    others = ("ix_coach_plans_guild_date_coach", "ix_coach_plans_author_date")

    # The live plan by key, and date autocomplete as a range of dates: the live-plan index.
    by_key = repository._by_key.bound(guild=GUILD, coach="d", day=DAY)
    assert live_index in explain(engine, *by_key, without=others)
    low, high = date(2025, 3, 1), date(2025, 3, 31)
    dates = repository._dates.bound(guild=GUILD, coach="d", low=low, high=high, limit=25)
    assert live_index in explain(engine, *dates, without=others)
    assert plans.dates_with_plans(GUILD, "d", "2025-03") == [DAY]
    assert plans.dates_with_plans(GUILD, "d", "2025-0") == [DAY, DAY - timedelta(days=40)]

    # The retry pass: only the pending charts, from their partial index.
    with selects(engine) as seen:
        assert len(plans.unarchived_charts()) == 2  # the deleted plan's chart waits no more
    assert "ix_plan_charts_pending" in explain(engine, *seen[0])

    # A page of history, and how many versions there are: the (plan, edited_at) index.
    with selects(engine) as seen:
        _, entries = plans.history(GUILD, "d", DAY, limit=1)
    assert entries.total == 1
    for statement in seen[-2:]:
        assert "ix_plan_history_plan_edited" in explain(engine, *statement)

    # /health and /metrics: the kept counts, never the plans, charts or history tables.
    with selects(engine) as seen:
        assert plans.counts() == {"plans": 2, "charts": 3, "edits": 1}
    shown = explain(engine, *seen[0])
    assert "guild_counts" in shown
    assert not any(table in shown for table in ("coach_plans", "plan_charts", "plan_history"))


# --- counts kept right by every write -------------------------------------------------------------


def test_counts_stay_right_after_every_write_here_and_on_another_instance(
    engine: Engine, url: str
) -> None:
    here = service(engine)
    other_engine = make_engine(url)
    there = service(other_engine)
    probe = make_engine(url, pooled=False)
    steps: list[Callable[[], object]] = [
        lambda: here.post("d", DAY, "long 950", AUTHOR, place=Place(GUILD), charts=[chart(1)]),
        lambda: there.post("n", DAY, "short 940", AUTHOR, place=Place(OTHER), charts=[chart(2)]),
        lambda: there.post("d", DAY, "flat", AUTHOR, place=Place(OTHER)),
        lambda: here.edit(GUILD, "d", DAY, AUTHOR, text="long 951"),
        lambda: there.edit(GUILD, "d", DAY, AUTHOR, charts=[chart(3), chart(4)]),  # no new text
        lambda: there.edit(OTHER, "n", DAY, AUTHOR, text="short 939", charts=[chart(5)]),
        lambda: here.delete(OTHER, "n", DAY, AUTHOR),
        lambda: here.mark_archived(1, "a/1.png"),
        lambda: there.post("n", DAY, "again", AUTHOR, place=Place(OTHER)),
    ]
    try:
        for step in steps:
            step()
            truth = counted(engine)
            assert here.counts() == truth
            assert there.counts() == truth
            assert ping(probe) == truth["plans"]  # what /health says
        assert counted(engine) == {"plans": 3, "charts": 5, "edits": 2}
    finally:
        other_engine.dispose()
        probe.dispose()


def test_an_upgraded_database_has_its_counts_taken_once(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade_to(engine, "0005")
        now = datetime(2025, 3, 14, 13, 0, tzinfo=UTC)
        rows = [
            (1, GUILD, False, "d"),
            (2, GUILD, True, "d"),
            (3, OTHER, False, "n"),
            (4, None, False, "d"),  # kept from before plans had a guild
        ]
        with engine.begin() as connection:
            for plan_id, guild, deleted, coach in rows:
                connection.execute(
                    plans_t.insert().values(
                        id=plan_id, coach_name=coach, date=DAY, plan="text", author="a",
                        author_id="1", guild_id=guild, created_at=now, is_deleted=deleted,
                        version=1,
                    )
                )  # fmt: skip
            for plan_id in (1, 2, 2, 3):
                connection.execute(
                    charts_t.insert().values(
                        plan_id=plan_id, chart_url="u", filename="f.png",
                        content_type="image/png", size=1, added_at=now,
                    )
                )  # fmt: skip
            for plan_id in (1, 3, 3):
                connection.execute(
                    history_t.insert().values(
                        plan_id=plan_id, plan_text="old", edited_by="a", edited_by_id="1",
                        edited_at=now,
                    )
                )  # fmt: skip
            if engine.dialect.name == "postgresql":  # the ids above were given by hand
                connection.execute(text("SELECT setval('coach_plans_id_seq', 10)"))
        migrate(engine)
        plans = service(engine)
        assert plans.counts() == counted(engine) == {"plans": 3, "charts": 4, "edits": 3}
        assert plans.guilds_with_plans(limit=5) == sorted([GUILD, OTHER])
        plans.post("n", DAY, "new", AUTHOR, place=Place(GUILD), charts=[chart(1)])
        assert plans.counts() == counted(engine) == {"plans": 4, "charts": 5, "edits": 3}
    finally:
        engine.dispose()


# --- which guilds have plans, kept in memory ----------------------------------------------


def test_a_new_guild_is_seen_at_once_here_and_within_seconds_from_another_instance(
    engine: Engine, url: str
) -> None:
    clock = Clock()
    here = service(engine, monotonic=clock)
    other_engine = make_engine(url)
    there = service(other_engine)
    try:
        assert here.guilds_with_plans() == []
        here.post("d", DAY, "long 950", AUTHOR, place=Place(GUILD))
        assert here.known_guilds() == [GUILD]  # its own write: at once, no round trip
        there.post("d", DAY, "short 940", AUTHOR, place=Place(OTHER))
        clock.seconds += GUILDS_FRESH_SECONDS
        assert here.known_guilds() is None  # too old to trust: the database is asked
        assert here.guilds_with_plans() == sorted([GUILD, OTHER])
        clock.seconds += 3600
        # Two guilds is the most a read asks about, and the set never shrinks: settled for good.
        assert here.known_guilds() == sorted([GUILD, OTHER])
    finally:
        other_engine.dispose()


@contextlib.contextmanager
def round_trips(engine: Engine) -> Iterator[list[str]]:
    """What goes to the database meanwhile: a connection taken from the pool (each read's
    statements go over one) and each statement SQLAlchemy sends on it."""
    seen: list[str] = []

    def checkout(*_: object) -> None:
        seen.append("checkout")

    def statement(_conn, _cursor, sql, *_: object) -> None:  # type: ignore[no-untyped-def]  # SQLAlchemy's event signature
        seen.append(sql)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "before_cursor_execute", statement)


def test_a_read_naming_no_guild_costs_what_a_read_naming_it_costs(
    settings: Settings, url: str
) -> None:
    on = settings.model_copy(update={"database_url": url, "database_path": None})
    with TestClient(create_app(on)) as client:
        services = client.app_state["services"]
        services.plans.post("d", DAY, "long above 950", AUTHOR, place=Place(GUILD))
        query = {"coach": "d", "date": DAY.isoformat()}
        named = client.get("/api/coach-plans/", params={**query, "guild": GUILD})
        unnamed = client.get("/api/coach-plans/", params=query)
        assert named.status_code == unnamed.status_code == 200
        assert unnamed.json() == named.json()
        # The chart retry pass runs once at start (then every 10 minutes) on the same engine:
        # measured once a read naming its guild is seen alone, which is three checkouts: the
        # guild's setup (its roster, zone and read key: read at every request, so a change made
        # on another instance applies at once), the plan, and its outcome.
        deadline = time.monotonic() + 60
        with_guild: list[str] = []
        while with_guild.count("checkout") != 3 and time.monotonic() < deadline:
            with round_trips(services.engine) as with_guild:
                assert client.get("/api/coach-plans/", params={**query, "guild": GUILD}).is_success
        # The set of guilds with plans is asked again when older than a few seconds: not now.
        assert client.get("/api/coach-plans/", params=query).is_success
        with round_trips(services.engine) as without_guild:
            assert client.get("/api/coach-plans/", params=query).is_success
    assert with_guild == without_guild
    assert with_guild.count("checkout") == 3


# --- history, a page at a time ----------------------------------------------------------


def test_a_long_history_is_read_a_page_at_a_time(client: TestClient) -> None:
    services = client.app_state["services"]
    plans = service(services.engine, clock=Clock())
    plans.post("d", DAY, "version 1", AUTHOR, place=Place(GUILD))
    for version in range(2, 27):
        plans.edit(GUILD, "d", DAY, AUTHOR, text=f"version {version}")
    query = {"coach": "d", "date": DAY.isoformat()}

    def page(**more: str) -> list[str]:
        response = client.get("/api/coach-plans/history", params={**query, **more})
        assert response.status_code == 200, response.text
        return [entry["plan_text"] for entry in response.json()["history"]]

    assert page() == [f"version {n}" for n in range(25, 0, -1)]  # all 25 fit the default page
    first = page(limit="10")
    assert first == [f"version {n}" for n in range(25, 15, -1)]
    body = client.get("/api/coach-plans/history", params={**query, "limit": "10"}).json()
    second = page(limit="10", before=body["history"][-1]["edited_at"])
    assert second == [f"version {n}" for n in range(15, 5, -1)]
    # Version n was replaced at 13:00:0(n+1): before 13:00:06, versions 4 to 1.
    assert page(limit="10", before="2025-03-14T13:00:06Z") == [
        f"version {n}" for n in range(4, 0, -1)
    ]
    for bad in ({"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"before": "yesterday"}):
        response = client.get("/api/coach-plans/history", params={**query, **bad})
        assert response.status_code == 400, bad
        assert response.json()["error"] == "bad_request"
