"""The tables: live and deleted plans, their charts, every earlier text of a plan, the keys of
requests already handled, what each command posted (counted against daily quotas), and each
guild's kept counts, and each guild's own setup (roster, time zone, ping role, read key) with
every change made to it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlmodel import Field, SQLModel

from app.records import CHANNEL_MAX, CONTENT_TYPE_MAX, FILENAME_MAX, NAME_MAX
from app.records import ID_MAX as _SNOWFLAKE  # Discord ids: 64-bit snowflakes, kept as text

__all__ = [
    "CoachPlan",
    "GuildCount",
    "GuildSetup",
    "GuildSetupChange",
    "HandledRequest",
    "PlanChart",
    "PlanHistory",
    "PlanOutcome",
    "Posting",
    "SQLModel",
]


def _utc_time(nullable: bool) -> Column:  # type: ignore[type-arg]  # Column is generic over its type
    return Column(DateTime(timezone=True), nullable=nullable)


class CoachPlan(SQLModel, table=True):
    __tablename__ = "coach_plans"
    __table_args__ = (
        # One live plan per guild, coach and date; deleted rows keep their place in history.
        Index(
            "uq_coach_plans_live_guild_coach_date",
            "guild_id",
            "coach_name",
            "date",
            unique=True,
            sqlite_where=text("is_deleted = 0"),
            postgresql_where=text("NOT is_deleted"),
        ),
        Index("ix_coach_plans_guild_date_coach", "guild_id", "date", "coach_name"),
        Index("ix_coach_plans_author_date", "author_id", "date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    coach_name: str = Field(sa_type=String(32))
    date: dt.date
    plan: str = Field(sa_type=Text)
    author: str = Field(sa_type=String(NAME_MAX))
    author_id: str = Field(sa_type=String(_SNOWFLAKE))
    guild_id: str | None = Field(default=None, sa_type=String(_SNOWFLAKE))
    channel: str | None = Field(default=None, sa_type=String(CHANNEL_MAX))
    channel_id: str | None = Field(default=None, sa_type=String(_SNOWFLAKE))
    created_at: dt.datetime = Field(sa_column=_utc_time(nullable=False))
    edited_at: dt.datetime | None = Field(default=None, sa_column=_utc_time(nullable=True))
    is_deleted: bool = False
    deleted_at: dt.datetime | None = Field(default=None, sa_column=_utc_time(nullable=True))
    deleted_by: str | None = Field(default=None, sa_type=String(100))  # the deleter's user id
    deleted_by_name: str | None = Field(default=None, sa_type=String(NAME_MAX))
    version: int = 1
    # The version's levels as JSON (Levels.as_dict); NULL: stored before levels were recorded.
    levels: str | None = Field(default=None, sa_type=Text)


class PlanChart(SQLModel, table=True):
    __tablename__ = "plan_charts"
    __table_args__ = (
        # Only the charts still to download: the retry pass reads these, never the whole table.
        Index(
            "ix_plan_charts_pending",
            "id",
            sqlite_where=text("stored_path IS NULL AND failed_reason IS NULL"),
            postgresql_where=text("stored_path IS NULL AND failed_reason IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("coach_plans.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    chart_url: str = Field(sa_type=Text)
    filename: str = Field(sa_type=String(FILENAME_MAX))
    content_type: str = Field(sa_type=String(CONTENT_TYPE_MAX))
    size: int
    # Where the archived copy lives, relative to CHART_STORAGE_DIR; None until it is downloaded.
    stored_path: str | None = Field(default=None, sa_type=String(255))
    added_at: dt.datetime = Field(sa_column=_utc_time(nullable=False))
    # Why the download was refused for good (never fetched again); None while it may succeed.
    failed_reason: str | None = Field(default=None, sa_type=String(200))


class PlanHistory(SQLModel, table=True):
    __tablename__ = "plan_history"
    __table_args__ = (Index("ix_plan_history_plan_edited", "plan_id", "edited_at"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(
        sa_column=Column(Integer, ForeignKey("coach_plans.id", ondelete="CASCADE"), nullable=False)
    )
    plan_text: str = Field(sa_type=Text)
    # The replaced version's levels, as coach_plans.levels holds them.
    plan_levels: str | None = Field(default=None, sa_type=Text)
    edited_by: str = Field(sa_type=String(NAME_MAX))
    edited_by_id: str = Field(sa_type=String(_SNOWFLAKE))
    # When this text was replaced: the text stood from the previous edit until this instant.
    edited_at: dt.datetime = Field(sa_column=_utc_time(nullable=False))


class HandledRequest(SQLModel, table=True):
    """Idempotency keys of writes already done, so a request delivered twice (to two workers or
    two instances) changes things once. Kept a day, then forgotten."""

    __tablename__ = "handled_requests"

    key: str = Field(primary_key=True, sa_type=String(64))
    handled_at: dt.datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )


class Posting(SQLModel, table=True):
    """One command's posting, counted against its member's and guild's daily quotas: a new plan
    (`plans` 1) and/or the declared bytes of the charts it attached. Written in the same
    transaction as the plan; kept two days, then forgotten."""

    __tablename__ = "plan_postings"
    # A member's and a guild's day are one range of this index (app/storage/postings.py).
    __table_args__ = (Index("ix_plan_postings_guild_posted", "guild_id", "posted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    guild_id: str = Field(sa_type=String(_SNOWFLAKE))
    member_id: str = Field(sa_type=String(_SNOWFLAKE))
    posted_at: dt.datetime = Field(sa_column=_utc_time(nullable=False))
    plans: int = 0
    chart_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


def _count() -> Column:  # type: ignore[type-arg]  # Column is generic over its type
    return Column(BigInteger, nullable=False, server_default="0")


class GuildCount(SQLModel, table=True):
    """A guild's live plans, charts and edits, updated in the transaction of each write that
    changes them: /health and /metrics add these rows up rather than count whole tables. A row
    exists for every guild that ever had a plan (plans without a guild: the empty id)."""

    __tablename__ = "guild_counts"

    guild_id: str = Field(primary_key=True, sa_type=String(_SNOWFLAKE))
    live_plans: int = Field(default=0, sa_column=_count())
    charts: int = Field(default=0, sa_column=_count())
    edits: int = Field(default=0, sa_column=_count())


class GuildSetup(SQLModel, table=True):
    """A guild's own setup: its coach roster (JSON), time zone, ping role and the hash of its
    read key. One row per guild, read by its key on every request that needs it (so a change made
    through one instance applies on every other at its next request); `version` makes each change
    a compare-and-set."""

    __tablename__ = "guild_setups"

    guild_id: str = Field(primary_key=True, sa_type=String(_SNOWFLAKE))
    timezone: str | None = Field(default=None, sa_type=String(64))
    ping_role: str | None = Field(default=None, sa_type=String(_SNOWFLAKE))
    # sha256 hex of the guild's read key; the key itself is shown once and never kept.
    key_hash: str | None = Field(default=None, sa_type=String(64), unique=True)
    roster: str = Field(default='{"coaches": [], "retired": []}', sa_type=Text)
    version: int = 1
    changed_by: str | None = Field(default=None, sa_type=String(NAME_MAX))
    changed_at: dt.datetime | None = Field(default=None, sa_column=_utc_time(nullable=True))
    recap_channel: str | None = Field(default=None, sa_type=String(_SNOWFLAKE))


class GuildSetupChange(SQLModel, table=True):
    """Every change of a guild's setup: who, when, what, and the setup before and after (JSON;
    a read key appears only as "set" or none)."""

    __tablename__ = "guild_setup_changes"
    __table_args__ = (Index("ix_guild_setup_changes_guild_at", "guild_id", "changed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    guild_id: str = Field(sa_type=String(_SNOWFLAKE))
    actor_id: str = Field(sa_type=String(_SNOWFLAKE))
    actor: str = Field(sa_type=String(NAME_MAX))
    changed_at: dt.datetime = Field(sa_column=_utc_time(nullable=False))
    what: str = Field(sa_type=String(200))
    before: str = Field(sa_type=Text)
    after: str = Field(sa_type=Text)


class PlanOutcome(SQLModel, table=True):
    """What the market did with a plan (app/outcomes/rules.py): one row per plan, naming the
    version graded, rewritten whole at each grading, so a re-grade with the same bars leaves the
    same row. Guild, coach and date are the plan's, copied so scorecards read this table alone."""

    __tablename__ = "plan_outcomes"
    __table_args__ = (
        Index("ix_plan_outcomes_guild_coach_date", "guild_id", "coach_name", "date"),
        Index("ix_plan_outcomes_status", "status"),
    )

    plan_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("coach_plans.id", ondelete="CASCADE"), primary_key=True
        )
    )
    guild_id: str = Field(sa_type=String(_SNOWFLAKE))
    coach_name: str = Field(sa_type=String(32))
    date: dt.date
    session_close: dt.datetime | None = Field(default=None, sa_column=_utc_time(nullable=True))
    status: str = Field(sa_type=String(16))
    reason: str | None = Field(default=None, sa_type=String(32))
    graded_version: int | None = None
    ticker: str | None = Field(default=None, sa_type=String(32))
    side: str | None = Field(default=None, sa_type=String(8))
    entry_fill: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    entry_at: dt.datetime | None = Field(default=None, sa_column=_utc_time(nullable=True))
    exit_price: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    exit_at: dt.datetime | None = Field(default=None, sa_column=_utc_time(nullable=True))
    targets_hit: int | None = None
    r_multiple: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    ambiguous: bool | None = Field(default=None, sa_column=Column(Boolean, nullable=True))
    graded_at: dt.datetime | None = Field(default=None, sa_column=_utc_time(nullable=True))


class DailyRecap(SQLModel, table=True):
    """One row per guild and session day whose recap was claimed: the instance that inserts it
    posts the recap, every other one finds the row and leaves it (once per guild and day)."""

    __tablename__ = "daily_recaps"

    guild_id: str = Field(primary_key=True, sa_type=String(_SNOWFLAKE))
    date: dt.date = Field(primary_key=True)
    channel_id: str = Field(sa_type=String(_SNOWFLAKE))
    claimed_at: dt.datetime = Field(sa_column=_utc_time(nullable=False))
