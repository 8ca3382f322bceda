"""Structured levels: each plan version keeps its tickers, bias, entry, stop and targets.

`coach_plans.levels` holds the current version's levels as JSON and `plan_history.plan_levels`
those of each version an edit replaced. Rows written before this revision keep NULL there: the
plan rules read their levels from the text when they are read (`source` "extracted", or "none"
when the text states none), so older plans and their earlier versions answer by-ticker reads
too, and nothing is rewritten by the upgrade.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("coach_plans") as batch:
        batch.add_column(sa.Column("levels", sa.Text(), nullable=True))
    with op.batch_alter_table("plan_history") as batch:
        batch.add_column(sa.Column("plan_levels", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_history") as batch:
        batch.drop_column("plan_levels")
    with op.batch_alter_table("coach_plans") as batch:
        batch.drop_column("levels")
