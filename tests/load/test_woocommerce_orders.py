"""Deals -> WooCommerce orders against the WooCommerce sandbox: exactly one order per deal, whatever happens
between the create and its record (a killed worker, a lost answer, a create the store is still working on,
a reference that is a substring of another), on SQLite and PostgreSQL staging where the intent table's
state machine matters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import Sandbox
from tests.load.woocommerce_fixtures import (  # noqa: F401  (fixtures)
    AnswerLosingProxy,
    StoreApi,
    staging_fixture,
    store_fixture,
    woo_connection,
    woo_hook_fixture,
    woo_store_fixture,
)
from woohub.http import RateLimitedError, RetryPolicy
from woohub.staging.repository import content_hash, utcnow
from woohub.staging.schema import order_intent
from woohub.woocommerce import WooCommerceHook
from woohub.woocommerce.load import OrderPlan, create_orders, orders_for_deals, settle_pending_orders
from woohub.woocommerce.load import orders as orders_module


def plan(deal_id: str, product_id: int, *, email: str | None = None, quantity: int = 1) -> OrderPlan:
    """What the mapping makes of a closed-won deal: a paid order for one product."""
    payload = {"status": "processing", "set_paid": True, "currency": "USD",
               "billing": {"first_name": "Deal", "last_name": deal_id, "email": email or f"buyer{deal_id}@example.com"},
               "line_items": [{"product_id": product_id, "quantity": quantity}]}
    return OrderPlan(deal_id=deal_id, payload=payload, payload_hash=content_hash(payload))


def deal_of(order: dict[str, Any]) -> str | None:
    return next((str(m["value"]) for m in order.get("meta_data") or [] if m["key"] == "hubspot_deal_id"), None)


def orders_per_deal(store: StoreApi) -> Counter[str | None]:
    return Counter(deal_of(o) for o in store.every_order())


def intents(engine: Any) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as connection:
        return {r.deal_id: (r.state, r.order_id) for r in connection.execute(select(order_intent))}


def age_intents(engine: Any, by: timedelta) -> None:
    """Make the intents look ``by`` older (as if the run that wrote them were that long ago)."""
    with engine.begin() as connection:
        connection.execute(update(order_intent).values(requested_at=utcnow() - by))


@pytest.fixture
def product(store: StoreApi) -> dict[str, Any]:
    """A product with managed stock 50: each order of one unit takes one."""
    return store.product("ORD-1", manage_stock=True, stock_quantity=50)


def test_three_deals_become_three_orders_in_one_call(woo_hook: WooCommerceHook, store: StoreApi, staging: Any,
                                                     product: dict[str, Any]) -> None:
    deals = ["101", "102", "103"]
    result = create_orders(woo_hook, staging, [plan(d, product["id"]) for d in deals], "run-1")

    assert sorted(result.created) == deals and not result.adopted and not result.existing
    assert result.failures == []
    assert woo_hook.api_calls == Counter({"POST /orders/batch": 1}) and result.api_calls == 1
    orders = {deal_of(o): o for o in store.every_order()}
    assert sorted(orders) == deals
    for deal_id, order in orders.items():
        assert order["transaction_id"] == f"hubspot-deal-{deal_id}"
        assert order["created_via"] == "hubspot" and order["status"] == "processing"
        assert result.created[deal_id]["id"] == order["id"]
    assert intents(staging) == {d: ("created", str(orders[d]["id"])) for d in deals}
    assert orders_for_deals(staging, [*deals, "999"]) == {d: str(orders[d]["id"]) for d in deals}
    assert store.get(f"/products/{product['id']}")["stock_quantity"] == 47


def test_a_rerun_creates_nothing_and_returns_the_orders_as_existing(
        woo_hook: WooCommerceHook, store: StoreApi, staging: Any, product: dict[str, Any]) -> None:
    plans = [plan(d, product["id"]) for d in ("201", "202", "203")]
    first = create_orders(woo_hook, staging, plans, "run-1")

    rerun_hook = WooCommerceHook()
    again = create_orders(rerun_hook, staging, plans, "run-2")
    assert again.created == {} and again.adopted == {} and again.failures == []
    assert {d: o["id"] for d, o in again.existing.items()} == {d: o["id"] for d, o in first.created.items()}
    assert all(o["line_items"] for o in again.existing.values()), "existing orders are the store's payloads"
    assert rerun_hook.api_calls == Counter({"GET /orders": 1}), "one read of the existing orders, no create"
    assert orders_per_deal(store) == Counter({"201": 1, "202": 1, "203": 1})


def test_a_rejected_create_drops_its_intent_and_is_reported(
        woo_hook: WooCommerceHook, store: StoreApi, staging: Any, product: dict[str, Any]) -> None:
    plans = [plan("301", product["id"]), plan("302", product["id"], email="not-an-email"),
             plan("303", product["id"])]
    result = create_orders(woo_hook, staging, plans, "run-1")

    assert sorted(result.created) == ["301", "303"]
    assert [(f["source_key"], f["error_code"]) for f in result.failures] == [("302", "order_invalid_billing_email")]
    assert "Invalid billing email" in result.failures[0]["error_message"]
    assert set(intents(staging)) == {"301", "303"}, "nothing was created for 302: no intent stays"
    assert orders_per_deal(store) == Counter({"301": 1, "303": 1})

    fixed = create_orders(WooCommerceHook(), staging, [plan("302", product["id"]), *plans[::2]], "run-2")
    assert list(fixed.created) == ["302"] and sorted(fixed.existing) == ["301", "303"]
    assert orders_per_deal(store) == Counter({"301": 1, "302": 1, "303": 1})


def test_a_store_that_refuses_every_attempt_raises_and_leaves_no_intent(
        woo_store: Sandbox, store: StoreApi, staging: Any, product: dict[str, Any]) -> None:
    """429 until the retries run out: the store provably applied nothing, so the intents go and the next
    run creates without waiting for a grace period."""
    woo_store.woo.set_faults({"kind": "status", "status": 429, "method": "POST", "path": "/orders/batch"})
    hook = WooCommerceHook(retry_policy=RetryPolicy(max_attempts=3, backoff_initial_seconds=0.01,
                                                    backoff_max_seconds=0.02, backoff_jitter_seconds=0.0))
    plans = [plan(d, product["id"]) for d in ("351", "352")]
    with pytest.raises(RateLimitedError):
        create_orders(hook, staging, plans, "run-1")
    assert hook.api_calls["POST /orders/batch"] == 3 and intents(staging) == {}
    woo_store.woo.clear_faults()
    assert sorted(create_orders(WooCommerceHook(), staging, plans, "run-2").created) == ["351", "352"]
    assert orders_per_deal(store) == Counter({"351": 1, "352": 1})


def test_a_payload_naming_another_deal_is_refused_before_anything_is_written(
        woo_hook: WooCommerceHook, engine: Any, product: dict[str, Any]) -> None:
    wrong = plan("361", product["id"])
    wrong.payload["meta_data"] = [{"key": "hubspot_deal_id", "value": "362"}]
    with pytest.raises(ValueError, match="names another deal"):
        create_orders(woo_hook, engine, [plan("360", product["id"]), wrong], "run-1")
    assert intents(engine) == {} and woo_hook.calls_spent() == 0


def test_a_dry_run_sends_nothing_and_writes_nothing(woo_hook: WooCommerceHook, store: StoreApi, engine: Any,
                                                    product: dict[str, Any]) -> None:
    result = create_orders(woo_hook, engine, [plan(d, product["id"]) for d in ("401", "402")], "run-1",
                           dry_run=True)
    assert result.would_create == 2 and result.created == {} and result.api_calls == 0
    assert woo_hook.calls_spent() == 0 and intents(engine) == {} and store.every_order() == []


def test_an_unanswered_create_is_not_sent_again_before_its_grace_is_over(
        woo_hook: WooCommerceHook, store: StoreApi, staging: Any, product: dict[str, Any]) -> None:
    """An intent without an order may be a create the store is still working on: it is left alone (and
    reported) until ``pending_grace`` has passed; then it is dropped and the order created."""
    deal = plan("501", product["id"])
    orders_module.write_intents(staging, [deal], "run-that-died")

    waiting = create_orders(woo_hook, staging, [deal], "run-1")
    assert [(f["source_key"], f["error_code"]) for f in waiting.failures] == [("501", "AMBIGUOUS_WRITE")]
    assert "run-that-died" in waiting.failures[0]["error_message"]
    assert woo_hook.api_calls["POST /orders/batch"] == 0 and store.every_order() == []
    assert intents(staging) == {"501": ("requested", None)}

    age_intents(staging, timedelta(minutes=11))
    later = create_orders(WooCommerceHook(), staging, [deal], "run-2")
    assert later.dropped == ["501"] and list(later.created) == ["501"] and later.failures == []
    assert orders_per_deal(store) == Counter({"501": 1})


@pytest.mark.parametrize("route", ["per-reference", "walk"])
def test_the_reference_of_deal_12_is_a_substring_of_deal_123s_and_the_right_order_is_adopted(
        woo_hook: WooCommerceHook, store: StoreApi, engine: Any, product: dict[str, Any], route: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``search=hubspot-deal-12`` also finds ``hubspot-deal-123`` (and 1234): only the meta decides."""
    if route == "walk":
        monkeypatch.setattr(orders_module, "PER_REFERENCE_LIMIT", 0)
    create_orders(woo_hook, engine, [plan("123", product["id"]), plan("1234", product["id"])], "run-1")
    twelve = plan("12", product["id"])
    orders_module.write_intents(engine, [twelve], "run-that-died")
    made_by_the_dead_run = store.post("/orders", orders_module.stamped_payload(twelve))
    assert {o["id"] for o in store.get("/orders", search="hubspot-deal-12")} >= {made_by_the_dead_run["id"]}
    assert len(store.get("/orders", search="hubspot-deal-12")) == 3, "the trap is real: three orders match"

    result = create_orders(WooCommerceHook(), engine, [twelve, plan("123", product["id"])], "run-2")
    assert {d: o["id"] for d, o in result.adopted.items()} == {"12": made_by_the_dead_run["id"]}
    assert list(result.existing) == ["123"] and result.created == {}
    assert orders_per_deal(store) == Counter({"12": 1, "123": 1, "1234": 1})


