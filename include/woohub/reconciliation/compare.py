"""Compare: classify every difference between the two sides of one reconciliation run's snapshot
(``reconciliation_snapshot``), in SQL over staging, streaming pairs ordered by key (memory stays flat: never
both sides, nor one side, whole in memory).

**Pairing**, per object type (``contact``, ``product``, ``deal``, ``line_item``). A HubSpot record is claimed
by a WooCommerce record through, in this order of strength, (1) the id map (``id_map.woocommerce_key`` ->
``hubspot_id``), (2) the natural key (the HubSpot record's ``match_key``, read from its ``woo_*`` property,
equals the WooCommerce key), (3) for contacts, the email (lower-cased). A HubSpot record belongs to the
WooCommerce record(s) of its strongest claim. A guest (``guest:<email>``) whose email is a registered
customer's is that customer (``woocommerce_to_hubspot`` maps them onto one contact) and is not compared on
its own; so is a guest that shares its contact with a customer.

**Kinds** (one ``reconciliation_difference`` row each; field mismatches one row per field):

- ``missing_in_hubspot``: a WooCommerce record with no live HubSpot record (none, or only archived ones). A
  trashed product is expected archived in HubSpot, so a trashed product without a live one is in sync.
- ``missing_in_woocommerce``: a live HubSpot record with a WooCommerce key (``woo_*`` id) whose record the
  store no longer has in any status (force-deleted orders, products, customers: incremental runs cannot
  see them), and a HubSpot-made deal that qualifies for an order (``deals.qualify``) but has none. A deal
  that does not qualify, and a contact or product made in HubSpot without a ``woo_*`` id, belongs to HubSpot.
- ``field_mismatch``: a paired record whose mapped field differs (values compared after the snapshot's
  normalisation and :func:`same_value`: "47" = "47.00", epoch = ISO instants, emails by case); also
  ``@archived`` for a trashed product whose HubSpot product is live.
- ``empty_value_kept``: WooCommerce has no value, HubSpot has one: the sync never lets an empty WooCommerce
  value clear HubSpot (``woohub.hubspot.load.frames.wire_properties``; for two-way contact fields only when
  the three-way decision keeps it). Not drift; action ``none``.
- ``duplicate``: one WooCommerce record with two live HubSpot records (one row per extra HubSpot record), or
  one live HubSpot record with two WooCommerce records (one row per extra WooCommerce record). Reported;
  their fields are not compared (which record is the right one is for a person to say).
- ``orphaned_link``: the id map points at a HubSpot record that no longer exists at all (not even archived)
  while the WooCommerce record does.
- ``stale_quarantine``: an open quarantine row first quarantined more than ``stale_quarantine_days`` ago.
- ``dead_letter``: an unresolved dead letter (``exhausted``: reported; ``open``: still retried, ``none``).

Follow-on differences are folded into the one that causes them: the line items of a deal that is missing in
HubSpot, orphaned or duplicated (their deal association is gone with it) and of a force-deleted order, and
the ``@contact`` of deals whose contact is missing, orphaned or duplicated.

**Drift rate** per object (``reconciliation_run``): records with at least one drift difference (missing,
mismatch, duplicate, orphaned link; a record counts once however many fields differ) / records (the
WooCommerce records compared plus the HubSpot records missing in WooCommerce).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine, and_, case, exists, func, literal, null, or_, select, text, true, union_all

from woohub.core.conflicts import FieldPolicy, policies_from_mapping
from woohub.reconciliation import CONTACT, DEAL, HUBSPOT, LINE_ITEM, PRODUCT, WOOCOMMERCE, heal
from woohub.reconciliation.settings import ReconciliationSettings, packaged_settings
from woohub.staging.repository import chunks, utcnow
from woohub.staging.schema import (
    dead_letter,
    id_map,
    quarantine,
    reconciliation_difference,
    reconciliation_run,
    reconciliation_snapshot,
)

log = logging.getLogger(__name__)

#: compared in this order: deals fold their contacts' differences, line items their deals'
OBJECT_TYPES = (CONTACT, PRODUCT, DEAL, LINE_ITEM)
MISSING_IN_HUBSPOT, MISSING_IN_WOOCOMMERCE = "missing_in_hubspot", "missing_in_woocommerce"
FIELD_MISMATCH, DUPLICATE, ORPHANED_LINK = "field_mismatch", "duplicate", "orphaned_link"
EMPTY_VALUE_KEPT, STALE_QUARANTINE, DEAD_LETTER = "empty_value_kept", "stale_quarantine", "dead_letter"
KINDS = (MISSING_IN_HUBSPOT, MISSING_IN_WOOCOMMERCE, FIELD_MISMATCH, DUPLICATE, ORPHANED_LINK, EMPTY_VALUE_KEPT,
         STALE_QUARANTINE, DEAD_LETTER)
#: the kinds that are drift (the two systems disagree); the others are reported states, not drift
DRIFT_KINDS = frozenset({MISSING_IN_HUBSPOT, MISSING_IN_WOOCOMMERCE, FIELD_MISMATCH, DUPLICATE, ORPHANED_LINK})
#: the pseudo-fields holding the WooCommerce key of the associated record
CONTACT_LINK, DEAL_LINK = "@contact", "@deal"
ARCHIVED_FIELD = "@archived"
#: kinds that make a contact's or deal's dependants' association differences follow-ons
_BROKEN_KINDS = frozenset({MISSING_IN_HUBSPOT, ORPHANED_LINK, DUPLICATE})
_CHUNK = 500
_GUEST = "guest:%"
_CUSTOMER = "customer:%"
#: staged stream / quarantine object / dead-letter object -> (reconciled object type, which id the key is)
_SOURCE_OBJECTS: Mapping[str, tuple[str, str]] = {
    "woocommerce.orders": (DEAL, WOOCOMMERCE), "woocommerce.customers": (CONTACT, WOOCOMMERCE),
    "woocommerce.products": (PRODUCT, WOOCOMMERCE), "woocommerce_to_hubspot.contacts": (CONTACT, WOOCOMMERCE),
    "hubspot.deals": (DEAL, HUBSPOT), "hubspot.contacts": (CONTACT, HUBSPOT),
    "hubspot.line_items": (LINE_ITEM, HUBSPOT), "hubspot.products": (PRODUCT, HUBSPOT),
    "hubspot_to_woocommerce.deals": (DEAL, HUBSPOT), "deal_order": (DEAL, HUBSPOT),
    "customer": (CONTACT, WOOCOMMERCE), CONTACT: (CONTACT, WOOCOMMERCE), PRODUCT: (PRODUCT, WOOCOMMERCE),
    DEAL: (DEAL, WOOCOMMERCE), LINE_ITEM: (LINE_ITEM, WOOCOMMERCE),
}


# -- values ---------------------------------------------------------------------------------------------

_DECIMAL = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_EPOCH_MS = re.compile(r"^\d{11,13}$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


def normalised(value: Any) -> str | None:
    """A field value as compared: text without surrounding white space, ``None`` for no value ("" too)."""
    if value is None:
        return None
    text = (json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)).strip()
    return text or None


def same_value(field_name: str, woocommerce: Any, hubspot: Any) -> bool:
    """Whether two values of one field mean the same (formatting is not drift): equal text; emails in any
    case; decimals of equal value when one has a decimal point ("47" and "47.00", not "0123" and "123");
    the same instant as ISO date/date-time or epoch milliseconds (HubSpot gives both)."""
    a, b = normalised(woocommerce), normalised(hubspot)
    if a == b:
        return True
    if a is None or b is None:
        return False
    if field_name == "email" or ("@" in a and "@" in b):
        return a.lower() == b.lower()
    if _DECIMAL.match(a) and _DECIMAL.match(b) and ("." in a or "." in b):
        try:
            return Decimal(a) == Decimal(b)
        except InvalidOperation:
            return False
    first, second = _instant(a, b), _instant(b, a)
    return first is not None and first == second


def _instant(text: str, other: str) -> datetime | None:
    """``text`` as an aware UTC instant when it is an ISO date or date-time, or epoch milliseconds while the
    other value is ISO (so plain numbers are never taken for times)."""
    if _EPOCH_MS.match(text) and _ISO.match(other):
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    if not _ISO.match(text):
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fields(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


# -- differences ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One row of ``reconciliation_difference`` before it is written."""

    object_type: str
    kind: str
    action: str
    woocommerce_id: str | None = None
    hubspot_id: str | None = None
    field: str | None = None
    woocommerce_value: str | None = None
    hubspot_value: str | None = None
    heal_ref: str | None = None


