"""Incremental extraction from HubSpot into the staging tables (the HubSpot -> WooCommerce direction).

**Which records.** Deals and contacts modified in the window ``[start, end)`` come from CRM search on the
object's last-modified property (``hs_lastmodifieddate``, on contacts ``lastmodifieddate``), oldest change
first, through :meth:`HubSpotHook.iter_modified_since`: it walks past search's 10,000-result cap and
through any number of records sharing one timestamp (:mod:`woohub.hubspot.search`), and every search call
waits for the hook's search budget (5 per second, shared across processes when the hook has a shared
rate-limit store) on top of the general one. A full window lists every record with the list endpoint
instead. Search lags behind writes by a few seconds (records become searchable "a few moments" after a
change), which the run plan's window overlap covers.

**What comes with a deal.** For the staged deals, in chunks of ``ASSOCIATION_READ_SIZE``: their line item and
contact associations (v4 batch read, at most 1,000 ids per call, following a result's own ``paging`` when
HubSpot splits a long list), then the line items (batch read, 100 per call), the products the line items
name in ``hs_product_id`` and the associated contacts (batch reads, each record once per run). Never a call
per record. ``include_ids`` are deals read again although they did not change (the sync rechecks rejected
deals every run) or that a webhook named (a run's claimed webhook events, :mod:`woohub.core.runs`);
contacts a webhook named are batch read (``extract_contacts(include_ids=...)``). A webhook-triggered run
passes ``walk_window=False``: only those records (and what comes with the deals) are read, no search.

**Staged payloads.** The HubSpot record as the API returns it (``id``, ``properties``, ``createdAt``,
``updatedAt``, ``archived``); a deal also gets ``associations``: ``{"line_items": [...], "contacts": [...]}``,
ids as strings in ascending numeric order (stable, so an unchanged deal keeps its content hash). Requested
properties a portal does not have are left out of ``properties`` (HubSpot ignores unknown names in reads).
``hs_object_id`` and the last-modified property are always requested, so a record read by search, list or
batch read has the same shape. ``source_modified_at`` is the record's ``updatedAt`` (which mirrors the
last-modified property); within a batch the most recently modified copy of an id wins, across batches the
staging upsert keeps the newest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from woohub.core import extract as core_extract
from woohub.core.extract import ExtractResult, ExtractWindow
from woohub.core.progress import Progress
from woohub.hubspot import HubSpotHook
from woohub.hubspot.search import modified_property
from woohub.staging.repository import source_id_order

log = logging.getLogger(__name__)

#: the staged streams this module fills
DEALS, CONTACTS = "hubspot.deals", "hubspot.contacts"
LINE_ITEMS, PRODUCTS = "hubspot.line_items", "hubspot.products"
#: records staged per write
STAGE_BATCH = core_extract.STAGE_BATCH
#: deals per round of association reads (HubSpot's v4 batch read takes at most 1,000 ids)
ASSOCIATION_READ_SIZE = 1000
#: ids per call of the contacts read by id (``batch_read`` splits into HubSpot's 100 per call itself)
BATCH_READ_SIZE = 1000
#: the top-level field every HubSpot record carries its modification time in (mirrors the property)
UPDATED_AT = "updatedAt"
_ID_PROPERTY = "hs_object_id"
_NO_ASSOCIATIONS = "crm.associations.NO_ASSOCIATIONS_FOUND"

DEAL_PROPERTIES = ("dealname", "amount", "dealstage", "pipeline", "closedate", "deal_currency_code",
                   "woo_order_id", "woo_sync_status", "woo_sync_message", "hs_lastmodifieddate", "createdate")
LINE_ITEM_PROPERTIES = ("name", "quantity", "price", "amount", "discount", "hs_discount_percentage",
                        "hs_product_id", "hs_sku", "hs_line_item_currency_code", "woo_line_item_id",
                        "hs_lastmodifieddate")
PRODUCT_PROPERTIES = ("name", "hs_sku", "price", "woo_product_id", "woo_parent_product_id", "hs_lastmodifieddate")
CONTACT_PROPERTIES = ("email", "firstname", "lastname", "phone", "address", "city", "state", "zip", "country",
                      "company", "woo_customer_id", "lastmodifieddate")


def _aware(moment: datetime) -> datetime:
    """A naive-UTC staging timestamp as an aware UTC datetime (what search filters take)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _updated_at(record: Mapping[str, Any]) -> datetime:
    """A record's modification time (``updatedAt``) for the newest-copy-wins rule; the epoch when absent."""
    text = record.get(UPDATED_AT) or "1970-01-01T00:00:00Z"
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def requested_properties(object_type: str, properties: Sequence[str]) -> list[str]:
    """``properties`` plus ``hs_object_id`` and the object's last-modified property, each once."""
    return list(dict.fromkeys([*properties, _ID_PROPERTY, modified_property(object_type)]))


