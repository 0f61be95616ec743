"""What the WooCommerce sandbox's lists hold by status, as WooCommerce does (what a full read of the store
relies on):

* ``GET /orders`` with the default ``status=any`` lists every status of ``wc_get_order_statuses()`` (the
  catalogue of capture 118, ``checkout-draft`` included) and not the trash (captures 112/113): HPOS's
  ``OrdersTableQuery::sanitize_status`` turns ``any`` into ``array_keys(wc_get_order_statuses())``, and the
  posts store's ``post_status=any`` takes every status not ``exclude_from_search``, which the checkout draft
  status is not (woocommerce/woocommerce, plugins/woocommerce/src/Internal/DataStores/Orders/
  OrdersTableQuery.php and plugins/woocommerce/src/Blocks/Domain/Services/DraftOrders.php);
* trashing a product runs ``WC_Post_Data::trash_post``, which calls ``delete_variations($id, false)``: every
  variation goes through ``wp_trash_post`` (woocommerce/woocommerce, plugins/woocommerce/includes/
  class-wc-post-data.php and includes/data-stores/class-wc-product-variable-data-store-cpt.php);
* ``GET /products/<id>/variations`` takes the products collection's ``status`` (default ``any``, which leaves
  the trash out, like ``/products`` in capture 054/075) and pages like capture 081 (``X-WP-Total``,
  ``X-WP-TotalPages``);
* a parent's ``variations`` are its ``get_children()``: publish and private variations only (``read_children``).

The nightly reconciliation reads the variations of a trashed product with ``status=trash``.
"""

from __future__ import annotations

from typing import Any

import requests
from requests_oauthlib import OAuth1

API = "/wp-json/wc/v3"
AUTH = OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256")


def call(box: Any, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
    return requests.request(method, f"{box.woo_url}{API}/{path}", json=body, params=params or None, auth=AUTH,
                            timeout=30)


def hoodie(box: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    parent = call(box, "POST", "products", {"name": "Hoodie", "type": "variable", "attributes": [
        {"name": "Size", "options": ["S", "M", "L"], "visible": True, "variation": True}]}).json()
    variations = [call(box, "POST", f"products/{parent['id']}/variations", {
        "regular_price": f"{40 + n}.00", "attributes": [{"name": "Size", "option": size}]}).json()
        for n, size in enumerate(["S", "M", "L"])]
    return parent, variations


def test_orders_any_lists_checkout_drafts_and_not_the_trash(empty_sandbox: Any) -> None:
    body = {"billing": {"email": "draft@example.org"}, "line_items": []}
    draft = call(empty_sandbox, "POST", "orders", {**body, "status": "checkout-draft"}).json()
    pending = call(empty_sandbox, "POST", "orders", body).json()
    trashed = call(empty_sandbox, "POST", "orders", body).json()
    call(empty_sandbox, "DELETE", f"orders/{trashed['id']}")
    listed = call(empty_sandbox, "GET", "orders")
    assert sorted(o["id"] for o in listed.json()) == sorted([draft["id"], pending["id"]])
    assert listed.headers["X-WP-Total"] == "2"
    assert [o["id"] for o in call(empty_sandbox, "GET", "orders", status="trash").json()] == [trashed["id"]]
    assert [o["id"] for o in call(empty_sandbox, "GET", "orders", status="checkout-draft").json()] == [draft["id"]]


def test_variations_page_like_products(empty_sandbox: Any) -> None:
    parent, variations = hoodie(empty_sandbox)
    first = call(empty_sandbox, "GET", f"products/{parent['id']}/variations", per_page=2, page=1)
    second = call(empty_sandbox, "GET", f"products/{parent['id']}/variations", per_page=2, page=2)
    assert (first.headers["X-WP-Total"], first.headers["X-WP-TotalPages"]) == ("3", "2")
    assert len(first.json()) == 2 and len(second.json()) == 1
    seen = {v["id"] for v in first.json() + second.json()}
    assert seen == {v["id"] for v in variations}


def test_trashing_a_variable_product_trashes_its_variations(empty_sandbox: Any) -> None:
    parent, variations = hoodie(empty_sandbox)
    other, _ = hoodie(empty_sandbox)
    assert call(empty_sandbox, "DELETE", f"products/{parent['id']}").status_code == 200

    listed = call(empty_sandbox, "GET", f"products/{parent['id']}/variations")
    assert listed.status_code == 200 and listed.json() == [] and listed.headers["X-WP-Total"] == "0"
    trashed = call(empty_sandbox, "GET", f"products/{parent['id']}/variations", status="trash").json()
    assert sorted(v["id"] for v in trashed) == sorted(v["id"] for v in variations)
    assert {v["status"] for v in trashed} == {"trash"}
    one = call(empty_sandbox, "GET", f"products/{parent['id']}/variations/{variations[0]['id']}")
    assert one.status_code == 200 and one.json()["status"] == "trash"  # still readable by id, like products
    assert call(empty_sandbox, "GET", f"products/{parent['id']}").json()["variations"] == []
    assert len(call(empty_sandbox, "GET", f"products/{other['id']}/variations").json()) == 3, "other untouched"
    assert call(empty_sandbox, "GET", f"products/{other['id']}/variations", status="trash").json() == []