@dataclass
class _Tally:
    """Per-object counts for ``reconciliation_run``."""

    woocommerce_records: int = 0
    hubspot_records: int = 0
    compared: int = 0
    paired: int = 0
    drifting: int = 0
    missing_in_woocommerce: int = 0
    differences: int = 0

    @property
    def records(self) -> int:
        return self.compared + self.missing_in_woocommerce

    @property
    def drift_rate(self) -> float:
        return self.drifting / self.records if self.records else 0.0


@dataclass
class _Partner:
    hubspot_id: str
    archived: bool
    fields: dict[str, Any]
    modified_at: datetime | None


@dataclass
class _WooRecord:
    key: str
    archived: bool
    fields: dict[str, Any]
    modified_at: datetime | None
    order_id: str | None  # a guest's latest order (its payload's id)
    linked_id: str | None
    linked_found: bool
    partners: list[_Partner] = field(default_factory=list)


class _Writer:
    """Buffers difference rows and inserts them 500 at a time; counts per object and kind."""

    def __init__(self, engine: Engine, run_id: str, detected_at: datetime) -> None:
        self.engine, self.run_id, self.detected_at = engine, run_id, detected_at
        self.buffer: list[dict[str, Any]] = []
        self.counts: dict[str, dict[str, int]] = {}

    def add(self, difference: Difference) -> None:
        row = {"run_id": self.run_id, "detected_at": self.detected_at, "healed_at": None,
               **{k: getattr(difference, k) for k in ("object_type", "kind", "action", "woocommerce_id",
                                                      "hubspot_id", "field", "woocommerce_value",
                                                      "hubspot_value", "heal_ref")}}
        self.buffer.append(row)
        by_kind = self.counts.setdefault(difference.object_type, {})
        by_kind[difference.kind] = by_kind.get(difference.kind, 0) + 1
        if len(self.buffer) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            with self.engine.begin() as connection:
                connection.execute(reconciliation_difference.insert(), self.buffer)
            self.buffer = []


