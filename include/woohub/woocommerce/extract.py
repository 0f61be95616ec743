"""Incremental extraction from WooCommerce into the staging tables.

Orders and products are filtered by the server on their GMT modification time. WooCommerce's
``modified_after``/``modified_before`` are strict and have one-second resolution, so a window
``[start, end)`` is asked for as ``modified_after = start - 1 s`` and ``modified_before = end``, with
naive UTC values and ``dates_are_gmt=true`` (a ``Z`` together with ``dates_are_gmt`` shifts the window).
The hook walks the window by modification time, not page number (see ``WooCommerceHook.iter_modified``),
so a record edited during the walk cannot push another one out of it.

Customers cannot be filtered by modification time (a real store silently ignores ``modified_after`` on
``/customers``); :func:`extract_customers` finds changed customers three ways instead — customers of
orders changed in the window, customers registered since the window start, and a periodic full scan that
compares content hashes with what is staged.

**By id.** A webhook-triggered run (and a scheduled run, on top of its window) reads the records its
claimed webhook events name (``targets``, see :mod:`woohub.core.runs`) by id, 100 per call through the list
endpoints' ``include``: orders with ``status=any`` and then ``status=trash`` for the ones not found
(``any`` leaves the trash out), products likewise and variations through their parent
(``products/<parent>/variations?include=``), customers with ``role=all``. A record a webhook named that the
store no longer has (deleted for good) is only counted (``targets_gone``). ``walk_window=False`` skips the
window walk; the dependent reads stay (the products and customers of the run's orders that staging lacks).

Every extract stages as it reads (:class:`StreamStager`, ``STAGE_BATCH`` records per write), so its memory
does not grow with the store, and logs progress lines (records of ``X-WP-Total``, API calls, time left).
:class:`ExtractWindow`, :class:`ExtractResult` and the stager itself live in :mod:`woohub.core.extract`
(both directions use them) and are importable from here as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from woohub.core import extract as core_extract
from woohub.core.extract import ExtractResult, ExtractWindow
from woohub.core.progress import Progress
from woohub.http.errors import AuthenticationError, FatalHTTPError
from woohub.staging import repository
from woohub.woocommerce import WooCommerceHook

log = logging.getLogger(__name__)

PAGE_SIZE = 100
#: records staged per write while an extract walks (memory holds one batch of payloads, not the walk)
STAGE_BATCH = 1000
#: the staged streams this module fills (``<source system>.<object>``)
ORDERS, CUSTOMERS, PRODUCTS = "woocommerce.orders", "woocommerce.customers", "woocommerce.products"
ONE_SECOND = timedelta(seconds=1)
GMT_MODIFIED = "date_modified_gmt"


def _aware(moment: datetime) -> datetime:
    """A naive-UTC staging timestamp as an aware UTC datetime (what the hook's date filters take)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_gmt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def iter_window(hook: WooCommerceHook, resource: str, window: ExtractWindow,
                params: dict[str, Any] | None = None, *,
                on_total: Callable[[int], None] | None = None) -> Iterator[dict[str, Any]]:
    """Every record of ``resource`` modified in ``window`` (``[start, end)``, so ``modified_after`` gets
    ``start - 1 s``), walked by modification time (:meth:`WooCommerceHook.iter_modified`); all records
    when the window is a full resync. A record modified again during the walk can come twice.
    ``on_total`` gets the walk's ``X-WP-Total`` (for progress lines)."""
    if window.full:
        yield from hook.iter_records(resource, {**(params or {}), "orderby": "id", "order": "asc"},
                                     on_total=on_total)
        return
    yield from hook.iter_modified(resource, _aware(window.start - ONE_SECOND), _aware(window.end), params,
                                  on_total=on_total)


def _calls(hook: WooCommerceHook) -> int:
    return sum(hook.api_calls.values())


