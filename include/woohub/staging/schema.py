"""Table definitions of the staging database (SQLAlchemy Core). Change them only together with a new
migration under ``migrations/versions``; ``tests/staging`` checks that the two agree."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()


def _staged_table(name: str) -> Table:
    """One current row per source record: the raw payload, the run that last extracted it, and the
    source's own modification time (naive UTC)."""
    return Table(
        name,
        metadata,
        Column("source_id", String(64), primary_key=True),
        Column("payload", Text, nullable=False),
        Column("content_hash", String(64), nullable=False),
        Column("source_modified_at", DateTime, nullable=True),
        Column("extracted_run_id", String(250), nullable=False, index=True),
        Column("extracted_at", DateTime, nullable=False),
    )


stg_woocommerce_orders = _staged_table("stg_woocommerce_orders")
stg_woocommerce_customers = _staged_table("stg_woocommerce_customers")
stg_woocommerce_products = _staged_table("stg_woocommerce_products")

STAGED_TABLES = {
    "orders": stg_woocommerce_orders,
    "customers": stg_woocommerce_customers,
    "products": stg_woocommerce_products,
}

id_map = Table(
    "id_map",
    metadata,
    Column("object_type", String(32), primary_key=True),  # product | contact | deal | line_item
    Column("source_key", String(320), primary_key=True),  # WooCommerce id, or guest:<email>
    Column("hubspot_id", String(64), nullable=True, index=True),
    Column("content_hash", String(64), nullable=True),  # hash of the properties last written
    Column("synced_at", DateTime, nullable=False),
    Column("synced_run_id", String(250), nullable=False),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("stream", String(64), primary_key=True),
    Column("high_water_mark", DateTime, nullable=True),  # naive UTC
    Column("updated_at", DateTime, nullable=False),
    Column("updated_run_id", String(250), nullable=False),
)

dead_letter = Table(
    "dead_letter",
    metadata,
    Column("object_type", String(32), primary_key=True),
    Column("source_key", String(320), primary_key=True),
    Column("error_code", String(120), nullable=False),
    Column("error_message", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_failed_at", DateTime, nullable=False),
    Column("last_failed_at", DateTime, nullable=False),
    Column("next_retry_at", DateTime, nullable=False, index=True),
    Column("last_run_id", String(250), nullable=False),
    Column("resolved_at", DateTime, nullable=True),
    Column("source_ref", String(400), nullable=True),  # staged record to re-process, e.g. "orders:123"
    Column("retry_run_id", String(250), nullable=True, index=True),  # the run that claimed the retry
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("run_id", String(250), primary_key=True),
    Column("object_type", String(32), primary_key=True),
    Column("source_key", String(320), primary_key=True),
    Column("reasons", Text, nullable=False),  # JSON list of failed expectations / mapping errors
    Column("quarantined_at", DateTime, nullable=False),
)

run_stats = Table(
    "run_stats",
    metadata,
    Column("run_id", String(250), primary_key=True),
    Column("object_type", String(32), primary_key=True),
    Column("extracted", Integer, nullable=False, server_default="0"),
    Column("valid", Integer, nullable=False, server_default="0"),
    Column("quarantined", Integer, nullable=False, server_default="0"),
    Column("created", Integer, nullable=False, server_default="0"),
    Column("updated", Integer, nullable=False, server_default="0"),
    Column("unchanged", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("api_calls", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime, nullable=False),
)
