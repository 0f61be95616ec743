"""The steps of the ``woocommerce_to_hubspot`` DAG as plain functions (each DAG task calls one), on the
direction-neutral core (:mod:`woohub.core`).

Data moves through the staging database: each extract stages payloads and remembers the run that staged
them; each validation checks the run's candidates (:func:`woohub.core.runs.candidate_ids`: its own records,
everything staged but not yet synced, its claimed dead letters) and quarantines the bad ones; each load maps
the validated candidates and writes what the ledger says is new or changed, under a lock per HubSpot object
so overlapping runs write one record once, with the newest content.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from woohub.core import quarantine, runs
from woohub.core.locks import exclusive
from woohub.core.run_stats import record_counts
from woohub.core.runs import RunPlan
from woohub.staging import repository
from woohub.staging.repository import StagedRecord
from woohub.woocommerce.extract import ExtractWindow

log = logging.getLogger(__name__)

ORDERS, CUSTOMERS, PRODUCTS = "woocommerce.orders", "woocommerce.customers", "woocommerce.products"
STREAMS = (ORDERS, CUSTOMERS, PRODUCTS)
MARK_STREAMS = (ORDERS, PRODUCTS)
CUSTOMER_FULL_SCAN_STREAM = "woocommerce.customers_full_scan"
#: mapped contacts that could not be built (guest orders without a usable email)
MAPPED_CONTACTS = "woocommerce_to_hubspot.contacts"

# Staged stream -> the HubSpot object whose run counts it feeds.
OBJECT_OF_STREAM = {ORDERS: "deals", CUSTOMERS: "contacts", PRODUCTS: "products"}
# HubSpot object -> the dead-letter / id-map object type the loaders use.
ID_MAP_TYPE = {"products": "product", "contacts": "contact", "deals": "deal", "line_items": "line_item"}
# HubSpot object -> the staged stream whose sync is complete once that object is loaded.
COMPLETES_STREAM = {"products": PRODUCTS, "contacts": CUSTOMERS, "line_items": ORDERS}


def customer_full_scan_every() -> timedelta:
    return timedelta(hours=float(os.getenv("WOOHUB_CUSTOMER_FULL_SCAN_HOURS", "24")))


def plan_run(engine: Engine, run_id: str, run_type: str, interval_start: datetime | None,
             interval_end: datetime | None, params: Mapping[str, Any], *,
             overlap: timedelta | None = None, now: datetime | None = None) -> RunPlan:
    """The core plan (window, marks, claimed dead letters) plus this direction's own decision: customers
    get a full scan when the last scheduled one is older than ``WOOHUB_CUSTOMER_FULL_SCAN_HOURS``."""
    if params.get("requeue_dead_letters") and not params.get("dry_run"):
        from woohub.core.dead_letters import requeue

        log.info("requeued %d exhausted dead letter(s)", requeue(engine))
    plan = runs.plan_run(engine, run_id, run_type, interval_start, interval_end, params,
                         mark_streams=MARK_STREAMS, overlap=overlap, now=now)
    now = now or repository.utcnow()
    last_scan = repository.get_high_water_mark(engine, CUSTOMER_FULL_SCAN_STREAM)
    full_scan = plan.full or last_scan is None or now - last_scan >= customer_full_scan_every()
    return RunPlan.from_dict({**plan.as_dict(), "extras": {"customer_full_scan": full_scan}})


def extract_window(plan: RunPlan) -> ExtractWindow:
    return ExtractWindow(start=plan.window_start, end=plan.window_end, full=plan.full)


def record_extract(engine: Engine, run_id: str, result: Any) -> dict[str, Any]:
    """Record an extract's WooCommerce API calls in ``run_stats`` (object ``woocommerce_<object>``, next to
    the HubSpot objects' rows) and return its counts for XCom."""
    record_counts(engine, run_id, result.stream.replace(".", "_"), extracted=result.staged,
                  api_calls=result.api_calls)
    return result.as_dict()


def commit_high_water_marks(engine: Engine, plan: RunPlan) -> list[str]:
    """After every load of a scheduled run succeeded: orders and products are synced up to the window end,
    and a customer full scan happened. Other runs leave the marks alone (see :mod:`woohub.core.runs`)."""
    streams = list(MARK_STREAMS)
    if (plan.extras or {}).get("customer_full_scan"):
        streams.append(CUSTOMER_FULL_SCAN_STREAM)
    return runs.commit_marks(engine, plan, streams)


