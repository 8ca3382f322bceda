"""The SQL of each guild's own setup: one row per guild read by its primary key (cheap enough to
read on every request, so every instance sees a change at its next request), changed by
compare-and-set on its version with the change recorded in the same transaction, and a guild
found by the hash of its read key.

Methods are synchronous: callers run them in worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.storage.database import PreparedRead, storage_errors, writer
from app.storage.models import GuildSetup, GuildSetupChange
from app.storage.rows import charts_t, plans_t

setups_t: Table = GuildSetup.__table__  # type: ignore[attr-defined]  # SQLModel exposes __table__ untyped
changes_t: Table = GuildSetupChange.__table__  # type: ignore[attr-defined]  # SQLModel exposes __table__ untyped


@dataclass(frozen=True, slots=True)
class StoredSetup:
    """A guild's row as stored; `version` 0: the guild has none yet."""

    guild_id: str
    timezone: str | None
    ping_role: str | None
    key_hash: str | None
    roster: str  # JSON
    version: int
    changed_by: str | None
    changed_at: datetime | None
    recap_channel: str | None = None


@dataclass(frozen=True, slots=True)
class SetupChange:
    """Who changed a setup, when, and what (a short sentence)."""

    actor_id: str
    actor: str
    at: datetime
    what: str
    before: str  # JSON
    after: str  # JSON


_EMPTY_ROSTER = '{"coaches": [], "retired": []}'
_COLUMNS = (
    setups_t.c.guild_id,
    setups_t.c.timezone,
    setups_t.c.ping_role,
    setups_t.c.key_hash,
    setups_t.c.roster,
    setups_t.c.version,
    setups_t.c.changed_by,
    setups_t.c.changed_at,
    setups_t.c.recap_channel,
)


class SetupStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)
        # Read at every command and REST read: compiled once (PreparedRead), as the plan reads.
        self._setup = PreparedRead(
            engine, select(*_COLUMNS).where(setups_t.c.guild_id == bindparam("guild"))
        )
        self._keyed = PreparedRead(
            engine, select(setups_t.c.guild_id).where(setups_t.c.key_hash == bindparam("hash"))
        )
        self._chart_guild = PreparedRead(
            engine,
            select(plans_t.c.guild_id, setups_t.c.key_hash)
            .select_from(charts_t)
            .join(plans_t, charts_t.c.plan_id == plans_t.c.id)
            .outerjoin(setups_t, setups_t.c.guild_id == plans_t.c.guild_id)
            .where(charts_t.c.id == bindparam("chart")),
        )

    def load(self, guild: str) -> StoredSetup:
        """The guild's setup; a guild never set up gets an empty one at version 0."""
        with storage_errors():
            rows = self._setup.rows(guild=guild)
        if not rows:
            return StoredSetup(guild, None, None, None, _EMPTY_ROSTER, 0, None, None)
        return StoredSetup(*rows[0])

    def guild_of_key(self, key_hash: str) -> str | None:
        """The guild whose read key has this hash, if any."""
        with storage_errors():
            rows = self._keyed.rows(hash=key_hash)
        return str(rows[0].guild_id) if rows else None

    def guild_of_chart(self, chart_id: int) -> tuple[str | None, bool]:
        """The guild of the plan a chart belongs to, and whether it has a read key: the
        chart's reads follow that guild's key. One query, built once."""
        with storage_errors():
            rows = self._chart_guild.rows(chart=chart_id)
        if not rows or rows[0].guild_id is None:
            return None, False
        return str(rows[0].guild_id), rows[0].key_hash is not None

    def replace(self, old: StoredSetup, new: StoredSetup, change: SetupChange) -> bool:
        """Store `new` if the guild's setup is still `old` (by version), with the change
        recorded; False when another change came first (the caller reads again and retries)."""
        values = {
            "timezone": new.timezone,
            "ping_role": new.ping_role,
            "key_hash": new.key_hash,
            "roster": new.roster,
            "version": old.version + 1,
            "changed_by": change.actor,
            "changed_at": change.at,
            "recap_channel": new.recap_channel,
        }
        try:
            with storage_errors(), self._writer.begin() as connection:
                if old.version == 0:
                    connection.execute(insert(setups_t).values(guild_id=old.guild_id, **values))
                else:
                    done = connection.execute(
                        update(setups_t)
                        .where(setups_t.c.guild_id == old.guild_id)
                        .where(setups_t.c.version == old.version)
                        .values(**values)
                    )
                    if done.rowcount != 1:
                        return False
                connection.execute(
                    insert(changes_t).values(
                        guild_id=old.guild_id,
                        actor_id=change.actor_id,
                        actor=change.actor,
                        changed_at=change.at,
                        what=change.what[:200],
                        before=change.before,
                        after=change.after,
                    )
                )
        except IntegrityError:
            return False  # another instance made the guild's first row at the same moment
        return True

    def changes(self, guild: str, limit: int = 50) -> list[SetupChange]:
        """The guild's newest changes first."""
        with storage_errors(), self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    changes_t.c.actor_id,
                    changes_t.c.actor,
                    changes_t.c.changed_at,
                    changes_t.c.what,
                    changes_t.c.before,
                    changes_t.c.after,
                )
                .where(changes_t.c.guild_id == guild)
                .order_by(changes_t.c.id.desc())
                .limit(limit)
            ).all()
        return [SetupChange(*row) for row in rows]  # type: ignore[arg-type]  # the columns, in order
