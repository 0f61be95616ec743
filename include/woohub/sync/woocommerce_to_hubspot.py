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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from woohub.core import quarantine, runs
from woohub.core.locks import exclusive
from woohub.core.progress import Progress
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


def load_chunk() -> int:
    """Source records (orders, customers, products) mapped and loaded at a time (``WOOHUB_LOAD_CHUNK``,
    default 2,500)."""
    return int(os.getenv("WOOHUB_LOAD_CHUNK", "2500"))


def customer_full_scan_every() -> timedelta:
    return timedelta(hours=float(os.getenv("WOOHUB_CUSTOMER_FULL_SCAN_HOURS", "24")))


def plan_run(engine: Engine, run_id: str, run_type: str, interval_start: datetime | None,
             interval_end: datetime | None, params: Mapping[str, Any], *,
             overlap: timedelta | None = None, now: datetime | None = None) -> RunPlan:
    """The core plan (window, marks, claimed dead letters, claimed webhook events) plus this direction's own
    decision: customers get a full scan when the last scheduled one is older than
    ``WOOHUB_CUSTOMER_FULL_SCAN_HOURS`` (never in a webhook-triggered run, which reads its records by id)."""
    if params.get("requeue_dead_letters") and not params.get("dry_run"):
        from woohub.core.dead_letters import requeue

        log.info("requeued %d exhausted dead letter(s)", requeue(engine))
    plan = runs.plan_run(engine, run_id, run_type, interval_start, interval_end, params,
                         mark_streams=MARK_STREAMS, event_streams=STREAMS, overlap=overlap, now=now)
    now = now or repository.utcnow()
    last_scan = repository.get_high_water_mark(engine, CUSTOMER_FULL_SCAN_STREAM)
    full_scan = plan.walks_window and (plan.full or last_scan is None
                                       or now - last_scan >= customer_full_scan_every())
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


def check_hubspot_setup(hook: Any, mapping: Any = None, *, dry_run: bool = False,
                        required_scopes: str | None = "woocommerce_to_hubspot") -> dict[str, Any]:
    """Check that the token holds the scopes of the DAG ``required_scopes`` (a missing one fails the run
    here, named; ``None`` skips it), create the custom ``woo_*`` properties the mapping needs (idempotent; a
    dry run only names the missing ones), check the status → stage table against the portal's deal
    pipelines (a mismatch fails with every problem named), and read the portal's enabled currencies once
    for the run's checks."""
    from woohub.hubspot.load import ensure_custom_properties
    from woohub.hubspot.oauth import check_scopes
    from woohub.mapping.woocommerce_to_hubspot import check_stage_table, load_mapping

    if required_scopes is not None:
        check_scopes(hook, required_scopes)
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
    from woohub.core.quality import validate_candidates, validate_chunk, validate_staged

    orders = stream == ORDERS
    known_products = {int(i) for i in repository.staged_hashes(engine, PRODUCTS) if i.isdigit()} if orders else None

    def check(records: list[StagedRecord]) -> Any:
        return validate_staged(stream, [r.payload for r in records], run_id=plan.run_id,
                               known_product_ids=known_products,
                               enabled_currencies=enabled_currencies if orders and records else None,
                               mapping=mapping)

    return validate_candidates(engine, stream, plan, runs.candidate_ids(engine, stream, plan), check,
                               object_type=OBJECT_OF_STREAM[stream], chunk_size=validate_chunk())


@dataclass
class MappedFrame:
    """A mapped frame ready for a loader, the staged record behind each key (for dead letters), the
    staged versions it was built from (marked synced once the load completes) and how many source records
    it covers (for progress lines)."""

    frame: Any
    source_refs: dict[str, str]
    versions: dict[str, dict[str, str]]
    records: int = 0