@dataclass
class _Context:
    engine: Engine
    run_id: str
    dry_run: bool
    settings: ReconciliationSettings
    policies: Mapping[str, FieldPolicy]
    h2w_mapping: Any
    writer: _Writer
    open_quarantine: set[tuple[str, str]]
    dead_refs: set[str]
    tallies: dict[str, _Tally] = field(default_factory=dict)
    #: WooCommerce keys of contacts and deals with a missing / orphaned / duplicate difference
    broken: dict[str, set[str]] = field(default_factory=lambda: {CONTACT: set(), DEAL: set()})

    def tally(self, object_type: str) -> _Tally:
        return self.tallies.setdefault(object_type, _Tally())

    def action(self, ref: str | None, *extra_quarantine: tuple[str, str]) -> str:
        """``would_heal`` for a record the sync can write again, ``reported`` when there is nothing to stage,
        or when an open quarantine row or an unresolved dead letter already holds the record."""
        if ref is None or ref in self.dead_refs:
            return heal.REPORTED
        stream, source_id = heal.split_ref(ref)
        if (stream, source_id) in self.open_quarantine or any(q in self.open_quarantine for q in extra_quarantine):
            return heal.REPORTED
        return heal.WOULD_HEAL

    def emit(self, difference: Difference) -> None:
        self.writer.add(difference)
        self.tally(difference.object_type).differences += 1


# -- SQL ------------------------------------------------------------------------------------------------

_snapshot = reconciliation_snapshot


def _side(alias: Any, run_id: str, system: str, object_type: str) -> Any:
    return and_(alias.c.run_id == run_id, alias.c.system == system, alias.c.object_type == object_type)


def _compared(alias: Any, run_id: str, object_type: str) -> Any:
    """The WooCommerce rows compared on their own: every row but a guest whose email is a customer's."""
    if object_type != CONTACT:
        return true()
    customer = _snapshot.alias("customer_with_email")
    same_email = exists(select(customer.c.record_id).where(
        _side(customer, run_id, WOOCOMMERCE, CONTACT), customer.c.record_id.like(_CUSTOMER),
        customer.c.email == alias.c.email))
    return or_(~alias.c.record_id.like(_GUEST), alias.c.email.is_(None), ~same_email)


def _ownership(run_id: str, object_type: str) -> tuple[Any, Any]:
    """``(best, owned)`` CTEs: each claimed HubSpot record's strongest claim, and the ``(wid, hid)`` pairs of
    the WooCommerce records holding it."""
    wk, hk = _snapshot.alias("wk"), _snapshot.alias("hk")
    woo = and_(_side(wk, run_id, WOOCOMMERCE, object_type), _compared(wk, run_id, object_type))
    hub = _side(hk, run_id, HUBSPOT, object_type)
    parts = [
        select(wk.c.record_id.label("wid"), hk.c.record_id.label("hid"), literal(1).label("rank"))
        .select_from(wk.join(id_map, and_(id_map.c.object_type == object_type,
                                          id_map.c.woocommerce_key == wk.c.record_id))
                     .join(hk, and_(hub, hk.c.record_id == id_map.c.hubspot_id)))
        .where(woo),
        select(wk.c.record_id, hk.c.record_id, literal(2))
        .select_from(wk.join(hk, and_(hub, hk.c.match_key == wk.c.match_key)))
        .where(woo, wk.c.match_key.is_not(None)),
    ]
    if object_type == CONTACT:
        parts.append(select(wk.c.record_id, hk.c.record_id, literal(3))
                     .select_from(wk.join(hk, and_(hub, hk.c.email == wk.c.email)))
                     .where(woo, wk.c.email.is_not(None)))
    claims = union_all(*parts).cte("claims")
    best = select(claims.c.hid, func.min(claims.c.rank).label("best")).group_by(claims.c.hid).cte("best")
    owned = (select(claims.c.wid, claims.c.hid).distinct()
             .select_from(claims.join(best, and_(best.c.hid == claims.c.hid, best.c.best == claims.c.rank)))
             .cte("owned"))
    return best, owned


