"""The ``reconciliation`` DAG end to end, through Airflow (``dag.test()``) against the sandboxes, on one small
shop shared by the tests of this module (they run in order): after a full two-way sync a clean night finds
nothing; drift made directly through each API (a deal archived and an amount edited in HubSpot, a contact's
email changed there, a duplicate contact, a product and an order force-deleted in WooCommerce) is found by a
dry-run night exactly, one row each, and nothing changes anywhere; a real night re-queues what has an
authoritative side, the sync DAGs write it and the rows become ``healed``; the next night lists only what
waits for a person."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from tests.conftest import Sandbox
from tests.e2e.test_hubspot_to_woocommerce import INDEX_DELAY, hubspot, run, woo_writes
from tests.e2e.test_woocommerce_to_hubspot import hubspot_writes, woo
from tests.helpers import isolated_dag_files
from woohub.staging.schema import STAGED_TABLES, id_map, reconciliation_difference, reconciliation_run

pytestmark = pytest.mark.usefixtures("airflow_db")
_nights = iter(range(1, 1000))


@dataclass
class Shop:
    """The synced shop: WooCommerce ids, their HubSpot ids, and the staging database."""

    staging_url: str
    sandbox: Sandbox
    products: dict[str, int]
    customers: dict[str, int]
    orders: dict[str, int]
    deals: dict[str, str]  # order name -> HubSpot deal id
    contacts: dict[str, str]  # customer name -> HubSpot contact id
    hubspot_products: dict[str, str]
    runs: dict[str, str] = field(default_factory=dict)


def night(conf: dict[str, Any] | None = None) -> Any:
    """A reconciliation run of its own logical date."""
    from tests.helpers import run_dag_test

    logical = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1, seconds=next(_nights))
    result = run_dag_test("reconciliation", logical, conf)
    assert result.state == "success"
    return result


def rows(shop: Shop, run_id: str) -> set[tuple]:
    d = reconciliation_difference
    engine = create_engine(shop.staging_url)
    try:
        with engine.connect() as connection:
            return {tuple(r) for r in connection.execute(select(
                d.c.object_type, d.c.kind, d.c.woocommerce_id, d.c.hubspot_id, d.c.field, d.c.action)
                .where(d.c.run_id == run_id))}
    finally:
        engine.dispose()


def staging_tables(shop: Shop) -> dict[str, list[tuple]]:
    engine = create_engine(shop.staging_url)
    try:
        with engine.connect() as connection:
            return {t.name: sorted(tuple(map(str, r)) for r in connection.execute(select(t)))
                    for t in [id_map, *STAGED_TABLES.values()]}
    finally:
        engine.dispose()


def customer_payload(first: str, last: str, email: str) -> dict[str, Any]:
    address = {"first_name": first, "last_name": last, "address_1": f"1 {last} Street", "city": "Springfield",
               "postcode": "11111", "country": "US", "state": "CA"}
    return {"email": email, "first_name": first, "last_name": last, "billing": {**address, "email": email},
            "shipping": address}


@pytest.fixture(scope="module")
def shop(sandbox: Sandbox, airflow_db: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A shop of three products, three customers, four orders (one a guest's) and an order made from a HubSpot
    deal, synced both ways: ``woocommerce_to_hubspot``, ``hubspot_to_woocommerce``, ``woocommerce_to_hubspot``."""
    root = tmp_path_factory.mktemp("reconciliation-e2e")
    with isolated_dag_files(root):
        sandbox.hubspot.reset(empty=True)
        sandbox.woo.reset(empty=True)
        sandbox.hubspot.configure(search_index_delay_seconds=INDEX_DELAY)
        tee = woo(sandbox, "POST", "/products", json={"name": "Rec Tee", "regular_price": "20.00", "sku": "REC-TEE"})
        mug = woo(sandbox, "POST", "/products", json={"name": "Rec Mug", "regular_price": "9.00", "sku": "REC-MUG"})
        hoodie = woo(sandbox, "POST", "/products", json={
            "name": "Rec Hoodie", "type": "variable", "sku": "REC-HOOD",
            "attributes": [{"name": "Size", "options": ["M", "L"], "variation": True, "visible": True}]})
        hoodie_m = woo(sandbox, "POST", f"/products/{hoodie['id']}/variations", json={
            "regular_price": "40.00", "sku": "REC-HOOD-M", "attributes": [{"name": "Size", "option": "M"}]})
        people = {name: woo(sandbox, "POST", "/customers", json=customer_payload(name.title(), last,
                                                                                  f"{name}@example.com"))
                  for name, last in (("alice", "Hub"), ("bob", "Shop"), ("carol", "Buyer"))}

        def order(customer: str | None, status: str, lines: list[dict[str, Any]]) -> int:
            buyer = (customer_payload(customer.title(), "X", f"{customer}@example.com")["billing"] if customer
                     else {"first_name": "Dave", "email": "dave@example.com", "country": "US"})
            body = {"status": status, "billing": buyer, "line_items": lines,
                    "customer_id": people[customer]["id"] if customer else 0}
            return woo(sandbox, "POST", "/orders", json=body)["id"]

        orders = {"amount": order("carol", "processing", [{"product_id": tee["id"], "quantity": 2}]),
                  "archived": order("carol", "completed", [{"product_id": hoodie["id"], "variation_id": hoodie_m["id"],
                                                            "quantity": 1}]),
                  "deleted": order("alice", "processing", [{"product_id": tee["id"], "quantity": 1}]),
                  "guest": order(None, "pending", [{"product_id": tee["id"], "quantity": 1}])}
        assert run("woocommerce_to_hubspot").state == "success"
        contacts = {c["properties"]["email"].split("@")[0]: c["id"] for c in hubspot(sandbox, "GET", "/crm/v3/objects/contacts", params={
            "limit": 100, "properties": "email"})["results"]}
        products = {p["properties"]["woo_product_id"]: p["id"] for p in hubspot(
            sandbox, "GET", "/crm/v3/objects/products", params={"limit": 100, "properties": "woo_product_id"})["results"]}
        # a won deal made in HubSpot (it becomes an order) and one that does not qualify (it stays HubSpot's)
        won = hubspot(sandbox, "POST", "/crm/v3/objects/deals", json={"properties": {
            "dealname": "Upsell", "amount": "20.00", "pipeline": "default", "dealstage": "closedwon",
            "deal_currency_code": "USD"}})["id"]
        hubspot(sandbox, "PUT", f"/crm/v4/objects/deals/{won}/associations/default/contacts/{contacts['alice']}")
        item = hubspot(sandbox, "POST", "/crm/v3/objects/line_items", json={"properties": {
            "name": "Rec Tee", "quantity": "1", "price": "20.00", "hs_product_id": products[str(tee["id"])]}})
        hubspot(sandbox, "PUT", f"/crm/v4/objects/deals/{won}/associations/default/line_items/{item['id']}")
        hubspot(sandbox, "POST", "/crm/v3/objects/deals", json={"properties": {
            "dealname": "Maybe next year", "pipeline": "default", "dealstage": "qualifiedtobuy"}})
        assert run("hubspot_to_woocommerce").state == "success"
        assert run("woocommerce_to_hubspot").state == "success"
        deals = {d["properties"]["woo_order_id"]: d["id"] for d in hubspot(
            sandbox, "GET", "/crm/v3/objects/deals", params={"limit": 100, "properties": "woo_order_id"})["results"]
            if d["properties"].get("woo_order_id")}
        assert len(deals) == 5, "four orders and the order made from the won deal"
        yield Shop(f"sqlite:///{root / 'staging.db'}", sandbox,
                   {"tee": tee["id"], "mug": mug["id"], "hoodie_m": hoodie_m["id"]},
                   {name: c["id"] for name, c in people.items()}, orders,
                   {name: deals[str(order_id)] for name, order_id in orders.items()}, contacts, products)


