"""Whole plans in and out, for moving them between databases (app/moving): every version, the
deletion and the charts, read a batch at a time, and written with the timestamps they were given,
never the clock's.

A plan is known by its guild, coach, date and the instant it was posted: a plan already stored
with those is the same plan, so writing it again adds nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.exc import IntegrityError

from app.records import Actor, Deletion, Levels, Place
from app.storage import rows
from app.storage.database import storage_errors, writer
from app.storage.rows import PLAN_COLUMNS, charts_t, history_t, plans_t

# Plans read per round trip: enough to keep the round trips few, small enough that a batch's
# rows (and their charts and history) are all an export holds at once.
BATCH = 500

Outcome = Literal["imported", "present", "conflict"]


@dataclass(frozen=True, slots=True)
class Version:
    """One text of a plan: who wrote it and from when it stood."""

    text: str
    levels: Levels | None  # None: recorded before levels were kept
    by: Actor
    at: datetime


@dataclass(frozen=True, slots=True)
class MovedChart:
    url: str
    filename: str
    content_type: str
    size: int
    added_at: datetime
    stored_path: str | None = None  # its name in the chart store, once archived
    failed_reason: str | None = None


@dataclass(frozen=True, slots=True)
class WholePlan:
    guild_id: str
    coach: str
    date: date
    author: Actor
    place: Place
    created_at: datetime
    versions: tuple[Version, ...]  # oldest first; the first is the plan as posted
    deletion: Deletion | None
    charts: tuple[MovedChart, ...]


@dataclass(frozen=True, slots=True)
class Stored:
    """What writing a plan did; `plan_id` and `chart_ids` (in the plan's order) unless it was a
    conflict."""

    outcome: Outcome
    plan_id: int | None = None
    chart_ids: tuple[int, ...] = ()


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- out ---------------------------------------------------------------------------------------


def whole_plans(
    engine: Engine, guild: str | None = None, batch: int = BATCH
) -> Iterator[WholePlan]:
    """Every plan (of `guild`, or of all guilds), deleted ones too, in the order they were
    stored. Reads `batch` plans per transaction: memory stays the same however many there are,
    and a running service's writes never wait on a long read."""
    after = 0
    while True:
        with storage_errors(), _snapshot(engine) as connection:
            query = select(*PLAN_COLUMNS).where(plans_t.c.id > after)
            if guild is not None:
                query = query.where(plans_t.c.guild_id == guild)
            plan_rows = list(connection.execute(query.order_by(plans_t.c.id).limit(batch)))
            if not plan_rows:
                return
            ids = [row.id for row in plan_rows]
            history: dict[int, list[Any]] = {}
            for row in connection.execute(
                select(history_t)
                .where(history_t.c.plan_id.in_(ids))
                .order_by(history_t.c.plan_id, history_t.c.edited_at, history_t.c.id)
            ):
                history.setdefault(row.plan_id, []).append(row)
            charts: dict[int, list[MovedChart]] = {}
            for row in connection.execute(
                select(charts_t).where(charts_t.c.plan_id.in_(ids)).order_by(charts_t.c.id)
            ):
                charts.setdefault(row.plan_id, []).append(_chart(row))
        for row in plan_rows:
            yield _whole(row, history.get(row.id, []), charts.get(row.id, []))
        after = ids[-1]


@contextlib.contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read transaction that sees one state of the database throughout (SQLite's WAL read
    transactions always do; PostgreSQL's need REPEATABLE READ)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            yield connection


def _chart(row: Any) -> MovedChart:
    return MovedChart(
        url=row.chart_url,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        added_at=rows.utc(row.added_at) or datetime.now(UTC),
        stored_path=row.stored_path,
        failed_reason=row.failed_reason,
    )


def _whole(row: Any, history: Sequence[Any], charts: Sequence[MovedChart]) -> WholePlan:
    # A history row holds the text an edit replaced, stamped with that edit's editor and time:
    # version k's text is in row k, and version k+1 was written by row k's editor at its time.
    author = Actor(row.author_id, row.author)
    texts = [(h.plan_text, rows.levels(h.plan_levels)) for h in history]
    texts.append((row.plan, rows.levels(row.levels)))
    writers = [(author, rows.utc(row.created_at))]
    writers += [(Actor(h.edited_by_id, h.edited_by), rows.utc(h.edited_at)) for h in history]
    versions = tuple(
        Version(text, levels, by, at)  # type: ignore[arg-type]  # created_at/edited_at: NOT NULL
        for (text, levels), (by, at) in zip(texts, writers, strict=True)
    )
    return WholePlan(
        guild_id=row.guild_id or "",
        coach=row.coach_name,
        date=row.date,
        author=author,
        place=Place(row.guild_id, row.channel_id, row.channel),
        created_at=versions[0].at,
        versions=versions,
        deletion=rows.deletion(row),
        charts=tuple(charts),
    )


# --- in ----------------------------------------------------------------------------------------


def store_plans(engine: Engine, plans: Sequence[WholePlan]) -> list[Stored]:
    """Write whole plans with their own timestamps, in one transaction (one commit, one fsync,
    for the lot) where each plan has a savepoint of its own: each is written whole or not at
    all. "present" when a plan is already stored; "conflict" when it is live and another live
    plan holds its guild, coach and date."""
    with storage_errors(), writer(engine).begin() as connection:
        return [_store(connection, plan) for plan in plans]


# Built once: an import runs them for every plan, and building a statement costs more than
# SQLite takes to run it.
_SAME = select(plans_t.c.id).where(*rows.PLAN_KEY, plans_t.c.created_at == bindparam("created"))
_CHART_IDS = (
    select(charts_t.c.id).where(charts_t.c.plan_id == bindparam("plan")).order_by(charts_t.c.id)
)


def _store(connection: Connection, plan: WholePlan) -> Stored:
    key = {"guild": plan.guild_id, "coach": plan.coach, "day": plan.date}
    try:
        with connection.begin_nested():
            found = connection.execute(_SAME, {**key, "created": _utc(plan.created_at)}).scalar()
            if found is not None:
                return Stored("present", found, _chart_ids(connection, found))
            if plan.deletion is None and connection.execute(rows.LIVE_ID, key).first() is not None:
                return Stored("conflict")
            return _insert(connection, plan)
    except IntegrityError:
        # A running service posted a live plan for the same coach and date meanwhile.
        return Stored("conflict")


def _chart_ids(connection: Connection, plan_id: int) -> tuple[int, ...]:
    return tuple(connection.execute(_CHART_IDS, {"plan": plan_id}).scalars())


def _insert(connection: Connection, plan: WholePlan) -> Stored:
    last = plan.versions[-1]
    edits = len(plan.versions) - 1
    moments = [v.at for v in plan.versions[1:]] + [c.added_at for c in plan.charts]
    later = [_utc(m) for m in moments if _utc(m) > _utc(plan.created_at)]
    deletion = plan.deletion
    # Each edit, each adding of charts apart from an edit, and the deletion made a version.
    charts_apart = {_utc(c.added_at) for c in plan.charts} - {_utc(v.at) for v in plan.versions}
    plan_id = connection.execute(
        plans_t.insert(),
        dict(
            coach_name=plan.coach,
            date=plan.date,
            plan=last.text,
            author=plan.author.name,
            author_id=plan.author.id,
            guild_id=plan.guild_id,
            channel=plan.place.channel,
            channel_id=plan.place.channel_id,
            created_at=_utc(plan.created_at),
            edited_at=max(later) if later else None,
            is_deleted=deletion is not None,
            deleted_at=None if deletion is None else _utc(deletion.at),
            deleted_by=None if deletion is None else deletion.by_id,
            deleted_by_name=None if deletion is None else deletion.by,
            version=1 + edits + len(charts_apart) + (deletion is not None),
            levels=rows.levels_json(last.levels),
        ),
    ).inserted_primary_key[0]  # type: ignore[index]  # one row inserted, one key
    if edits:
        connection.execute(
            history_t.insert(),
            [
                {
                    "plan_id": plan_id,
                    "plan_text": old.text,
                    "plan_levels": rows.levels_json(old.levels),
                    "edited_by": new.by.name,
                    "edited_by_id": new.by.id,
                    "edited_at": _utc(new.at),
                }
                for old, new in zip(plan.versions, plan.versions[1:], strict=False)
            ],
        )
    chart_ids = tuple(
        connection.execute(
            charts_t.insert(),
            dict(
                plan_id=plan_id,
                chart_url=chart.url,
                filename=chart.filename,
                content_type=chart.content_type,
                size=chart.size,
                added_at=_utc(chart.added_at),
                stored_path=chart.stored_path,
                failed_reason=chart.failed_reason,
            ),
        ).inserted_primary_key[0]  # type: ignore[index]  # one row inserted, one key
        for chart in plan.charts
    )
    rows.add_counts(connection, plan.guild_id, 0 if deletion else 1, len(plan.charts), edits)
    return Stored("imported", plan_id, chart_ids)


def chart_state(engine: Engine, chart_id: int) -> tuple[str | None, str | None]:
    """The chart's stored name and why it was refused (each None when it is not)."""
    with storage_errors(), engine.begin() as connection:
        row = connection.execute(
            select(charts_t.c.stored_path, charts_t.c.failed_reason).where(
                charts_t.c.id == chart_id
            )
        ).one()
    return row.stored_path, row.failed_reason
