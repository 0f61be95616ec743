"""Focused behaviour tests of the WooCommerce sandbox over HTTP: auth, paging, date windows, writes, batch,
seeding, admin surface."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_TYPE_QUERY
from requests_oauthlib import OAuth1

API = "/wp-json/wc/v3"
SHA256 = OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256")


def get(box: Any, path: str, auth: Any = SHA256, **kw: Any) -> requests.Response:
    return requests.get(f"{box.woo_url}{API}/{path}", auth=auth, timeout=30, **kw)


def send(box: Any, method: str, path: str, body: Any = None, **kw: Any) -> requests.Response:
    return requests.request(method, f"{box.woo_url}{API}/{path}", json=body, auth=SHA256, timeout=30, **kw)


@pytest.fixture
def woo(empty_sandbox: Any) -> Any:
    yield empty_sandbox
    empty_sandbox.woo.configure(clock=None, timezone="UTC")


@pytest.mark.parametrize("method", ["HMAC-SHA1", "HMAC-SHA256"])
def test_oauth1_header_and_query(woo: Any, method: str) -> None:
    assert get(woo, "orders", OAuth1("ck_sandbox", "cs_sandbox", signature_method=method)).status_code == 200
    query = OAuth1("ck_sandbox", "cs_sandbox", signature_method=method, signature_type=SIGNATURE_TYPE_QUERY)
    assert get(woo, "orders", query, params={"modified_after": "2026-01-01T00:00:00+02:00"}).status_code == 200


def test_oauth_nonce_replay_and_stale_timestamp(woo: Any) -> None:
    fixed = OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256", nonce="abc123fixednonce",
                   timestamp=str(int(time.time())))
    assert get(woo, "products", fixed).status_code == 200
    again = get(woo, "products", fixed)
    assert again.status_code == 401
    assert again.json()["message"] == "Invalid nonce - nonce has already been used."
    stale = OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256", timestamp=str(int(time.time()) - 3600))
    assert get(woo, "products", stale).json()["message"] == "Invalid timestamp."


def test_bad_key_and_bad_signature(woo: Any) -> None:
    bad_key = get(woo, "orders", OAuth1("ck_nope", "cs_sandbox", signature_method="HMAC-SHA256"))
    assert (bad_key.status_code, bad_key.json()["message"]) == (401, "Consumer key is invalid.")
    bad_sig = get(woo, "orders", OAuth1("ck_sandbox", "cs_nope", signature_method="HMAC-SHA256"))
    assert bad_sig.json() == {"code": "woocommerce_rest_authentication_error",
                              "message": "Invalid signature - provided signature does not match.",
                              "data": {"status": 401}}


def test_basic_and_query_keys_only_over_https(woo: Any) -> None:
    plain = get(woo, "orders", ("ck_sandbox", "cs_sandbox"))
    assert plain.status_code == 401 and plain.json()["code"] == "woocommerce_rest_cannot_view"
    keys = {"consumer_key": "ck_sandbox", "consumer_secret": "cs_sandbox"}
    assert get(woo, "orders", None, params=keys).status_code == 401
    https = {"X-Forwarded-Proto": "https"}
    assert get(woo, "orders", ("ck_sandbox", "cs_sandbox"), headers=https).status_code == 200
    assert get(woo, "orders", None, params=keys, headers=https).status_code == 200
    wrong = get(woo, "orders", ("ck_sandbox", "cs_bad"), headers=https)
    assert (wrong.status_code, wrong.json()["message"]) == (401, "Consumer secret is invalid.")
    assert get(woo, "nope", None).json()["code"] == "rest_no_route"


def test_paging_headers_and_past_the_end(woo: Any) -> None:
    woo.woo.reset(seed=3, customers=10, products=12, orders=30)
    first = get(woo, "orders", params={"per_page": 5})
    total = int(first.headers["X-WP-Total"])
    assert first.headers["X-WP-TotalPages"] == str(-(-total // 5))
    assert 'rel="next"' in first.headers["Link"] and "status%5B0%5D=any&dp=2&context=view" in first.headers["Link"]
    seen = []
    for page in range(1, int(first.headers["X-WP-TotalPages"]) + 1):
        seen += [o["id"] for o in get(woo, "orders", params={"per_page": 5, "page": page}).json()]
    assert len(seen) == len(set(seen)) == total
    past = get(woo, "orders", params={"per_page": 5, "page": 99})
    assert past.json() == [] and past.headers["X-WP-Total"] == "0" and "page=0" in past.headers["Link"]
    products_past = get(woo, "products", params={"per_page": 5, "page": 99})
    assert products_past.json() == [] and products_past.headers["X-WP-Total"] != "0"
    err = get(woo, "products", params={"per_page": 101}).json()
    assert err["data"]["details"]["per_page"]["code"] == "rest_out_of_bounds"


def test_modified_window_is_strict_and_customers_ignore_it(woo: Any) -> None:
    woo.woo.configure(clock="2026-11-28T07:00:00")
    product = send(woo, "POST", "products", {"name": "Pin", "regular_price": "3.00"}).json()
    order = send(woo, "POST", "orders", {"line_items": [{"product_id": product["id"]}]}).json()
    send(woo, "POST", "customers", {"email": "x@example.com"})
    woo.woo.configure(advance_seconds=10)
    updated = send(woo, "PUT", f"orders/{order['id']}", {"status": "on-hold"}).json()
    assert updated["date_modified_gmt"] == "2026-11-28T07:00:10"
    params = {"dates_are_gmt": "true"}
    assert get(woo, "orders", params={**params, "modified_after": "2026-11-28T07:00:10"}).json() == []
    assert len(get(woo, "orders", params={**params, "modified_after": "2026-11-28T07:00:09"}).json()) == 1
    assert get(woo, "orders", params={**params, "modified_before": "2026-11-28T07:00:10"}).json() == []
    assert get(woo, "orders", params={"modified_after": "2026-11-28"}).json()["data"]["details"][
        "modified_after"]["code"] == "rest_invalid_date"
    assert len(get(woo, "customers", params={"modified_after": "2030-01-01T00:00:00"}).json()) == 1
    woo.woo.configure(timezone="America/New_York")
    # naive = site-local, so the UTC boundary misses; Z + dates_are_gmt shifts the window 5 h early
    assert get(woo, "orders", params={"modified_after": "2026-11-28T07:00:05"}).json() == []
    shifted = get(woo, "orders", params={**params, "modified_after": "2026-11-28T11:00:00Z"}).json()
    assert [o["id"] for o in shifted] == [order["id"]]


def test_writes_trash_force_and_validation(woo: Any) -> None:
    p = send(woo, "POST", "products", {"name": "Mug", "regular_price": "12.5", "sku": "MUG", "manage_stock": True,
                                       "stock_quantity": 3}).json()
    assert p["price"] == "12.50" and p["stock_status"] == "instock"
    dup = send(woo, "POST", "products", {"name": "Mug 2", "sku": "MUG"}).json()
    assert dup["data"] == {"status": 400, "resource_id": p["id"], "unique_sku": "MUG-1"}
    c = send(woo, "POST", "customers", {"email": "buyer@example.com", "first_name": "Zoë"}).json()
    assert c["billing"]["email"] == "" and c["billing"]["phone"] == ""
    assert send(woo, "POST", "customers", {"email": "bad"}).json()["code"] == "customer_invalid_email"
    order = send(woo, "POST", "orders", {"customer_id": c["id"], "set_paid": True,
                                         "line_items": [{"product_id": p["id"], "quantity": 3}],
                                         "shipping_lines": [{"method_id": "flat_rate", "total": "5.00"}]}).json()
    assert (order["status"], order["total"], order["billing"]["email"]) == ("processing", "42.50", "buyer@example.com")
    assert order["line_items"][0]["price"] == 12.5 and order["date_paid"] is not None
    stock = get(woo, f"products/{p['id']}").json()
    assert (stock["stock_quantity"], stock["stock_status"]) == (0, "outofstock")
    assert send(woo, "POST", f"orders/{order['id']}/refunds", {"amount": "100.00"}).json()["data"] == 500
    trashed = send(woo, "DELETE", f"orders/{order['id']}")
    assert trashed.json()["status"] == "processing"
    assert get(woo, f"orders/{order['id']}").json()["status"] == "trash"
    assert get(woo, "orders").json() == []
    assert send(woo, "DELETE", f"orders/{order['id']}", params={"force": "true"}).status_code == 200
    assert get(woo, f"orders/{order['id']}").json()["code"] == "woocommerce_rest_shop_order_invalid_id"
    assert send(woo, "DELETE", f"customers/{c['id']}").status_code == 501


def test_batch_limit_and_per_item_errors(woo: Any) -> None:
    too_many = send(woo, "POST", "products/batch", {"create": [{"name": f"P{i}"} for i in range(60)],
                                                    "delete": list(range(41))})
    assert too_many.status_code == 413
    assert get(woo, "products").headers["X-WP-Total"] == "0"
    result = send(woo, "POST", "orders/batch", {"create": [{"billing": {"email": "not-an-email"}}],
                                                "update": [{"id": 999999}], "delete": [999998]}).json()
    assert result["create"][0] == {"id": 0, "error": {"code": "order_invalid_billing_email",
                                                      "message": "Invalid billing email address",
                                                      "data": {"status": 400}}}
    assert result["update"][0]["error"]["data"]["status"] == 400
    assert result["delete"][0]["error"]["data"]["status"] == 404


def test_seed_is_deterministic_and_messy(sandbox: Any) -> None:
    # seeded dates are relative to the store's clock: the same seed at the same clock gives the same store
    # (two resets a second boundary apart would shift every date by a second)
    sandbox.woo.configure(clock="2026-11-30T12:00:00")
    try:
        sandbox.woo.reset(seed=7)
        first = sandbox.woo.state()
        sandbox.woo.reset(seed=7)
        assert sandbox.woo.state() == first
    finally:
        sandbox.woo.configure(clock=None)
    store = first["store"]
    statuses = Counter(o["status"] for o in store["orders"])
    assert {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash"} <= set(statuses)
    assert 0.1 < sum(o["customer_id"] == 0 for o in store["orders"]) / len(store["orders"]) < 0.3
    assert {o["currency"] for o in store["orders"]} >= {"USD", "EUR"}
    assert any(p["status"] == "trash" for p in store["products"])
    assert any(p["type"] == "variable" for p in store["products"])
    assert any(c["role"] == "subscriber" for c in store["customers"])
    assert store["refunds"]
    customers = get(sandbox, "customers", params={"per_page": 100}).json()
    assert all(v is not None for c in customers for v in c["billing"].values())
    assert get(sandbox, "customers", params={"role": "all", "per_page": 100}).headers["X-WP-Total"] == str(
        len(store["customers"]))


def test_a_large_seed_pages_deep(sandbox: Any) -> None:
    """10,000 seeded orders page to the 50th page (the benchmarks measure how fast; no timing here)."""
    sandbox.woo.reset(seed=1, customers=200, orders=10000)
    page = get(sandbox, "orders", params={"per_page": 100, "page": 50, "orderby": "modified", "order": "asc"})
    assert int(page.headers["X-WP-Total"]) >= 4900 and len(page.json()) == 100


def test_faults_and_state_round_trip(woo: Any) -> None:
    send(woo, "POST", "customers", {"email": "keep@example.com"})
    snapshot = woo.woo.state()
    woo.woo.set_faults({"kind": "status", "status": 429, "retry_after": 3, "path": "/orders", "count": 1},
                       {"kind": "status", "status": 503, "path": "/products", "count": 1})
    limited = get(woo, "orders")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    assert get(woo, "orders").status_code == 200
    broken = get(woo, "products")
    assert broken.status_code == 503 and broken.json()["code"] == "internal_server_error"
    woo.woo.reset(empty=True)
    woo.woo.restore(snapshot)
    assert get(woo, "customers", params={"email": "keep@example.com"}).headers["X-WP-Total"] == "1"
    assert woo.woo.stats()["api"] == "woocommerce"


def test_a_request_held_by_a_slow_fault_across_a_reset_does_not_write_into_the_new_store(woo: Any) -> None:
    """A test that kills its client while the sandbox holds a slowed write must not leave that write to land
    in the next test's freshly reset store (where the same ids exist again)."""
    import threading

    woo.woo.set_faults({"kind": "slow", "delay_seconds": 1.5, "path": "/customers", "method": "POST"})
    answers: list[requests.Response] = []
    held = threading.Thread(target=lambda: answers.append(send(woo, "POST", "customers",
                                                                {"email": "ghost@example.com"})))
    held.start()
    time.sleep(0.5)
    woo.woo.reset(empty=True)
    held.join(timeout=10)
    assert answers and answers[0].status_code == 503
    assert get(woo, "customers", params={"email": "ghost@example.com"}).headers["X-WP-Total"] == "0"

    woo.woo.set_faults({"kind": "slow", "delay_seconds": 0.2, "path": "/customers", "method": "POST"})
    assert send(woo, "POST", "customers", {"email": "kept@example.com"}).status_code == 201  # no reset: applied