def _woocommerce_stream(connection: Any, run_id: str, object_type: str) -> Iterator[_WooRecord]:
    """Every compared WooCommerce record of the type with the HubSpot records it owns, by key."""
    _best, owned = _ownership(run_id, object_type)
    w, h, linked = _snapshot.alias("w"), _snapshot.alias("h"), _snapshot.alias("linked")
    m = id_map.alias("m")
    guest_payload = (case((w.c.record_id.like(_GUEST), w.c.payload), else_=null()) if object_type == CONTACT
                     else null())
    query = (
        select(w.c.record_id.label("wid"), w.c.archived.label("w_archived"), w.c.fields.label("w_fields"),
               w.c.modified_at.label("w_modified"), guest_payload.label("guest_payload"), owned.c.hid,
               h.c.archived.label("h_archived"), h.c.fields.label("h_fields"), h.c.modified_at.label("h_modified"),
               m.c.hubspot_id.label("linked_id"), linked.c.record_id.label("linked_found"))
        .select_from(
            w.outerjoin(owned, owned.c.wid == w.c.record_id)
            .outerjoin(h, and_(_side(h, run_id, HUBSPOT, object_type), h.c.record_id == owned.c.hid))
            .outerjoin(m, and_(m.c.object_type == object_type, m.c.woocommerce_key == w.c.record_id))
            .outerjoin(linked, and_(_side(linked, run_id, HUBSPOT, object_type),
                                    linked.c.record_id == m.c.hubspot_id)))
        .where(_side(w, run_id, WOOCOMMERCE, object_type), _compared(w, run_id, object_type))
        .order_by(w.c.record_id, owned.c.hid))
    rows = connection.execution_options(stream_results=True, yield_per=_CHUNK).execute(query)
    for _key, group in itertools.groupby(rows, key=lambda r: r.wid):
        members = list(group)
        first = members[0]
        record = _WooRecord(first.wid, bool(first.w_archived), _fields(first.w_fields), first.w_modified,
                            _guest_order_id(first.guest_payload), first.linked_id, first.linked_found is not None)
        record.partners = [_Partner(r.hid, bool(r.h_archived), _fields(r.h_fields), r.h_modified)
                           for r in members if r.hid is not None]
        yield record


def _guest_order_id(payload: str | None) -> str | None:
    """The order id of a guest contact's snapshot payload (the guest's latest order), if it is one."""
    if not payload:
        return None
    value = json.loads(payload)
    if isinstance(value, dict):
        if value.get("id") is not None and "customer_id" in value:
            return str(value["id"])
        order = value.get("order") if isinstance(value.get("order"), dict) else None
        if order and order.get("id") is not None:
            return str(order["id"])
    return None


def _unclaimed_hubspot(connection: Any, run_id: str, object_type: str) -> Iterator[Any]:
    """The live HubSpot records of the type no compared WooCommerce record claims, by id."""
    best, _owned = _ownership(run_id, object_type)
    h = _snapshot.alias("h")
    query = (select(h.c.record_id, h.c.match_key, h.c.fields)
             .select_from(h.outerjoin(best, best.c.hid == h.c.record_id))
             .where(_side(h, run_id, HUBSPOT, object_type), h.c.archived == 0, best.c.hid.is_(None))
             .order_by(h.c.record_id))
    yield from connection.execution_options(stream_results=True, yield_per=_CHUNK).execute(query)


def _shared_hubspot_records(connection: Any, run_id: str, object_type: str) -> dict[str, list[str]]:
    """``live HubSpot id -> the WooCommerce keys owning it`` for the HubSpot records owned by more than one
    (a handful: guest aliases and real duplicates)."""
    _best, owned = _ownership(run_id, object_type)
    h = _snapshot.alias("h")
    shared = select(owned.c.hid).group_by(owned.c.hid).having(func.count() > 1)
    query = (select(owned.c.hid, owned.c.wid)
             .select_from(owned.join(h, and_(_side(h, run_id, HUBSPOT, object_type), h.c.record_id == owned.c.hid)))
             .where(owned.c.hid.in_(shared), h.c.archived == 0).order_by(owned.c.hid, owned.c.wid))
    found: dict[str, list[str]] = {}
    for row in connection.execute(query):
        found.setdefault(row.hid, []).append(row.wid)
    return found


