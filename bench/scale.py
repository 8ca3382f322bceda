"""Costs as data grows: /health, /metrics, start-up to healthy, date autocomplete, the chart retry
pass and a plan's 1,000-version /history, on a small database and a large one, on SQLite and on
PostgreSQL. Each should cost the same at both sizes.

Each database is generated in SQL (a recursive CTE on SQLite, generate_series on PostgreSQL) at
the schema of the revision before the kept counts, then upgraded as an existing database would
be (its counts taken once): the upgrade's time is shown too. PostgreSQL is the test suite's
throwaway server (tests/support/postgres_server.py), analysed after loading as autovacuum would.

Sizes: 1,000 plans and BENCH_SCALE_PLANS (default 1,000,000). Each plan is one coach's for one
date; a tenth are deleted, half have a chart (100 of those still waiting for their download),
the other half one earlier version; coach d's plan on the seed day has 1,000 earlier versions.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from run import Bench

SMALL = 1_000
LARGE = int(os.environ.get("BENCH_SCALE_PLANS", 1_000_000))
VERSIONS = 1_000
PENDING = 100  # charts still to download, on the newest plans
CALLS = 100  # timed requests per cost
STARTS = 3
CREATED = "2026-01-05 12:00:00"


def _created(dialect: str) -> str:
    return ":created" if dialect == "sqlite" else "CAST(:created AS timestamptz)"


def _plans_sql(dialect: str) -> str:
    deleted = "i % 10 = 9"
    created = _created(dialect)
    if dialect == "sqlite":
        rows = "n"
        day = "date(:seed, '-' || (i / 4) || ' days')"
    else:
        rows = "generate_series(0, :count - 1) AS n(i)"
        day = "CAST(:seed AS date) - CAST(i / 4 AS integer)"
    return f"""
        INSERT INTO coach_plans (id, coach_name, date, plan, author, author_id, guild_id, channel,
                                 channel_id, created_at, is_deleted, deleted_at, deleted_by,
                                 deleted_by_name, version)
        SELECT i + 1, substr('disn', CAST(i % 4 AS integer) + 1, 1), {day},
               'Plan ' || i || ': long above 950, stop 940, target 975.', 'coach', :user, :guild,
               'plans', :channel, {created}, ({deleted}),
               CASE WHEN {deleted} THEN {created} END, CASE WHEN {deleted} THEN :deleter END,
               CASE WHEN {deleted} THEN 'coach' END, CASE WHEN {deleted} THEN 2 ELSE 1 END
        FROM {rows}
    """


def _charts_sql(dialect: str) -> str:
    rows = "n" if dialect == "sqlite" else "generate_series(0, :count - 1) AS n(i)"
    # An .invalid host: the service refuses it at once, never reaching out to the internet.
    return f"""
        INSERT INTO plan_charts (plan_id, chart_url, filename, content_type, size, stored_path,
                                 added_at)
        SELECT i + 1, 'https://cdn.example.invalid/' || i || '.png', 'c.png', 'image/png', 1000,
               CASE WHEN i < :count - {2 * PENDING} THEN 'c/' || i || '.png' END,
               {_created(dialect)}
        FROM {rows} WHERE i % 2 = 0
    """


def _history_sql(dialect: str) -> str:
    rows = "n" if dialect == "sqlite" else "generate_series(0, :count - 1) AS n(i)"
    return f"""
        INSERT INTO plan_history (plan_id, plan_text, edited_by, edited_by_id, edited_at)
        SELECT i + 1, 'An earlier text of plan ' || i, 'coach', :user, {_created(dialect)}
        FROM {rows} WHERE i % 2 = 1
    """


def _versions_sql(dialect: str) -> str:
    if dialect == "sqlite":
        rows = "n"
        when = "datetime(:created, '+' || (i + 1) || ' seconds')"
    else:
        rows = "generate_series(0, :versions - 1) AS n(i)"
        when = "CAST(:created AS timestamptz) + i * interval '1 second'"
    return f"""
        INSERT INTO plan_history (plan_id, plan_text, edited_by, edited_by_id, edited_at)
        SELECT 1, 'Version ' || (i + 1) || ' of the seed plan: long above 950.', 'coach', :user,
               {when}
        FROM {rows}
    """


def _series(statement: str, limit: str) -> str:
    """SQLite's row source: a recursive CTE counting 0 .. limit-1, put before the INSERT."""
    counting = f"SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {limit} - 1"
    return f"WITH RECURSIVE n(i) AS ({counting}) {statement}"