def load_object(hook: Any, engine: Engine, object_type: str, plan: RunPlan, mapping: Any = None) -> dict[str, Any]:
    """Map the run's validated candidates to one HubSpot object type and load them chunk by chunk
    (``WOOHUB_LOAD_CHUNK`` source records at a time, so memory does not grow with the store), under the
    object's lock; after each chunk the staged versions it completes are marked synced. Record the counts.
    A dry run maps and compares with the ledger, and writes nothing."""
    from woohub.hubspot.load import LoadOptions, LoadResult
    from woohub.mapping.woocommerce_to_hubspot import load_mapping

    mapping = mapping or load_mapping()
    totals, rows, unlinked = LoadResult(), 0, []
    dry: dict[str, int] = {}
    with exclusive(engine, f"load.hubspot.{object_type}"):
        with Progress(f"load {object_type}", calls=hook.calls_spent) as progress:
            for mapped in _FRAMES[object_type](engine, plan, mapping, progress):
                if plan.dry_run:
                    for name, count in _dry_run_counts(engine, object_type, mapped.frame, plan).items():
                        dry[name] = dry.get(name, 0) + count
                    progress.advance(mapped.records)
                    continue
                options = LoadOptions(source_refs=mapped.source_refs, rewrite=plan.rewrite)
                result = _LOADERS[object_type](hook, engine, mapped.frame, plan.run_id, options)
                completed = COMPLETES_STREAM.get(object_type)
                if completed:
                    repository.mark_synced(engine, completed, mapped.versions.get(completed, {}))
                if object_type == "line_items":
                    unlinked += _unlinked_product_lines(mapped.frame, result.unlinked_line_items)
                totals.add(result)
                rows += len(mapped.frame)
                progress.advance(mapped.records)
    if plan.dry_run:
        log.info("dry run: %s: %d would be created, %d would be updated (content or links changed), %d "
                 "unchanged; nothing written to HubSpot", object_type, dry.get("would_create", 0),
                 dry.get("would_update", 0), dry.get("unchanged", 0))
        return {"dry_run": True, "would_create": dry.get("would_create", 0),
                "would_update": dry.get("would_update", 0), "unchanged": dry.get("unchanged", 0)}
    counts = {"created": totals.created, "updated": totals.updated, "unchanged": totals.unchanged,
              "failed": totals.failed, "api_calls": totals.api_calls}
    if object_type == "line_items":
        counts.update(extracted=rows, valid=rows)
    record_counts(engine, plan.run_id, object_type, **counts)
    for failure in totals.failures[:50]:
        log.warning("%s %s not loaded: %s %s", object_type, failure["source_key"], failure["error_code"],
                    failure["error_message"])
    if unlinked:
        log.warning("%d product line item(s) have no HubSpot product link (product gone from WooCommerce, "
                    "or quarantined): %s", len(unlinked), ", ".join(sorted(unlinked)[:20]))
    return {**counts, "archived": totals.archived, "unlinked_line_items": len(unlinked)}


