"""All SQL of the plans: reads, writes in transactions, locking, idempotency keys and the charts'
bookkeeping. Returns records, never ORM objects; the rules that decide what is allowed live in
app/plans/service.py and reach in through the `check` callbacks of the writes.

Methods are synchronous: callers run them in worker threads.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from app.errors import AlreadyHandled, PlanExists, PlanNotFound, StaleVersion
from app.records import Actor, Clock, DailyQuota, Levels, NewChart, Place, Plan, system_clock
from app.storage import postings, rows
from app.storage.database import writer
from app.storage.reads import PlanReads, storage_errors
from app.storage.rows import LIVE, PLAN_COLUMNS, charts_t, counts_t, history_t, plans_t

# Discord never delivers an interaction later than its token's 15 minutes; a day is ample.
KEY_LIFETIME = timedelta(days=1)
SWEEP_EVERY = 256  # claims
# A write's rule check, run on the locked plan and its number of charts.
Check = Callable[[Plan, int], None]


class PlanRepository(PlanReads):
    """Every read (see PlanReads) and every write of the plans."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock = system_clock,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(engine, monotonic)
        # What time a write (and a claimed idempotency key) is stamped with.
        self._now = clock
        self._writer = writer(engine)
        self._claims = itertools.count()
        self._postings = itertools.count()

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
            connection.execute(handled.insert().values(key=key[:64], handled_at=now))
        except IntegrityError:
            raise AlreadyHandled(
                "This request was already carried out; nothing was done again."
            ) from None

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
                    self._spend(connection, guild, author, quota, now)
                plan_id = connection.execute(
                    plans_t.insert().values(
                        coach_name=coach,
                        date=day,
                        plan=text,
                        author=author.name,
                        author_id=author.id,
                        guild_id=guild,
                        channel=place.channel,
                        channel_id=place.channel_id,
                        created_at=now,
                        is_deleted=False,
                        version=1,
                        levels=rows.levels_json(levels),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]  # one row inserted, one key
                self._add_charts(connection, plan_id, charts, now)
                _count(connection, guild, plans=1, charts=len(charts))
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
            existing = connection.execute(
                select(func.count()).where(charts_t.c.plan_id == current.id)
            ).scalar_one()
            check(current, existing)
            if quota is not None:
                self._spend(connection, guild, editor, quota, now)
            changes: dict[str, object] = {"edited_at": now, "version": current.version + 1}
            new_levels = current.levels if levels is None else levels(current)
            edited = text is not None or new_levels != current.levels
            if edited:
                connection.execute(
                    history_t.insert().values(
                        plan_id=current.id,
                        plan_text=current.text,
                        plan_levels=rows.levels_json(current.levels),
                        edited_by=editor.name,
                        edited_by_id=editor.id,
                        edited_at=now,
                    )
                )
                changes["levels"] = rows.levels_json(new_levels)
            if text is not None:
                changes["plan"] = text
            self._bump(connection, current, changes)
            self._add_charts(connection, current.id, charts, now)
            _count(connection, current.guild_id, charts=len(charts), edits=int(edited))
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
            _count(connection, current.guild_id, plans=-1)
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

    def _spend(
        self,
        connection: Connection,
        guild: str,
        member: Actor,
        quota: DailyQuota,
        now: datetime,
    ) -> None:
        """Count a posting against the member's and the guild's day, which `quota.check` may
        refuse; the guild's postings wait on each other until this transaction ends."""
        postings.serialize_guild(connection, guild)
        quota.check(postings.usage_since(connection, guild, member.id, quota.since))
        postings.record(
            connection,
            guild,
            member.id,
            now,
            plans=quota.plans,
            chart_bytes=quota.chart_bytes,
            forget_old=next(self._postings) % SWEEP_EVERY == 0,
        )

    @staticmethod
    def _live_id(connection: Connection, guild: str, coach: str, day: date) -> int | None:
        found: int | None = connection.execute(
            select(plans_t.c.id).where(
                plans_t.c.guild_id == guild,
                plans_t.c.coach_name == coach,
                plans_t.c.date == day,
                LIVE,
            )
        ).scalar()
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
        query = select(*PLAN_COLUMNS).where(
            plans_t.c.guild_id == guild, plans_t.c.coach_name == coach, plans_t.c.date == day, LIVE
        )
        row = connection.execute(query.with_for_update()).first()
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


def _count(
    connection: Connection, guild: str | None, plans: int = 0, charts: int = 0, edits: int = 0
) -> None:
    """Add to the guild's kept counts, in the write's own transaction: they commit (or roll
    back) with the rows they count. The row is made by the guild's first plan."""
    if not (plans or charts or edits):
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(counts_t).values(
        guild_id=guild or "", live_plans=plans, charts=charts, edits=edits
    )
    connection.execute(
        upsert.on_conflict_do_update(
            index_elements=[counts_t.c.guild_id],
            set_={
                "live_plans": counts_t.c.live_plans + upsert.excluded.live_plans,
                "charts": counts_t.c.charts + upsert.excluded.charts,
                "edits": counts_t.c.edits + upsert.excluded.edits,
            },
        )
    )