def check_hubspot_setup(hook: Any, mapping: Any = None, *, dry_run: bool = False) -> dict[str, Any]:
    """Create the custom ``woo_*`` properties the mapping needs (idempotent; a dry run only names the
    missing ones), check the status → stage table against the portal's deal pipelines (a mismatch fails
    with every problem named), and read the portal's enabled currencies once for the run's checks."""
    from woohub.hubspot.load import ensure_custom_properties
    from woohub.mapping.woocommerce_to_hubspot import check_stage_table, load_mapping

    mapping = mapping or load_mapping()
    definitions: dict[str, list[dict[str, Any]]] = {}
    for prop in mapping.custom_properties:
        definitions.setdefault(prop.object_type, []).append(prop.to_hubspot())
    created = ensure_custom_properties(hook, definitions, dry_run=dry_run)
    check_stage_table(mapping, hook.get_pipelines("deals"))
    if created:
        log.info("%s HubSpot properties: %s", "would create" if dry_run else "created", ", ".join(created))
    currencies = sorted(hook.enabled_currencies())
    log.info("currencies enabled in the HubSpot portal: %s", ", ".join(currencies))
    return {"created": created, "enabled_currencies": currencies}


def validate_stream(engine: Engine, stream: str, plan: RunPlan, *,
                    enabled_currencies: list[str] | None = None, mapping: Any = None) -> dict[str, Any]:
    """Run the stream's Great Expectations suite on the run's candidates; quarantine the failing ones with
    their reasons, release the ones that pass now, and fail (after recording) when more than
    ``max(quarantine_floor, max_quarantine_share x total)`` records fail. Orders in a currency the portal
    has not enabled (``enabled_currencies``) are quarantined with that reason."""
    from woohub.core.quality import enforce_threshold, validate_staged

    records = repository.staged_records(engine, stream, runs.candidate_ids(engine, stream, plan))
    orders = stream == ORDERS
    known_products = {int(i) for i in repository.staged_hashes(engine, PRODUCTS) if i.isdigit()} if orders else None
    outcome = validate_staged(stream.split(".", 1)[1], [r.payload for r in records], run_id=plan.run_id,
                              known_product_ids=known_products,
                              enabled_currencies=enabled_currencies if orders else None, mapping=mapping)
    hashes = {r.source_id: r.content_hash for r in records}
    quarantine.quarantine_records(engine, plan.run_id, stream, outcome.quarantined, hashes)
    passed = {source_id: hashes[source_id] for source_id in outcome.valid_ids if source_id in hashes}
    repository.mark_validated(engine, stream, passed)
    released = quarantine.release(engine, plan.run_id, stream, passed)
    record_counts(engine, plan.run_id, OBJECT_OF_STREAM[stream], extracted=outcome.total,
                  valid=len(outcome.valid_ids), quarantined=len(outcome.quarantined))
    for source_id, reasons in sorted(outcome.quarantined.items())[:50]:
        log.warning("quarantined %s %s: %s", stream, source_id, "; ".join(reasons))
    if released:
        log.info("%d %s record(s) passed again and left quarantine", released, stream)
    for expectation, count in outcome.warnings.items():
        if count:
            log.warning("%s: %d %s record(s) flagged by warning check %s", plan.run_id, count, stream, expectation)
    enforce_threshold(outcome, plan.max_quarantine_share, plan.quarantine_floor)
    return {"stream": stream, "total": outcome.total, "valid": len(outcome.valid_ids),
            "quarantined": len(outcome.quarantined), "released": released, "warnings": outcome.warnings,
            "data_docs": outcome.data_docs_path}


@dataclass
class MappedFrame:
    """A mapped frame ready for a loader, the staged record behind each key (for dead letters) and the
    staged versions it was built from (marked synced once the load completes)."""

    frame: Any
    source_refs: dict[str, str]
    versions: dict[str, dict[str, str]]


