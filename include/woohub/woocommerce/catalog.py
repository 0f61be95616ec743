"""Live reads of what HubSpot -> WooCommerce checks a deal against: the store's *current* products and
variations, and the store currency. The REST API checks nothing when an order is created (stock, status,
purchasability, price, currency), so the sync reads the catalogue right before it decides.

Products and variations are read in few calls, as the API allows (recordings 203-206):

* ``GET /products?include=<ids>&per_page=100``: up to 100 products per call, but ``include`` silently drops
  variation ids (205), so those are read another way;
* ``GET /products?sku=a,b,c``: SKUs as a comma list, variations included (203, 204); a variation without a
  SKU of its own shows its parent's, and that SKU finds only the parent;
* ``GET /products/{id}``: one call per id the two lists did not return; the products endpoint serves
  variations too (206), and trashed products (status ``trash``); an id the store does not know is absent.

The parents of the variations read are added (same ``include`` route), because a variation alone does not
tell everything: whether its parent is published, and the parent's stock when the variation's
``manage_stock`` is ``"parent"``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from woohub.http.errors import FatalHTTPError

if TYPE_CHECKING:
    from woohub.woocommerce.hook import WooCommerceHook

log = logging.getLogger(__name__)

#: ids per ``include`` call (the API's ``per_page`` maximum, so one page answers it)
INCLUDE_CHUNK = 100
#: SKUs per ``sku=`` call (keeps the query string short; a SKU may be long)
SKU_CHUNK = 50
CURRENCY_SETTING = "/settings/general/woocommerce_currency"
CURRENT_CURRENCY = "/data/currencies/current"


def fetch_catalog(hook: WooCommerceHook, product_ids: Iterable[int | str], skus: Iterable[str] = ()) -> list[dict]:
    """The current WooCommerce products and variations with the given ids or SKUs, plus the parents of
    the variations among them, as the REST API returns them (each record once, products by ``include``
    and variations by ``GET /products/{id}`` payloads), by id; ids and SKUs the store does not know, and
    ids that are not positive integers, are absent.

    A SKU holding a comma cannot be asked for (the API splits the list on commas): it is skipped with a
    warning, so it reads as unknown.
    """
    wanted_ids = _product_ids(product_ids)
    wanted_skus = sorted({str(s).strip() for s in skus if str(s).strip()})
    found: dict[int, dict[str, Any]] = {}
    _add(found, products_by_id(hook, wanted_ids))
    _add(found, products_by_sku(hook, wanted_skus))
    for product_id in wanted_ids:
        if product_id not in found:
            _add(found, _one_product(hook, product_id))
    parents = sorted({int(p["parent_id"]) for p in found.values()
                      if p.get("type") == "variation" and p.get("parent_id")} - set(found))
    _add(found, products_by_id(hook, parents))
    for parent_id in parents:
        if parent_id not in found:
            _add(found, _one_product(hook, parent_id))
    return [found[i] for i in sorted(found)]


def products_by_id(hook: WooCommerceHook, product_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Products (never variations: ``include`` drops them) with these ids, 100 ids per call."""
    records: list[dict[str, Any]] = []
    for chunk in _chunks(list(product_ids), INCLUDE_CHUNK):
        params = {"include": ",".join(str(i) for i in chunk), "per_page": INCLUDE_CHUNK}
        records.extend(hook.iter_records("products", params))
    return records


def products_by_sku(hook: WooCommerceHook, skus: Sequence[str]) -> list[dict[str, Any]]:
    """Products and variations whose own SKU is one of ``skus`` (exact), 50 SKUs per call."""
    askable = [s for s in skus if "," not in s]
    for sku in sorted(set(skus) - set(askable)):
        log.warning("SKU %r holds a comma, which the WooCommerce sku filter cannot express: not looked up", sku)
    records: list[dict[str, Any]] = []
    for chunk in _chunks(askable, SKU_CHUNK):
        records.extend(r for r in hook.iter_records("products", {"sku": ",".join(chunk)}) if r.get("sku") in chunk)
    return records


def store_currency(hook: WooCommerceHook) -> str:
    """The store's currency code (``USD``): the ``woocommerce_currency`` setting (recording 207), or, when
    the setting cannot be read, ``/data/currencies/current`` (recording 120)."""
    try:
        value = hook.request("GET", CURRENCY_SETTING).json().get("value")
    except FatalHTTPError as error:
        log.info("setting woocommerce_currency not readable (%s); asking %s", error, CURRENT_CURRENCY)
        value = None
    if value:
        return str(value)
    code = hook.request("GET", CURRENT_CURRENCY).json().get("code")
    if not code:
        raise ValueError(f"WooCommerce answered no currency code on {CURRENT_CURRENCY}")
    return str(code)


def _product_ids(values: Iterable[int | str]) -> list[int]:
    """The positive integer ids among ``values`` (a WooCommerce id copied into HubSpot is text); others are
    logged and left out, so they read as unknown."""
    ids = set()
    for value in values:
        text = str(value).strip()
        if text.isdigit() and int(text) > 0:
            ids.add(int(text))
        else:
            log.warning("%r is not a WooCommerce product id: not looked up", value)
    return sorted(ids)


def _one_product(hook: WooCommerceHook, product_id: int) -> list[dict[str, Any]]:
    record = hook.get("products", product_id)
    return [record] if record else []


def _add(found: dict[int, dict[str, Any]], records: Iterable[dict[str, Any]]) -> None:
    for record in records:
        if record.get("id") is not None:
            found.setdefault(int(record["id"]), record)


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