def test_a_clean_night_after_a_full_two_way_sync_reports_no_difference(shop: Shop) -> None:
    result = night()
    assert rows(shop, result.run_id) == set()
    engine = create_engine(shop.staging_url)
    with engine.connect() as connection:
        runs = {r.object_type: r for r in connection.execute(select(reconciliation_run).where(
            reconciliation_run.c.run_id == result.run_id))}
    engine.dispose()
    assert set(runs) == {"contact", "product", "deal", "line_item"}
    assert all(r.drift_rate == "0.000000" and r.differences == 0 for r in runs.values())
    assert (runs["deal"].woocommerce_records, runs["deal"].paired) == (5, 5)
    assert runs["contact"].paired == 5, "the store's admin, alice, bob, carol and the guest"
    assert runs["deal"].finished_at is not None


def test_drift_through_each_api_is_found_once_each_by_a_dry_run_night_that_changes_nothing(shop: Shop) -> None:
    sandbox = shop.sandbox
    hubspot(sandbox, "DELETE", f"/crm/v3/objects/deals/{shop.deals['archived']}")
    hubspot(sandbox, "PATCH", f"/crm/v3/objects/deals/{shop.deals['amount']}", json={"properties": {"amount": "55"}})
    hubspot(sandbox, "PATCH", f"/crm/v3/objects/contacts/{shop.contacts['alice']}",
            json={"properties": {"email": "alice.new@example.com"}})
    # Bob's customer id moves to a second contact (HubSpot refuses a second contact holding a unique woo_customer_id,
    # and a second one with his email): the old contact is emptied of both, the new one takes them
    hubspot(sandbox, "PATCH", f"/crm/v3/objects/contacts/{shop.contacts['bob']}",
            json={"properties": {"email": "", "woo_customer_id": ""}})
    second = hubspot(sandbox, "POST", "/crm/v3/objects/contacts", json={"properties": {
        "email": "bob@example.com", "firstname": "Bob", "lastname": "Shop", "address": "1 Shop Street",
        "city": "Springfield", "zip": "11111", "country": "US", "state": "CA",
        "woo_customer_id": str(shop.customers["bob"])}})["id"]
    woo(sandbox, "DELETE", f"/products/{shop.products['mug']}", params={"force": "true"})
    woo(sandbox, "DELETE", f"/orders/{shop.orders['deleted']}", params={"force": "true"})
    shop.contacts["bob_second"] = second
    before = (sandbox.hubspot.state()["portal"], sandbox.woo.state()["store"], staging_tables(shop))
    sandbox.hubspot.stats(reset=True)
    sandbox.woo.stats(reset=True)

    dry = night({"dry_run": True})

    assert rows(shop, dry.run_id) == {
        ("deal", "missing_in_hubspot", str(shop.orders["archived"]), shop.deals["archived"], None, "would_heal"),
        ("deal", "field_mismatch", str(shop.orders["amount"]), shop.deals["amount"], "amount", "would_heal"),
        ("contact", "field_mismatch", f"customer:{shop.customers['alice']}", shop.contacts["alice"], "email",
         "would_heal"),
        ("contact", "duplicate", f"customer:{shop.customers['bob']}", second, None, "reported"),
        ("product", "missing_in_woocommerce", str(shop.products["mug"]), shop.hubspot_products[str(shop.products["mug"])],
         None, "would_heal"),
        ("deal", "missing_in_woocommerce", str(shop.orders["deleted"]), shop.deals["deleted"], None, "reported"),
    }
    assert (hubspot_writes(sandbox), woo_writes(sandbox)) == (0, 0)
    assert (sandbox.hubspot.state()["portal"], sandbox.woo.state()["store"], staging_tables(shop)) == before
    shop.runs["dry"] = dry.run_id