def load_object(hook: Any, engine: Engine, object_type: str, plan: RunPlan, mapping: Any = None) -> dict[str, Any]:
    """Map the run's validated candidates to one HubSpot object type and load them, under the object's lock;
    record the counts, and mark the staged versions synced once the object that completes them is loaded.
    A dry run maps and compares with the ledger, and writes nothing."""
    from woohub.hubspot.load import LoadOptions
    from woohub.mapping.woocommerce_to_hubspot import load_mapping

    mapping = mapping or load_mapping()
    with exclusive(engine, f"load.hubspot.{object_type}"):
        mapped = _FRAMES[object_type](engine, plan, mapping)
        if plan.dry_run:
            return _dry_run_counts(engine, object_type, mapped.frame, plan)
        options = LoadOptions(source_refs=mapped.source_refs, rewrite=plan.rewrite)
        result = _LOADERS[object_type](hook, engine, mapped.frame, plan.run_id, options)
        completed = COMPLETES_STREAM.get(object_type)
        if completed:
            repository.mark_synced(engine, completed, mapped.versions.get(completed, {}))
    counts = {"created": result.created, "updated": result.updated, "unchanged": result.unchanged,
              "failed": result.failed, "api_calls": result.api_calls}
    if object_type == "line_items":
        counts.update(extracted=len(mapped.frame), valid=len(mapped.frame))
    record_counts(engine, plan.run_id, object_type, **counts)
    for failure in result.failures[:50]:
        log.warning("%s %s not loaded: %s %s", object_type, failure["source_key"], failure["error_code"],
                    failure["error_message"])
    unlinked = (_unlinked_product_lines(mapped.frame, result.unlinked_line_items)
                if object_type == "line_items" else [])
    if unlinked:
        log.warning("%d product line item(s) have no HubSpot product link (product gone from WooCommerce, "
                    "or quarantined): %s", len(unlinked), ", ".join(unlinked[:20]))
    return {**counts, "archived": result.archived, "unlinked_line_items": len(unlinked)}


def _dry_run_counts(engine: Engine, object_type: str, frame: Any, plan: RunPlan) -> dict[str, Any]:
    """What a load would write: records the ledger has not seen, and records whose content changed."""
    from woohub.core.ledger import id_map_rows

    keys = list(dict.fromkeys(frame["source_key"])) if len(frame) else []
    known = id_map_rows(engine, ID_MAP_TYPE[object_type], keys, ignore_hashes=plan.rewrite)
    hashes = {key: repository.content_hash(props) for key, props in zip(frame["source_key"],
                                                                         frame["properties"], strict=True)}
    new = [k for k in keys if not (known.get(k) or {}).get("hubspot_id")]
    changed = [k for k in keys if k not in new and known[k].get("content_hash") != hashes[k]]
    log.info("dry run: %s: %d would be created, %d would be updated (content or links changed), %d "
             "unchanged; nothing written to HubSpot", object_type, len(new), len(changed),
             len(keys) - len(new) - len(changed))
    return {"dry_run": True, "would_create": len(new), "would_update": len(changed),
            "unchanged": len(keys) - len(new) - len(changed)}


def _unlinked_product_lines(frame: Any, unlinked_keys: list[str]) -> list[str]:
    """The unlinked line items that stand for products (shipping, fee and tax lines never have a product)."""
    kinds = dict(zip(frame["source_key"], frame["properties"].map(lambda p: p.get("woo_line_item_type")),
                     strict=True))
    return sorted(k for k in unlinked_keys if kinds.get(k) not in ("shipping", "fee", "tax"))


def _loader(name: str) -> Any:
    def load(*args: Any) -> Any:
        import woohub.hubspot.load

        return getattr(woohub.hubspot.load, name)(*args)

    return load


_LOADERS = {"products": _loader("load_products"), "contacts": _loader("load_contacts"),
            "deals": _loader("load_deals"), "line_items": _loader("load_line_items")}


def loadable_records(engine: Engine, stream: str, plan: RunPlan) -> list[StagedRecord]:
    """The validated candidates of ``stream`` for ``plan``'s run, newest staged version of each."""
    return repository.staged_records(engine, stream, runs.loadable_ids(engine, stream, plan))


def _versions(records: list[StagedRecord]) -> dict[str, str]:
    return {r.source_id: r.content_hash for r in records}


