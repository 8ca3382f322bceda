"""The outcomes table: which plans are due for grading (with every version and when it stood),
writing a grade, and the reads of outcomes and of the rows a scorecard counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, Table, bindparam, delete, insert, select, tuple_

from app.outcomes.rules import Outcome
from app.records import Levels
from app.storage import rows
from app.storage.database import PreparedRead, storage_errors
from app.storage.models import PlanOutcome
from app.storage.rows import history_t, plans_t

outcomes_t: Table = PlanOutcome.__table__  # type: ignore[attr-defined]  # SQLModel exposes __table__ untyped

_FIELDS = (
    "status", "reason", "graded_version", "ticker", "side", "entry_fill", "entry_at",
    "exit_price", "exit_at", "targets_hit", "r_multiple", "ambiguous", "graded_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version of a plan as stored: its levels may be None (stored before levels were
    recorded: the rules read them from the text)."""

    number: int
    text: str
    levels: Levels | None
    since: datetime


@dataclass(frozen=True, slots=True)
class DuePlan:
    plan_id: int
    guild_id: str
    coach: str
    date: date
    deleted_at: datetime | None
    versions: tuple[StoredVersion, ...]  # oldest first


@dataclass(frozen=True, slots=True)
class ScoredRow:
    coach: str
    status: str
    r_multiple: float | None
    date: date | None = None  # the plan's session (the scorecard picture's x axis)


class OutcomeStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # The hot read (a plan's JSON carries its outcome), compiled once. SQLite only: on
        # PostgreSQL the float columns' converters need the cursor's types, which it skips.
        one = select(outcomes_t).where(outcomes_t.c.plan_id == bindparam("plan"))
        self._one = PreparedRead(engine, one) if engine.dialect.name == "sqlite" else None

    def due(
        self,
        until: date,
        since: date | None = None,
        after: tuple[date, int] | None = None,
        limit: int = 500,
        graded_too: bool = False,
    ) -> list[DuePlan]:
        """Plans dated in [since, until] with no outcome yet or a pending one (`graded_too`:
        every plan), oldest first; `after` (the last one's date and id) reads the next page."""
        graded = select(outcomes_t.c.plan_id).where(outcomes_t.c.status != "pending")
        where = [plans_t.c.date <= until]
        if not graded_too:
            where.append(plans_t.c.id.not_in(graded))
        if since is not None:
            where.append(plans_t.c.date >= since)
        if after is not None:
            where.append(tuple_(plans_t.c.date, plans_t.c.id) > tuple_(*after))
        return self._with_versions(where, limit)

    def plan(self, plan_id: int) -> DuePlan | None:
        """One plan with every version and when it stood (the outcome picture's levels)."""
        found = self._with_versions([plans_t.c.id == plan_id], 1)
        return found[0] if found else None

    def _with_versions(self, where: list[Any], limit: int) -> list[DuePlan]:
        query = (
            select(
                plans_t.c.id,
                plans_t.c.guild_id,
                plans_t.c.coach_name,
                plans_t.c.date,
                plans_t.c.plan,
                plans_t.c.levels,
                plans_t.c.created_at,
                plans_t.c.deleted_at,
            )
            .where(*where)
            .order_by(plans_t.c.date, plans_t.c.id)
            .limit(limit)
        )
        with storage_errors(), self.engine.begin() as connection:
            found = connection.execute(query).all()
            if not found:
                return []
            earlier: dict[int, list[Any]] = {}
            history = (
                select(
                    history_t.c.plan_id,
                    history_t.c.plan_text,
                    history_t.c.plan_levels,
                    history_t.c.edited_at,
                )
                .where(history_t.c.plan_id.in_([row.id for row in found]))
                .order_by(history_t.c.plan_id, history_t.c.edited_at, history_t.c.id)
            )
            for row in connection.execute(history):
                earlier.setdefault(row.plan_id, []).append(row)
        return [_due(row, earlier.get(row.id, [])) for row in found]

    def save(self, graded: Sequence[tuple[DuePlan, Outcome, datetime | None]]) -> None:
        """Write each plan's outcome, replacing the row it had (one per plan)."""
        if not graded:
            return
        with storage_errors(), self.engine.begin() as connection:
            ids = [plan.plan_id for plan, _, _ in graded]
            connection.execute(delete(outcomes_t).where(outcomes_t.c.plan_id.in_(ids)))
            connection.execute(
                insert(outcomes_t),
                [
                    {
                        "plan_id": plan.plan_id,
                        "guild_id": plan.guild_id,
                        "coach_name": plan.coach,
                        "date": plan.date,
                        "session_close": close,
                        **{name: getattr(outcome, name) for name in _FIELDS},
                    }
                    for plan, outcome, close in graded
                ],
            )

    def of_plans(self, plan_ids: Iterable[int]) -> dict[int, Outcome]:
        ids = list(plan_ids)
        if not ids:
            return {}
        if len(ids) == 1 and self._one is not None:
            with storage_errors():
                return {row.plan_id: _outcome(row) for row in self._one.rows(plan=ids[0])}
        query = select(outcomes_t).where(outcomes_t.c.plan_id.in_(ids))
        with storage_errors(), self.engine.begin() as connection:
            return {row.plan_id: _outcome(row) for row in connection.execute(query)}

    def scored(
        self, guild: str, days: Sequence[date], before: datetime, coach: str | None = None
    ) -> list[ScoredRow]:
        """The outcomes of the guild's plans dated on `days` whose session closed before
        `before` (plans on a day that was no session have no close, and count nowhere)."""
        if not days:
            return []
        columns = (outcomes_t.c.coach_name, outcomes_t.c.status, outcomes_t.c.r_multiple)
        query = select(*columns, outcomes_t.c.date).where(
            outcomes_t.c.guild_id == guild,
            outcomes_t.c.date.in_(list(days)),
            outcomes_t.c.session_close < before,
        )
        if coach is not None:
            query = query.where(outcomes_t.c.coach_name == coach)
        with storage_errors(), self.engine.begin() as connection:
            return [
                ScoredRow(r.coach_name, r.status, r.r_multiple, r.date)
                for r in connection.execute(query)
            ]


def _due(row: Any, history: list[Any]) -> DuePlan:
    versions = []
    since = _utc(row.created_at)
    for number, earlier in enumerate(history, start=1):
        levels = rows.levels(earlier.plan_levels)
        versions.append(StoredVersion(number, earlier.plan_text, levels, since))
        since = _utc(earlier.edited_at)
    versions.append(StoredVersion(len(history) + 1, row.plan, rows.levels(row.levels), since))
    return DuePlan(
        row.id, row.guild_id or "", row.coach_name, row.date, rows.utc(row.deleted_at),
        tuple(versions),
    )  # fmt: skip


def _utc(moment: datetime) -> datetime:
    return rows.utc(moment) or moment


def _outcome(row: Any) -> Outcome:
    values = {name: getattr(row, name) for name in _FIELDS}
    for name in ("entry_at", "exit_at", "graded_at"):
        values[name] = rows.utc(values[name])
    return Outcome(plan_id=row.plan_id, **values)
