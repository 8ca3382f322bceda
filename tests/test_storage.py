"""Storage under stress: migrations, concurrent edits (threads and processes), crashes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

import app.storage.database as database
from app.plans.service import PlanService
from app.records import Actor, Place
from app.storage.database import make_engine, migrate
from app.storage.models import SQLModel
from app.storage.repository import PlanRepository
from tests.support.migrations import alembic_config

GUILD = "290926798626357999"
HERE = Place(guild_id=GUILD)

DAY = date(2025, 3, 14)
AUTHOR = Actor(id="123456789012345678", name="coach d")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.plan_worker", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# --- migrations --------------------------------------------------------------------------------


def test_models_and_migrations_agree(engine: Engine) -> None:
    migrate(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_the_start_up_shortcut_names_alembics_head() -> None:
    config = alembic_config()
    assert ScriptDirectory.from_config(config).get_current_head() == database.HEAD_REVISION


def test_every_migration_file_is_one_step_of_one_chain() -> None:
    # Two branches that each added "the next" migration would leave two files with one id: Alembic
    # keeps one of them and a table silently never exists.
    folder = Path(database.__file__).parent / "migrations" / "versions"
    files = sorted(path.name for path in folder.glob("[0-9]*.py"))
    script = ScriptDirectory.from_config(alembic_config())
    chain = [revision.revision for revision in reversed(list(script.walk_revisions()))]
    assert [name[:4] for name in files] == chain
    assert chain == [f"{n:04d}" for n in range(1, len(chain) + 1)]


def test_two_workers_starting_at_once_both_migrate_safely(database_url: str) -> None:
    workers = [worker("migrate", database_url) for _ in range(2)]
    for process in workers:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    engine = make_engine(database_url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert versions == [(database.HEAD_REVISION,)]


# --- no lost update ----------------------------------------------------------------------------


def assert_edits_chain(plans: PlanService, expected_texts: set[str]) -> None:
    """Every edit replaced exactly the text the previous committed edit wrote."""
    current, entries = plans.history(GUILD, "d", DAY)
    oldest_first = [entry.plan_text for entry in reversed(entries)]
    assert len(oldest_first) == len(expected_texts)
    assert oldest_first[0] == "v0"
    # Each edit's text appears once as a replaced text, except the last, which is current.
    assert set(oldest_first[1:]) | {current.text} == expected_texts
    assert len(set(oldest_first)) == len(oldest_first)
    assert current.version == len(expected_texts) + 1


def test_twenty_concurrent_edits_from_threads_lose_nothing(engine: Engine) -> None:
    migrate(engine)
    plans = PlanService(PlanRepository(engine), coaches=["d"], timezone=ZoneInfo("UTC"))
    plans.post("d", DAY, "v0", AUTHOR, place=HERE)
    start = threading.Barrier(20)
    errors: list[BaseException] = []

    def edit(n: int) -> None:
        start.wait()
        try:
            plans.edit(GUILD, "d", DAY, AUTHOR, text=f"thread {n}")
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert_edits_chain(plans, {f"thread {n}" for n in range(20)})


def test_two_processes_editing_at_once_lose_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    plans = PlanService(PlanRepository(engine), coaches=["d"], timezone=ZoneInfo("UTC"))
    plans.post("d", DAY, "v0", AUTHOR, place=HERE)
    workers = [worker("edit", database_url, name, "10") for name in ("a", "b")]
    for process in workers:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert "locked" not in err
    assert_edits_chain(plans, {f"{name} {n}" for name in ("a", "b") for n in range(10)})
    engine.dispose()


# --- SQLite specifics --------------------------------------------------------------------------


def test_sqlite_connections_use_wal_full_sync_foreign_keys_and_a_busy_timeout(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    with engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    engine.dispose()
    assert pragma == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
                      "busy_timeout": 30000}  # fmt: skip


def test_a_killed_writer_loses_no_acknowledged_plan(tmp_path: Path) -> None:
    db = tmp_path / "plans.db"
    process = worker("post", f"sqlite:///{db}", "100000")
    assert process.stdout is not None
    acknowledged = [process.stdout.readline().strip() for _ in range(200)]
    os.kill(process.pid, signal.SIGKILL)  # mid-stream: it was posting as fast as it could
    process.communicate(timeout=10)  # reaps it and closes its pipes
    assert process.returncode == -signal.SIGKILL
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {row[0] for row in connection.execute("SELECT date FROM coach_plans")}
    assert len(acknowledged) == 200
    assert set(acknowledged) <= stored
