"""A deleted plan records its deleter's name beside their id, so its history can say who it was.

Plans deleted before this revision get the best name known: the plan's own author's when the
author deleted it, else the name of the deleter's latest plan, else their id (as a name is shown
when Discord gives none).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("coach_plans") as batch:
        batch.add_column(sa.Column("deleted_by_name", sa.String(100), nullable=True))
    op.execute(
        """
        UPDATE coach_plans SET deleted_by_name = COALESCE(
            CASE WHEN deleted_by = author_id THEN author END,
            (SELECT other.author FROM coach_plans AS other
              WHERE other.author_id = coach_plans.deleted_by
              ORDER BY other.created_at DESC, other.id DESC LIMIT 1),
            deleted_by)
        WHERE is_deleted AND deleted_by IS NOT NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("coach_plans") as batch:
        batch.drop_column("deleted_by_name")
