"""Reconciliation and reports: full-read snapshots, reconciliation runs and differences, what people did
from the report page, and sent alerts.

Revision ID: 0006
Revises: 0005
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
        "reconciliation_snapshot",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("system", sa.String(16), primary_key=True),
        sa.Column("object_type", sa.String(32), primary_key=True),
        sa.Column("record_id", sa.String(320), primary_key=True),
        sa.Column("match_key", sa.String(320), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("archived", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("modified_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_reconciliation_snapshot_match", "reconciliation_snapshot",
                    ["run_id", "object_type", "system", "match_key"])
    op.create_index("ix_reconciliation_snapshot_email", "reconciliation_snapshot",
                    ["run_id", "object_type", "system", "email"])
    op.create_table(
        "reconciliation_run",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("object_type", sa.String(32), primary_key=True),
        sa.Column("dry_run", sa.Integer, nullable=False, server_default="0"),
        sa.Column("woocommerce_records", sa.Integer, nullable=False, server_default="0"),
        sa.Column("hubspot_records", sa.Integer, nullable=False, server_default="0"),
        sa.Column("paired", sa.Integer, nullable=False, server_default="0"),
        sa.Column("differences", sa.Integer, nullable=False, server_default="0"),
        sa.Column("drift_rate", sa.String(32), nullable=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "reconciliation_difference",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("woocommerce_id", sa.String(320), nullable=True),
        sa.Column("hubspot_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("field", sa.String(120), nullable=True),
        sa.Column("woocommerce_value", sa.Text, nullable=True),
        sa.Column("hubspot_value", sa.Text, nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("heal_ref", sa.String(400), nullable=True),
        sa.Column("detected_at", sa.DateTime, nullable=False),
        sa.Column("healed_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_reconciliation_difference_run_id", "reconciliation_difference", ["run_id"])
    op.create_index("ix_reconciliation_difference_action", "reconciliation_difference", ["action"])
    op.create_table(
        "review_action",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("acted_at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(250), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("source_key", sa.String(320), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_table(
        "alert_sent",
        sa.Column("alert_key", sa.String(250), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("channels", sa.String(120), nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_sent")
    op.drop_table("review_action")
    op.drop_index("ix_reconciliation_difference_action", table_name="reconciliation_difference")
    op.drop_index("ix_reconciliation_difference_run_id", table_name="reconciliation_difference")
    op.drop_table("reconciliation_difference")
    op.drop_table("reconciliation_run")
    op.drop_index("ix_reconciliation_snapshot_email", table_name="reconciliation_snapshot")
    op.drop_index("ix_reconciliation_snapshot_match", table_name="reconciliation_snapshot")
    op.drop_table("reconciliation_snapshot")
