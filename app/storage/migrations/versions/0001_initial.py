"""The first schema: plans, their charts, and their earlier texts.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "coach_plans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("coach_name", sa.String(32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("author_id", sa.String(20), nullable=False),
        sa.Column("guild_id", sa.String(20), nullable=True),
        sa.Column("channel", sa.String(100), nullable=True),
        sa.Column("channel_id", sa.String(20), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("edited_at", _utc(), nullable=True),
        sa.Column("is_deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", _utc(), nullable=True),
        sa.Column("deleted_by", sa.String(100), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index(
        "uq_coach_plans_live_coach_date",
        "coach_plans",
        ["coach_name", "date"],
        unique=True,
        sqlite_where=sa.text("is_deleted = 0"),
        postgresql_where=sa.text("NOT is_deleted"),
    )
    op.create_index("ix_coach_plans_date_coach", "coach_plans", ["date", "coach_name"])
    op.create_index("ix_coach_plans_author_date", "coach_plans", ["author_id", "date"])

    op.create_table(
        "plan_charts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "plan_id",
            sa.Integer(),
            sa.ForeignKey("coach_plans.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("chart_url", sa.Text(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("stored_path", sa.String(255), nullable=True),
        sa.Column("added_at", _utc(), nullable=False),
    )
    op.create_index("ix_plan_charts_plan_id", "plan_charts", ["plan_id"])

    op.create_table(
        "plan_history",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "plan_id",
            sa.Integer(),
            sa.ForeignKey("coach_plans.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("plan_text", sa.Text(), nullable=False),
        sa.Column("edited_by", sa.String(100), nullable=False),
        sa.Column("edited_by_id", sa.String(20), nullable=False),
        sa.Column("edited_at", _utc(), nullable=False),
    )
    op.create_index("ix_plan_history_plan_edited", "plan_history", ["plan_id", "edited_at"])


def downgrade() -> None:
    op.drop_table("plan_history")
    op.drop_table("plan_charts")
    op.drop_table("coach_plans")
