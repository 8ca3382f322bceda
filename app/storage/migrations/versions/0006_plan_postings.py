"""What each command posted (a new plan, chart bytes), by member and guild, for daily quotas.

Counted by one range of (guild_id, posted_at); rows are kept two days. Commands before this
revision posted nothing that counts: the day's counts start empty.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_postings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("guild_id", sa.String(20), nullable=False),
        sa.Column("member_id", sa.String(20), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plans", sa.Integer(), nullable=False),
        sa.Column("chart_bytes", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_plan_postings_guild_posted", "plan_postings", ["guild_id", "posted_at"])


def downgrade() -> None:
    op.drop_table("plan_postings")
