"""Webhook events (near-real-time sync) and the log of personal-data erasures.

Revision ID: 0007
Revises: 0006
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
        "webhook_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("delivery_id", sa.String(120), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("stream", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.Column("occurred_at", sa.DateTime, nullable=True),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("signalled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("claimed_run_id", sa.String(250), nullable=True),
        sa.Column("staged_at", sa.DateTime, nullable=True),
    )
    op.create_index("ux_webhook_event_delivery", "webhook_event", ["source", "delivery_id"], unique=True)
    op.create_index("ix_webhook_event_state", "webhook_event", ["source", "state"])
    op.create_table(
        "personal_data_erasure",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("erased_at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(250), nullable=False),
        sa.Column("email_sha256", sa.String(64), nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
    )
    op.create_index("ix_personal_data_erasure_email_sha256", "personal_data_erasure", ["email_sha256"])


def downgrade() -> None:
    op.drop_index("ix_personal_data_erasure_email_sha256", table_name="personal_data_erasure")
    op.drop_table("personal_data_erasure")
    op.drop_index("ix_webhook_event_state", table_name="webhook_event")
    op.drop_index("ux_webhook_event_delivery", table_name="webhook_event")
    op.drop_table("webhook_event")
