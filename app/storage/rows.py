"""The tables as SQLAlchemy sees them, the columns reads select, and rows turned into records."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from app.records import Chart, Deletion, HistoryEntry, Levels, Plan
from app.storage.models import (
    CoachPlan,
    GuildCount,
    HandledRequest,
    PlanChart,
    PlanHistory,
    Posting,
)

# SQLModel's table classes carry their Table untyped.
plans_t: Table = CoachPlan.__table__  # type: ignore[attr-defined]  # SQLModel exposes __table__ untyped
charts_t: Table = PlanChart.__table__  # type: ignore[attr-defined]  # SQLModel exposes __table__ untyped
history_t: Table = PlanHistory.__table__  # type: ignore[attr-defined]  # SQLModel exposes __table__ untyped
handled_t: Table = HandledRequest.__table__  # type: ignore[attr-defined]  # SQLModel exposes __table__ untyped
postings_t: Table = Posting.__table__  # type: ignore[attr-defined]  # SQLModel exposes __table__ untyped
counts_t: Table = GuildCount.__table__  # type: ignore[attr-defined]  # SQLModel exposes __table__ untyped

PLAN_COLUMNS = (
    plans_t.c.id,
    plans_t.c.coach_name,
    plans_t.c.date,
    plans_t.c.plan,
    plans_t.c.author,
    plans_t.c.author_id,
    plans_t.c.guild_id,
    plans_t.c.channel,
    plans_t.c.channel_id,
    plans_t.c.created_at,
    plans_t.c.edited_at,
    plans_t.c.version,
    plans_t.c.is_deleted,
    plans_t.c.deleted_at,
    plans_t.c.deleted_by,
    plans_t.c.deleted_by_name,
    plans_t.c.levels,
)
CHART_COLUMNS = (
    charts_t.c.id.label("chart_id"),
    charts_t.c.chart_url,
    charts_t.c.filename,
    charts_t.c.content_type,
    charts_t.c.size,
    charts_t.c.stored_path,
    charts_t.c.added_at,
    charts_t.c.failed_reason,
)
# A plan and its charts in one round trip.
PLANS_WITH_CHARTS: Select[Any] = select(*PLAN_COLUMNS, *CHART_COLUMNS).outerjoin(
    charts_t, charts_t.c.plan_id == plans_t.c.id
)
# Written as the live-plan index's predicate is (`is_deleted = 0` on SQLite, `NOT is_deleted` on
# PostgreSQL), so both planners see that the partial index serves the query; `IS false` matches
# neither.
LIVE = ~plans_t.c.is_deleted
DELETED = plans_t.c.is_deleted.is_(True)
# A chart still waiting for its download, as the partial index ix_plan_charts_pending says it.
PENDING = charts_t.c.stored_path.is_(None) & charts_t.c.failed_reason.is_(None)
LIVE_CHARTS: Select[Any] = (
    select(charts_t.c.plan_id, *CHART_COLUMNS)
    .join(plans_t, plans_t.c.id == charts_t.c.plan_id)
    .where(LIVE)
)
# The reads on hot paths, compiled once by the repository (PreparedRead): a plan by its key,
# a day's plans, a coach's dates in a range, and the guilds with plans.
# A plan's key (guild, coach, date) as parameters; with LIVE, the live plan's.
PLAN_KEY = (
    plans_t.c.guild_id == bindparam("guild"),
    plans_t.c.coach_name == bindparam("coach"),
    plans_t.c.date == bindparam("day"),
)
BY_KEY: Select[Any] = PLANS_WITH_CHARTS.where(*PLAN_KEY, LIVE)
BY_DATE: Select[Any] = PLANS_WITH_CHARTS.where(
    plans_t.c.guild_id == bindparam("guild"), plans_t.c.date == bindparam("day"), LIVE
).order_by(plans_t.c.coach_name, charts_t.c.id)
DATES: Select[Any] = (
    select(plans_t.c.date)
    .where(
        plans_t.c.guild_id == bindparam("guild"),
        plans_t.c.coach_name == bindparam("coach"),
        # A range of dates, so the (guild, coach, date) index answers it: a cast to text for
        # LIKE would read every date of the coach.
        plans_t.c.date >= bindparam("low"),
        plans_t.c.date <= bindparam("high"),
    )
    .order_by(plans_t.c.date.desc())
    .limit(bindparam("limit"))
)
# The write path's statements, built once with their values as parameters: SQLAlchemy then
# finds their compiled form in its cache without building and keying a new statement per write
# (docs/performance.md, "Statements built once").
LIVE_ID: Select[Any] = select(plans_t.c.id).where(*PLAN_KEY, LIVE)
# The live plan, locked for the transaction (FOR UPDATE on PostgreSQL).
LIVE_LOCKED: Select[Any] = select(*PLAN_COLUMNS).where(*PLAN_KEY, LIVE).with_for_update()
BY_ID: Select[Any] = PLANS_WITH_CHARTS.where(plans_t.c.id == bindparam("plan_id")).order_by(
    charts_t.c.id
)
CHART_COUNT: Select[Any] = select(func.count()).where(charts_t.c.plan_id == bindparam("plan_id"))
INSERT_PLAN = plans_t.insert()
INSERT_HISTORY = history_t.insert()
INSERT_CLAIM = handled_t.insert()
# Which guilds have plans (deleted ones too, so the answer only ever grows): each has its counts
# row; plans without a guild count under "".
GUILDS: Select[Any] = (
    select(counts_t.c.guild_id)
    .where(counts_t.c.guild_id != "")
    .order_by(counts_t.c.guild_id)
    .limit(bindparam("limit"))
)
# The kept counts added up over the guilds (one row each): what /health and /metrics show.
COUNT_SUMS: Select[Any] = select(
    func.coalesce(func.sum(counts_t.c.live_plans), 0).label("plans"),
    func.coalesce(func.sum(counts_t.c.charts), 0).label("charts"),
    func.coalesce(func.sum(counts_t.c.edits), 0).label("edits"),
)
HISTORY_COLUMNS = (
    history_t.c.plan_text,
    history_t.c.edited_by,
    history_t.c.edited_by_id,
    history_t.c.edited_at,
)


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; we only ever store UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else _utc(moment)


def plans_from_rows(rows: Iterable[Any], charts_until: datetime | None = None) -> list[Plan]:
    """Fold plan+chart join rows (ordered by plan) into plans; keeps the rows' order."""
    plans: dict[int, tuple[Any, list[Chart]]] = {}
    for row in rows:
        if row.id not in plans:
            plans[row.id] = (row, [])
        if row.chart_id is None:
            continue
        found = chart(row, plan_id=row.id)
        if charts_until is None or found.added_at <= charts_until:
            plans[row.id][1].append(found)
    return [plan(row, sorted(charts, key=lambda c: c.id)) for row, charts in plans.values()]