class StreamStager(core_extract.StreamStager):
    """:class:`woohub.core.extract.StreamStager` for WooCommerce records: ``STAGE_BATCH`` records per write,
    the copy with the latest ``date_modified_gmt`` wins within a batch and gives ``source_modified_at``,
    progress lines count ``hook``'s API calls."""

    def __init__(self, engine: Engine, stream: str, run_id: str, hook: WooCommerceHook,
                 batch_size: int | None = None) -> None:
        super().__init__(engine, stream, run_id, modified_field=GMT_MODIFIED, version=_gmt_modified,
                         batch_size=batch_size or STAGE_BATCH,
                         progress=Progress(f"extract {stream}", calls=lambda: _calls(hook)))


def _gmt_modified(record: Mapping[str, Any]) -> str:
    """A WooCommerce record's GMT modification time as text (ISO, so it sorts by time); "" when absent."""
    return record.get(GMT_MODIFIED) or ""


def _ids_of(records: Iterable[dict[str, Any]], into: set[Any]) -> Iterator[dict[str, Any]]:
    """``records`` unchanged, their ids added to ``into`` on the way."""
    for record in records:
        into.add(record["id"])
        yield record


def read_by_ids(hook: WooCommerceHook, resource: str, ids: Iterable[Any], params: Mapping[str, Any] | None = None,
                *, trash: bool = True, found: set[str] | None = None) -> Iterator[dict[str, Any]]:
    """The records of ``resource`` among ``ids`` (``include``, :data:`PAGE_SIZE` per call), then, with
    ``trash``, the ones not found among the trashed (``status=trash``: ``any`` leaves the trash out). The
    ids found are added to ``found``; ids that are not numbers are never asked for."""
    wanted = [str(i) for i in dict.fromkeys(str(i) for i in ids) if str(i).isdigit()]
    seen: set[str] = set() if found is None else found
    statuses = [{}, {"status": "trash"}] if trash else [{}]
    for status in statuses:
        missing = [i for i in wanted if i not in seen]
        for start in range(0, len(missing), PAGE_SIZE):
            chunk = ",".join(missing[start:start + PAGE_SIZE])
            for record in hook.iter_records(resource, {**(params or {}), **status, "include": chunk,
                                                       "per_page": PAGE_SIZE}):
                seen.add(str(record["id"]))
                yield record


def _targets_left(stager: StreamStager, targets: Sequence[str]) -> list[str]:
    """The targets the stager has not staged yet (it flushes first, so its ids are complete)."""
    stager.flush()
    return [str(t) for t in dict.fromkeys(str(t) for t in targets) if str(t) not in stager.ids]


def extract_orders(hook: WooCommerceHook, engine: Engine, window: ExtractWindow, run_id: str, *,
                   targets: Sequence[str] = (), walk_window: bool = True) -> ExtractResult:
    """Stage every order modified in the window, trashed ones included (``status=any`` leaves them out),
    page by page (unless ``walk_window`` is false), and the orders ``targets`` names by id (see the module
    docstring)."""
    before = _calls(hook)
    stager = StreamStager(engine, ORDERS, run_id, hook)
    trashed: set[Any] = set()
    if walk_window:
        stager.add_all(iter_window(hook, "orders", window, on_total=stager.add_total))
        stager.add_all(_ids_of(iter_window(hook, "orders", window, {"status": "trash"},
                                           on_total=stager.add_total), trashed))
    by_id = _stage_targets(hook, stager, "orders", targets, {"status": "any"})
    staged = stager.finish()
    return ExtractResult(ORDERS, staged, _calls(hook) - before, {"trashed": len(trashed), **by_id})


def _stage_targets(hook: WooCommerceHook, stager: StreamStager, resource: str, targets: Sequence[str],
                   params: Mapping[str, Any]) -> dict[str, int]:
    """Stage the ``targets`` of ``resource`` the stager lacks, by id; the counts for the result."""
    if not targets:
        return {}
    left = _targets_left(stager, targets)
    found: set[str] = set()
    stager.add_total(len(left))
    stager.add_all(read_by_ids(hook, resource, left, params, trash=resource != "customers", found=found))
    stager.flush()
    return {"targets": len(set(map(str, targets))), "targets_gone": len(set(left) - found)}