def _count(connection: Any, run_id: str, system: str, object_type: str) -> int:
    query = select(func.count()).select_from(_snapshot).where(_side(_snapshot, run_id, system, object_type))
    return int(connection.execute(query).scalar_one())


# -- classification -------------------------------------------------------------------------------------


def _classify_shared(ctx: _Context, object_type: str, shared: dict[str, list[str]]) -> tuple[set[str], set[str]]:
    """One live HubSpot record held by several WooCommerce records: guests sharing a customer's contact are
    that customer (aliases, not compared); two customers or two orders are a duplicate. Returns ``(aliases,
    duplicated)`` WooCommerce keys."""
    aliases: set[str] = set()
    duplicated: set[str] = set()
    for hubspot_id, keys in shared.items():
        owners = [k for k in keys if not k.startswith("guest:")] if object_type == CONTACT else list(keys)
        guests = [k for k in keys if k not in owners]
        if object_type == CONTACT and len(owners) <= 1:
            aliases.update(guests if owners else guests[1:])
            continue
        primary, *others = owners
        duplicated.update(owners)
        aliases.update(guests)
        for other in others:
            ctx.emit(Difference(object_type, DUPLICATE, heal.REPORTED, woocommerce_id=other, hubspot_id=hubspot_id,
                                woocommerce_value=", ".join(owners), hubspot_value=hubspot_id))
        if object_type in ctx.broken:
            ctx.broken[object_type].update(owners)
        ctx.tally(object_type).drifting += 1
    return aliases, duplicated


def _classify_woocommerce(ctx: _Context, object_type: str, records: list[_WooRecord], aliases: set[str],
                          duplicated: set[str]) -> None:
    """Classify a chunk of WooCommerce records with the HubSpot records they own."""
    from woohub.core.conflicts import base_values

    bases = base_values(ctx.engine, CONTACT, [r.key for r in records]) if object_type == CONTACT else {}
    for record in records:
        if record.key in aliases:
            continue
        tally = ctx.tally(object_type)
        tally.compared += 1
        if record.key in duplicated:
            tally.paired += 1
            continue
        found = _classify_record(ctx, object_type, record, bases.get(record.key))
        if found:
            tally.drifting += 1


def _classify_record(ctx: _Context, object_type: str, record: _WooRecord, base: dict[str, Any] | None) -> bool:
    """Emit the differences of one WooCommerce record; whether any of them is drift."""
    tally = ctx.tally(object_type)
    order = record.fields.get(DEAL_LINK) if object_type == LINE_ITEM else None
    if order is not None and str(order) in ctx.broken[DEAL]:
        return False  # its deal's difference covers it
    live = [p for p in record.partners if not p.archived]
    archived = [p for p in record.partners if p.archived]
    linked_gone = record.linked_id is not None and not record.linked_found
    ref = heal.heal_ref_for(object_type, record.key, order_id=order if object_type == LINE_ITEM else record.order_id)
    if len(live) > 1:
        primary = next((p for p in live if p.hubspot_id == record.linked_id), live[0])
        ids = ", ".join(p.hubspot_id for p in live)
        for other in (p for p in live if p is not primary):
            ctx.emit(Difference(object_type, DUPLICATE, heal.REPORTED, woocommerce_id=record.key,
                                hubspot_id=other.hubspot_id, woocommerce_value=record.key, hubspot_value=ids))
        _mark_broken(ctx, object_type, record.key)
        tally.paired += 1
        return True
    if object_type == PRODUCT and record.archived:  # a trashed product: its HubSpot product is archived
        if not live:
            tally.paired += 1 if archived else 0
            return False
        tally.paired += 1
        ctx.emit(Difference(object_type, FIELD_MISMATCH, ctx.action(ref), woocommerce_id=record.key,
                            hubspot_id=live[0].hubspot_id, field=ARCHIVED_FIELD, woocommerce_value="true",
                            hubspot_value="false", heal_ref=ref))
        return True
    if linked_gone and (live or not archived):
        ctx.emit(Difference(object_type, ORPHANED_LINK, ctx.action(ref, *_mapped_quarantine(object_type, record.key)),
                            woocommerce_id=record.key, hubspot_id=record.linked_id,
                            hubspot_value=live[0].hubspot_id if live else None, heal_ref=ref))
        _mark_broken(ctx, object_type, record.key)
        return True
    if live:
        tally.paired += 1
        return _compare_fields(ctx, object_type, record, live[0], base, ref)
    ctx.emit(Difference(object_type, MISSING_IN_HUBSPOT, ctx.action(ref, *_mapped_quarantine(object_type, record.key)),
                        woocommerce_id=record.key, hubspot_id=archived[0].hubspot_id if archived else None,
                        hubspot_value="archived" if archived else None, heal_ref=ref))
    _mark_broken(ctx, object_type, record.key)
    return True


