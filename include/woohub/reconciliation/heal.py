"""Heal: what to do with each difference a reconciliation found, and doing it through the normal sync path.

**Which side is right** (:func:`contact_field_side`, :func:`heal_ref_for`). Deals, line items and products
belong to the shop: WooCommerce is authoritative, the fix goes WooCommerce -> HubSpot. Contact fields follow
the two-way policy of the HubSpot -> WooCommerce mapping (:func:`woohub.core.conflicts.policies_from_mapping`):
the three-way decision of :func:`woohub.core.conflicts.decide` with both snapshot rows' modification times
and the last synced values (``id_map.synced_fields``) says which side changed, the field's owner or the later
modification wins a conflict. A field with no authoritative side (equal or unknown times, or a decision that
writes nothing) is ``reported`` for a person; so is a contact field that is not two-way but mapped one way
(WooCommerce -> HubSpot: WooCommerce is right). Duplicates and deleted WooCommerce records (the deletion
policy in ``reconciliation.yaml``) are reported, except force-deleted products under ``archive``.

**Never a second writer** (:func:`apply_heals`). A heal writes to neither API. It re-queues the record: the
snapshot payload is staged into its stream's staged table (``woocommerce.orders|customers|products``,
``hubspot.contacts|deals``) and made unsynced (``synced_hash`` NULL), and the ledger's claim about that record
is withdrawn (the ``id_map`` hash of the side to write, and the HubSpot id when the HubSpot record is gone or
archived), so the next run of the sync DAG of that direction picks the record up
(:func:`woohub.core.runs.candidate_ids`: an unsynced staged row is a candidate) and writes it. The difference's
action goes ``would_heal`` -> ``heal_queued`` (``heal_ref`` = ``<stream>:<source id>``) and becomes ``healed``
(:func:`mark_healed`, called by both sync DAGs' report task) once that staged row is synced again with no
dead letter open for it. A dry run leaves every difference at ``would_heal`` and writes nothing.

What is staged: the WooCommerce order, customer or product as the snapshot read it (a line item: its
order; a guest: its newest order), the HubSpot contact as the snapshot listed it (the same properties the
``hubspot_to_woocommerce`` extract reads). A HubSpot deal is re-queued from the row
``hubspot_to_woocommerce`` staged itself (that row has the deal's line items and contacts, which the
snapshot's list read does not carry in the staged form); a deal it never staged is reported. A
force-deleted product under the ``archive`` policy is staged as a deletion marker (``{"id", "status":
"trash", "type", "parent_id", "name", ...}`` from what HubSpot holds), so that ``woocommerce_to_hubspot``'s
product load archives the HubSpot product through its own archive path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select, update

from woohub.core import conflicts
from woohub.staging import repository
from woohub.staging.repository import chunks, upsert, utcnow
from woohub.staging.schema import (
    STAGED_TABLES,
    dead_letter,
    id_map,
    reconciliation_difference,
    reconciliation_snapshot,
)

log = logging.getLogger(__name__)

#: ``reconciliation_difference.action`` values
WOULD_HEAL, HEAL_QUEUED, HEALED, REPORTED, NONE = "would_heal", "heal_queued", "healed", "reported", "none"
ORDERS, CUSTOMERS, PRODUCTS = "woocommerce.orders", "woocommerce.customers", "woocommerce.products"
HUBSPOT_CONTACTS, HUBSPOT_DEALS = "hubspot.contacts", "hubspot.deals"
WOOCOMMERCE_STREAMS = (ORDERS, CUSTOMERS, PRODUCTS)
HUBSPOT_STREAMS = (HUBSPOT_CONTACTS, HUBSPOT_DEALS)
#: the top-level payload field each stream's staged rows take their modification time from
MODIFIED_FIELD = {ORDERS: "date_modified_gmt", CUSTOMERS: "date_modified_gmt", PRODUCTS: "date_modified_gmt",
                  HUBSPOT_CONTACTS: "updatedAt", HUBSPOT_DEALS: "updatedAt"}
CUSTOMER_PREFIX, GUEST_PREFIX = "customer:", "guest:"
#: kinds whose HubSpot record is gone or archived: the heal also forgets the stale HubSpot id
FORGETS_HUBSPOT_ID = frozenset({"missing_in_hubspot", "orphaned_link"})
#: the kind of a force-deleted WooCommerce record (a product under ``archive`` is staged as a deletion marker)
MISSING_IN_WOOCOMMERCE = "missing_in_woocommerce"
#: the marker a deletion payload carries in ``meta_data``
DELETION_MARKER = "woohub_reconciliation_deleted"
_CHUNK = 500


def heal_ref(stream: str, source_id: str) -> str:
    """``<stream>:<source id>``, the form ``dead_letter.source_ref`` has too."""
    return f"{stream}:{source_id}"


def split_ref(ref: str) -> tuple[str, str]:
    """``(stream, source id)`` of a heal ref."""
    stream, _, source_id = ref.partition(":")
    if stream not in STAGED_TABLES or not source_id:
        raise ValueError(f"not a heal ref (<stream>:<source id>): {ref!r}")
    return stream, source_id


def heal_ref_for(object_type: str, woocommerce_key: str, *, order_id: str | None = None) -> str | None:
    """The staged record that re-queues a WooCommerce record for ``woocommerce_to_hubspot``: an order for a
    deal and for a line item (``order_id``: the line's order), the customer for ``customer:<id>``, the
    guest's latest order (``order_id``) for ``guest:<email>``, the product for a product. ``None`` when there
    is nothing to stage (a line item or guest whose order is not known)."""
    if object_type == "deal":
        return heal_ref(ORDERS, woocommerce_key)
    if object_type == "product":
        return heal_ref(PRODUCTS, woocommerce_key)
    if object_type == "line_item":
        return heal_ref(ORDERS, order_id) if order_id else None
    if object_type == "contact":
        if woocommerce_key.startswith(CUSTOMER_PREFIX):
            return heal_ref(CUSTOMERS, woocommerce_key.removeprefix(CUSTOMER_PREFIX))
        return heal_ref(ORDERS, order_id) if order_id else None
    raise ValueError(f"no WooCommerce stream for object type {object_type!r}")


def hubspot_heal_ref(object_type: str, hubspot_id: str) -> str:
    """The staged record that re-queues a HubSpot contact or deal for ``hubspot_to_woocommerce``."""
    streams = {"contact": HUBSPOT_CONTACTS, "deal": HUBSPOT_DEALS}
    if object_type not in streams:
        raise ValueError(f"hubspot_to_woocommerce syncs contacts and deals, not {object_type!r}")
    return heal_ref(streams[object_type], hubspot_id)


def contact_field_side(decision: conflicts.Decision | None) -> str | None:
    """The side that is right about one differing contact field, from the three-way decision the sync itself
    makes (:func:`woohub.core.conflicts.decide`): ``"woocommerce"`` when the decision writes the WooCommerce
    value to HubSpot, ``"hubspot"`` when it writes HubSpot's to WooCommerce, ``None`` when it writes nothing
    or only the system-of-record fallback chose (equal or unknown modification times: no authoritative side)."""
    if decision is None or decision.target is None:
        return None
    if decision.conflict is not None and decision.conflict.policy == conflicts.POLICY_SYSTEM_OF_RECORD:
        return None
    return "woocommerce" if decision.target == conflicts.HUBSPOT else "hubspot"


def contact_decisions(woocommerce: Mapping[str, str | None], hubspot: Mapping[str, str | None],
                      base: Mapping[str, Any] | None, *, woocommerce_modified_at: datetime | None,
                      hubspot_modified_at: datetime | None,
                      policies: Mapping[str, conflicts.FieldPolicy]) -> dict[str, conflicts.Decision]:
    """``field -> Decision`` for the two-way fields of one contact pair (the fields of ``policies``)."""
    woo = {name: woocommerce.get(name) for name in policies}
    hub = {name: hubspot.get(name) for name in policies}
    decisions = conflicts.decide(woo, hub, base, woocommerce_modified_at=woocommerce_modified_at,
                                 hubspot_modified_at=hubspot_modified_at, policies=policies)
    return {d.field: d for d in decisions if d.field in policies}


# -- applying -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Planned:
    """One ``would_heal`` difference row, as the heal reads it."""

    id: int
    object_type: str
    kind: str
    woocommerce_id: str | None
    hubspot_id: str | None
    heal_ref: str


def apply_heals(engine: Engine, run_id: str, *, dry_run: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Re-queue every ``would_heal`` difference of ``run_id`` through the sync path (see the module docstring)
    and mark it ``heal_queued``; a difference whose record cannot be staged (no payload in the snapshot)
    becomes ``reported``. With ``dry_run`` nothing is written. Returns counts per stream."""
    planned = _count_planned(engine, run_id)
    if dry_run:
        log.info("dry run: %d difference(s) would be healed; nothing staged, nothing written", planned)
        return {"dry_run": True, "would_heal": planned, "queued": 0, "unhealable": 0, "staged": {}}
    now = now or utcnow()
    staged: dict[str, int] = {}
    queued = unhealable = 0
    last_id = 0
    while True:
        rows = _planned_rows(engine, run_id, last_id)
        if not rows:
            break
        last_id = rows[-1].id
        done, lost = _heal_chunk(engine, run_id, rows, staged, now)
        queued += done
        unhealable += lost
    log.info("healing: %d difference(s) queued for the next sync run (%s), %d could not be staged and are "
             "reported", queued, ", ".join(f"{s} {n}" for s, n in sorted(staged.items())) or "nothing staged",
             unhealable)
    return {"dry_run": False, "would_heal": planned, "queued": queued, "unhealable": unhealable, "staged": staged}


def _count_planned(engine: Engine, run_id: str) -> int:
    query = select(func.count()).select_from(reconciliation_difference).where(and_(
        reconciliation_difference.c.run_id == run_id, reconciliation_difference.c.action == WOULD_HEAL))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _planned_rows(engine: Engine, run_id: str, after_id: int) -> list[_Planned]:
    d = reconciliation_difference
    query = (select(d.c.id, d.c.object_type, d.c.kind, d.c.woocommerce_id, d.c.hubspot_id, d.c.heal_ref)
             .where(and_(d.c.run_id == run_id, d.c.action == WOULD_HEAL, d.c.id > after_id))
             .order_by(d.c.id).limit(_CHUNK))
    with engine.connect() as connection:
        return [_Planned(r.id, r.object_type, r.kind, r.woocommerce_id, r.hubspot_id, r.heal_ref)
                for r in connection.execute(query)]


def _heal_chunk(engine: Engine, run_id: str, rows: list[_Planned], staged: dict[str, int],
                now: datetime) -> tuple[int, int]:
    """Stage the chunk's records, withdraw the ledger's claims, mark the rows; ``(queued, unhealable)``."""
    payloads = _payloads(engine, run_id, rows, now)
    requeued = _staged_refs(engine, {r.heal_ref for r in rows if r.heal_ref.startswith(HUBSPOT_DEALS + ":")})
    by_stream: dict[str, dict[str, dict[str, Any]]] = {}
    for ref, payload in payloads.items():
        stream, source_id = split_ref(ref)
        by_stream.setdefault(stream, {})[source_id] = payload
    for stream, records in sorted(by_stream.items()):
        repository.stage_records(engine, stream, list(records.values()), run_id, modified_field=MODIFIED_FIELD[stream])
        staged[stream] = staged.get(stream, 0) + len(records)
    unsynced: dict[str, set[str]] = {}
    for ref in set(payloads) | requeued:
        stream, source_id = split_ref(ref)
        unsynced.setdefault(stream, set()).add(source_id)
    if requeued:
        staged[HUBSPOT_DEALS] = staged.get(HUBSPOT_DEALS, 0) + len(requeued)
    healable = [r for r in rows if r.heal_ref in payloads or r.heal_ref in requeued]
    lost = [r for r in rows if r.heal_ref not in payloads and r.heal_ref not in requeued]
    with engine.begin() as connection:
        for stream, ids in unsynced.items():
            table = STAGED_TABLES[stream]
            for batch in chunks(sorted(ids)):
                connection.execute(update(table).where(table.c.source_id.in_(batch)).values(synced_hash=None))
        for row in healable:
            _withdraw_claim(connection, row)
        for ids, action in (([r.id for r in healable], HEAL_QUEUED), ([r.id for r in lost], REPORTED)):
            for batch in chunks(ids):
                connection.execute(update(reconciliation_difference).where(
                    reconciliation_difference.c.id.in_(batch)).values(action=action))
    for row in lost[:20]:
        log.warning("%s %s (%s): nothing to stage for %s; reported instead", row.object_type,
                    row.woocommerce_id or row.hubspot_id, row.kind, row.heal_ref)
    return len(healable), len(lost)


def _staged_refs(engine: Engine, refs: set[str]) -> set[str]:
    """Those of ``refs`` whose stream already holds a staged row."""
    found: set[str] = set()
    by_stream: dict[str, list[str]] = {}
    for ref in refs:
        stream, source_id = split_ref(ref)
        by_stream.setdefault(stream, []).append(source_id)
    with engine.connect() as connection:
        for stream, ids in by_stream.items():
            table = STAGED_TABLES[stream]
            for batch in chunks(sorted(ids)):
                found.update(heal_ref(stream, r.source_id)
                             for r in connection.execute(select(table.c.source_id).where(table.c.source_id.in_(batch))))
    return found


def _withdraw_claim(connection: Any, row: _Planned) -> None:
    """Make the ledger stop claiming that the side to write holds the record: clear that side's hash (and
    the HubSpot id of a record that is gone or archived; for a deleted product, point the entry at the
    HubSpot product to archive)."""
    if not row.woocommerce_id:
        return
    stream, _ = split_ref(row.heal_ref)
    where = and_(id_map.c.object_type == row.object_type, id_map.c.woocommerce_key == row.woocommerce_id)
    if stream in HUBSPOT_STREAMS:
        connection.execute(update(id_map).where(where).values(woocommerce_hash=None))
    elif row.kind == MISSING_IN_WOOCOMMERCE and row.object_type == "product" and row.hubspot_id:
        upsert(connection, id_map, [{"object_type": "product", "woocommerce_key": row.woocommerce_id,
                                     "hubspot_id": row.hubspot_id, "hubspot_hash": None}])
    elif row.kind in FORGETS_HUBSPOT_ID:
        connection.execute(update(id_map).where(where).values(hubspot_id=None, hubspot_hash=None))
    else:
        connection.execute(update(id_map).where(where).values(hubspot_hash=None))


def _payloads(engine: Engine, run_id: str, rows: list[_Planned], now: datetime) -> dict[str, dict[str, Any]]:
    """``heal ref -> payload to stage`` for the rows of one chunk, read from the run's snapshot."""
    wanted: dict[tuple[str, str], set[str]] = {}  # (system, object_type) -> record ids
    deletions: dict[str, str] = {}  # heal ref -> HubSpot product id whose deletion marker it stages
    for row in rows:
        stream, source_id = split_ref(row.heal_ref)
        if stream == HUBSPOT_DEALS:
            continue  # re-queued from its own staged row (see _heal_chunk)
        if stream == PRODUCTS and row.kind == MISSING_IN_WOOCOMMERCE and row.hubspot_id:
            deletions[row.heal_ref] = row.hubspot_id
            wanted.setdefault(("hubspot", "product"), set()).add(row.hubspot_id)
        else:
            wanted.setdefault(_snapshot_source(stream, source_id), set()).add(_snapshot_record_id(stream, source_id))
    found = {key: _snapshot_payloads(engine, run_id, *key, ids) for key, ids in wanted.items()}
    payloads: dict[str, dict[str, Any]] = {}
    for row in rows:
        stream, source_id = split_ref(row.heal_ref)
        if row.heal_ref in payloads or stream == HUBSPOT_DEALS:
            continue
        if row.heal_ref in deletions:
            product = found[("hubspot", "product")].get(deletions[row.heal_ref])
            if product is not None:
                payloads[row.heal_ref] = deletion_payload(source_id, product, now)
            continue
        payload = found[_snapshot_source(stream, source_id)].get(_snapshot_record_id(stream, source_id))
        if payload is not None:
            payloads[row.heal_ref] = payload
    return payloads


def _snapshot_source(stream: str, source_id: str) -> tuple[str, str]:
    """``(system, object_type)`` of the snapshot rows that hold the payloads of ``stream``."""
    return {ORDERS: ("woocommerce", "deal"), CUSTOMERS: ("woocommerce", "contact"),
            PRODUCTS: ("woocommerce", "product"), HUBSPOT_CONTACTS: ("hubspot", "contact"),
            }[stream]


def _snapshot_record_id(stream: str, source_id: str) -> str:
    return CUSTOMER_PREFIX + source_id if stream == CUSTOMERS else source_id


def _snapshot_payloads(engine: Engine, run_id: str, system: str, object_type: str,
                       record_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``record_id -> parsed payload`` of those snapshot rows that have one."""
    s = reconciliation_snapshot
    found: dict[str, dict[str, Any]] = {}
    with engine.connect() as connection:
        for batch in chunks(sorted(set(record_ids))):
            query = select(s.c.record_id, s.c.payload).where(and_(
                s.c.run_id == run_id, s.c.system == system, s.c.object_type == object_type,
                s.c.record_id.in_(batch), s.c.payload.is_not(None)))
            for row in connection.execute(query):
                payload = json.loads(row.payload)
                if isinstance(payload, dict) and payload.get("id") is not None:
                    found[row.record_id] = payload
    return found


def deletion_payload(product_id: str, hubspot_product: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The WooCommerce payload that stands for a force-deleted product: in the trash (the status the w2h
    mapping archives), its type, parent, name and SKU as HubSpot holds them, modified now."""
    properties = hubspot_product.get("properties") or {}
    parent = str(properties.get("woo_parent_product_id") or "0")
    return {
        "id": int(product_id) if product_id.isdigit() else product_id,
        "status": "trash",
        "type": properties.get("woo_product_type") or ("variation" if parent not in ("", "0") else "simple"),
        "parent_id": int(parent) if parent.isdigit() else 0,
        "name": properties.get("name") or "",
        "sku": properties.get("hs_sku") or "",
        "price": "",
        "stock_quantity": None,
        "date_modified_gmt": now.replace(microsecond=0).isoformat(),
        "meta_data": [{"key": DELETION_MARKER, "value": "force-deleted in WooCommerce; found by the nightly "
                                                         "reconciliation"}],
    }


# -- healed ---------------------------------------------------------------------------------------------


def mark_healed(engine: Engine, *, now: datetime | None = None) -> int:
    """Turn every ``heal_queued`` difference whose staged record was synced again (``synced_hash`` =
    ``content_hash``, and no dead letter open for it) into ``healed``; returns how many. Both sync DAGs
    call it from their report task."""
    now = now or utcnow()
    d = reconciliation_difference
    healed, last_id = 0, 0
    while True:
        with engine.connect() as connection:
            rows = list(connection.execute(select(d.c.id, d.c.heal_ref).where(and_(
                d.c.action == HEAL_QUEUED, d.c.id > last_id)).order_by(d.c.id).limit(_CHUNK)))
        if not rows:
            return healed
        last_id = rows[-1].id
        done = _synced_refs(engine, {r.heal_ref for r in rows if r.heal_ref})
        ids = [r.id for r in rows if r.heal_ref in done]
        if ids:
            with engine.begin() as connection:
                for batch in chunks(ids):
                    healed += connection.execute(update(d).where(and_(d.c.id.in_(batch), d.c.action == HEAL_QUEUED))
                                                 .values(action=HEALED, healed_at=now)).rowcount


def _synced_refs(engine: Engine, refs: set[str]) -> set[str]:
    """Those of ``refs`` whose staged row is synced and has no unresolved dead letter."""
    by_stream: dict[str, list[str]] = {}
    for ref in refs:
        try:
            stream, source_id = split_ref(ref)
        except ValueError:
            continue
        by_stream.setdefault(stream, []).append(source_id)
    done: set[str] = set()
    with engine.connect() as connection:
        for stream, ids in by_stream.items():
            table = STAGED_TABLES[stream]
            for batch in chunks(sorted(ids)):
                query = select(table.c.source_id).where(and_(
                    table.c.source_id.in_(batch), table.c.synced_hash.is_not(None),
                    table.c.synced_hash == table.c.content_hash))
                done.update(heal_ref(stream, row.source_id) for row in connection.execute(query))
        for batch in chunks(sorted(done)):
            letters = select(dead_letter.c.source_ref).where(and_(
                dead_letter.c.source_ref.in_(batch), dead_letter.c.state != "resolved"))
            done -= {row.source_ref for row in connection.execute(letters)}
    return done
