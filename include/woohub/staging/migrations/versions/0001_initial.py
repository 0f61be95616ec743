"""Initial staging schema: staged WooCommerce extracts, id map, sync state, dead letters, quarantine,
run counts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STAGED = ("stg_woocommerce_orders", "stg_woocommerce_customers", "stg_woocommerce_products")


def upgrade() -> None:
    for name in STAGED:
        op.create_table(
            name,
            sa.Column("source_id", sa.String(64), primary_key=True),
            sa.Column("payload", sa.Text, nullable=False),
            sa.Column("content_hash", sa.String(64), nullable=False),
            sa.Column("source_modified_at", sa.DateTime, nullable=True),
            sa.Column("extracted_run_id", sa.String(250), nullable=False),
            sa.Column("extracted_at", sa.DateTime, nullable=False),
        )
        op.create_index(f"ix_{name}_extracted_run_id", name, ["extracted_run_id"])
    op.create_table(
        "id_map",
        sa.Column("object_type", sa.String(32), primary_key=True),
        sa.Column("source_key", sa.String(320), primary_key=True),
        sa.Column("hubspot_id", sa.String(64), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("synced_at", sa.DateTime, nullable=False),
        sa.Column("synced_run_id", sa.String(250), nullable=False),
    )
    op.create_index("ix_id_map_hubspot_id", "id_map", ["hubspot_id"])
    op.create_table(
        "sync_state",
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("high_water_mark", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_run_id", sa.String(250), nullable=False),
    )
    op.create_table(
        "dead_letter",
        sa.Column("object_type", sa.String(32), primary_key=True),
        sa.Column("source_key", sa.String(320), primary_key=True),
        sa.Column("error_code", sa.String(120), nullable=False),
        sa.Column("error_message", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_failed_at", sa.DateTime, nullable=False),
        sa.Column("last_failed_at", sa.DateTime, nullable=False),
        sa.Column("next_retry_at", sa.DateTime, nullable=False),
        sa.Column("last_run_id", sa.String(250), nullable=False),
        sa.Column("resolved_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_dead_letter_next_retry_at", "dead_letter", ["next_retry_at"])
    op.create_table(
        "quarantine",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("object_type", sa.String(32), primary_key=True),
        sa.Column("source_key", sa.String(320), primary_key=True),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("quarantined_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "run_stats",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("object_type", sa.String(32), primary_key=True),
        *(sa.Column(name, sa.Integer, nullable=False, server_default="0")
          for name in ("extracted", "valid", "quarantined", "created", "updated", "unchanged", "failed",
                       "api_calls")),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for name in ("run_stats", "quarantine", "dead_letter", "sync_state", "id_map", *STAGED):
        op.drop_table(name)
