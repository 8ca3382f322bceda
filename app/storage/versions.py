"""A plan's earlier versions, read inside a repository transaction (app/storage/repository.py):
the plans of a day as they stood at an instant (their text, levels and charts then), and a page
of a plan's history. Each history row holds the text (and levels) an edit replaced, stamped
with that edit's time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy import Connection, func, or_, select

from app.records import HistoryPage, Plan
from app.storage import rows
from app.storage.rows import HISTORY_COLUMNS, PLANS_WITH_CHARTS, history_t, plans_t


def standing_at(
    connection: Connection, guild: str, day: date, instant: datetime, coach: str | None = None
) -> list[Plan]:
    """Each coach's plan of the date as it stood at `instant` (deleted ones included if they
    still stood then)."""
    where = [
        plans_t.c.guild_id == guild,
        plans_t.c.date == day,
        plans_t.c.created_at <= instant,
        or_(plans_t.c.deleted_at.is_(None), plans_t.c.deleted_at > instant),
    ]
    if coach is not None:
        where.append(plans_t.c.coach_name == coach)
    standing: dict[str, int] = {}  # per coach, the newest plan standing then
    query = select(plans_t.c.id, plans_t.c.coach_name).where(*where)
    for row in connection.execute(query.order_by(plans_t.c.created_at.desc())):
        standing.setdefault(row.coach_name, row.id)
    if not standing:
        return []
    plans = rows.plans_from_rows(
        connection.execute(PLANS_WITH_CHARTS.where(plans_t.c.id.in_(standing.values()))),
        charts_until=instant.astimezone(UTC),
    )
    return [_then(connection, plan, instant) for plan in plans]


def _then(connection: Connection, plan: Plan, instant: datetime) -> Plan:
    """`plan` with the text and levels it had at `instant`."""
    later = connection.execute(
        select(history_t.c.plan_text, history_t.c.plan_levels)
        .where(history_t.c.plan_id == plan.id, history_t.c.edited_at > instant)
        .order_by(history_t.c.edited_at, history_t.c.id)
        .limit(1)
    ).first()
    if later is None:
        return replace(plan, is_deleted=False, deletion=None)
    last_edit = connection.execute(
        select(func.max(history_t.c.edited_at)).where(
            history_t.c.plan_id == plan.id, history_t.c.edited_at <= instant
        )
    ).scalar()
    return replace(
        plan,
        text=later.plan_text,
        levels=rows.levels(later.plan_levels),
        edited_at=rows.utc(last_edit),
        is_deleted=False,
        deletion=None,
    )


def history_page(
    connection: Connection, plan_id: int, limit: int, before: datetime | None = None
) -> HistoryPage:
    """Up to `limit` of a plan's earlier texts, newest first (with `before`, only those replaced
    before that instant), and how many it has in all; both from the (plan_id, edited_at) index,
    however long the history."""
    where = [history_t.c.plan_id == plan_id]
    if before is not None:
        where.append(history_t.c.edited_at < before)
    query = (
        select(*HISTORY_COLUMNS)
        .where(*where)
        .order_by(history_t.c.edited_at.desc(), history_t.c.id.desc())
        .limit(limit)
    )
    total = select(func.count()).select_from(history_t).where(history_t.c.plan_id == plan_id)
    entries = [rows.history_entry(row) for row in connection.execute(query)]
    return HistoryPage(entries, connection.execute(total).scalar_one())
