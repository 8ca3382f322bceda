"""Each guild's own setup: `guild_setups` (roster, time zone, ping role, read key hash, a
version for compare-and-set changes) and `guild_setup_changes` (every change, before and after).

Guilds without a row keep COACHES and TIMEZONE, as before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guild_setups",
        sa.Column("guild_id", sa.String(20), primary_key=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("ping_role", sa.String(20), nullable=True),
        sa.Column("key_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("roster", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "guild_setup_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("guild_id", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("what", sa.String(200), nullable=False),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
    )
    op.create_index(
        "ix_guild_setup_changes_guild_at", "guild_setup_changes", ["guild_id", "changed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_guild_setup_changes_guild_at", table_name="guild_setup_changes")
    op.drop_table("guild_setup_changes")
    op.drop_table("guild_setups")