def _dry_run_counts(engine: Engine, object_type: str, frame: Any, plan: RunPlan) -> dict[str, int]:
    """What a load of ``frame`` would write: records the ledger has not seen, and records whose content
    changed."""
    from woohub.core.ledger import id_map_rows

    keys = list(dict.fromkeys(frame["source_key"])) if len(frame) else []
    known = id_map_rows(engine, ID_MAP_TYPE[object_type], keys, ignore_hashes=plan.rewrite)
    hashes = {key: repository.content_hash(props) for key, props in zip(frame["source_key"],
                                                                         frame["properties"], strict=True)}
    new = [k for k in keys if not (known.get(k) or {}).get("hubspot_id")]
    changed = [k for k in keys if k not in new and known[k].get("content_hash") != hashes[k]]
    return {"would_create": len(new), "would_update": len(changed),
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


def iter_loadable_records(engine: Engine, stream: str, ids: set[str],
                          chunk: int | None = None) -> Iterator[list[StagedRecord]]:
    """The staged records of ``ids`` (validated candidates), ``chunk`` (default :func:`load_chunk`) at a
    time, by source id."""
    yield from repository.iter_staged_records(engine, stream, ids, batch_size=chunk or load_chunk())


def _versions(records: list[StagedRecord]) -> dict[str, str]:
    return {r.source_id: r.content_hash for r in records}


def _products_frames(engine: Engine, plan: RunPlan, mapping: Any, progress: Progress) -> Iterator[MappedFrame]:
    """Products and variations, a chunk of whole families at a time (a variation maps with its parent's
    name, status and SKU when the parent is a candidate too); parents outside the candidates lend their
    staged SKU."""
    from woohub.mapping.woocommerce_to_hubspot import map_products

    ids = runs.loadable_ids(engine, PRODUCTS, plan)
    progress.set_total(len(ids))
    for chunk_ids in _product_family_chunks(engine, ids, load_chunk()):
        records = repository.staged_records(engine, PRODUCTS, chunk_ids)
        parents = [r.payload for r in records if not r.payload.get("parent_id")]
        variations = [r.payload for r in records if r.payload.get("parent_id")]
        have = {str(p.get("id")) for p in parents}
        missing = {str(v.get("parent_id")) for v in variations if v.get("parent_id")} - have
        parent_skus = {r.source_id: r.payload.get("sku")
                       for r in repository.staged_records(engine, PRODUCTS, missing)}
        frame = map_products(parents, variations, mapping, parent_skus=parent_skus)
        yield MappedFrame(frame, {key: f"{PRODUCTS}:{key}" for key in frame["source_key"]},
                          {PRODUCTS: _versions(records)}, len(records))


def _product_family_chunks(engine: Engine, ids: set[str], size: int) -> Iterator[list[str]]:
    """``ids`` in chunks of about ``size`` that never split a family (a parent and its variations); one
    pass over the staged payloads that keeps only ids."""
    families: dict[str, list[str]] = {}
    for records in iter_loadable_records(engine, PRODUCTS, ids):
        for record in records:
            family = str(record.payload.get("parent_id") or record.source_id)
            families.setdefault(family, []).append(record.source_id)
    chunk: list[str] = []
    for family in sorted(families, key=repository.source_id_order):
        chunk.extend(families[family])
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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


def _customer_contact_keys(engine: Engine, customer_ids: set[str], mapping: Any) -> dict[str, str]:
    """``guest:<email> -> customer:<id>`` for the customers among ``customer_ids`` (``guest_aliases`` of
    their contact rows, later customers winning an email as in one frame), read chunk by chunk."""
    from woohub.mapping.woocommerce_to_hubspot import guest_aliases, map_contacts

    aliases: dict[str, str] = {}
    for records in iter_loadable_records(engine, CUSTOMERS, customer_ids):
        aliases.update(guest_aliases(map_contacts([r.payload for r in records], [], mapping)))
    return aliases


def _guest_orders_by_key(engine: Engine, order_ids: set[str]) -> dict[str, list[str]]:
    """The guest orders among ``order_ids`` grouped by the contact key they map to (``guest:<email>``, or
    ``guest-order:<id>`` without an email): one pass that keeps only ids."""
    import pandas as pd

    from woohub.mapping.transforms import email

    groups: dict[str, list[str]] = {}
    for records in iter_loadable_records(engine, ORDERS, order_ids):
        guests = [r for r in records if not r.payload.get("customer_id")]
        if not guests:
            continue
        emails = email(pd.Series([(r.payload.get("billing") or {}).get("email") for r in guests], dtype=object))
        for record, address in zip(guests, emails, strict=True):
            key = f"guest:{address}" if isinstance(address, str) else f"guest-order:{record.source_id}"
            groups.setdefault(key, []).append(record.source_id)
    return groups


def _contacts_frames(engine: Engine, plan: RunPlan, mapping: Any, progress: Progress) -> Iterator[MappedFrame]:
    """Customers, then guest buyers, as contacts, a chunk at a time. A guest whose email is a candidate
    customer's becomes no row of its own (the customer's row covers it, as in one frame); all orders of one
    guest email are mapped together (the newest wins). Guest orders without a usable email are
    quarantined."""
    customer_ids = runs.loadable_ids(engine, CUSTOMERS, plan)
    customer_emails = set(_customer_contact_keys(engine, customer_ids, mapping))
    guests = {key: ids for key, ids in _guest_orders_by_key(engine, runs.loadable_ids(engine, ORDERS, plan)).items()
              if key not in customer_emails}
    progress.set_total(len(customer_ids) + len(guests))
    for records in iter_loadable_records(engine, CUSTOMERS, customer_ids):
        yield _contacts_frame(engine, plan, mapping, [r.payload for r in records], [], records, len(records))
    keys = sorted(guests)
    size = load_chunk()
    for start in range(0, len(keys), size):
        chunk = keys[start:start + size]
        orders = repository.staged_records(engine, ORDERS, [i for key in chunk for i in guests[key]])
        yield _contacts_frame(engine, plan, mapping, [], [r.payload for r in orders], [], len(chunk))


def _contacts_frame(engine: Engine, plan: RunPlan, mapping: Any, customers: list[dict[str, Any]],
                    guest_orders: list[dict[str, Any]], customer_records: list[StagedRecord],
                    records: int) -> MappedFrame:
    """One chunk of contacts: unusable guest rows quarantined, the others released from quarantine."""
    from woohub.mapping.woocommerce_to_hubspot import map_contacts

    frame = map_contacts(customers, guest_orders, mapping)
    unusable = frame[frame["error"].notna()]
    if len(unusable):
        quarantine.quarantine_records(engine, plan.run_id, MAPPED_CONTACTS, {
            key: [f"contact mapping: {error}"] for key, error in zip(unusable["source_key"], unusable["error"],
                                                                      strict=True)})
    frame = frame[frame["error"].isna()].copy()
    modified = {f"customer:{c.get('id')}": c.get("date_modified_gmt") for c in customers}
    frame["modified_at"] = frame["source_key"].map(lambda key: modified.get(key))
    quarantine.release(engine, plan.run_id, MAPPED_CONTACTS, frame["source_key"])
    by_email = _latest_order_per_email(guest_orders)
    refs = {key: (f"{CUSTOMERS}:{key.split(':', 1)[1]}" if key.startswith("customer:")
                  else f"{ORDERS}:{by_email.get(key.split(':', 1)[1], '')}") for key in frame["source_key"]}
    return MappedFrame(frame, refs, {CUSTOMERS: _versions(customer_records)}, records)


def _deals_frames(engine: Engine, plan: RunPlan, mapping: Any, progress: Progress) -> Iterator[MappedFrame]:
    """Orders as deals, a chunk at a time; a guest order whose email belongs to a candidate customer links
    to that customer."""
    from woohub.mapping.woocommerce_to_hubspot import map_deals

    aliases = _customer_contact_keys(engine, runs.loadable_ids(engine, CUSTOMERS, plan), mapping)
    ids = runs.loadable_ids(engine, ORDERS, plan)
    progress.set_total(len(ids))
    for records in iter_loadable_records(engine, ORDERS, ids):
        frame = map_deals([r.payload for r in records], mapping)
        frame["contact_source_key"] = frame["contact_source_key"].map(lambda key: aliases.get(key, key))
        yield MappedFrame(frame, {key: f"{ORDERS}:{key}" for key in frame["source_key"]},
                          {ORDERS: _versions(records)}, len(records))


def _line_items_frames(engine: Engine, plan: RunPlan, mapping: Any, progress: Progress) -> Iterator[MappedFrame]:
    """Every line item of a chunk of orders at a time (the loader archives the lines an order no longer
    has, so an order's lines always travel together)."""
    from woohub.mapping.woocommerce_to_hubspot import map_line_items

    ids = runs.loadable_ids(engine, ORDERS, plan)
    progress.set_total(len(ids))
    for records in iter_loadable_records(engine, ORDERS, ids):
        frame = map_line_items([r.payload for r in records], mapping)
        refs = dict(zip(frame["source_key"], f"{ORDERS}:" + frame["deal_source_key"], strict=True))
        yield MappedFrame(frame, refs, {ORDERS: _versions(records)}, len(records))


_FRAMES = {"products": _products_frames, "contacts": _contacts_frames, "deals": _deals_frames,
           "line_items": _line_items_frames}
