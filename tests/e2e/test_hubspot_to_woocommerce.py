"""The ``hubspot_to_woocommerce`` DAG end to end, through Airflow (``dag.test()``) against the sandboxes: deals
become orders after the checks WooCommerce does not make, rejected deals say why on the deal and go through by
themselves after a restock, contact corrections reach customers, conflicts are decided and recorded, a run
killed between creating an order and writing back leaves one order, and both directions converge."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.conftest import PROJECT_ROOT, SANDBOX_TOKEN, Sandbox
from tests.e2e.test_woocommerce_to_hubspot import hubspot_writes, staging_rows, woo, woo_all

pytestmark = pytest.mark.usefixtures("airflow_db", "gx_root")
SQLITE_ONLY = pytest.mark.parametrize("staging_url", ["sqlite"], indirect=True)
DEAL_TO_CONTACT, DEAL_TO_LINE_ITEM = 3, 19
_runs = iter(range(1, 10_000))
#: the sandbox's search index delay in these tests (1 s by default; shorter here: twenty runs wait it out)
INDEX_DELAY = 0.3


def hubspot(sandbox: Sandbox, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(method, f"{sandbox.hubspot_url}{path}", timeout=30,
                                headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}, **kwargs)
    assert response.ok, f"{method} {path}: {response.status_code} {response.text[:500]}"
    return response.json() if response.content else None


def run(dag_id: str, conf: dict[str, Any] | None = None) -> Any:
    """A scheduled run whose data interval ends after now (so it sees what the test just changed); every
    run gets its own logical date."""
    from tests.helpers import run_dag_test

    time.sleep(INDEX_DELAY + 0.15)  # HubSpot's search index lags writes
    logical = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=15, seconds=next(_runs))
    return run_dag_test(dag_id, logical, conf, scheduled=True)


def h2w(conf: dict[str, Any] | None = None) -> Any:
    return run("hubspot_to_woocommerce", conf)


def w2h(conf: dict[str, Any] | None = None) -> Any:
    return run("woocommerce_to_hubspot", conf)


def deal(sandbox: Sandbox, deal_id: str) -> dict[str, Any]:
    props = "woo_order_id,woo_sync_status,woo_sync_message,amount,dealstage"
    return hubspot(sandbox, "GET", f"/crm/v3/objects/deals/{deal_id}", params={"properties": props})["properties"]


@dataclass
class Shop:
    """A small store synced once to HubSpot: its products' HubSpot ids, the customers' contacts."""

    tee: dict[str, Any]
    hoodie: dict[str, Any]
    hoodie_m: dict[str, Any]
    draft: dict[str, Any]
    alice: dict[str, Any]
    bob: dict[str, Any]
    hubspot_products: dict[int, str]
    contacts: dict[int, str]


@pytest.fixture
def shop(empty_sandbox: Sandbox, staging_url: str) -> Shop:
    sandbox = empty_sandbox
    sandbox.hubspot.configure(search_index_delay_seconds=INDEX_DELAY)  # a reset restores the default
    tee = woo(sandbox, "POST", "/products", json={"name": "H2W Tee", "type": "simple", "regular_price": "20.00",
                                                   "sku": "TEE", "manage_stock": True, "stock_quantity": 10})
    hoodie = woo(sandbox, "POST", "/products", json={
        "name": "H2W Hoodie", "type": "variable", "sku": "HOOD",
        "attributes": [{"name": "Size", "options": ["M", "L"], "variation": True, "visible": True}]})
    hoodie_m = woo(sandbox, "POST", f"/products/{hoodie['id']}/variations", json={
        "regular_price": "40.00", "sku": "HOOD-M", "manage_stock": True, "stock_quantity": 2,
        "attributes": [{"name": "Size", "option": "M"}]})
    draft = woo(sandbox, "POST", "/products", json={"name": "H2W Draft Mug", "status": "draft",
                                                     "regular_price": "9.00", "sku": "MUG"})
    address = {"first_name": "Alice", "last_name": "Hub", "address_1": "1 Old Street", "city": "Springfield",
               "postcode": "11111", "country": "US", "state": "CA", "email": "alice@example.com",
               "phone": "555-0100"}
    alice = woo(sandbox, "POST", "/customers", json={"email": "alice@example.com", "first_name": "Alice",
                                                      "last_name": "Hub", "billing": address, "shipping": {
                                                          k: v for k, v in address.items()
                                                          if k not in ("email", "phone")}})
    bob = woo(sandbox, "POST", "/customers", json={"email": "bob@example.com", "first_name": "Bob",
                                                    "last_name": "Shop"})
    first = w2h()
    assert first.state == "success"
    products = hubspot(sandbox, "GET", "/crm/v3/objects/products",
                       params={"limit": 100, "properties": "woo_product_id"})["results"]
    contacts = hubspot(sandbox, "GET", "/crm/v3/objects/contacts",
                       params={"limit": 100, "properties": "woo_customer_id,email"})["results"]
    return Shop(tee, hoodie, hoodie_m, draft, alice, bob,
                {int(p["properties"]["woo_product_id"]): p["id"] for p in products},
                {int(c["properties"]["woo_customer_id"]): c["id"] for c in contacts
                 if c["properties"].get("woo_customer_id")})


def make_deal(sandbox: Sandbox, shop: Shop, lines: list[tuple[dict[str, Any], int, str]], *, amount: str,
              contact: int | None = None, stage: str = "closedwon") -> str:
    """A deal in HubSpot with line items ``(WooCommerce product, quantity, unit price)``, associated with the
    contact of WooCommerce customer ``contact`` (Alice by default)."""
    created = hubspot(sandbox, "POST", "/crm/v3/objects/deals", json={"properties": {
        "dealname": "Upsell", "amount": amount, "pipeline": "default", "dealstage": stage,
        "deal_currency_code": "USD"}})
    deal_id = created["id"]
    contact_id = shop.contacts[contact or shop.alice["id"]]
    hubspot(sandbox, "PUT", f"/crm/v4/objects/deals/{deal_id}/associations/default/contacts/{contact_id}")
    for product, quantity, price in lines:
        item = hubspot(sandbox, "POST", "/crm/v3/objects/line_items", json={"properties": {
            "name": product["name"], "quantity": str(quantity), "price": price,
            "hs_product_id": shop.hubspot_products[product["id"]]}})
        hubspot(sandbox, "PUT", f"/crm/v4/objects/deals/{deal_id}/associations/default/line_items/{item['id']}")
    return deal_id


def orders_of_deal(sandbox: Sandbox, deal_id: str) -> list[dict[str, Any]]:
    return [o for o in woo_all(sandbox, "orders")
            if any(m["key"] == "hubspot_deal_id" and str(m["value"]) == deal_id for m in o["meta_data"])]


def stock(sandbox: Sandbox, product: dict[str, Any]) -> int:
    path = (f"/products/{product['parent_id']}/variations/{product['id']}" if product.get("parent_id")
            else f"/products/{product['id']}")
    return woo(sandbox, "GET", path)["stock_quantity"]


def test_a_closed_won_deal_becomes_one_order_for_its_customer(shop: Shop, empty_sandbox: Sandbox,
                                                              staging_url: str) -> None:
    sandbox = empty_sandbox
    deal_id = make_deal(sandbox, shop, [(shop.tee, 2, "20.00"), (shop.hoodie_m, 1, "40.00")], amount="80.00")
    result = h2w()
    assert result.state == "success"

    orders = orders_of_deal(sandbox, deal_id)
    assert len(orders) == 1, orders
    order = orders[0]
    assert order["customer_id"] == shop.alice["id"]
    assert order["status"] == "processing" and order["created_via"] == "hubspot"
    assert Decimal(order["total"]) == Decimal("80.00")
    assert order["billing"]["address_1"] == "1 Old Street" and order["billing"]["email"] == "alice@example.com"
    assert order["shipping"]["city"] == "Springfield"
    lines = {(line["product_id"], line["variation_id"]): line["quantity"] for line in order["line_items"]}
    assert lines == {(shop.tee["id"], 0): 2, (shop.hoodie["id"], shop.hoodie_m["id"]): 1}
    assert stock(sandbox, shop.tee) == 8 and stock(sandbox, shop.hoodie_m) == 1
    written = deal(sandbox, deal_id)
    assert written["woo_order_id"] == str(order["id"]) and written["woo_sync_status"] == "synced"
    assert not written.get("woo_sync_message")

    again = h2w()  # the write-back changed the deal: it is read again and recognised
    assert again.state == "success"
    assert len(orders_of_deal(sandbox, deal_id)) == 1
    back = w2h()  # the order flows back to the same deal
    assert back.state == "success"
    deals = hubspot(sandbox, "POST", "/crm/v3/objects/deals/search", json={
        "filterGroups": [{"filters": [{"propertyName": "woo_order_id", "operator": "EQ",
                                       "value": str(order["id"])}]}]})["results"]
    assert [d["id"] for d in deals] == [deal_id]


@SQLITE_ONLY
def test_deals_failing_the_checks_are_rejected_with_reasons_and_the_stock_one_passes_after_a_restock(
        shop: Shop, empty_sandbox: Sandbox, staging_url: str) -> None:
    sandbox = empty_sandbox
    too_many = make_deal(sandbox, shop, [(shop.hoodie_m, 5, "40.00")], amount="200.00")
    wrong_price = make_deal(sandbox, shop, [(shop.tee, 1, "15.00")], amount="15.00")
    draft = make_deal(sandbox, shop, [(shop.draft, 1, "9.00")], amount="9.00")
    assert h2w().state == "success"
    for deal_id in (too_many, wrong_price, draft):
        assert orders_of_deal(sandbox, deal_id) == []
        assert deal(sandbox, deal_id)["woo_sync_status"] == "rejected"
    assert "SKU HOOD-M: 5 requested, 2 in stock" in deal(sandbox, too_many)["woo_sync_message"]
    assert "15.00" in deal(sandbox, wrong_price)["woo_sync_message"]
    assert "20.00" in deal(sandbox, wrong_price)["woo_sync_message"]
    assert "draft" in deal(sandbox, draft)["woo_sync_message"]
    assert stock(sandbox, shop.hoodie_m) == 2

    woo(sandbox, "PUT", f"/products/{shop.hoodie['id']}/variations/{shop.hoodie_m['id']}",
        json={"stock_quantity": 7})
    assert h2w().state == "success"  # nobody touched the deals
    assert len(orders_of_deal(sandbox, too_many)) == 1
    assert stock(sandbox, shop.hoodie_m) == 2
    assert deal(sandbox, too_many)["woo_sync_status"] == "synced"
    for deal_id in (wrong_price, draft):
        assert orders_of_deal(sandbox, deal_id) == [] and deal(sandbox, deal_id)["woo_sync_status"] == "rejected"


@SQLITE_ONLY
def test_a_deal_without_line_items_becomes_a_fee_line_order(shop: Shop, empty_sandbox: Sandbox,
                                                            staging_url: str) -> None:
    deal_id = make_deal(empty_sandbox, shop, [], amount="125.50")
    assert h2w().state == "success"
    [order] = orders_of_deal(empty_sandbox, deal_id)
    assert order["line_items"] == [] and len(order["fee_lines"]) == 1
    assert Decimal(order["fee_lines"][0]["total"]) == Decimal("125.50") and Decimal(order["total"]) == Decimal("125.50")


@SQLITE_ONLY
def test_contact_corrections_reach_the_customer_and_a_taken_email_is_a_conflict(
        shop: Shop, empty_sandbox: Sandbox, staging_url: str) -> None:
    sandbox = empty_sandbox
    alice = shop.contacts[shop.alice["id"]]
    hubspot(sandbox, "PATCH", f"/crm/v3/objects/contacts/{alice}", json={"properties": {
        "email": "alice.new@example.com", "phone": "555-0199", "address": "9 New Road", "city": "Shelbyville",
        "zip": "22222"}})
    # Carol signs up in the shop; before her account reaches HubSpot, a salesperson gives Bob her address
    carol = woo(sandbox, "POST", "/customers", json={"email": "carol@example.com", "first_name": "Carol"})
    bob = shop.contacts[shop.bob["id"]]
    hubspot(sandbox, "PATCH", f"/crm/v3/objects/contacts/{bob}", json={"properties": {"email": "carol@example.com"}})
    assert h2w().state == "success"

    customer = woo(sandbox, "GET", f"/customers/{shop.alice['id']}")
    assert customer["email"] == "alice.new@example.com" and customer["billing"]["email"] == "alice.new@example.com"
    assert customer["billing"]["phone"] == "555-0199"
    assert customer["billing"]["address_1"] == "9 New Road" and customer["billing"]["city"] == "Shelbyville"
    assert customer["billing"]["postcode"] == "22222"
    assert woo(sandbox, "GET", f"/customers/{shop.bob['id']}")["email"] == "bob@example.com", "overwritten"
    assert woo(sandbox, "GET", f"/customers/{carol['id']}")["email"] == "carol@example.com", "overwritten"
    conflicts = staging_rows(staging_url, "select field, woocommerce_key, hubspot_id, hubspot_value, "
                                          "woocommerce_value, winner, policy from sync_conflict")
    assert [tuple(c) for c in conflicts] == [("email", f"customer:{shop.bob['id']}", bob, "carol@example.com",
                                              "bob@example.com", "woocommerce", "email_taken")], conflicts


@SQLITE_ONLY
def test_the_same_field_edited_on_both_sides_is_decided_by_the_policy_and_recorded(
        shop: Shop, empty_sandbox: Sandbox, staging_url: str) -> None:
    sandbox = empty_sandbox
    alice = shop.contacts[shop.alice["id"]]
    woo(sandbox, "PUT", f"/customers/{shop.alice['id']}", json={"billing": {"phone": "555-0001"}})
    time.sleep(1.1)  # the later edit wins
    hubspot(sandbox, "PATCH", f"/crm/v3/objects/contacts/{alice}", json={"properties": {"phone": "555-0002"}})
    assert w2h().state == "success"  # WooCommerce -> HubSpot first: it must not overwrite the newer edit
    assert hubspot(sandbox, "GET", f"/crm/v3/objects/contacts/{alice}",
                   params={"properties": "phone"})["properties"]["phone"] == "555-0002"
    assert h2w().state == "success"
    assert woo(sandbox, "GET", f"/customers/{shop.alice['id']}")["billing"]["phone"] == "555-0002"
    rows = staging_rows(staging_url, "select field, woocommerce_value, hubspot_value, winner, policy, "
                                     "woocommerce_modified_at, hubspot_modified_at from sync_conflict")
    assert [(r.field, r.woocommerce_value, r.hubspot_value, r.winner, r.policy) for r in rows] == [
        ("phone", "555-0001", "555-0002", "hubspot", "latest")]
    assert rows[0].woocommerce_modified_at < rows[0].hubspot_modified_at


_KILLABLE_RUN = r"""
import sys
from datetime import datetime
sys.path.insert(0, sys.argv[1])
from tests.helpers import run_dag_test
run_dag_test("hubspot_to_woocommerce", datetime.fromisoformat(sys.argv[2]), {}, scheduled=True)
"""


@SQLITE_ONLY
def test_a_run_killed_between_creating_the_order_and_writing_back_leaves_one_order(
        shop: Shop, empty_sandbox: Sandbox, staging_url: str) -> None:
    """The deal write-back is slowed down; the process running the DAG is killed with SIGKILL once the
    store holds the order (its answer was received, the write-back not made). The re-run finds the order
    it made instead of making a second."""
    sandbox = empty_sandbox
    deal_id = make_deal(sandbox, shop, [(shop.tee, 1, "20.00")], amount="20.00")
    sandbox.hubspot.set_faults({"kind": "slow", "delay_seconds": 20.0, "path": "/objects/deals/batch/update",
                                "rate": 1.0})
    time.sleep(INDEX_DELAY + 0.15)
    logical = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=15)
    process = subprocess.Popen([sys.executable, "-c", _KILLABLE_RUN, str(PROJECT_ROOT), logical.isoformat()],
                               env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not orders_of_deal(sandbox, deal_id):
            assert process.poll() is None, "the run ended before it created the order"
            assert time.monotonic() < deadline, "the run never created the order"
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    sandbox.hubspot.clear_faults()
    assert not deal(sandbox, deal_id).get("woo_order_id"), "the write-back was not supposed to happen yet"

    assert h2w().state == "success"
    orders = orders_of_deal(sandbox, deal_id)
    assert len(orders) == 1, f"{len(orders)} orders for one deal"
    assert deal(sandbox, deal_id)["woo_order_id"] == str(orders[0]["id"])


def woo_writes(sandbox: Sandbox) -> int:
    routes = sandbox.woo.stats()["routes"]
    return sum(n for route, n in routes.items() if route.startswith(("POST", "PUT", "PATCH", "DELETE")))


@SQLITE_ONLY
def test_both_directions_run_back_to_back_converge_to_zero_writes(shop: Shop, empty_sandbox: Sandbox,
                                                                  staging_url: str) -> None:
    """A deal turned into an order, a contact corrected in HubSpot, a customer edited in the shop, a line item
    edited on a deal already turned into an order (a conflict, the order is not rewritten): then both DAGs
    five times; after the changes settle, neither writes to either side (measured: everything settles in
    the first round, and the line-item edit after the second writes nothing either, so rounds 3-5 must be
    (0, 0); more rounds only cost time)."""
    sandbox = empty_sandbox
    deal_id = make_deal(sandbox, shop, [(shop.tee, 1, "20.00"), (shop.hoodie_m, 1, "40.00")], amount="60.00")
    hubspot(sandbox, "PATCH", f"/crm/v3/objects/contacts/{shop.contacts[shop.alice['id']]}",
            json={"properties": {"phone": "555-0123"}})
    woo(sandbox, "PUT", f"/customers/{shop.bob['id']}", json={"last_name": "Shopper"})
    writes = []
    for round_number in range(5):
        sandbox.hubspot.stats(reset=True)
        sandbox.woo.stats(reset=True)
        assert h2w().state == "success"
        assert w2h().state == "success"
        writes.append((hubspot_writes(sandbox), woo_writes(sandbox)))
        if round_number == 1:  # a salesperson edits the deal's line item after the order was made
            items = hubspot(sandbox, "GET", f"/crm/v4/objects/deals/{deal_id}/associations/line_items")["results"]
            hubspot(sandbox, "PATCH", f"/crm/v3/objects/line_items/{items[0]['toObjectId']}",
                    json={"properties": {"quantity": "3"}})
    assert writes[0] != (0, 0), "the first round should write"
    assert writes[-3:] == [(0, 0)] * 3, f"writes per round (HubSpot, WooCommerce): {writes}"
    assert len(orders_of_deal(sandbox, deal_id)) == 1
    assert woo(sandbox, "GET", f"/customers/{shop.alice['id']}")["billing"]["phone"] == "555-0123"
    conflicts = staging_rows(staging_url, "select field, winner from sync_conflict where object_type = 'deal'")
    assert [(c.field, c.winner) for c in conflicts] == [("line_items", "woocommerce")]


@SQLITE_ONLY
def test_a_dry_run_checks_everything_and_writes_nothing(shop: Shop, empty_sandbox: Sandbox, staging_url: str) -> None:
    sandbox = empty_sandbox
    deal_id = make_deal(sandbox, shop, [(shop.tee, 1, "20.00")], amount="20.00")
    rejected = make_deal(sandbox, shop, [(shop.draft, 1, "9.00")], amount="9.00")
    hubspot(sandbox, "PATCH", f"/crm/v3/objects/contacts/{shop.contacts[shop.alice['id']]}",
            json={"properties": {"phone": "555-0999"}})
    time.sleep(INDEX_DELAY + 0.15)
    sandbox.hubspot.stats(reset=True)
    sandbox.woo.stats(reset=True)
    dry = h2w({"dry_run": True})
    assert dry.state == "success"
    assert (hubspot_writes(sandbox), woo_writes(sandbox)) == (0, 0)
    assert orders_of_deal(sandbox, deal_id) == [] and not deal(sandbox, rejected).get("woo_sync_status")
    assert woo(sandbox, "GET", f"/customers/{shop.alice['id']}")["billing"]["phone"] == "555-0100"
    assert staging_rows(staging_url, "select * from order_intent") == []

    real = h2w()  # the dry run left everything to do
    assert real.state == "success"
    assert len(orders_of_deal(sandbox, deal_id)) == 1 and deal(sandbox, rejected)["woo_sync_status"] == "rejected"
    assert woo(sandbox, "GET", f"/customers/{shop.alice['id']}")["billing"]["phone"] == "555-0999"
