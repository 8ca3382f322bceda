"""All SQL of the plans: reads (the hot ones compiled once), writes in transactions, locking,
idempotency keys and the charts' bookkeeping. Returns records, never ORM objects; the rules that
decide what is allowed live in app/plans/service.py and reach in through the `check` callbacks
of the writes.

Methods are synchronous: callers run them in worker threads.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from app.errors import AlreadyHandled, PlanExists, PlanNotFound, StaleVersion
from app.records import (
    Actor,
    Chart,
    Clock,
    DailyQuota,
    HistoryPage,
    Levels,
    NewChart,
    Place,
    Plan,
    system_clock,
)
from app.storage import postings, rows, versions
from app.storage.database import PreparedRead, storage_errors, writer
from app.storage.date_ranges import date_range
from app.storage.known_guilds import KnownGuilds
from app.storage.rows import (
    DELETED,
    LIVE,
    LIVE_CHARTS,
    PENDING,
    PLANS_WITH_CHARTS,
    charts_t,
    plans_t,
)

# Discord never delivers an interaction later than its token's 15 minutes; a day is ample.
KEY_LIFETIME = timedelta(days=1)
SWEEP_EVERY = 256  # claims
# A write's rule check, run on the locked plan and its number of charts.
Check = Callable[[Plan, int], None]


class PlanRepository:
    """Every read and every write of the plans."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock = system_clock,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        # What time a write (and a claimed idempotency key) is stamped with.
        self._now = clock
        self._writer = writer(engine)
        self._claims = itertools.count()
        self._postings = itertools.count()
        # Which guilds have plans: read without a round trip while fresh (see KnownGuilds).
        self.known_guilds = KnownGuilds(monotonic)
        # The reads on hot paths (REST by key, /all, autocomplete), compiled once.
        self._by_key = PreparedRead(engine, rows.BY_KEY)
        self._by_date = PreparedRead(engine, rows.BY_DATE)
        self._dates = PreparedRead(engine, rows.DATES.where(LIVE))
        # For /history: deleted plans' dates too (several plans may share one).
        self._dates_any = PreparedRead(engine, rows.DATES.distinct())
        self._guilds = PreparedRead(engine, rows.GUILDS)

    @contextlib.contextmanager
    def _transaction(self, write: bool, once: str | None = None) -> Iterator[Connection]:
        """A transaction; with `once`, an idempotency key it claims first, so the same request
        delivered twice (to two workers, or two instances) is carried out once."""
        with storage_errors(), (self._writer if write else self.engine).begin() as connection:
            if once is not None:
                # Old keys are swept now and then, not on every write: it is on the write path.
                self._claim(connection, once, forget_old=next(self._claims) % SWEEP_EVERY == 0)
            yield connection

    def _claim(self, connection: Connection, key: str, forget_old: bool) -> None:
        now = self._now()
        handled = rows.handled_t
        if forget_old:
            connection.execute(handled.delete().where(handled.c.handled_at < now - KEY_LIFETIME))
        try:
            connection.execute(rows.INSERT_CLAIM, {"key": key[:64], "handled_at": now})
        except IntegrityError:
            raise AlreadyHandled(
                "This request was already carried out; nothing was done again."
            ) from None

    def _sweep(self) -> bool:
        """Whether this posting also drops the postings too old to count (now and then)."""
        return next(self._postings) % SWEEP_EVERY == 0

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        with storage_errors(), self.engine.begin() as connection:
            yield connection

    # --- reads -------------------------------------------------------------------------------

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
        with self._reading() as connection:
            return versions.standing_at(connection, guild, day, instant, coach)

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
        replaced before that instant), and how many it has in all."""
        with self._reading() as connection:
            return versions.history_page(connection, plan_id, limit, before)

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

    # --- writes ----------------------------------------------------------------------------

    def insert(
        self,
        guild: str,
        coach: str,
        day: date,
        text: str,
        author: Actor,
        place: Place,
        charts: Sequence[NewChart],
        once: str | None,
        levels: Levels | None = None,
        quota: DailyQuota | None = None,
    ) -> Plan:
        """A new plan; with `quota`, counted against its author's and guild's day, which may
        refuse it."""
        now = self._now()
        try:
            with self._transaction(write=True, once=once) as connection:
                if self._live_id(connection, guild, coach, day) is not None:
                    raise PlanExists(coach, day)
                if quota is not None:
                    postings.spend(connection, guild, author.id, quota, now, self._sweep())
                plan_id = connection.execute(
                    rows.INSERT_PLAN,
                    {
                        "coach_name": coach,
                        "date": day,
                        "plan": text,
                        "author": author.name,
                        "author_id": author.id,
                        "guild_id": guild,
                        "channel": place.channel,
                        "channel_id": place.channel_id,
                        "created_at": now,
                        "is_deleted": False,
                        "version": 1,
                        "levels": rows.levels_json(levels),
                    },
                ).inserted_primary_key[0]  # type: ignore[index]  # one row inserted, one key
                self._add_charts(connection, plan_id, charts, now)
                rows.add_counts(connection, guild, plans=1, charts=len(charts))
                plan = self._load(connection, plan_id)
        except IntegrityError:
            # Another instance posted the same coach and date between our check and insert.
            raise PlanExists(coach, day) from None
        self.known_guilds.add(guild)  # committed: a read naming no guild must see it now
        return plan

    def update(
        self,
        guild: str,
        coach: str,
        day: date,
        *,
        check: Check,
        editor: Actor,
        text: str | None,
        charts: Sequence[NewChart],
        expected_version: int | None,
        plan_id: int | None,
        once: str | None,
        levels: Callable[[Plan], Levels | None] | None = None,
        quota: DailyQuota | None = None,
    ) -> Plan:
        """New text and/or levels (the replaced version goes to history) and/or more charts,
        once `check` passes; `levels` gives the new version's levels from the current plan;
        with `quota`, the charts are counted against the editor's and guild's day."""
        with self._transaction(write=True, once=once) as connection:
            current = self._locked(connection, guild, coach, day, plan_id, expected_version)
            # Stamped once the lock is held, so history's time order is the commit order.
            now = self._now()
            existing: int = connection.execute(
                rows.CHART_COUNT, {"plan_id": current.id}
            ).scalar_one()
            check(current, existing)
            if quota is not None:
                postings.spend(connection, guild, editor.id, quota, now, self._sweep())
            changes: dict[str, object] = {"edited_at": now, "version": current.version + 1}
            new_levels = current.levels if levels is None else levels(current)
            edited = text is not None or new_levels != current.levels
            if edited:
                connection.execute(
                    rows.INSERT_HISTORY,
                    {
                        "plan_id": current.id,
                        "plan_text": current.text,
                        "plan_levels": rows.levels_json(current.levels),
                        "edited_by": editor.name,
                        "edited_by_id": editor.id,
                        "edited_at": now,
                    },
                )
                changes["levels"] = rows.levels_json(new_levels)
            if text is not None:
                changes["plan"] = text
            self._bump(connection, current, changes)
            self._add_charts(connection, current.id, charts, now)
            rows.add_counts(connection, current.guild_id, charts=len(charts), edits=int(edited))
            return self._load(connection, current.id)

    def soft_delete(
        self,
        guild: str,
        coach: str,
        day: date,
        *,
        check: Check,
        actor: Actor,
        expected_version: int | None,
        plan_id: int | None,
        once: str | None,
    ) -> Plan:
        with self._transaction(write=True, once=once) as connection:
            current = self._locked(connection, guild, coach, day, plan_id, expected_version)
            check(current, 0)  # the locked row comes without its charts; a delete adds none
            changes = {
                "is_deleted": True,
                "deleted_at": self._now(),
                "deleted_by": actor.id,
                "deleted_by_name": actor.name,
                "version": current.version + 1,
            }
            self._bump(connection, current, changes)
            rows.add_counts(connection, current.guild_id, plans=-1)
            return self._load(connection, current.id)

    def mark_archived(self, chart_id: int, stored_path: str) -> None:
        with self._transaction(write=True) as connection:
            connection.execute(
                charts_t.update().where(charts_t.c.id == chart_id).values(stored_path=stored_path)
            )

    def mark_failed(self, chart_id: int, reason: str) -> None:
        """The chart can never be archived: say why, and leave it out of every retry."""
        with self._transaction(write=True) as connection:
            connection.execute(
                charts_t.update()
                .where(charts_t.c.id == chart_id, charts_t.c.stored_path.is_(None))
                .values(failed_reason=reason[:200])
            )

    # --- inside a transaction ----------------------------------------------------------------

    @staticmethod
    def _live_id(connection: Connection, guild: str, coach: str, day: date) -> int | None:
        key = {"guild": guild, "coach": coach, "day": day}
        found: int | None = connection.execute(rows.LIVE_ID, key).scalar()
        return found

    @staticmethod
    def _locked(
        connection: Connection,
        guild: str,
        coach: str,
        day: date,
        plan_id: int | None,
        expected_version: int | None,
    ) -> Plan:
        """The live plan, locked for this transaction (FOR UPDATE on PostgreSQL; SQLite's
        BEGIN IMMEDIATE already holds the write lock)."""
        key = {"guild": guild, "coach": coach, "day": day}
        row = connection.execute(rows.LIVE_LOCKED, key).first()
        if row is None or (plan_id is not None and row.id != plan_id):
            if plan_id is not None:
                raise StaleVersion(
                    f"Coach {coach}'s plan for {day} was deleted or replaced in the meantime; "
                    "nothing was changed."
                )
            raise PlanNotFound.for_plan(coach, day)
        if expected_version is not None and row.version != expected_version:
            raise StaleVersion(
                f"Coach {coach}'s plan for {day} was changed by someone else in the meantime; "
                "nothing was changed. Look at the new version and try again."
            )
        return rows.plan(row)

    @staticmethod
    def _bump(connection: Connection, current: Plan, changes: dict[str, object]) -> None:
        # The version guard makes a lost update impossible even if a lock were missing.
        updated = connection.execute(
            plans_t.update()
            .where(plans_t.c.id == current.id, plans_t.c.version == current.version)
            .values(**changes)
        ).rowcount
        if updated != 1:
            raise StaleVersion("The plan changed while saving; nothing was changed. Try again.")

    @staticmethod
    def _add_charts(
        connection: Connection, plan_id: int, charts: Sequence[NewChart], now: datetime
    ) -> None:
        if charts:
            connection.execute(
                charts_t.insert(),
                [
                    {
                        "plan_id": plan_id,
                        "chart_url": chart.url,
                        "filename": chart.filename,
                        "content_type": chart.content_type,
                        "size": chart.size,
                        "added_at": now,
                    }
                    for chart in charts
                ],
            )

    @staticmethod
    def _load(connection: Connection, plan_id: int) -> Plan:
        return rows.plans_from_rows(connection.execute(rows.BY_ID, {"plan_id": plan_id}))[0]
