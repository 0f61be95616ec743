"""Table definitions of the staging database (SQLAlchemy Core). Change them only together with a new
migration under ``migrations/versions``; ``tests/staging`` checks that the two agree."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()


def _staged_table(name: str) -> Table:
    """One current row per source record: the newest raw payload staged, the run that last staged it, the
    source's own modification time (naive UTC), ``validated_hash``: the ``content_hash`` of the newest version
    that passed validation (loads write only validated versions), and ``synced_hash``: the ``content_hash`` of
    the version whose sync into the other system completed (written, or handed to a dead letter). A row whose
    ``synced_hash`` differs from its ``content_hash`` is still to be synced, whichever run staged it."""
    return Table(
        name,
        metadata,
        Column("source_id", String(64), primary_key=True),
        Column("payload", Text, nullable=False),
        Column("content_hash", String(64), nullable=False),
        Column("source_modified_at", DateTime, nullable=True),
        Column("extracted_run_id", String(250), nullable=False, index=True),
        Column("extracted_at", DateTime, nullable=False),
        Column("validated_hash", String(64), nullable=True),
        Column("synced_hash", String(64), nullable=True),
    )


stg_woocommerce_orders = _staged_table("stg_woocommerce_orders")
stg_woocommerce_customers = _staged_table("stg_woocommerce_customers")
stg_woocommerce_products = _staged_table("stg_woocommerce_products")
stg_hubspot_deals = _staged_table("stg_hubspot_deals")
stg_hubspot_contacts = _staged_table("stg_hubspot_contacts")
stg_hubspot_line_items = _staged_table("stg_hubspot_line_items")
stg_hubspot_products = _staged_table("stg_hubspot_products")

#: staged stream (``<source system>.<object>``) -> its table
STAGED_TABLES = {
    "woocommerce.orders": stg_woocommerce_orders,
    "woocommerce.customers": stg_woocommerce_customers,
    "woocommerce.products": stg_woocommerce_products,
    "hubspot.deals": stg_hubspot_deals,
    "hubspot.contacts": stg_hubspot_contacts,
    "hubspot.line_items": stg_hubspot_line_items,
    "hubspot.products": stg_hubspot_products,
}

#: which records each run staged: a run's extracted set is its own, even when a later run stages the same
#: record again (the payload table keeps only the newest version)
staged_run_record = Table(
    "staged_run_record",
    metadata,
    Column("run_id", String(250), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("source_id", String(64), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("extracted_at", DateTime, nullable=False),
)

#: the ledger of written records: one WooCommerce record and one HubSpot record, with the hash of what the
#: sync last wrote to each side (``hubspot_hash``: properties written to HubSpot; ``woocommerce_hash``: what
#: was written to WooCommerce). Link rows (``deal_contact``, ``line_item_deal``) remember associations.
id_map = Table(
    "id_map",
    metadata,
    Column("object_type", String(32), primary_key=True),  # product | contact | deal | line_item | link types
    Column("woocommerce_key", String(320), primary_key=True),  # WooCommerce id, customer:<id>, guest:<email>
    Column("hubspot_id", String(64), nullable=True, index=True),
    Column("hubspot_hash", String(64), nullable=True),
    Column("hubspot_synced_at", DateTime, nullable=True),
    Column("hubspot_synced_run_id", String(250), nullable=True),
    Column("woocommerce_hash", String(64), nullable=True),
    Column("woocommerce_synced_at", DateTime, nullable=True),
    Column("woocommerce_synced_run_id", String(250), nullable=True),
    # JSON {field: value}: the value of each two-way field that both systems held at the last sync (the base
    # of the three-way comparison that tells a one-sided change from a conflict, woohub.core.conflicts)
    Column("synced_fields", Text, nullable=True),
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
    # staged record to re-process, e.g. "woocommerce.orders:123"
    Column("source_ref", String(400), nullable=True),
    Column("retry_run_id", String(250), nullable=True, index=True),  # the run holding the retry claim
    Column("state", String(16), nullable=False, server_default="open"),  # open | exhausted | resolved | dismissed (from the report page)
    Column("claimed_at", DateTime, nullable=True),
    Column("alerted_at", DateTime, nullable=True),  # when the exhausted letter was alerted (once)
)

#: records that failed validation (or mapping), one row per record, kept until the record passes again
quarantine = Table(
    "quarantine",
    metadata,
    Column("object_type", String(64), primary_key=True),  # staged stream, or the mapped object
    Column("source_key", String(320), primary_key=True),
    Column("reasons", Text, nullable=False),  # JSON list of failed expectations / mapping errors
    Column("content_hash", String(64), nullable=True),  # the staged version that failed
    Column("first_quarantined_at", DateTime, nullable=False),
    Column("quarantined_at", DateTime, nullable=False),  # the latest failure
    Column("run_id", String(250), nullable=False, index=True),  # the run of the latest failure
    Column("released_at", DateTime, nullable=True),
    Column("released_run_id", String(250), nullable=True),
)
Index("ix_quarantine_open", quarantine.c.object_type, quarantine.c.released_at)

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

#: shared API rate-limit budgets (:mod:`woohub.http.shared_budget`), one row per budget name: the row every
#: acquiring process locks, with the limit in force (``limit_source`` ``config`` until the server's
#: ``X-HubSpot-RateLimit-Max`` / ``-Interval-Milliseconds`` were seen, then ``server``)
rate_limit_budget = Table(
    "rate_limit_budget",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("call_limit", Integer, nullable=False),
    Column("interval_ms", Integer, nullable=False),
    Column("limit_source", String(16), nullable=False),  # config | server
    Column("updated_at", DateTime, nullable=False),  # naive UTC
)

#: the call starts a budget counts (naive UTC); rows older than the budget's window are deleted by the
#: acquire that finds them
rate_limit_call = Table(
    "rate_limit_call",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("budget_name", String(200), nullable=False),
    Column("started_at", DateTime, nullable=False),
)
Index("ix_rate_limit_call_budget_started", rate_limit_call.c.budget_name, rate_limit_call.c.started_at)

#: a field changed on both sides since the last sync, and what the ownership policy decided
#: (:mod:`woohub.core.conflicts`); ``conflict_key`` records one conflict once however many runs see it
sync_conflict = Table(
    "sync_conflict",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conflict_key", String(64), nullable=False, unique=True),
    Column("run_id", String(250), nullable=False, index=True),
    Column("dag_id", String(250), nullable=False),
    Column("object_type", String(32), nullable=False),  # contact | deal
    Column("woocommerce_key", String(320), nullable=True),
    Column("hubspot_id", String(64), nullable=True),
    Column("field", String(120), nullable=False),
    Column("woocommerce_value", Text, nullable=True),
    Column("hubspot_value", Text, nullable=True),
    Column("woocommerce_modified_at", DateTime, nullable=True),
    Column("hubspot_modified_at", DateTime, nullable=True),
    Column("winner", String(16), nullable=False),  # woocommerce | hubspot
    Column("policy", String(32), nullable=False),  # owner | latest | <documented rule>
    Column("recorded_at", DateTime, nullable=False),
)

#: orders woohub is creating in WooCommerce for HubSpot deals: written before the create is sent, settled
#: with the order id once the store answered or a search found the order. A run that dies between the
#: create and its write-back leaves ``requested`` rows; the next run looks those orders up by their
#: searchable reference before creating anything, so a deal never gets a second order.
order_intent = Table(
    "order_intent",
    metadata,
    Column("deal_id", String(64), primary_key=True),
    Column("reference", String(120), nullable=False),  # the order's transaction_id, which search= finds
    Column("state", String(16), nullable=False),  # requested | created | adopted
    Column("order_id", String(64), nullable=True),
    Column("payload_hash", String(64), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("requested_at", DateTime, nullable=False),
    Column("settled_at", DateTime, nullable=True),
)

#: a reconciliation's full read of both systems (:mod:`woohub.reconciliation`), one row per record and run:
#: ``record_id`` is the record's own id on its side (the id-map key format on the WooCommerce side:
#: ``<order id>``, ``customer:<id>``, ``guest:<email>``, ``<product id>``; the object id on the HubSpot side),
#: ``match_key`` the natural key both sides share (the WooCommerce key, read on HubSpot from the ``woo_*``
#: properties), ``email`` the lower-cased email of contacts, ``fields`` JSON {field: normalised value} in
#: HubSpot property terms (the WooCommerce side through the w2h mapping functions), ``payload`` the raw
#: record (what a heal stages). Rows of older runs are deleted when the next run starts.
reconciliation_snapshot = Table(
    "reconciliation_snapshot",
    metadata,
    Column("run_id", String(250), primary_key=True),
    Column("system", String(16), primary_key=True),  # woocommerce | hubspot
    Column("object_type", String(32), primary_key=True),  # deal | contact | product | line_item
    Column("record_id", String(320), primary_key=True),
    Column("match_key", String(320), nullable=True),
    Column("email", String(320), nullable=True),
    Column("archived", Integer, nullable=False, server_default="0"),  # 1: WooCommerce trash / HubSpot archived
    Column("fields", Text, nullable=False),
    Column("payload", Text, nullable=True),
    Column("modified_at", DateTime, nullable=True),  # naive UTC
)
Index("ix_reconciliation_snapshot_match", reconciliation_snapshot.c.run_id, reconciliation_snapshot.c.object_type,
      reconciliation_snapshot.c.system, reconciliation_snapshot.c.match_key)
#: contacts pair by email too (woohub.reconciliation.compare): without it that join scans the whole side per row
Index("ix_reconciliation_snapshot_email", reconciliation_snapshot.c.run_id, reconciliation_snapshot.c.object_type,
      reconciliation_snapshot.c.system, reconciliation_snapshot.c.email)

#: one row per object type per reconciliation run: how many records each side held, how many were paired,
#: how many differences were found (``drift_rate`` = differences that are drift / paired-or-missing records)
reconciliation_run = Table(
    "reconciliation_run",
    metadata,
    Column("run_id", String(250), primary_key=True),
    Column("object_type", String(32), primary_key=True),
    Column("dry_run", Integer, nullable=False, server_default="0"),
    Column("woocommerce_records", Integer, nullable=False, server_default="0"),
    Column("hubspot_records", Integer, nullable=False, server_default="0"),
    Column("paired", Integer, nullable=False, server_default="0"),
    Column("differences", Integer, nullable=False, server_default="0"),
    Column("drift_rate", String(32), nullable=True),  # decimal text, e.g. "0.0125"
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
)

#: one row per difference per reconciliation run. ``kind``: missing_in_hubspot | missing_in_woocommerce |
#: field_mismatch | duplicate | orphaned_link | empty_value_kept | stale_quarantine | dead_letter.
#: ``action``: would_heal (dry run) | heal_queued (re-queued through the sync path) | healed (written by that
#: sync) | reported (for a person) | none (not drift, e.g. empty_value_kept). ``heal_ref`` names what was
#: re-queued (``<stream>:<source id>``).
reconciliation_difference = Table(
    "reconciliation_difference",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(250), nullable=False, index=True),
    Column("object_type", String(32), nullable=False),
    Column("woocommerce_id", String(320), nullable=True),
    Column("hubspot_id", String(64), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("field", String(120), nullable=True),
    Column("woocommerce_value", Text, nullable=True),
    Column("hubspot_value", Text, nullable=True),
    Column("action", String(16), nullable=False),
    Column("heal_ref", String(400), nullable=True),
    Column("detected_at", DateTime, nullable=False),
    Column("healed_at", DateTime, nullable=True),
)
Index("ix_reconciliation_difference_action", reconciliation_difference.c.action)

#: what a person did from the report page (requeue or dismiss a quarantined record or a dead letter), and who
review_action = Table(
    "review_action",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("acted_at", DateTime, nullable=False),
    Column("actor", String(250), nullable=False),
    Column("action", String(16), nullable=False),  # requeue | dismiss
    Column("target", String(16), nullable=False),  # quarantine | dead_letter
    Column("object_type", String(64), nullable=False),
    Column("source_key", String(320), nullable=False),
    Column("detail", Text, nullable=True),
)

#: alerts sent, one row per alert key, so each condition alerts once (``woohub.core.alerts``)
alert_sent = Table(
    "alert_sent",
    metadata,
    Column("alert_key", String(250), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("channels", String(120), nullable=False),  # comma list of channels it went to, or "log"
    Column("sent_at", DateTime, nullable=False),
)

#: one row per accepted webhook event (``woohub.webhooks.events``): which record changed, never the payload
#: (the run reads the record itself, so late or reordered deliveries cannot stage an old version).
#: ``source``: woocommerce | hubspot; ``delivery_id``: WooCommerce's ``X-WC-Webhook-Delivery-ID`` or HubSpot's
#: ``eventId`` (unique per source: a replayed delivery is a duplicate); ``stream``: the staged stream whose
#: record changed; ``parent_id``: a variation's product; ``state``: pending | staged; ``signalled``: the
#: event emitted the Asset event that wakes the sync (bursts emit one); ``claimed_run_id``: the run that took
#: the event (a failed run's events are taken again by the next run).
webhook_event = Table(
    "webhook_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("delivery_id", String(120), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("stream", String(64), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("parent_id", String(64), nullable=True),
    Column("occurred_at", DateTime, nullable=True),
    Column("received_at", DateTime, nullable=False),
    Column("signalled", Integer, nullable=False, server_default="0"),
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("claimed_run_id", String(250), nullable=True),
    Column("staged_at", DateTime, nullable=True),
)
Index("ux_webhook_event_delivery", webhook_event.c.source, webhook_event.c.delivery_id, unique=True)
Index("ix_webhook_event_state", webhook_event.c.source, webhook_event.c.state)

#: one row per erasure of a person from staging on request (``python -m woohub personal-data erase``): who
#: asked, when, and how many rows of each table went; the email only as its SHA-256 so the log
#: itself holds no personal data but can answer "was this address erased?"
personal_data_erasure = Table(
    "personal_data_erasure",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("erased_at", DateTime, nullable=False),
    Column("actor", String(250), nullable=False),
    Column("email_sha256", String(64), nullable=False, index=True),
    Column("counts", Text, nullable=False),  # JSON: table -> rows erased
)
