"""Dead letters remember which staged source record to re-process (``source_ref``, e.g. ``orders:123``)
and which run claimed them for a retry (``retry_run_id``).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letter") as batch:
        batch.add_column(sa.Column("source_ref", sa.String(400), nullable=True))
        batch.add_column(sa.Column("retry_run_id", sa.String(250), nullable=True))
        batch.create_index("ix_dead_letter_retry_run_id", ["retry_run_id"])


def downgrade() -> None:
    with op.batch_alter_table("dead_letter") as batch:
        batch.drop_index("ix_dead_letter_retry_run_id")
        batch.drop_column("retry_run_id")
        batch.drop_column("source_ref")