def build(url: str, count: int, b: Bench) -> float:
    """A database of `count` plans at revision 0005, upgraded to head; the upgrade's seconds."""
    from alembic import command
    from alembic.config import Config
    from run import GUILD_ID, SEED_DAY, USER_ID
    from sqlalchemy import text

    from app.storage import database

    engine = database.make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
    dialect = engine.dialect.name
    params = {
        "count": count,
        "versions": VERSIONS,
        "seed": SEED_DAY.isoformat(),
        "user": USER_ID,
        "deleter": USER_ID,  # its own name: PostgreSQL types each parameter once
        "guild": GUILD_ID,
        "channel": "300000000000000001",
        "created": CREATED if dialect == "sqlite" else f"{CREATED}+00",
    }
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        connection.commit()
        for make in (_plans_sql, _charts_sql, _history_sql, _versions_sql):
            statement = make(dialect)
            if dialect == "sqlite":
                limit = ":versions" if make is _versions_sql else ":count"
                statement = _series(statement, limit)
            connection.execute(text(statement), params)
        if dialect == "postgresql":
            connection.execute(text("SELECT setval('coach_plans_id_seq', :count)"), params)
        connection.commit()
        if dialect == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    started = time.perf_counter()
    database.migrate(engine)
    upgrade = time.perf_counter() - started
    engine.dispose()
    return upgrade


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def _timed(call: Callable[[], object], count: int = CALLS) -> tuple[float, float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return _percentiles(seconds)


def retry_pass(url: str) -> tuple[float, float]:
    """The chart retry pass's read (what it does before any download), in this process."""
    from app.storage.database import make_engine
    from app.storage.repository import PlanRepository

    engine = make_engine(url)
    repository = PlanRepository(engine)
    found = repository.unarchived_charts(100)
    assert len(found) == min(PENDING, 100), len(found)
    timing = _timed(lambda: repository.unarchived_charts(100), 20)
    engine.dispose()
    return timing


def serve(b: Bench, name: str, url: str) -> tuple[AbstractContextManager[float], str]:
    from run import PYTHON, free_port, server

    port = free_port()
    argv = [str(Path(PYTHON).parent / "coach-plans"), "serve", "--host", "127.0.0.1"]
    env = {k: v for k, v in b.ours_env(name).items() if k != "DATABASE_PATH"}
    return server([*argv, "--port", str(port)], port, {**env, "DATABASE_URL": url}, "/health"), (
        f"http://127.0.0.1:{port}"
    )


def service_costs(b: Bench, name: str, url: str) -> dict[str, Any]:
    from run import GUILD_ID, SEED_DAY

    starts = []
    for _ in range(STARTS):
        ctx, _ = serve(b, name, url)
        with ctx as seconds:
            starts.append(seconds)
    costs: dict[str, Any] = {
        "start_to_healthy_ms": (statistics.median(starts) * 1000, max(starts) * 1000)
    }
    ctx, base = serve(b, name, url)
    with ctx, httpx.Client(base_url=base, timeout=30) as http:
        health = http.get("/health").json()
        assert health["components"]["database"]["plan_count"] > 0, health
        costs["health_ms"] = _timed(lambda: http.get("/health").raise_for_status())
        totals = http.get("/metrics").json()["database"]
        costs["metrics_ms"] = _timed(lambda: http.get("/metrics").raise_for_status())
        query = {"coach": "d", "date": SEED_DAY.isoformat(), "guild": GUILD_ID}
        page = http.get("/api/coach-plans/history", params=query).json()
        assert len(page["history"]) == 100, len(page["history"])
        history = lambda: http.get("/api/coach-plans/history", params=query).raise_for_status()  # noqa: E731
        costs["history_ms"] = _timed(history)
        typed = iter(["", "2026-0", "2025", "2025-1"] * CALLS)  # each has dates at both sizes

        def autocomplete() -> None:
            options = [
                {"name": "coach", "type": 3, "value": "d"},
                {"name": "date", "type": 3, "value": next(typed), "focused": True},
            ]
            data = {"id": "500000000000000002", "name": "edit", "type": 1, "options": options}
            headers, body = b.signed(b.interaction(4, data))
            answer = http.post("/interactions", content=body, headers=headers)
            assert answer.json()["data"]["choices"], answer.text

        costs["autocomplete_ms"] = _timed(autocomplete)
    costs["plan_count"] = health["components"]["database"]["plan_count"]
    costs["totals"] = totals
    return costs


@contextmanager
def postgres() -> Iterator[Any]:
    """The test suite's throwaway PostgreSQL server."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests.support.postgres_server import PostgresServer

    folder = Path(tempfile.mkdtemp(prefix="coach-plans-bench-pg-"))
    pg = PostgresServer(folder)
    pg.init()
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


ROWS = [
    ("upgrade to head (counts taken)", "upgrade_s"),
    ("start to healthy, median / max", "start_to_healthy_ms"),
    ("/health p50 / p99", "health_ms"),
    ("/metrics p50 / p99", "metrics_ms"),
    ("date autocomplete p50 / p99", "autocomplete_ms"),
    ("chart retry pass read p50 / p99", "retry_ms"),
    ("/history, 1000 versions p50 / p99", "history_ms"),
]


def case_scale(b: Bench) -> dict[str, object]:
    report: dict[str, object] = {}
    with postgres() as pg:
        for dialect in ("sqlite", "postgresql"):
            for count in (SMALL, LARGE):
                name = f"scale-{dialect}-{count}"
                if dialect == "sqlite":
                    url = f"sqlite:///{b.work / f'{name}.db'}"
                else:
                    url = pg.new_database()
                started = time.perf_counter()
                upgrade = build(url, count, b)
                print(f"built {name} in {time.perf_counter() - started:.1f} s", flush=True)
                costs: dict[str, Any] = {"upgrade_s": upgrade, "retry_ms": retry_pass(url)}
                costs.update(service_costs(b, name, url))
                report[name] = costs
    show(report)
    return report


def show(report: dict[str, object]) -> None:
    names = list(report)
    print("== costs as data grows (ms unless said; each pair p50 / p99)")
    print(f"{'cost':<36}" + "".join(f"{n.removeprefix('scale-'):>22}" for n in names))
    for title, key in ROWS:
        cells = []
        for name in names:
            value = report[name][key]  # type: ignore[index]
            cells.append(
                f"{value:.2f} s" if key == "upgrade_s" else f"{value[0]:.1f} / {value[1]:.1f}"
            )
        print(f"{title:<36}" + "".join(f"{cell:>22}" for cell in cells))
    print(
        f"{'plan_count on /health':<36}" + "".join(f"{report[n]['plan_count']:>22}" for n in names)
    )  # type: ignore[index]
    print()
