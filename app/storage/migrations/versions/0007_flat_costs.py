"""Costs that stay flat as plans pile up: kept counts, and indexes for the pending charts.

`guild_counts` holds, per guild, its live plans, its charts and its edits (history rows); every
write updates its guild's row in the same transaction, so /health and /metrics add up a row per
guild instead of counting whole tables, and a read that names no guild learns which guilds have
plans from the same rows (a row stays once written, like the plans it counts). Plans kept without
a guild count under the empty guild id. The counts of an existing database are taken once here.

`ix_plan_charts_pending` holds only the charts still waiting for their download, so the retry
pass finds them without reading every chart ever attached.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guild_counts",
        sa.Column("guild_id", sa.String(20), primary_key=True),
        sa.Column("live_plans", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("charts", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("edits", sa.BigInteger(), nullable=False, server_default="0"),
    )
    guild = "COALESCE(p.guild_id, '')"
    live = "CASE WHEN p.is_deleted THEN 0 ELSE 1 END"
    # One pass per table, grouped by guild; the UNION folds the three into one row per guild.
    op.execute(
        f"""
        INSERT INTO guild_counts (guild_id, live_plans, charts, edits)
        SELECT guild_id, SUM(live_plans), SUM(charts), SUM(edits) FROM (
            SELECT {guild} AS guild_id, SUM({live}) AS live_plans, 0 AS charts, 0 AS edits
              FROM coach_plans p GROUP BY {guild}
            UNION ALL
            SELECT {guild}, 0, COUNT(*), 0
              FROM plan_charts c JOIN coach_plans p ON p.id = c.plan_id GROUP BY {guild}
            UNION ALL
            SELECT {guild}, 0, 0, COUNT(*)
              FROM plan_history h JOIN coach_plans p ON p.id = h.plan_id GROUP BY {guild}
        ) AS per_table
        GROUP BY guild_id
        """
    )
    op.create_index(
        "ix_plan_charts_pending",
        "plan_charts",
        ["id"],
        sqlite_where=sa.text("stored_path IS NULL AND failed_reason IS NULL"),
        postgresql_where=sa.text("stored_path IS NULL AND failed_reason IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_plan_charts_pending", table_name="plan_charts")
    op.drop_table("guild_counts")
