"""The plans' reads: the hot ones compiled once, the rest as SQLAlchemy statements; each returns
records. PlanRepository (repository.py) adds the writes on top."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine, bindparam, func, or_, select
from sqlalchemy.exc import OperationalError

from app.errors import StorageUnavailable
from app.records import Chart, HistoryPage, Plan
from app.storage import rows
from app.storage.database import PreparedRead
from app.storage.date_ranges import date_range
from app.storage.known_guilds import KnownGuilds
from app.storage.rows import (
    DELETED,
    HISTORY_COLUMNS,
    LIVE,
    LIVE_CHARTS,
    PENDING,
    PLANS_WITH_CHARTS,
    charts_t,
    counts_t,
    history_t,
    plans_t,
)


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        # Read-only file, full disk, server down: say so plainly; nothing was half-saved.
        raise StorageUnavailable(
            "The plan store is unavailable right now, so nothing was saved or read. "
            "Try again in a minute."
        ) from exc


class PlanReads:
    def __init__(self, engine: Engine, monotonic: Callable[[], float] | None = None) -> None:
        self.engine = engine
        # Which guilds have plans: read without a round trip while fresh (see KnownGuilds).
        self.known_guilds = KnownGuilds(monotonic or time.monotonic)
        # The reads on hot paths (REST by key, /all, autocomplete), compiled once.
        self._by_key = PreparedRead(
            engine,
            PLANS_WITH_CHARTS.where(
                plans_t.c.guild_id == bindparam("guild"),
                plans_t.c.coach_name == bindparam("coach"),
                plans_t.c.date == bindparam("day"),
                LIVE,
            ),
        )
        self._by_date = PreparedRead(
            engine,
            PLANS_WITH_CHARTS.where(
                plans_t.c.guild_id == bindparam("guild"), plans_t.c.date == bindparam("day"), LIVE
            ).order_by(plans_t.c.coach_name, charts_t.c.id),
        )
        dates = (
            select(plans_t.c.date)
            .where(
                plans_t.c.guild_id == bindparam("guild"),
                plans_t.c.coach_name == bindparam("coach"),
                # A range of dates, so the (guild, coach, date) index answers it: a cast to
                # text for LIKE would read every date of the coach.
                plans_t.c.date >= bindparam("low"),
                plans_t.c.date <= bindparam("high"),
            )
            .order_by(plans_t.c.date.desc())
            .limit(bindparam("limit"))
        )
        self._dates = PreparedRead(engine, dates.where(LIVE))
        # For /history: deleted plans' dates too (several plans may share one).
        self._dates_any = PreparedRead(engine, dates.distinct())
        # Which guilds have plans (deleted ones too, so the answer only ever grows): each has
        # its counts row; plans without a guild count under "".
        self._guilds = PreparedRead(
            engine,
            select(counts_t.c.guild_id)
            .where(counts_t.c.guild_id != "")
            .order_by(counts_t.c.guild_id)
            .limit(bindparam("limit")),
        )

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        with storage_errors(), self.engine.begin() as connection:
            yield connection

    def live(self, guild: str, coach: str, day: date) -> Plan | None:
        """The guild's live plan for a coach and date."""
        with storage_errors():
            found = rows.plans_from_rows(self._by_key.rows(guild=guild, coach=coach, day=day))
        return found[0] if found else None

    def last_deleted(self, guild: str, coach: str, day: date) -> Plan | None:
        """The guild's most recently deleted plan for a coach and date."""
        latest = (
            select(plans_t.c.id)
            .where(
                plans_t.c.guild_id == guild,
                plans_t.c.coach_name == coach,
                plans_t.c.date == day,
                DELETED,
            )
            .order_by(plans_t.c.deleted_at.desc().nulls_last(), plans_t.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        with self._reading() as connection:
            found = rows.plans_from_rows(
                connection.execute(PLANS_WITH_CHARTS.where(plans_t.c.id == latest))
            )
        return found[0] if found else None

    def by_id(self, guild: str, plan_id: int) -> Plan | None:
        """A plan of this guild by id, deleted or not."""
        query = PLANS_WITH_CHARTS.where(plans_t.c.id == plan_id, plans_t.c.guild_id == guild)
        with self._reading() as connection:
            found = rows.plans_from_rows(connection.execute(query))
        return found[0] if found else None

    def as_of(self, guild: str, coach: str, day: date, instant: datetime) -> Plan | None:
        """The plan as it stood at `instant`: its text then, and only the charts it had then."""
        found = self.all_as_of(guild, day, instant, coach)
        return found[0] if found else None

    def all_as_of(
        self, guild: str, day: date, instant: datetime, coach: str | None = None
    ) -> list[Plan]:
        """Each coach's plan of the date as it stood at `instant` (deleted ones included if
        they still stood then), read in one transaction."""
        where = [
            plans_t.c.guild_id == guild,
            plans_t.c.date == day,
            plans_t.c.created_at <= instant,
            or_(plans_t.c.deleted_at.is_(None), plans_t.c.deleted_at > instant),
        ]
        if coach is not None:
            where.append(plans_t.c.coach_name == coach)
        with self._reading() as connection:
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
            return [self._then(connection, plan, instant) for plan in plans]

    @staticmethod
    def _then(connection: Connection, plan: Plan, instant: datetime) -> Plan:
        """`plan` with the text and levels it had at `instant`."""
        # Each history row holds the text an edit replaced, stamped with that edit's time.
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

    def by_date(self, guild: str, day: date) -> list[Plan]:
        with storage_errors():
            return rows.plans_from_rows(self._by_date.rows(guild=guild, day=day))

    def by_author(self, guild: str, author_id: str, day: date) -> list[Plan]:
        query = PLANS_WITH_CHARTS.where(
            plans_t.c.guild_id == guild,
            plans_t.c.author_id == author_id,
            plans_t.c.date == day,
            LIVE,
        ).order_by(plans_t.c.coach_name, charts_t.c.id)
        with self._reading() as connection:
            return rows.plans_from_rows(connection.execute(query))

    def history(self, plan_id: int, limit: int, before: datetime | None = None) -> HistoryPage:
        """Up to `limit` of a plan's earlier texts, newest first (with `before`, only those
        replaced before that instant), and how many it has in all; both from the
        (plan_id, edited_at) index, however long the history."""
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
        with self._reading() as connection:
            entries = [rows.history_entry(row) for row in connection.execute(query)]
            return HistoryPage(entries, connection.execute(total).scalar_one())

    def dates(
        self, guild: str, coach: str, prefix: str, limit: int, deleted: bool = False
    ) -> list[date]:
        """Dates with a live plan (or, with `deleted`, any plan) for the coach, newest first,
        whose text starts with `prefix`."""
        span = date_range(prefix)
        if span is None:
            return []
        read = self._dates_any if deleted else self._dates
        with storage_errors():
            found = read.rows(guild=guild, coach=coach, low=span[0], high=span[1], limit=limit)
        return [row.date for row in found]

    def guilds(self, limit: int) -> list[str]:
        """Up to `limit` guilds with plans; from memory while fresh (KnownGuilds)."""
        known = self.known_guilds.answer(limit)
        if known is not None:
            return known
        since = self.known_guilds.since()
        with storage_errors():
            found = [row.guild_id for row in self._guilds.rows(limit=limit)]
        self.known_guilds.read(found, since)
        return sorted(found)

    def chart(self, chart_id: int) -> Chart | None:
        """A chart of a live plan."""
        with self._reading() as connection:
            row = connection.execute(LIVE_CHARTS.where(charts_t.c.id == chart_id)).first()
        return None if row is None else rows.chart(row, plan_id=row.plan_id)

    def unarchived_charts(self, limit: int) -> list[Chart]:
        """Charts of live plans not downloaded yet and not refused for good (oldest first)."""
        # PENDING as the partial index ix_plan_charts_pending states it: only the charts
        # waiting are read, never the whole table.
        query = LIVE_CHARTS.where(PENDING).order_by(charts_t.c.id).limit(limit)
        with self._reading() as connection:
            return [rows.chart(row, plan_id=row.plan_id) for row in connection.execute(query)]

    def counts(self) -> dict[str, int]:
        """Live plans, charts and edits (history rows) of every guild: the kept counts' sums,
        one row per guild, never a count over the tables themselves."""
        with self._reading() as connection:
            return rows.count_sums(connection)

    @staticmethod
    def _load(connection: Connection, plan_id: int) -> Plan:
        query = PLANS_WITH_CHARTS.where(plans_t.c.id == plan_id).order_by(charts_t.c.id)
        return rows.plans_from_rows(connection.execute(query))[0]
