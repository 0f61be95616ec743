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
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from woohub.staging import repository
from woohub.woocommerce import WooCommerceHook

log = logging.getLogger(__name__)

PAGE_SIZE = 100
#: the staged streams this module fills (``<source system>.<object>``)
ORDERS, CUSTOMERS, PRODUCTS = "woocommerce.orders", "woocommerce.customers", "woocommerce.products"
ONE_SECOND = timedelta(seconds=1)
GMT_MODIFIED = "date_modified_gmt"


@dataclass(frozen=True)
class ExtractWindow:
    """What a run extracts: records modified in ``[start, end)`` (naive UTC), or everything if ``full``."""

    start: datetime | None
    end: datetime
    full: bool = False


@dataclass
class ExtractResult:
    """Counts of one stream's extraction, small enough for XCom."""

    stream: str
    staged: int = 0
    api_calls: int = 0
    details: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"stream": self.stream, "staged": self.staged, "api_calls": self.api_calls, **self.details}


def _aware(moment: datetime) -> datetime:
    """A naive-UTC staging timestamp as an aware UTC datetime (what the hook's date filters take)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_gmt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def iter_window(hook: WooCommerceHook, resource: str, window: ExtractWindow,
                params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every record of ``resource`` modified in ``window`` (``[start, end)``, so ``modified_after`` gets
    ``start - 1 s``), walked by modification time (:meth:`WooCommerceHook.iter_modified`); all records
    when the window is a full resync. A record modified again during the walk can come twice."""
    if window.full:
        yield from hook.iter_records(resource, {**(params or {}), "orderby": "id", "order": "asc"})
        return
    yield from hook.iter_modified(resource, _aware(window.start - ONE_SECOND), _aware(window.end), params)


def _calls(hook: WooCommerceHook) -> int:
    return sum(hook.api_calls.values())


def _latest_per_id(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per id, the most recently modified (a keyset walk may read a record twice)."""
    latest: dict[Any, dict[str, Any]] = {}
    for record in records:
        before = latest.get(record["id"])
        if before is None or (record.get(GMT_MODIFIED) or "") >= (before.get(GMT_MODIFIED) or ""):
            latest[record["id"]] = record
    return list(latest.values())


def extract_orders(hook: WooCommerceHook, engine: Engine, window: ExtractWindow, run_id: str) -> ExtractResult:
    """Stage every order modified in the window, trashed ones included (``status=any`` leaves them out)."""
    before = _calls(hook)
    live = list(iter_window(hook, "orders", window))
    trashed = list(iter_window(hook, "orders", window, {"status": "trash"}))
    orders = _latest_per_id(live + trashed)
    staged = repository.stage_records(engine, ORDERS, orders, run_id)
    return ExtractResult(ORDERS, staged, _calls(hook) - before, {"trashed": len({o["id"] for o in trashed})})


def extract_products(hook: WooCommerceHook, engine: Engine, window: ExtractWindow, run_id: str,
                     order_run_id: str | None = None) -> ExtractResult:
    """Stage products modified in the window (trashed included), the variations of changed variable
    products, and the variations and products named by this run's staged orders that are not staged yet."""
    before = _calls(hook)
    live = list(iter_window(hook, "products", window))
    trashed = list(iter_window(hook, "products", window, {"status": "trash"}))
    products = _latest_per_id(live + trashed)
    just_staged = {str(p["id"]) for p in products}
    missing_parents, missing_products = _ordered_but_not_staged(engine, order_run_id or run_id, just_staged)
    parents = {p["id"] for p in products if p.get("type") == "variable"} | missing_parents
    variations = [dict(v, parent_id=v.get("parent_id") or parent)
                  for parent in sorted(parents)
                  for v in hook.iter_records(f"products/{parent}/variations", {"status": "any"})]
    fetched = [p for p in (hook.get("products", pid) for pid in sorted(missing_products)) if p is not None]
    staged = repository.stage_records(engine, PRODUCTS, products + variations + fetched, run_id)
    return ExtractResult(PRODUCTS, staged, _calls(hook) - before,
                         {"variations": len(variations), "trashed": len({p["id"] for p in trashed}),
                          "fetched_for_orders": len(fetched)})


def _ordered_but_not_staged(engine: Engine, run_id: str, just_staged: set[str]) -> tuple[set[int], set[int]]:
    """What this run's orders sold that staging lacks: (parents of unstaged variations, unstaged simple
    products). One read of the run's orders and one of the staged product ids."""
    staged = set(repository.staged_hashes(engine, PRODUCTS)) | just_staged
    parents, products = set(), set()
    for order in repository.staged_payloads(engine, ORDERS, run_id=run_id):
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
                      full_scan: bool, order_run_id: str | None = None) -> ExtractResult:
    """Stage customers that may have changed: see the module docstring. With ``full_scan`` every customer
    is read and those whose content differs from the staged copy (or are new) are staged."""
    before = _calls(hook)
    known = repository.staged_hashes(engine, CUSTOMERS)
    if full_scan or window.full:
        everyone = hook.iter_records("customers", {"role": "all", "orderby": "id", "order": "asc"})
        changed = [c for c in everyone if known.get(str(c["id"])) != repository.content_hash(c)]
        staged = repository.stage_records(engine, CUSTOMERS, changed, run_id)
        return ExtractResult(CUSTOMERS, staged, _calls(hook) - before, {"full_scan": 1})
    ordered = _customers_of_orders(engine, order_run_id or run_id)
    by_id = {c["id"]: c for c in _customers_by_id(hook, ordered)}
    for customer in _registered_since(hook, window.start):
        by_id[customer["id"]] = customer
    changed = [c for c in by_id.values() if known.get(str(c["id"])) != repository.content_hash(c)]
    staged = repository.stage_records(engine, CUSTOMERS, changed, run_id)
    return ExtractResult(CUSTOMERS, staged, _calls(hook) - before,
                         {"full_scan": 0, "of_orders": len(ordered), "checked": len(by_id)})


def _customers_of_orders(engine: Engine, run_id: str) -> set[int]:
    return {int(o["customer_id"]) for o in repository.staged_payloads(engine, ORDERS, run_id=run_id)
            if o.get("customer_id")}


def _customers_by_id(hook: WooCommerceHook, ids: set[int]) -> Iterator[dict[str, Any]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), PAGE_SIZE):
        chunk = ",".join(str(i) for i in ordered[start : start + PAGE_SIZE])
        yield from hook.iter_records("customers", {"include": chunk, "role": "all"})


def _registered_since(hook: WooCommerceHook, since: datetime) -> Iterator[dict[str, Any]]:
    """Customers registered at or after ``since``, newest first, stopping at the first older page."""
    for page in hook.iter_pages("customers", {"orderby": "registered_date", "order": "desc", "role": "all"}):
        recent = [c for c in page if (_parse_gmt(c.get("date_created_gmt")) or datetime.max) >= since]
        yield from recent
        if len(recent) < len(page):
            return
