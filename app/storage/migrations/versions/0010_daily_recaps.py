"""Daily recaps: a guild's recap channel, and one claimed row per guild and session day so the
recap is posted once, whichever instance gets there first.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("guild_setups") as batch:
        batch.add_column(sa.Column("recap_channel", sa.String(20), nullable=True))
    op.create_table(
        "daily_recaps",
        sa.Column("guild_id", sa.String(20), primary_key=True),
        sa.Column("date", sa.Date(), primary_key=True),
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("daily_recaps")
    with op.batch_alter_table("guild_setups") as batch:
        batch.drop_column("recap_channel")
