"""One core for both directions: streams named per source system, a run's extracted set kept per run,
the id map as a two-sided ledger, dead letters with states and exclusive claims, quarantine kept per
record until it passes.

Data is moved, not dropped:

- ``sync_state`` streams ``orders``/``products``/``customers_full_scan`` become ``woocommerce.<name>``;
- every staged row gets a ``staged_run_record`` row for the run that staged it, and ``validated_hash`` /
  ``synced_hash`` NULL (still to be validated and synced: the next run maps it and compares with the id map's hashes, so what was already
  written costs no API call, and what a failed run staged is not lost);
- ``id_map``: ``source_key`` -> ``woocommerce_key``, ``content_hash`` -> ``hubspot_hash``, ``synced_at`` /
  ``synced_run_id`` -> ``hubspot_synced_at`` / ``hubspot_synced_run_id``, plus the WooCommerce side;
- ``dead_letter``: ``state`` (``resolved`` where ``resolved_at`` is set), claim and alert times;
  ``source_ref`` ``orders:1`` -> ``woocommerce.orders:1``;
- ``quarantine``: the newest row per record survives, keyed by record (no longer by run); validation rows'
  ``object_type`` ``orders`` -> ``woocommerce.orders``, mapping rows ``contacts`` ->
  ``woocommerce_to_hubspot.contacts``.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STAGED = {"orders": "stg_woocommerce_orders", "customers": "stg_woocommerce_customers",
          "products": "stg_woocommerce_products"}
RENAMED_STREAMS = {"orders": "woocommerce.orders", "products": "woocommerce.products",
                   "customers_full_scan": "woocommerce.customers_full_scan"}


def upgrade() -> None:
    bind = op.get_bind()
    for name in STAGED.values():
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("validated_hash", sa.String(64), nullable=True))
            batch.add_column(sa.Column("synced_hash", sa.String(64), nullable=True))

    op.create_table(
        "staged_run_record",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("source_id", sa.String(64), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("extracted_at", sa.DateTime, nullable=False),
    )
    for stream, name in STAGED.items():
        bind.execute(sa.text(
            f"insert into staged_run_record (run_id, stream, source_id, content_hash, extracted_at) "
            f"select extracted_run_id, :stream, source_id, content_hash, extracted_at from {name}"
        ), {"stream": f"woocommerce.{stream}"})

    for old, new in RENAMED_STREAMS.items():
        bind.execute(sa.text("update sync_state set stream = :new where stream = :old"), {"old": old, "new": new})

    with op.batch_alter_table("id_map") as batch:
        batch.alter_column("source_key", new_column_name="woocommerce_key", existing_type=sa.String(320),
                           existing_nullable=False)
        batch.alter_column("content_hash", new_column_name="hubspot_hash", existing_type=sa.String(64),
                           existing_nullable=True)
        batch.alter_column("synced_at", new_column_name="hubspot_synced_at", existing_type=sa.DateTime,
                           nullable=True)
        batch.alter_column("synced_run_id", new_column_name="hubspot_synced_run_id",
                           existing_type=sa.String(250), nullable=True)
        batch.add_column(sa.Column("woocommerce_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("woocommerce_synced_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("woocommerce_synced_run_id", sa.String(250), nullable=True))

    with op.batch_alter_table("dead_letter") as batch:
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="open"))
        batch.add_column(sa.Column("claimed_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("alerted_at", sa.DateTime, nullable=True))
    bind.execute(sa.text("update dead_letter set state = 'resolved' where resolved_at is not null"))
    bind.execute(sa.text("update dead_letter set retry_run_id = null where resolved_at is not null"))
    for stream in STAGED:
        bind.execute(sa.text(
            "update dead_letter set source_ref = :new || substr(source_ref, :cut) where source_ref like :old"
        ), {"new": f"woocommerce.{stream}:", "cut": len(stream) + 2, "old": f"{stream}:%"})

    op.create_table(
        "quarantine_record",
        sa.Column("object_type", sa.String(64), primary_key=True),
        sa.Column("source_key", sa.String(320), primary_key=True),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("first_quarantined_at", sa.DateTime, nullable=False),
        sa.Column("quarantined_at", sa.DateTime, nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("released_at", sa.DateTime, nullable=True),
        sa.Column("released_run_id", sa.String(250), nullable=True),
    )
    old = sa.table("quarantine", sa.column("run_id"), sa.column("object_type"), sa.column("source_key"),
                   sa.column("reasons"), sa.column("quarantined_at"))
    newest: dict[tuple[str, str], dict] = {}
    first: dict[tuple[str, str], object] = {}
    for row in bind.execute(sa.select(old).order_by(old.c.quarantined_at)):
        object_type = (f"woocommerce.{row.object_type}" if row.object_type in STAGED
                       else "woocommerce_to_hubspot.contacts" if row.object_type == "contacts" else row.object_type)
        key = (object_type, row.source_key)
        first.setdefault(key, row.quarantined_at)
        newest[key] = {"object_type": object_type, "source_key": row.source_key, "reasons": row.reasons,
                       "content_hash": None, "quarantined_at": row.quarantined_at, "run_id": row.run_id}
    if newest:
        target = sa.table("quarantine_record", *(sa.column(c) for c in (
            "object_type", "source_key", "reasons", "content_hash", "first_quarantined_at", "quarantined_at",
            "run_id")))
        bind.execute(sa.insert(target), [{**row, "first_quarantined_at": first[key]} for key, row in newest.items()])
    op.drop_table("quarantine")
    op.rename_table("quarantine_record", "quarantine")
    op.create_index("ix_quarantine_run_id", "quarantine", ["run_id"])
    op.create_index("ix_quarantine_open", "quarantine", ["object_type", "released_at"])


def downgrade() -> None:
    raise NotImplementedError("0003 moves data into a new shape; restore a backup to go back")
