"""The full read of a WooCommerce store for the nightly reconciliation: every order, customer, product and
variation, page by page (``per_page`` 100, by id) through the list endpoints, so memory holds one page.

What "every" takes on a real store (WooCommerce 11.0.1 captures, see ``tests/fixtures`` and the sandbox):

* orders: the default ``status=any`` leaves the trash out (captures 112/113), so the trash is a walk of its
  own (``status=trash``);
* customers: the list defaults to ``role=customer`` (capture 077); ``role=all`` lists every user, as the
  sync's customer scan does (capture 076);
* products: ``status=any`` leaves the trash out too (captures 054/075); variations are not products of the
  list but pages of ``/products/<id>/variations`` per variable product. Trashing a variable product trashes
  its variations (``WC_Post_Data::trash_post``), so a trashed parent's variations are read with
  ``status=trash``.

A record can move between two walks while they run (an order trashed between the ``any`` and the ``trash``
walk is seen twice); callers keep the last copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from woohub.woocommerce.hook import PAGE_SIZE, WooCommerceHook

Page = list[dict[str, Any]]
_BY_ID = {"per_page": PAGE_SIZE, "orderby": "id", "order": "asc"}
TRASH = "trash"


@dataclass(frozen=True)
class ProductPage:
    """One page of ``/products`` and the variations of its variable products (their ``parent_id`` set)."""

    products: Page
    variations: Page


def iter_order_pages(hook: WooCommerceHook) -> Iterator[Page]:
    """Every order: the ``status=any`` walk, then the trash."""
    yield from hook.iter_pages("orders", _BY_ID)
    yield from hook.iter_pages("orders", {**_BY_ID, "status": TRASH})


def iter_customer_pages(hook: WooCommerceHook) -> Iterator[Page]:
    """Every customer of every role (``role=all``)."""
    yield from hook.iter_pages("customers", {**_BY_ID, "role": "all"})


def iter_variation_pages(hook: WooCommerceHook, parent: dict[str, Any]) -> Iterator[Page]:
    """The variations of one variable product, page by page; those of a trashed product from the trash.
    Each carries its ``parent_id`` (set from the parent when the payload lacks it, as the sync's extract does)."""
    status = TRASH if parent.get("status") == TRASH else "any"
    for page in hook.iter_pages(f"products/{parent['id']}/variations", {**_BY_ID, "status": status}):
        yield [dict(v, parent_id=v.get("parent_id") or parent["id"]) for v in page]


def iter_product_pages(hook: WooCommerceHook) -> Iterator[ProductPage]:
    """Every product (the ``status=any`` walk, then the trash), a page at a time with the variations of the
    page's variable products, so that a family is always mapped together."""
    for status in ("any", TRASH):
        for page in hook.iter_pages("products", {**_BY_ID, "status": status}):
            variations = [v for parent in page if parent.get("type") == "variable"
                          for variation_page in iter_variation_pages(hook, parent) for v in variation_page]
            yield ProductPage(page, variations)