def _mapped_quarantine(object_type: str, key: str) -> tuple[tuple[str, str], ...]:
    """The quarantine rows besides the staged stream's that hold a WooCommerce record back."""
    return (("woocommerce_to_hubspot.contacts", key),) if object_type == CONTACT else ()


def _mark_broken(ctx: _Context, object_type: str, key: str) -> None:
    if object_type in ctx.broken:
        ctx.broken[object_type].add(key)


def _compare_fields(ctx: _Context, object_type: str, record: _WooRecord, partner: _Partner,
                    base: dict[str, Any] | None, ref: str | None) -> bool:
    """Field by field over the WooCommerce side's mapped fields; whether any differs (drift)."""
    differing = [(name, value, partner.fields.get(name)) for name, value in sorted(record.fields.items())
                 if not same_value(name, value, partner.fields.get(name))]
    if object_type == DEAL:
        differing = [d for d in differing if not (d[0] == CONTACT_LINK and str(d[1]) in ctx.broken[CONTACT])]
    if not differing:
        return False
    decisions = {}
    if object_type == CONTACT:
        decisions = heal.contact_decisions(
            {k: normalised(v) for k, v in record.fields.items()}, {k: normalised(v) for k, v in partner.fields.items()},
            base, woocommerce_modified_at=record.modified_at, hubspot_modified_at=partner.modified_at,
            policies=ctx.policies)
    drift = False
    for name, woo_value, hub_value in differing:
        woo_text, hub_text = normalised(woo_value), normalised(hub_value)
        side = heal.contact_field_side(decisions.get(name)) if name in decisions else "woocommerce"
        if woo_text is None and side != "hubspot":
            kind, action, fix = EMPTY_VALUE_KEPT, heal.NONE, None
        elif side == "woocommerce":
            kind, fix = FIELD_MISMATCH, ref
            action = ctx.action(ref, *_mapped_quarantine(object_type, record.key))
        elif side == "hubspot":
            kind, fix = FIELD_MISMATCH, heal.hubspot_heal_ref(object_type, partner.hubspot_id)
            action = ctx.action(fix)
        else:
            kind, action, fix = FIELD_MISMATCH, heal.REPORTED, None
        drift = drift or kind == FIELD_MISMATCH
        ctx.emit(Difference(object_type, kind, action, woocommerce_id=record.key, hubspot_id=partner.hubspot_id,
                            field=name, woocommerce_value=woo_text, hubspot_value=hub_text, heal_ref=fix))
    return drift


def _classify_hubspot(ctx: _Context, object_type: str, rows: list[Any]) -> None:
    """Classify a chunk of live HubSpot records no WooCommerce record claims."""
    from woohub.mapping.hubspot_to_woocommerce import deal_skip_reason

    orders_known: set[str] = set()
    if object_type == LINE_ITEM:
        named = {str(_fields(r.fields).get(DEAL_LINK)) for r in rows if _fields(r.fields).get(DEAL_LINK)}
        orders_known = _existing(ctx, DEAL, named)
    for row in rows:
        fields = _fields(row.fields)
        difference = None
        if row.match_key:
            difference = _deleted_in_woocommerce(ctx, object_type, row, fields, orders_known)
        elif object_type == DEAL and deal_skip_reason({"properties": fields}, ctx.h2w_mapping) is None:
            ref = heal.hubspot_heal_ref(DEAL, row.record_id)
            difference = Difference(DEAL, MISSING_IN_WOOCOMMERCE,
                                    ctx.action(ref, ("hubspot_to_woocommerce.deals", row.record_id)),
                                    hubspot_id=row.record_id, hubspot_value="qualifies for an order",
                                    heal_ref=ref)
        elif object_type == CONTACT and ctx.h2w_mapping.customers.create_unlinked:
            ref = heal.hubspot_heal_ref(CONTACT, row.record_id)
            difference = Difference(CONTACT, MISSING_IN_WOOCOMMERCE, ctx.action(ref), hubspot_id=row.record_id,
                                    heal_ref=ref)
        if difference is not None:
            ctx.emit(difference)
            tally = ctx.tally(object_type)
            tally.missing_in_woocommerce += 1
            tally.drifting += 1


