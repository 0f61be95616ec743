"""HubSpot -> WooCommerce: staged HubSpot records, the base values of two-way fields, recorded conflicts
and order-create intents.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_STAGED = ("stg_hubspot_deals", "stg_hubspot_contacts", "stg_hubspot_line_items", "stg_hubspot_products")


def upgrade() -> None:
    for name in _STAGED:
        op.create_table(
            name,
            sa.Column("source_id", sa.String(64), primary_key=True),
            sa.Column("payload", sa.Text, nullable=False),
            sa.Column("content_hash", sa.String(64), nullable=False),
            sa.Column("source_modified_at", sa.DateTime, nullable=True),
            sa.Column("extracted_run_id", sa.String(250), nullable=False),
            sa.Column("extracted_at", sa.DateTime, nullable=False),
            sa.Column("validated_hash", sa.String(64), nullable=True),
            sa.Column("synced_hash", sa.String(64), nullable=True),
        )
        op.create_index(f"ix_{name}_extracted_run_id", name, ["extracted_run_id"])
    with op.batch_alter_table("id_map") as batch:
        batch.add_column(sa.Column("synced_fields", sa.Text, nullable=True))
    op.create_table(
        "sync_conflict",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conflict_key", sa.String(64), nullable=False, unique=True),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("woocommerce_key", sa.String(320), nullable=True),
        sa.Column("hubspot_id", sa.String(64), nullable=True),
        sa.Column("field", sa.String(120), nullable=False),
        sa.Column("woocommerce_value", sa.Text, nullable=True),
        sa.Column("hubspot_value", sa.Text, nullable=True),
        sa.Column("woocommerce_modified_at", sa.DateTime, nullable=True),
        sa.Column("hubspot_modified_at", sa.DateTime, nullable=True),
        sa.Column("winner", sa.String(16), nullable=False),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_sync_conflict_run_id", "sync_conflict", ["run_id"])
    op.create_table(
        "order_intent",
        sa.Column("deal_id", sa.String(64), primary_key=True),
        sa.Column("reference", sa.String(120), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("requested_at", sa.DateTime, nullable=False),
        sa.Column("settled_at", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("order_intent")
    op.drop_index("ix_sync_conflict_run_id", table_name="sync_conflict")
    op.drop_table("sync_conflict")
    with op.batch_alter_table("id_map") as batch:
        batch.drop_column("synced_fields")
    for name in reversed(_STAGED):
        op.drop_index(f"ix_{name}_extracted_run_id", table_name=name)
        op.drop_table(name)
