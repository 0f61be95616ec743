"""WooCommerceHook against the WooCommerce sandbox process: OAuth 1.0a over HTTP, Basic over HTTPS, paging a
seeded store, modified windows, batch outcomes, and faults. Counts are compared with the sandbox's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Sandbox
from tests.hooks.conftest import MakeConnection
from tests.hooks.policies import FAULT_RETRIES
from woohub.http import AuthenticationError
from woohub.woocommerce import WooCommerceHook


def _hook(make_connection: MakeConnection, sandbox: Sandbox, conn_id: str, **extra: Any) -> WooCommerceHook:
    make_connection(conn_id, host=sandbox.woo_url, login="ck_sandbox", password="cs_sandbox", extra=extra)
    return WooCommerceHook(conn_id, retry_policy=FAULT_RETRIES)


def _stored(sandbox: Sandbox, resource: str) -> list[dict[str, Any]]:
    return sandbox.woo.state()["store"][resource]


def _listed_orders(sandbox: Sandbox) -> set[int]:
    """Orders the default ``status=any`` lists: all but the trash (checkout drafts included)."""
    return {o["id"] for o in _stored(sandbox, "orders") if o.get("status") != "trash"}


@pytest.fixture(scope="module")
def seeded(sandbox: Sandbox) -> Sandbox:
    sandbox.woo.reset(customers=230, products=140, orders=450)
    return sandbox


def test_paging_reads_every_record_of_a_seeded_store_once(seeded: Sandbox) -> None:
    seeded.woo.clear_faults()
    hook = WooCommerceHook()  # the session's woocommerce_default connection: OAuth 1.0a over plain HTTP
    expected = {"orders": _listed_orders(seeded),
                "products": {p["id"] for p in _stored(seeded, "products")
                             if not p.get("parent_id") and p.get("status") != "trash"},
                "customers": {c["id"] for c in _stored(seeded, "customers")}}
    for resource, params in (("orders", None), ("products", None), ("customers", {"role": "all"})):
        ids = [r["id"] for r in hook.iter_records(resource, params)]
        assert len(ids) == len(set(ids)) == len(expected[resource]) > 100
        assert set(ids) == expected[resource]
        assert hook.api_calls[f"GET /{resource}"] == -(-len(ids) // 100)  # one call per page, none past the end
    assert hook.auth_method == "oauth1"


def test_modified_window_selects_by_gmt_modification_time(seeded: Sandbox) -> None:
    hook = WooCommerceHook()
    stamps = sorted(datetime.fromisoformat(o["date_modified_gmt"]).replace(tzinfo=UTC)
                    for o in hook.iter_records("orders"))
    middle = stamps[len(stamps) // 2]
    newer = [o["id"] for o in hook.iter_modified("orders", middle)]
    assert newer and len(newer) == sum(1 for s in stamps if s > middle)
    assert list(hook.iter_modified("orders", stamps[-1] + timedelta(seconds=1))) == []
    with pytest.raises(ValueError):
        list(hook.iter_modified("customers", middle))


@pytest.mark.parametrize("extra", [
    {"auth_method": "oauth1", "oauth_signature_type": "header"},
    {"auth_method": "basic", "headers": {"X-Forwarded-Proto": "https"}},
    {"auth_method": "query", "headers": {"X-Forwarded-Proto": "https"}},
], ids=["oauth1-header", "basic-https", "query-https"])
def test_every_auth_method_is_accepted_where_woocommerce_accepts_it(sandbox: Sandbox, make_connection: MakeConnection,
                                                                    extra: dict[str, Any]) -> None:
    hook = _hook(make_connection, sandbox, f"woo_{extra['auth_method']}", **extra)
    assert hook.test_connection() == (True, "Connection successfully tested")


def test_basic_auth_over_plain_http_is_rejected(sandbox: Sandbox, make_connection: MakeConnection) -> None:
    plain = _hook(make_connection, sandbox, "woo_basic_plain", auth_method="basic")
    with pytest.raises(AuthenticationError):
        list(plain.iter_pages("products", {"per_page": 1}))


def test_batch_create_reports_item_errors_and_writes_the_rest(empty_sandbox: Sandbox,
                                                              make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, empty_sandbox, "woo_batch")
    products = [{"name": f"P{n}", "sku": f"SKU-{n}", "regular_price": "9.99"} for n in range(130)]
    products[40]["sku"] = products[39]["sku"]  # duplicate SKU: rejected item by item
    outcomes = hook.batch("products", create=products)
    failed = [(o.key, o.error_code) for o in outcomes if not o.ok]
    assert failed == [("create:40", "product_invalid_sku")]
    stored = {p["id"] for p in _stored(empty_sandbox, "products")}
    assert stored == {int(o.id) for o in outcomes if o.ok} and len(stored) == 129
    updates = hook.batch("products", update=[{"id": int(o.id), "regular_price": "5.00"} for o in outcomes if o.ok],
                         delete=[int(outcomes[0].id)])
    assert all(o.ok for o in updates) and len(updates) == 130
    assert len(_stored(empty_sandbox, "products")) == 128


def test_faults_while_paging_and_updating_lose_and_duplicate_nothing(seeded: Sandbox,
                                                                     make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, seeded, "woo_faults", timeout=[2, 0.4])
    seeded.woo.set_faults(
        {"kind": "status", "status": 429, "rate": 0.3, "path": "/wp-json/wc/v3/", "seed": 5, "retry_after": 0.01},
        {"kind": "status", "status": 502, "rate": 0.2, "path": "/wp-json/wc/v3/", "seed": 6},
        {"kind": "drop", "rate": 0.4, "path": "/batch", "seed": 7},
        {"kind": "slow", "delay_seconds": 0.8, "count": 2, "path": "/orders$", "method": "GET"},
    )
    try:
        ids = [o["id"] for o in hook.iter_records("orders", {"per_page": 25})]
        customers = [c["id"] for c in hook.iter_records("customers", {"role": "all", "per_page": 25})]
        outcomes = hook.batch("customers", update=[{"id": c, "last_name": "Faulty"} for c in customers])
        faults = seeded.woo.stats()["faults"]
    finally:
        seeded.woo.clear_faults()
    assert all(f["injected"] > 0 for f in faults), [(f["kind"], f["path"], f["matched"], f["injected"]) for f in faults]
    assert len(ids) == len(set(ids)) and set(ids) == _listed_orders(seeded)
    assert all(o.ok for o in outcomes)
    assert {c["id"] for c in _stored(seeded, "customers") if c["last_name"] == "Faulty"} == set(customers)
