"""The engine and its connection settings, schema upgrades on start, and the health probe.

SQLite settings, chosen for a service that acknowledges a plan only once it is safe:
- WAL: readers never wait for the writer, and the writer never waits for readers.
- synchronous=FULL: a commit is fsynced before it returns, so an acknowledged plan survives a
  killed process and a power cut alike (NORMAL would survive only the former).
- busy_timeout 30 s: another process's write makes us wait, never fail with "database is locked".
- foreign_keys=ON: SQLite enforces the charts' and history's references only when asked.
- Writes open with BEGIN IMMEDIATE, taking the write lock up front: a read-then-write transaction
  can then never fail to upgrade its lock halfway, which is what surfaces "database is locked".
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Select, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from app.errors import StorageUnavailable
from app.storage.rows import count_sums

log = logging.getLogger("coach_plans")

# The newest migration; `migrate` skips loading Alembic when the database is already there.
# tests/test_migrations.py checks it names Alembic's head.
HEAD_REVISION = "0010"
BUSY_TIMEOUT_MS = 30_000
MIN_FREE_BYTES = 1024 * 1024  # below this, /health says the database is down: writes would fail
WRITE_OPTION = "coach_plans_write"


def normalise_url(url: str) -> str:
    """Accept the postgres:// and postgresql:// forms hosts hand out; we speak psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(url: str, *, pooled: bool = True) -> Engine:
    """The engine for `url`; `pooled=False` opens a new connection each time (the health probe:
    a pooled SQLite connection would answer from its cache after the file was damaged)."""
    url = normalise_url(url)
    pool: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if not url.startswith("sqlite"):
        if pooled:
            # pre_ping: a connection broken by a database restart is replaced, not handed out.
            pool = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}
        return create_engine(url, **pool)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        **pool,
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    event.listen(engine, "commit", _release_write_lock)
    event.listen(engine, "rollback", _release_write_lock)
    event.listen(engine, "close", _close_write_lock)
    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, whose transactions take SQLite's write lock when they begin."""
    return engine.execution_options(**{WRITE_OPTION: True})


def _sqlite_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]  # DB-API objects carry no types
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own would be deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    if not connection.get_execution_options().get(WRITE_OPTION, False):
        connection.exec_driver_sql("BEGIN")
        return
    # Writers queue on a lock file first: a waiting writer then wakes the moment the previous
    # one commits, where SQLite's own busy handler polls with sleeps of up to 100 ms (the tail
    # this saves: docs/performance.md, "The write lock file").
    lock = connection.info.get("write_lock")
    if lock is None:
        database = connection.engine.url.database or ""
        lock = connection.info["write_lock"] = open(f"{database}.write-lock", "a+b")  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX)
    connection.info["write_locked"] = True
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _release_write_lock(connection)
        raise


def _release_write_lock(connection: Connection) -> None:
    if connection.info.pop("write_locked", False):
        fcntl.flock(connection.info["write_lock"], fcntl.LOCK_UN)


def _close_write_lock(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]  # DB-API objects carry no types
    lock = record.info.pop("write_lock", None) if record is not None else None
    if lock is not None:
        lock.close()  # also releases the lock, should it still be held


def migrate(engine: Engine) -> None:
    """Upgrade the schema to head; safe when several workers start at once."""
    with _migration_lock(engine) as connection:
        if _current_revision(connection) == HEAD_REVISION:
            return
        # Alembic is loaded only when there is something to do: it is not on the cold-start path.
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
        log.info("database schema upgraded to %s", HEAD_REVISION)


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """One migrator at a time: an advisory lock on PostgreSQL, a lock file beside SQLite's file."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(4202611)"))
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(4202611)"))
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with engine.connect() as connection:
            yield connection
        return
    with open(f"{database}.migrate-lock", "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _current_revision(connection: Connection) -> str | None:
    revision = None
    if inspect(connection).has_table("alembic_version"):
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    connection.commit()
    return revision


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """A database that cannot be reached or written, as the refusal users see."""
    try:
        yield
    except OperationalError as exc:
        # Read-only file, full disk, server down: say so plainly; nothing was half-saved.
        raise StorageUnavailable(
            "The plan store is unavailable right now, so nothing was saved or read. "
            "Try again in a minute."
        ) from exc


class DiskFull(Exception):
    """The SQLite file's disk has no room left for new plans (reads still work)."""


def ping(engine: Engine) -> int:
    """Really ask the database: the number of live plans (the kept counts' sum, one row per
    guild: as quick with millions of plans as with none). On SQLite, also refuse when the
    disk is full, since every write would then fail while reads go on looking fine."""
    with engine.connect() as connection:
        count = count_sums(connection)["plans"]
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        disk = os.statvfs(Path(database).parent)
        if disk.f_bavail * disk.f_frsize < MIN_FREE_BYTES:
            raise DiskFull(f"less than {MIN_FREE_BYTES} bytes free beside {database}")
    return count


class PreparedRead:
    """A SELECT compiled once for the engine's dialect and run on the driver's own cursor.

    For the hot reads (a plan by key, a day's plans, autocomplete dates): building and compiling a
    statement through SQLAlchemy on every call costs several times the query itself. Values still
    pass through the column types' own converters, so rows look the same as through SQLAlchemy
    (dates are dates on SQLite too), and driver errors arrive as SQLAlchemy's. Its figure, on and
    off: docs/performance.md ("PreparedRead")."""

    def __init__(self, engine: Engine, statement: Select[Any]) -> None:
        self.engine = engine
        dialect = engine.dialect
        self.compiled = compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positions = compiled.positiontup if compiled.positional else None
        self.binders = {
            name: processor
            for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        columns = list(statement.selected_columns)
        self.row = namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]  # field names known only at run time
        self.converters = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self.errors = dialect.loaded_dbapi.Error

    def bound(self, **params: Any) -> tuple[str, Any]:
        """The SQL and the driver's arguments this read runs with (EXPLAIN takes them too)."""
        values = self.compiled.construct_params(params)
        for name, processor in self.binders.items():
            values[name] = processor(values[name])
        return self.sql, tuple(
            values[name] for name in self.positions
        ) if self.positions else values

    def rows(self, **params: Any) -> list[Any]:
        _, args = self.bound(**params)
        try:
            connection = self.engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(self.sql, args)
                fetched = cursor.fetchall()
                cursor.close()
            finally:
                connection.close()  # back to the pool, rolled back
        except self.errors as exc:
            raise DBAPIError.instance(self.sql, args, exc, self.errors) from exc
        make, converters = self.row._make, self.converters  # type: ignore[attr-defined]  # a namedtuple class
        return [
            make([raw_value if convert is None else convert(raw_value) for convert, raw_value
                  in zip(converters, raw, strict=True)])
            for raw in fetched
        ]  # fmt: skip