def _deleted_in_woocommerce(ctx: _Context, object_type: str, row: Any, fields: dict[str, Any],
                            orders_known: set[str]) -> Difference | None:
    """A live HubSpot record whose WooCommerce record is gone in every status, by the deletion policy."""
    key = str(row.match_key)
    if object_type == LINE_ITEM:
        order = str(fields.get(DEAL_LINK) or "")
        if not order or order not in orders_known or order in ctx.broken[DEAL]:
            return None  # the whole order is gone (its deal's difference covers it) or not known
        ref = heal.heal_ref_for(LINE_ITEM, key, order_id=order)  # the order's load archives lines it lost
        return Difference(LINE_ITEM, MISSING_IN_WOOCOMMERCE, ctx.action(ref), woocommerce_id=key,
                          hubspot_id=row.record_id, woocommerce_value=f"not in order {order}", heal_ref=ref)
    deleted = {DEAL: "order", PRODUCT: "product", CONTACT: "customer"}[object_type]
    policy = ctx.settings.deletion_policy(deleted)
    ref = heal.heal_ref_for(PRODUCT, key) if object_type == PRODUCT and policy == "archive" else None
    return Difference(object_type, MISSING_IN_WOOCOMMERCE, ctx.action(ref) if ref else heal.REPORTED,
                      woocommerce_id=key, hubspot_id=row.record_id, woocommerce_value=f"{deleted} deleted",
                      hubspot_value=f"deletion policy: {policy}", heal_ref=ref)


def _existing(ctx: _Context, object_type: str, keys: set[str]) -> set[str]:
    """Those of ``keys`` the WooCommerce side of the snapshot holds."""
    found: set[str] = set()
    with ctx.engine.connect() as connection:
        for batch in chunks(sorted(keys)):
            query = select(_snapshot.c.record_id).where(_side(_snapshot, ctx.run_id, WOOCOMMERCE, object_type),
                                                        _snapshot.c.record_id.in_(batch))
            found.update(r.record_id for r in connection.execute(query))
    return found


def _classify_object(ctx: _Context, object_type: str) -> None:
    with ctx.engine.connect() as connection:
        tally = ctx.tally(object_type)
        tally.woocommerce_records = _count(connection, ctx.run_id, WOOCOMMERCE, object_type)
        tally.hubspot_records = _count(connection, ctx.run_id, HUBSPOT, object_type)
        shared = _shared_hubspot_records(connection, ctx.run_id, object_type)
    aliases, duplicated = _classify_shared(ctx, object_type, shared)
    with ctx.engine.connect() as connection:
        chunk: list[_WooRecord] = []
        for record in _woocommerce_stream(connection, ctx.run_id, object_type):
            chunk.append(record)
            if len(chunk) >= _CHUNK:
                _classify_woocommerce(ctx, object_type, chunk, aliases, duplicated)
                chunk = []
        _classify_woocommerce(ctx, object_type, chunk, aliases, duplicated)
    with ctx.engine.connect() as connection:
        rows: list[Any] = []
        for row in _unclaimed_hubspot(connection, ctx.run_id, object_type):
            rows.append(row)
            if len(rows) >= _CHUNK:
                _classify_hubspot(ctx, object_type, rows)
                rows = []
        _classify_hubspot(ctx, object_type, rows)
    ctx.writer.flush()


def _classify_backlog(ctx: _Context, now: datetime) -> None:
    """Stale quarantine rows and unresolved dead letters (no personal data: keys, codes, expectation names)."""
    stale_before = now - timedelta(days=ctx.settings.stale_quarantine_days)
    with ctx.engine.connect() as connection:
        stale = connection.execute(select(quarantine).where(and_(
            quarantine.c.released_at.is_(None), quarantine.c.first_quarantined_at < stale_before))
            .order_by(quarantine.c.object_type, quarantine.c.source_key))
        for row in stale:
            object_type, woo_id, hub_id = _source_ids(row.object_type, row.source_key)
            reasons = sorted({str(r).split(":", 1)[0] for r in json.loads(row.reasons or "[]")})
            ctx.emit(Difference(object_type, STALE_QUARANTINE, heal.REPORTED, woocommerce_id=woo_id, hubspot_id=hub_id,
                                field=row.object_type, woocommerce_value="; ".join(reasons)[:4000] or None,
                                hubspot_value=f"since {row.first_quarantined_at:%Y-%m-%d}"))
        letters = connection.execute(select(dead_letter).where(dead_letter.c.state != "resolved")
                                     .order_by(dead_letter.c.object_type, dead_letter.c.source_key))
        for row in letters:
            object_type, woo_id, hub_id = _source_ids(row.object_type, row.source_key)
            ctx.emit(Difference(object_type, DEAD_LETTER, heal.REPORTED if row.state == "exhausted" else heal.NONE,
                                woocommerce_id=woo_id, hubspot_id=hub_id, field=row.object_type,
                                woocommerce_value=row.error_code,
                                hubspot_value=f"{row.state}, {row.attempts} attempt(s)"))
    ctx.writer.flush()


