"""Outcomes: what the market did with each plan, one row per plan naming the version graded.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _time(name: str) -> sa.Column:  # type: ignore[type-arg]  # Column is generic over its type
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "plan_outcomes",
        sa.Column(
            "plan_id",
            sa.Integer(),
            sa.ForeignKey("coach_plans.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("guild_id", sa.String(20), nullable=False),
        sa.Column("coach_name", sa.String(32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        _time("session_close"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("graded_version", sa.Integer(), nullable=True),
        sa.Column("ticker", sa.String(32), nullable=True),
        sa.Column("side", sa.String(8), nullable=True),
        sa.Column("entry_fill", sa.Float(), nullable=True),
        _time("entry_at"),
        sa.Column("exit_price", sa.Float(), nullable=True),
        _time("exit_at"),
        sa.Column("targets_hit", sa.Integer(), nullable=True),
        sa.Column("r_multiple", sa.Float(), nullable=True),
        sa.Column("ambiguous", sa.Boolean(), nullable=True),
        _time("graded_at"),
    )
    op.create_index(
        "ix_plan_outcomes_guild_coach_date", "plan_outcomes", ["guild_id", "coach_name", "date"]
    )
    op.create_index("ix_plan_outcomes_status", "plan_outcomes", ["status"])


def downgrade() -> None:
    op.drop_index("ix_plan_outcomes_status", table_name="plan_outcomes")
    op.drop_index("ix_plan_outcomes_guild_coach_date", table_name="plan_outcomes")
    op.drop_table("plan_outcomes")
