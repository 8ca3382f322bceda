"""What commands posted, counted against daily quotas: the guild's postings serialized, a member's
and the guild's usage since an instant in one indexed read, and each posting recorded.

Called inside the repository's write transactions (app/storage/repository.py), so the count and
the write it allows commit together: on SQLite every write already holds the database's write
lock; on PostgreSQL a transaction-scoped advisory lock per guild makes a second command of the
same guild wait until the first has committed, so two commands near a limit cannot both pass.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, func, select, text

from app.records import DailyQuota, Usage
from app.storage.rows import postings_t

# Longer than any day of any time zone plus its daylight-saving shift: older rows count for none.
KEPT = timedelta(days=2)
# The first key of PostgreSQL's two-key advisory locks taken here (the second is the guild's).
_LOCK_SPACE = 4202612


def serialize_guild(connection: Connection, guild: str) -> None:
    """Hold the guild's posting lock until this transaction ends (PostgreSQL; SQLite's writes
    are serialized already). Guilds whose ids share a hash merely wait on each other."""
    if connection.dialect.name == "postgresql":
        key = zlib.crc32(guild.encode()) - 2**31  # a signed 32-bit key, as the function takes
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": _LOCK_SPACE, "key": key}
        )


def _usage_query() -> Select[Any]:
    mine = postings_t.c.member_id == bindparam("member")
    return select(
        func.coalesce(func.sum(case((mine, postings_t.c.plans), else_=0)), 0),
        func.coalesce(func.sum(case((mine, postings_t.c.chart_bytes), else_=0)), 0),
        func.coalesce(func.sum(postings_t.c.plans), 0),
        func.coalesce(func.sum(postings_t.c.chart_bytes), 0),
    ).where(
        postings_t.c.guild_id == bindparam("guild"), postings_t.c.posted_at >= bindparam("since")
    )


# What a member and the whole guild posted from `since` on: one range of the (guild_id,
# posted_at) index, at most a day of the guild's postings. Built once, as the write path's
# statements are (app/storage/rows.py).
USAGE = _usage_query()
_RECORD = postings_t.insert()


def usage_query(guild: str, member: str, since: datetime) -> Select[Any]:
    """USAGE with its values bound (EXPLAIN shows how it reads)."""
    return USAGE.params(guild=guild, member=member, since=since)


def usage_since(connection: Connection, guild: str, member: str, since: datetime) -> Usage:
    found = connection.execute(USAGE, {"guild": guild, "member": member, "since": since}).one()
    return Usage(*(int(value) for value in found))


def record(
    connection: Connection,
    guild: str,
    member: str,
    at: datetime,
    *,
    plans: int,
    chart_bytes: int,
    forget_old: bool,
) -> None:
    """Count this posting; with `forget_old`, drop postings too old to count for any day."""
    if forget_old:
        connection.execute(postings_t.delete().where(postings_t.c.posted_at < at - KEPT))
    connection.execute(
        _RECORD,
        {
            "guild_id": guild,
            "member_id": member,
            "posted_at": at,
            "plans": plans,
            "chart_bytes": chart_bytes,
        },
    )


def spend(
    connection: Connection,
    guild: str,
    member: str,
    quota: DailyQuota,
    now: datetime,
    forget_old: bool,
) -> None:
    """Count a posting against the member's and the guild's day, which `quota.check` may
    refuse; the guild's postings wait on each other until this transaction ends. With no
    daily limit set, the day's usage is not read (it grows with every posting), but the posting
    is recorded all the same: a limit set later in the day counts it."""
    if quota.limited:
        serialize_guild(connection, guild)
        quota.check(usage_since(connection, guild, member, quota.since))
    record(
        connection,
        guild,
        member,
        now,
        plans=quota.plans,
        chart_bytes=quota.chart_bytes,
        forget_old=forget_old,
    )