def _source_ids(source_type: str, key: str) -> tuple[str, str | None, str | None]:
    """``(object type, WooCommerce key, HubSpot id)`` of a quarantine or dead-letter row."""
    object_type, system = _SOURCE_OBJECTS.get(source_type, (source_type[:32], WOOCOMMERCE))
    if source_type == "woocommerce.customers" and key.isdigit():
        key = f"customer:{key}"
    return (object_type, key, None) if system == WOOCOMMERCE else (object_type, None, key)


def _open_quarantine(engine: Engine) -> set[tuple[str, str]]:
    with engine.connect() as connection:
        return {(r.object_type, r.source_key) for r in connection.execute(
            select(quarantine.c.object_type, quarantine.c.source_key).where(quarantine.c.released_at.is_(None)))}


def _unresolved_refs(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return {r.source_ref for r in connection.execute(select(dead_letter.c.source_ref).where(and_(
            dead_letter.c.state != "resolved", dead_letter.c.source_ref.is_not(None))))}


def compare_run(engine: Engine, run_id: str, *, dry_run: bool = False, started_at: datetime | None = None,
                settings: ReconciliationSettings | None = None, h2w_mapping: Any = None,
                now: datetime | None = None) -> dict[str, Any]:
    """Classify every difference of ``run_id``'s snapshot (see the module docstring), write them to
    ``reconciliation_difference`` (actions ``would_heal`` / ``reported`` / ``none``; the heal step turns
    ``would_heal`` into ``heal_queued`` in a real run) and one ``reconciliation_run`` row per object type.
    Running it again for the same run replaces that run's rows. Returns ``{object_type: {counts...,
    "kinds": {kind: n}}}``."""
    from woohub.mapping.hubspot_to_woocommerce import load_mapping

    now = now or utcnow()
    settings = settings or packaged_settings()
    h2w_mapping = h2w_mapping or load_mapping()
    with engine.begin() as connection:
        connection.execute(reconciliation_difference.delete().where(reconciliation_difference.c.run_id == run_id))
        connection.execute(reconciliation_run.delete().where(reconciliation_run.c.run_id == run_id))
        _refresh_statistics(connection)
    ctx = _Context(engine, run_id, dry_run, settings, policies_from_mapping(h2w_mapping), h2w_mapping,
                   _Writer(engine, run_id, now), _open_quarantine(engine), _unresolved_refs(engine))
    for object_type in OBJECT_TYPES:
        _classify_object(ctx, object_type)
    _classify_backlog(ctx, now)
    summary = _write_run_rows(ctx, started_at or now)
    for object_type, row in summary.items():
        log.info("%s %s: %d WooCommerce / %d HubSpot records, %d paired, %d difference(s) %s, drift rate %.4f",
                 run_id, object_type, row["woocommerce_records"], row["hubspot_records"], row["paired"],
                 row["differences"], row["kinds"], row["drift_rate"])
    return summary


def _refresh_statistics(connection: Any) -> None:
    """Let the query planner see the snapshot just loaded: PostgreSQL's statistics of a table bulk-loaded
    minutes ago say "empty" until autovacuum gets to it, and the pairing joins then become nested loops
    (minutes instead of seconds at 10,000 records). SQLite plans these joins well without statistics."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"ANALYZE {reconciliation_snapshot.name}, {id_map.name}"))


def _write_run_rows(ctx: _Context, started_at: datetime) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    rows = []
    for object_type in [*OBJECT_TYPES, *sorted(set(ctx.tallies) - set(OBJECT_TYPES))]:
        tally = ctx.tally(object_type)
        rate = round(tally.drift_rate, 6)
        rows.append({"run_id": ctx.run_id, "object_type": object_type, "dry_run": int(ctx.dry_run),
                     "woocommerce_records": tally.woocommerce_records, "hubspot_records": tally.hubspot_records,
                     "paired": tally.paired, "differences": tally.differences,
                     "drift_rate": f"{rate:.6f}" if object_type in OBJECT_TYPES else None,
                     "started_at": started_at, "finished_at": None})
        summary[object_type] = {**{k: rows[-1][k] for k in ("woocommerce_records", "hubspot_records", "paired",
                                                            "differences")},
                                "drift_rate": rate, "kinds": dict(ctx.writer.counts.get(object_type, {}))}
    with ctx.engine.begin() as connection:
        connection.execute(reconciliation_run.insert(), rows)
    return summary


__all__ = ["DRIFT_KINDS", "Difference", "KINDS", "OBJECT_TYPES", "compare_run", "normalised", "same_value"]