def test_a_real_night_queues_the_heals_and_the_sync_writes_them(shop: Shop) -> None:
    sandbox = shop.sandbox
    real = night()
    queued = {r for r in rows(shop, real.run_id) if r[5] == "heal_queued"}
    assert {(r[0], r[1]) for r in queued} == {("deal", "missing_in_hubspot"), ("deal", "field_mismatch"),
                                              ("contact", "field_mismatch"), ("product", "missing_in_woocommerce")}

    assert run("woocommerce_to_hubspot").state == "success"
    assert run("hubspot_to_woocommerce").state == "success"

    assert {r[:5] for r in rows(shop, real.run_id) if r[5] == "healed"} == {r[:5] for r in queued}
    deals = {d["properties"]["woo_order_id"]: d for d in hubspot(sandbox, "GET", "/crm/v3/objects/deals", params={
        "limit": 100, "properties": "woo_order_id,amount"})["results"] if d["properties"].get("woo_order_id")}
    assert deals[str(shop.orders["amount"])]["properties"]["amount"] in ("40", "40.00", "40.0")
    assert deals[str(shop.orders["archived"])]["id"] != shop.deals["archived"], "a new deal for the order"
    mug = shop.hubspot_products[str(shop.products["mug"])]
    assert hubspot(sandbox, "GET", f"/crm/v3/objects/products/{mug}", params={"archived": "true"})["archived"]
    assert woo(sandbox, "GET", f"/customers/{shop.customers['alice']}")["email"] == "alice.new@example.com"


def test_the_next_night_reports_only_what_waits_for_a_person(shop: Shop) -> None:
    result = night()
    assert rows(shop, result.run_id) == {
        ("contact", "duplicate", f"customer:{shop.customers['bob']}", shop.contacts["bob_second"], None, "reported"),
        ("deal", "missing_in_woocommerce", str(shop.orders["deleted"]), shop.deals["deleted"], None, "reported"),
    }