def _products_frame(engine: Engine, plan: RunPlan, mapping: Any) -> MappedFrame:
    from woohub.mapping.woocommerce_to_hubspot import map_products

    records = loadable_records(engine, PRODUCTS, plan)
    products = [r.payload for r in records]
    variations = [p for p in products if p.get("type") == "variation"]
    parents = [p for p in products if p.get("type") != "variation"]
    # a variation without its own SKU shows its parent's: the parent's SKU tells, also when only the
    # variation changed
    have = {str(p.get("id")) for p in parents}
    missing = {str(v.get("parent_id")) for v in variations if v.get("parent_id")} - have
    parent_skus = {r.source_id: r.payload.get("sku") for r in repository.staged_records(engine, PRODUCTS, missing)}
    frame = map_products(parents, variations, mapping, parent_skus=parent_skus)
    return MappedFrame(frame, {key: f"{PRODUCTS}:{key}" for key in frame["source_key"]},
                       {PRODUCTS: _versions(records)})


def _guest_orders(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in orders if not o.get("customer_id")]


def _latest_order_per_email(orders: list[dict[str, Any]]) -> dict[str, str]:
    latest: dict[str, dict[str, Any]] = {}
    for order in orders:
        email = str((order.get("billing") or {}).get("email") or "").strip().lower()
        if email and (email not in latest or order.get("date_modified_gmt", "") >= latest[email].get(
                "date_modified_gmt", "")):
            latest[email] = order
    return {email: str(order["id"]) for email, order in latest.items()}


def _contacts_frame(engine: Engine, plan: RunPlan, mapping: Any) -> MappedFrame:
    """Customers and guest buyers as contacts; guest orders without a usable email are quarantined."""
    from woohub.mapping.woocommerce_to_hubspot import map_contacts

    orders = [r.payload for r in loadable_records(engine, ORDERS, plan)]
    customers = loadable_records(engine, CUSTOMERS, plan)
    frame = map_contacts([r.payload for r in customers], _guest_orders(orders), mapping)
    unusable = frame[frame["error"].notna()]
    if len(unusable):
        quarantine.quarantine_records(engine, plan.run_id, MAPPED_CONTACTS, {
            key: [f"contact mapping: {error}"] for key, error in zip(unusable["source_key"], unusable["error"],
                                                                      strict=True)})
    frame = frame[frame["error"].isna()]
    quarantine.release(engine, plan.run_id, MAPPED_CONTACTS, frame["source_key"])
    by_email = _latest_order_per_email(_guest_orders(orders))
    refs = {key: (f"{CUSTOMERS}:{key.split(':', 1)[1]}" if key.startswith("customer:")
                  else f"{ORDERS}:{by_email.get(key.split(':', 1)[1], '')}") for key in frame["source_key"]}
    return MappedFrame(frame, refs, {CUSTOMERS: _versions(customers)})


def _deals_frame(engine: Engine, plan: RunPlan, mapping: Any) -> MappedFrame:
    """Orders as deals; a guest order whose email belongs to a registered customer links to that customer."""
    from woohub.mapping.woocommerce_to_hubspot import guest_aliases, map_contacts, map_deals

    records = loadable_records(engine, ORDERS, plan)
    orders = [r.payload for r in records]
    frame = map_deals(orders, mapping)
    customers = [r.payload for r in loadable_records(engine, CUSTOMERS, plan)]
    aliases = guest_aliases(map_contacts(customers, _guest_orders(orders), mapping))
    frame["contact_source_key"] = frame["contact_source_key"].map(lambda key: aliases.get(key, key))
    return MappedFrame(frame, {key: f"{ORDERS}:{key}" for key in frame["source_key"]}, {ORDERS: _versions(records)})


def _line_items_frame(engine: Engine, plan: RunPlan, mapping: Any) -> MappedFrame:
    from woohub.mapping.woocommerce_to_hubspot import map_line_items

    records = loadable_records(engine, ORDERS, plan)
    frame = map_line_items([r.payload for r in records], mapping)
    refs = dict(zip(frame["source_key"], f"{ORDERS}:" + frame["deal_source_key"], strict=True))
    return MappedFrame(frame, refs, {ORDERS: _versions(records)})


_FRAMES = {"products": _products_frame, "contacts": _contacts_frame, "deals": _deals_frame,
           "line_items": _line_items_frame}