def chart(row: Any, plan_id: int) -> Chart:
    return Chart(
        id=row.chart_id,
        plan_id=plan_id,
        url=row.chart_url,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        stored_path=row.stored_path,
        added_at=_utc(row.added_at),
        failed_reason=row.failed_reason,
    )


def plan(row: Any, charts: Sequence[Chart] = ()) -> Plan:
    return Plan(
        id=row.id,
        coach=row.coach_name,
        date=row.date,
        text=row.plan,
        author=row.author,
        author_id=row.author_id,
        guild_id=row.guild_id,
        channel=row.channel,
        channel_id=row.channel_id,
        created_at=_utc(row.created_at),
        edited_at=utc(row.edited_at),
        version=row.version,
        is_deleted=bool(row.is_deleted),
        charts=tuple(charts),
        deletion=deletion(row),
        levels=levels(row.levels),
    )


def deletion(row: Any) -> Deletion | None:
    if not row.is_deleted or row.deleted_at is None or row.deleted_by is None:
        return None
    # No name recorded: the id stands in, as it does for anyone Discord gives no name.
    name = row.deleted_by_name or row.deleted_by
    return Deletion(by=name, by_id=row.deleted_by, at=_utc(row.deleted_at))


def levels(stored: str | None) -> Levels | None:
    return None if stored is None else Levels.from_dict(json.loads(stored))


def levels_json(value: Levels | None) -> str | None:
    return None if value is None else json.dumps(value.as_dict(), separators=(",", ":"))


def history_entry(row: Any) -> HistoryEntry:
    return HistoryEntry(row.plan_text, row.edited_by, row.edited_by_id, _utc(row.edited_at))


def count_sums(connection: Connection) -> dict[str, int]:
    """Live plans, charts and edits of every guild, from the kept counts."""
    total = connection.execute(COUNT_SUMS).one()
    return {"plans": int(total.plans), "charts": int(total.charts), "edits": int(total.edits)}


def add_counts(
    connection: Connection, guild: str | None, plans: int = 0, charts: int = 0, edits: int = 0
) -> None:
    """Add to the guild's kept counts, in the write's own transaction: they commit (or roll
    back) with the rows they count. The row is made by the guild's first plan."""
    if not (plans or charts or edits):
        return
    connection.execute(
        _count_upsert(connection.dialect.name),
        {"guild": guild or "", "plans": plans, "charts": charts, "edits": edits},
    )


@functools.cache
def _count_upsert(dialect_name: str) -> Any:
    """The kept counts' upsert, built once per dialect (an import adds to them per plan)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    upsert = dialect.insert(counts_t).values(
        guild_id=bindparam("guild"),
        live_plans=bindparam("plans"),
        charts=bindparam("charts"),
        edits=bindparam("edits"),
    )
    return upsert.on_conflict_do_update(
        index_elements=[counts_t.c.guild_id],
        set_={
            "live_plans": counts_t.c.live_plans + upsert.excluded.live_plans,
            "charts": counts_t.c.charts + upsert.excluded.charts,
            "edits": counts_t.c.edits + upsert.excluded.edits,
        },
    )