def extract_products(hook: WooCommerceHook, engine: Engine, window: ExtractWindow, run_id: str,
                     order_run_id: str | None = None, *, targets: Sequence[str] = (),
                     target_parents: Mapping[str, str] | None = None, walk_window: bool = True) -> ExtractResult:
    """Stage products modified in the window (trashed included; unless ``walk_window`` is false), the
    products and variations ``targets`` names by id (a variation through the parent ``target_parents``
    gives it), the variations of changed or targeted variable products, and the variations and products
    named by this run's staged orders that are not staged yet."""
    before = _calls(hook)
    stager = StreamStager(engine, PRODUCTS, run_id, hook)
    variable: set[int] = set()
    trashed: set[Any] = set()

    def note_variable(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            if record.get("type") == "variable":
                variable.add(record["id"])
            yield record

    if walk_window:
        stager.add_all(note_variable(iter_window(hook, "products", window, on_total=stager.add_total)))
        stager.add_all(note_variable(_ids_of(iter_window(hook, "products", window, {"status": "trash"},
                                                         on_total=stager.add_total), trashed)))
    by_id = _stage_product_targets(hook, stager, targets, target_parents or {}, note_variable, trashed)
    stager.flush()
    missing_parents, missing_products = _ordered_but_not_staged(engine, order_run_id or run_id, stager.ids)
    variations = 0
    for parent in sorted(variable | missing_parents):
        # trashing a variable product trashes its variations, which status=any leaves out (WC_Post_Data)
        status = "trash" if parent in trashed else "any"
        variations += stager.add_all(dict(v, parent_id=v.get("parent_id") or parent)
                                     for v in hook.iter_records(f"products/{parent}/variations", {"status": status}))
    fetched = stager.add_all(p for p in (hook.get("products", pid) for pid in sorted(missing_products))
                             if p is not None)
    staged = stager.finish()
    return ExtractResult(PRODUCTS, staged, _calls(hook) - before,
                         {"variations": variations, "trashed": len(trashed), "fetched_for_orders": fetched, **by_id})


def _stage_product_targets(hook: WooCommerceHook, stager: StreamStager, targets: Sequence[str],
                           parents: Mapping[str, str],
                           note_variable: Callable[[Iterable[dict[str, Any]]], Iterator[dict[str, Any]]],
                           trashed: set[Any]) -> dict[str, int]:
    """Stage the targeted products (``include``, then the trash) and variations (through their parent's
    ``variations?include=``, then its trash) the stager lacks; the counts for the result."""
    if not targets:
        return {}
    left = _targets_left(stager, targets)
    stager.add_total(len(left))
    found: set[str] = set()
    by_parent: dict[str, list[str]] = {}
    for target in left:
        parent = str(parents.get(target) or "")
        if parent.isdigit() and parent != "0":
            by_parent.setdefault(parent, []).append(target)
    in_families = {t for ids in by_parent.values() for t in ids}
    products = [t for t in left if t not in in_families]

    def noting_trash(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            if record.get("status") == "trash":
                trashed.add(record["id"])
            yield record

    stager.add_all(note_variable(noting_trash(read_by_ids(hook, "products", products, found=found))))
    for parent, ids in sorted(by_parent.items(), key=lambda item: int(item[0])):
        try:
            stager.add_all(dict(v, parent_id=v.get("parent_id") or int(parent)) for v in
                           read_by_ids(hook, f"products/{parent}/variations", ids, found=found))
        except FatalHTTPError as error:  # the parent itself is gone (deleted for good): its variations too
            if error.status not in (400, 404) or isinstance(error, AuthenticationError):
                raise
    return {"targets": len(set(map(str, targets))), "targets_gone": len(set(left) - found)}


def _run_orders(engine: Engine, run_id: str) -> Iterator[dict[str, Any]]:
    """The payloads of the orders ``run_id`` staged, read batch by batch."""
    ids = repository.run_source_ids(engine, ORDERS, run_id)
    for batch in repository.iter_staged_records(engine, ORDERS, ids):
        for record in batch:
            yield record.payload


def _ordered_but_not_staged(engine: Engine, run_id: str, just_staged: set[str]) -> tuple[set[int], set[int]]:
    """What this run's orders sold that staging lacks: (parents of unstaged variations, unstaged simple
    products). One read of the run's orders (batch by batch) and one of the staged product ids."""
    staged = set(repository.staged_hashes(engine, PRODUCTS)) | just_staged
    parents, products = set(), set()
    for order in _run_orders(engine, run_id):
        for line in order.get("line_items") or []:
            if not line.get("product_id"):
                continue
            if line.get("variation_id"):
                if str(line["variation_id"]) not in staged:
                    parents.add(int(line["product_id"]))
            elif str(line["product_id"]) not in staged:
                products.add(int(line["product_id"]))
    return parents, products


def extract_customers(hook: WooCommerceHook, engine: Engine, window: ExtractWindow, run_id: str, *,
                      full_scan: bool, order_run_id: str | None = None, targets: Sequence[str] = (),
                      walk_window: bool = True) -> ExtractResult:
    """Stage customers that may have changed: see the module docstring. With ``full_scan`` every customer
    is read and those whose content differs from the staged copy (or are new) are staged, page by page.
    The customers ``targets`` names are read by id and staged whatever staging holds; without
    ``walk_window`` only they and the changed customers of the run's orders are read."""
    before = _calls(hook)
    known = repository.staged_hashes(engine, CUSTOMERS)
    stager = StreamStager(engine, CUSTOMERS, run_id, hook)

    def changed(customers: Iterable[dict[str, Any]], checked: set[Any]) -> Iterator[dict[str, Any]]:
        for customer in customers:
            stager.progress.advance()
            checked.add(customer["id"])
            if known.get(str(customer["id"])) != repository.content_hash(customer):
                yield customer

    stager.progress.label = f"extract {CUSTOMERS} (compare with staging)"
    checked: set[Any] = set()
    if walk_window and (full_scan or window.full):
        everyone = hook.iter_records("customers", {"role": "all", "orderby": "id", "order": "asc"},
                                     on_total=stager.add_total)
        for customer in changed(everyone, checked):
            stager.add(customer, counted=True)
        by_id = _stage_targets(hook, stager, "customers", [t for t in targets if _int(t) not in checked],
                               {"role": "all"})
        staged = stager.finish()
        return ExtractResult(CUSTOMERS, staged, _calls(hook) - before, {"full_scan": 1, **by_id})
    by_id = _stage_targets(hook, stager, "customers", targets, {"role": "all"})
    checked.update(int(i) for i in stager.ids if i.isdigit())
    ordered = _customers_of_orders(engine, order_run_id or run_id) - checked
    stager.add_total(len(ordered))
    for customer in changed(read_by_ids(hook, "customers", sorted(ordered), {"role": "all"}, trash=False), checked):
        stager.add(customer, counted=True)
    if walk_window:
        for customer in changed(_registered_since(hook, window.start), checked):
            stager.add(customer, counted=True)
    staged = stager.finish()
    return ExtractResult(CUSTOMERS, staged, _calls(hook) - before,
                         {"full_scan": 0, "of_orders": len(ordered), "checked": len(checked), **by_id})


def _int(value: Any) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() else None


def _customers_of_orders(engine: Engine, run_id: str) -> set[int]:
    return {int(o["customer_id"]) for o in _run_orders(engine, run_id) if o.get("customer_id")}


def _registered_since(hook: WooCommerceHook, since: datetime) -> Iterator[dict[str, Any]]:
    """Customers registered at or after ``since``, newest first, stopping at the first older page."""
    for page in hook.iter_pages("customers", {"orderby": "registered_date", "order": "desc", "role": "all"}):
        recent = [c for c in page if (_parse_gmt(c.get("date_created_gmt")) or datetime.max) >= since]
        yield from recent
        if len(recent) < len(page):
            return


__all__ = ["CUSTOMERS", "ORDERS", "PRODUCTS", "STAGE_BATCH", "ExtractResult", "ExtractWindow", "StreamStager",
           "extract_customers", "extract_orders", "extract_products", "iter_window", "read_by_ids"]
