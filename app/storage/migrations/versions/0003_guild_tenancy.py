"""Plans belong to their guild: one live plan per guild, coach and date; charts refused for good.

Existing rows keep the guild they were posted in. A chart whose download can never succeed (not
the declared image, too large, a 4xx, a redirect, a host other than Discord's CDN) records why in
`failed_reason` and is never fetched again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("uq_coach_plans_live_coach_date", table_name="coach_plans")
    op.drop_index("ix_coach_plans_date_coach", table_name="coach_plans")
    op.create_index(
        "uq_coach_plans_live_guild_coach_date",
        "coach_plans",
        ["guild_id", "coach_name", "date"],
        unique=True,
        sqlite_where=sa.text("is_deleted = 0"),
        postgresql_where=sa.text("NOT is_deleted"),
    )
    op.create_index(
        "ix_coach_plans_guild_date_coach", "coach_plans", ["guild_id", "date", "coach_name"]
    )
    with op.batch_alter_table("plan_charts") as batch:
        batch.add_column(sa.Column("failed_reason", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_charts") as batch:
        batch.drop_column("failed_reason")
    op.drop_index("ix_coach_plans_guild_date_coach", table_name="coach_plans")
    op.drop_index("uq_coach_plans_live_guild_coach_date", table_name="coach_plans")
    op.create_index(
        "uq_coach_plans_live_coach_date",
        "coach_plans",
        ["coach_name", "date"],
        unique=True,
        sqlite_where=sa.text("is_deleted = 0"),
        postgresql_where=sa.text("NOT is_deleted"),
    )
    op.create_index("ix_coach_plans_date_coach", "coach_plans", ["date", "coach_name"])