def iter_window(hook: HubSpotHook, object_type: str, window: ExtractWindow,
                properties: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Every record of ``object_type`` modified in ``window`` (``[start, end)``), oldest change first, from
    search; every record (by id, from the list endpoint) when the window is a full resync or has no start.
    A record modified again during the walk can come twice."""
    wanted = requested_properties(object_type, properties)
    if window.full or window.start is None:
        yield from hook.iter_objects(object_type, properties=wanted)
        return
    yield from hook.iter_modified_since(object_type, _aware(window.start), _aware(window.end), properties=wanted)


def read_associations(hook: HubSpotHook, from_type: str, to_type: str,
                      ids: Sequence[str]) -> dict[str, list[str]]:
    """``from id -> associated ids`` (strings, ascending) of ``ids``, by v4 batch read,
    ``ASSOCIATION_READ_SIZE`` ids per call. A result that says there are more (``paging.next.after``) is
    asked again from there. Ids without associations are left out (HubSpot answers them with a
    ``NO_ASSOCIATIONS_FOUND`` error of a 207); other errors are logged."""
    found: dict[str, set[str]] = {}
    pending: list[dict[str, str]] = [{"id": str(i)} for i in dict.fromkeys(ids)]
    asked: set[tuple[str, str]] = set()
    path = f"/crm/v4/associations/{from_type}/{to_type}/batch/read"
    while pending:
        chunk, pending = pending[:ASSOCIATION_READ_SIZE], pending[ASSOCIATION_READ_SIZE:]
        answer = hook.request("POST", path, json={"inputs": chunk}, idempotent=True).json()
        for result in answer.get("results") or []:
            from_id = str((result.get("from") or {}).get("id"))
            found.setdefault(from_id, set()).update(str(t["toObjectId"]) for t in result.get("to") or [])
            after = ((result.get("paging") or {}).get("next") or {}).get("after")
            if after and (from_id, str(after)) not in asked:
                asked.add((from_id, str(after)))
                pending.append({"id": from_id, "after": str(after)})
        _log_association_errors(answer.get("errors") or [], from_type, to_type)
    return {from_id: sorted(to_ids, key=source_id_order) for from_id, to_ids in found.items()}


def _log_association_errors(errors: Iterable[Mapping[str, Any]], from_type: str, to_type: str) -> None:
    """Log the errors of an association read other than "no associations found"."""
    unexpected = [e for e in errors if e.get("subCategory") != _NO_ASSOCIATIONS]
    for error in unexpected[:5]:
        log.warning("reading %s -> %s associations: %s %s (%s)", from_type, to_type, error.get("category"),
                    error.get("message"), error.get("context"))
    if len(unexpected) > 5:
        log.warning("reading %s -> %s associations: %d more errors", from_type, to_type, len(unexpected) - 5)


def _chunks(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """``records`` in lists of at most ``size`` (a deal read twice stays twice; the stager keeps the newest)."""
    chunk: list[dict[str, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def stager_for(engine: Engine, stream: str, run_id: str, hook: HubSpotHook) -> core_extract.StreamStager:
    """A stager of HubSpot records of ``stream``: ``STAGE_BATCH`` per write, the copy with the latest
    ``updatedAt`` wins within a batch and gives ``source_modified_at``; progress counts ``hook``'s calls."""
    return core_extract.StreamStager(engine, stream, run_id, modified_field=UPDATED_AT, version=_updated_at,
                                     batch_size=STAGE_BATCH,
                                     progress=Progress(f"extract {stream}", calls=hook.calls_spent))


class _DealExtract:
    """One run's deal extract: the four stagers, and the line items, products and contacts already read
    (each record is read once per run, whichever deals name it)."""

    def __init__(self, hook: HubSpotHook, engine: Engine, run_id: str) -> None:
        self.hook = hook
        self.deals = stager_for(engine, DEALS, run_id, hook)
        self.line_items = stager_for(engine, LINE_ITEMS, run_id, hook)
        self.products = stager_for(engine, PRODUCTS, run_id, hook)
        self.contacts = stager_for(engine, CONTACTS, run_id, hook)
        self.read: dict[str, set[str]] = {"line_items": set(), "products": set(), "contacts": set()}
        self.missing: dict[str, int] = {"line_items": 0, "products": 0, "contacts": 0}
        self.seen_deals: set[str] = set()

    def stage(self, deals: list[dict[str, Any]]) -> None:
        """Stage a chunk of deals with their associations, then the records they name."""
        ids = list(dict.fromkeys(str(d["id"]) for d in deals))
        self.seen_deals.update(ids)
        items_of = read_associations(self.hook, "deals", "line_items", ids)
        contacts_of = read_associations(self.hook, "deals", "contacts", ids)
        for deal in deals:
            deal_id = str(deal["id"])
            deal["associations"] = {"line_items": items_of.get(deal_id, []), "contacts": contacts_of.get(deal_id, [])}
            self.deals.add(deal)
        items = self._read("line_items", [i for d in ids for i in items_of.get(d, [])], LINE_ITEM_PROPERTIES)
        self.line_items.add_all(items)
        product_ids = [str(p) for p in ((i.get("properties") or {}).get("hs_product_id") for i in items) if p]
        self.products.add_all(self._read("products", product_ids, PRODUCT_PROPERTIES))
        contact_ids = [c for d in ids for c in contacts_of.get(d, [])]
        self.contacts.add_all(self._read("contacts", contact_ids, CONTACT_PROPERTIES))

    def _read(self, object_type: str, ids: Iterable[str], properties: Sequence[str]) -> list[dict[str, Any]]:
        """Batch read (100 per call) of those ``ids`` not read yet this run; counts the ones HubSpot lacks."""
        fresh = [i for i in dict.fromkeys(ids) if i not in self.read[object_type]]
        if not fresh:
            return []
        self.read[object_type].update(fresh)
        records = self.hook.batch_read(object_type, fresh, properties=requested_properties(object_type, properties))
        self.missing[object_type] += len(fresh) - len(records)
        return records

    def finish(self) -> dict[str, int]:
        """Stage what is left in every stager; the distinct records staged per stream."""
        return {stream: stager.finish() for stream, stager in (
            (DEALS, self.deals), (LINE_ITEMS, self.line_items), (PRODUCTS, self.products),
            (CONTACTS, self.contacts))}


def extract_deals(hook: HubSpotHook, engine: Engine, window: ExtractWindow, run_id: str, *,
                  properties: Sequence[str] | None = None, include_ids: Iterable[str] = (),
                  walk_window: bool = True) -> ExtractResult:
    """Stage the deals modified in the window (all deals when it is full; none without ``walk_window``) and
    the deals ``include_ids`` not among them, with their associations, line items, the line items' products
    and the associated contacts (see the module docstring). ``staged`` counts deals; ``details`` the other
    streams, the deals read for ``include_ids`` (``rechecked``) and the associated records HubSpot no
    longer has (``missing_*``)."""
    before = hook.calls_spent()
    wanted = list(properties or DEAL_PROPERTIES)
    run = _DealExtract(hook, engine, run_id)
    if walk_window:
        for chunk in _chunks(iter_window(hook, "deals", window, wanted), ASSOCIATION_READ_SIZE):
            run.stage(chunk)
    edited = ([] if not walk_window or window.full or window.start is None
              else deals_of_edited_line_items(hook, window))
    recheck = [str(i) for i in dict.fromkeys([*(str(i) for i in include_ids), *edited])
               if str(i) not in run.seen_deals]
    rechecked = 0
    for start in range(0, len(recheck), ASSOCIATION_READ_SIZE):
        chunk = hook.batch_read("deals", recheck[start:start + ASSOCIATION_READ_SIZE],
                                properties=requested_properties("deals", wanted))
        rechecked += len(chunk)
        if chunk:
            run.stage(chunk)
    staged = run.finish()
    details = {"line_items": staged[LINE_ITEMS], "products": staged[PRODUCTS], "contacts": staged[CONTACTS],
               "rechecked": rechecked, "missing_deals": len(recheck) - rechecked,
               **{f"missing_{kind}": count for kind, count in run.missing.items()}}
    return ExtractResult(DEALS, staged[DEALS], hook.calls_spent() - before, details)


def deals_of_edited_line_items(hook: HubSpotHook, window: ExtractWindow) -> list[str]:
    """The deals whose line items were modified in the window: editing a line item does not change its
    deal's ``hs_lastmodifieddate``, yet the sync must see it (a deal already turned into an order reports
    the edit as a conflict). One search walk on line items and one association read per 1,000."""
    item_ids = [str(item["id"]) for item in iter_window(hook, "line_items", window, ["hs_object_id"])]
    deals: dict[str, None] = {}
    for start in range(0, len(item_ids), ASSOCIATION_READ_SIZE):
        for deal_ids in read_associations(hook, "line_items", "deals", item_ids[start:start + ASSOCIATION_READ_SIZE]).values():
            deals.update(dict.fromkeys(deal_ids))
    return list(deals)


def extract_contacts(hook: HubSpotHook, engine: Engine, window: ExtractWindow, run_id: str, *,
                     properties: Sequence[str] | None = None, include_ids: Iterable[str] = (),
                     walk_window: bool = True) -> ExtractResult:
    """Stage the contacts modified in the window (all contacts when it is full; none without
    ``walk_window``), page by page, and the contacts ``include_ids`` not among them (batch reads of 100;
    the ones HubSpot no longer has are counted, ``missing_contacts``)."""
    before = hook.calls_spent()
    wanted = list(properties or CONTACT_PROPERTIES)
    stager = stager_for(engine, CONTACTS, run_id, hook)
    if walk_window:
        stager.add_all(iter_window(hook, "contacts", window, wanted))
    stager.flush()
    extra = [i for i in dict.fromkeys(str(i) for i in include_ids) if i not in stager.ids]
    found = 0
    for start in range(0, len(extra), BATCH_READ_SIZE):
        found += stager.add_all(hook.batch_read("contacts", extra[start:start + BATCH_READ_SIZE],
                                                properties=requested_properties("contacts", wanted)))
    staged = stager.finish()
    details = {"targets": len(extra), "missing_contacts": len(extra) - found} if extra else {}
    return ExtractResult(CONTACTS, staged, hook.calls_spent() - before, details)


__all__ = [
    "ASSOCIATION_READ_SIZE", "CONTACTS", "CONTACT_PROPERTIES", "DEALS", "DEAL_PROPERTIES", "LINE_ITEMS",
    "LINE_ITEM_PROPERTIES", "PRODUCTS", "PRODUCT_PROPERTIES", "extract_contacts", "extract_deals", "iter_window",
    "read_associations", "requested_properties", "stager_for",
]