@pytest.mark.parametrize("route", ["per-reference", "walk"])
def test_an_order_matching_only_by_substring_is_not_adopted(
        woo_hook: WooCommerceHook, store: StoreApi, engine: Any, product: dict[str, Any], route: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Deal 12's create never happened; deal 123's order matches its search but is not its order."""
    if route == "walk":
        monkeypatch.setattr(orders_module, "PER_REFERENCE_LIMIT", 0)
    created = create_orders(woo_hook, engine, [plan("123", product["id"])], "run-1")
    twelve = plan("12", product["id"])
    orders_module.write_intents(engine, [twelve], "run-that-died")
    age_intents(engine, timedelta(hours=1))

    result = create_orders(WooCommerceHook(), engine, [twelve], "run-2")
    assert result.adopted == {} and result.dropped == ["12"] and list(result.created) == ["12"]
    assert result.created["12"]["id"] != created.created["123"]["id"]
    assert orders_per_deal(store) == Counter({"12": 1, "123": 1})
    assert intents(engine)["12"] == ("created", str(result.created["12"]["id"]))


def test_pending_orders_are_settled_before_the_deals_are_checked(
        woo_hook: WooCommerceHook, store: StoreApi, staging: Any, product: dict[str, Any]) -> None:
    """The caller settles first: the order a dead run made has taken its stock already, so its deal must be
    known as turned into an order before the stock check sees the lower stock."""
    made, lost, waiting = plan("901", product["id"]), plan("902", product["id"]), plan("903", product["id"])
    orders_module.write_intents(staging, [made, lost], "run-that-died")
    age_intents(staging, timedelta(hours=1))
    orders_module.write_intents(staging, [waiting], "run-still-waiting")
    order = store.post("/orders", orders_module.stamped_payload(made))

    settlement = settle_pending_orders(woo_hook, staging)
    assert {d: o["id"] for d, o in settlement.adopted.items()} == {"901": order["id"]}
    assert settlement.dropped == ["902"] and list(settlement.pending) == ["903"]
    assert orders_for_deals(staging, ["901", "902", "903"]) == {"901": str(order["id"])}
    assert intents(staging) == {"901": ("adopted", str(order["id"])), "903": ("requested", None)}


_KILLED_AFTER_THE_ANSWER = r"""
import json, os, signal, sys
from woohub.staging.database import engine_for_url
from woohub.woocommerce import WooCommerceHook
from woohub.woocommerce.load import OrderPlan, create_orders


class DiesOnTheAnswer(WooCommerceHook):
    def _after_response(self, method, path, response):
        if method == "POST" and path.endswith("/orders/batch"):
            os.kill(os.getpid(), signal.SIGKILL)  # the answer is here; nothing of it is recorded


plans = [OrderPlan(**p) for p in json.loads(sys.argv[2])]
create_orders(DiesOnTheAnswer(), engine_for_url(sys.argv[1]), plans, "run-killed")
"""


def test_a_worker_killed_between_the_create_and_its_record_leaves_one_order_per_deal(
        woo_hook: WooCommerceHook, store: StoreApi, staging: Any, product: dict[str, Any]) -> None:
    """kill -9 right after the store answered the create, before the answer is recorded; the next run
    finds the orders by reference (one walk: more deals than the per-reference limit) and adopts them."""
    deals = [str(d) for d in range(601, 607)]
    plans = [plan(d, product["id"]) for d in deals]
    process = subprocess.run(
        [sys.executable, "-c", _KILLED_AFTER_THE_ANSWER, staging.url.render_as_string(hide_password=False),
         json.dumps([{"deal_id": p.deal_id, "payload": p.payload, "payload_hash": p.payload_hash} for p in plans])],
        env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert process.returncode == -signal.SIGKILL, process.stderr[-2000:]
    assert intents(staging) == {d: ("requested", None) for d in deals}, "the intents were written before the send"
    assert orders_per_deal(store) == Counter(dict.fromkeys(deals, 1)), "the store did create the orders"

    result = create_orders(woo_hook, staging, plans, "run-2")
    assert sorted(result.adopted) == deals and result.created == {} and result.failures == []
    assert woo_hook.api_calls["POST /orders/batch"] == 0
    assert woo_hook.api_calls["GET /orders"] == 2, "one walk of our orders and one of the trash"
    assert orders_per_deal(store) == Counter(dict.fromkeys(deals, 1))
    assert store.get(f"/products/{product['id']}")["stock_quantity"] == 50 - len(deals)
    assert intents(staging) == {d: ("adopted", str(result.adopted[d]["id"])) for d in deals}
    assert orders_for_deals(staging, deals) == {d: str(o["id"]) for d, o in result.adopted.items()}


def test_an_answer_lost_after_the_store_created_the_orders_is_adopted_in_the_same_call(
        woo_store: Sandbox, store: StoreApi, staging: Any, product: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    deals = ["701", "702", "703"]
    with AnswerLosingProxy(woo_store.woo_url, method="POST", path="/orders/batch") as proxy:
        hook = WooCommerceHook(woo_connection(monkeypatch, "woocommerce_lossy", port=proxy.port))
        result = create_orders(hook, staging, [plan(d, product["id"]) for d in deals], "run-1")
    assert proxy.lost == ["POST /wp-json/wc/v3/orders/batch"]
    assert sorted(result.adopted) == deals and result.created == {} and result.failures == []
    assert hook.api_calls["POST /orders/batch"] == 1, "an ambiguous create is never sent twice"
    assert orders_per_deal(store) == Counter(dict.fromkeys(deals, 1))
    assert intents(staging) == {d: ("adopted", str(result.adopted[d]["id"])) for d in deals}


def test_a_create_the_store_finishes_after_the_client_gave_up_is_adopted_by_the_next_run(
        woo_store: Sandbox, store: StoreApi, engine: Any, product: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The client times out while the store is still working; the immediate search finds nothing, so the
    intents stay ``requested`` (reported ``AMBIGUOUS_WRITE``, not dropped); the next run adopts."""
    deals = ["801", "802", "803"]
    plans = [plan(d, product["id"]) for d in deals]
    woo_store.woo.set_faults({"kind": "slow", "delay_seconds": 1.5, "method": "POST", "path": "/orders/batch",
                              "count": 1})
    impatient = WooCommerceHook(woo_connection(monkeypatch, "woocommerce_impatient", extra={"timeout": [5, 0.5]}))
    first = create_orders(impatient, engine, plans, "run-1")
    assert sorted(f["source_key"] for f in first.failures) == deals
    assert {f["error_code"] for f in first.failures} == {"AMBIGUOUS_WRITE"}
    assert first.created == {} and first.adopted == {} and first.dropped == []
    assert intents(engine) == {d: ("requested", None) for d in deals}

    deadline = time.monotonic() + 30
    while len(woo_store.woo.state()["store"]["orders"]) < len(deals):  # the store finishes the slow create
        assert time.monotonic() < deadline, "the slowed create never reached the store"
        time.sleep(0.1)
    second = create_orders(WooCommerceHook(), engine, plans, "run-2")
    assert sorted(second.adopted) == deals and second.created == {} and second.failures == []
    assert orders_per_deal(store) == Counter(dict.fromkeys(deals, 1))
