"""The ``woocommerce_to_hubspot`` DAG end to end: run by Airflow (``dag.test()``) against the sandbox APIs,
staging on SQLite and on PostgreSQL, and HubSpot's side checked through its own API."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from requests_oauthlib import OAuth1
from sqlalchemy import create_engine

from tests.conftest import Sandbox

pytestmark = pytest.mark.usefixtures("airflow_db", "gx_root")

DAG_ID = "woocommerce_to_hubspot"


def woo(sandbox: Sandbox, method: str, path: str, **kwargs: Any) -> Any:
    import requests

    response = requests.request(method, f"{sandbox.woo_url}/wp-json/wc/v3{path}", timeout=30,
                                auth=OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256"), **kwargs)
    response.raise_for_status()
    return response.json()


def woo_all(sandbox: Sandbox, resource: str, **params: Any) -> list[dict[str, Any]]:
    records, page = [], 1
    while True:
        batch = woo(sandbox, "GET", f"/{resource}", params={"per_page": 100, "page": page, **params})
        records += batch
        if len(batch) < 100:
            return records
        page += 1


def hubspot_records(sandbox: Sandbox, object_type: str, properties: list[str]) -> list[dict[str, Any]]:
    import requests

    records, after = [], None
    while True:
        params = {"limit": 100, "properties": ",".join(properties)}
        if object_type == "deals":
            params["associations"] = "contacts,line_items"
        if after:
            params["after"] = after
        body = requests.get(f"{sandbox.hubspot_url}/crm/v3/objects/{object_type}", params=params, timeout=30,
                            headers={"Authorization": "Bearer sandbox-token"}).json()
        records += body["results"]
        after = (body.get("paging") or {}).get("next", {}).get("after")
        if not after:
            return records


def run_dag(logical_date: datetime, conf: dict[str, Any] | None = None, *, scheduled: bool = False) -> Any:
    """Run the DAG through Airflow (``dag.test()``); ``scheduled`` makes the run a scheduled one."""
    from tests.helpers import run_dag_test

    return run_dag_test(DAG_ID, logical_date, conf, scheduled=scheduled)


def staging_rows(url: str, sql: str) -> list[Any]:
    from sqlalchemy import text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)))
    finally:
        engine.dispose()


def hubspot_writes(sandbox: Sandbox) -> int:
    routes = sandbox.hubspot.stats()["routes"]
    return sum(n for route, n in routes.items()
               if route.startswith(("POST", "PATCH", "PUT", "DELETE")) and "/search" not in route
               and "batch/read" not in route and "/oauth/" not in route)  # token refresh and scope checks read


def test_first_run_syncs_every_record_once_and_second_run_writes_nothing(seeded: Sandbox, staging_url: str) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    run = run_dag(start, scheduled=True)  # no high-water mark yet: the initial full load
    assert run.state == "success"

    orders = woo_all(seeded, "orders") + woo_all(seeded, "orders", status="trash")
    customers = woo_all(seeded, "customers", role="all")
    products = woo_all(seeded, "products") + woo_all(seeded, "products", status="trash")
    quarantined = {(r.object_type, r.source_key) for r in staging_rows(
        staging_url, "select object_type, source_key from quarantine where released_at is null")}

    deals = hubspot_records(seeded, "deals", ["woo_order_id", "amount", "dealstage", "deal_currency_code"])
    assert deals, "no deals"
    by_order = Counter(d["properties"]["woo_order_id"] for d in deals if d["properties"].get("woo_order_id"))
    expected_orders = {str(o["id"]) for o in orders} - {k for t, k in quarantined if t == "woocommerce.orders"}
    assert set(by_order) == expected_orders and set(by_order.values()) == {1}
    for order in orders:
        deal = next((d for d in deals if d["properties"].get("woo_order_id") == str(order["id"])), None)
        if deal is None:
            continue
        assert Decimal(deal["properties"]["amount"]) == Decimal(order["total"])
        assert deal["properties"]["deal_currency_code"] == order["currency"]
        assert deal["associations"]["contacts"]["results"], f"deal of order {order['id']} has no contact"
        assert len(deal["associations"]["line items"]["results"]) >= len(order["line_items"])
        if order["status"] in ("cancelled", "failed", "refunded", "trash"):
            assert deal["properties"]["dealstage"] == "closedlost", f"{order['status']} order not closed lost"
    assert any(o["status"] == "trash" for o in orders), "the seeded store should hold a trashed order"

    contacts = hubspot_records(seeded, "contacts", ["email", "woo_customer_id"])
    emails = Counter(c["properties"]["email"].lower() for c in contacts if c["properties"].get("email"))
    assert max(emails.values()) == 1, "a contact email appears twice"
    synced_customers = {c["properties"]["woo_customer_id"] for c in contacts if c["properties"].get("woo_customer_id")}
    expected_customers = {str(c["id"]) for c in customers} - {k for t, k in quarantined if t == "woocommerce.customers"}
    assert synced_customers == expected_customers
    guest_emails = {o["billing"]["email"].lower() for o in orders if o["customer_id"] == 0 and o["billing"]["email"]}
    assert guest_emails <= set(emails)

    hub_products = hubspot_records(seeded, "products", ["woo_product_id", "hs_sku", "price"])
    synced_products = Counter(p["properties"]["woo_product_id"] for p in hub_products
                              if p["properties"].get("woo_product_id"))
    live_products = {str(p["id"]) for p in products if p["status"] != "trash"}
    assert live_products - {k for t, k in quarantined if t == "woocommerce.products"} <= set(synced_products)
    assert set(synced_products.values()) == {1}

    counts = {row.object_type: row for row in staging_rows(
        staging_url, "select object_type, extracted, created, updated, failed, api_calls from run_stats")}
    assert set(counts) >= {"deals", "contacts", "products", "line_items", "woocommerce_orders",
                           "woocommerce_customers", "woocommerce_products"}
    assert counts["woocommerce_orders"].api_calls >= 2 and counts["deals"].api_calls >= 1
    assert counts["deals"].created == len(by_order)

    writes_before = hubspot_writes(seeded)
    second = run_dag(start + timedelta(minutes=15), scheduled=True)
    assert second.state == "success"
    assert hubspot_writes(seeded) == writes_before, "an unchanged store caused HubSpot writes"


def deal_of(sandbox: Sandbox, order_id: int) -> dict[str, Any]:
    deals = [d for d in hubspot_records(sandbox, "deals", ["woo_order_id", "dealstage", "woo_order_status"])
             if d["properties"].get("woo_order_id") == str(order_id)]
    assert len(deals) == 1, f"order {order_id} has {len(deals)} deals"
    return deals[0]


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def test_backfill_of_a_past_window_resyncs_exactly_that_window(seeded: Sandbox, staging_url: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    assert run_dag(now.replace(second=0) - timedelta(minutes=15), scheduled=True).state == "success"
    two_days_ago = now.replace(minute=0, second=0) - timedelta(days=2)
    # orders last modified before the edits below (staging keeps the newest version of a record, so an edit
    # must be later than what was staged, as in a real store)
    orders = [o for o in woo_all(seeded, "orders") if o["status"] in ("pending", "on-hold", "processing") and o["currency"] == "USD"
              and o["date_modified_gmt"] < at(two_days_ago)]
    inside, outside = orders[0], orders[1]
    try:
        seeded.woo.configure(clock=at(two_days_ago + timedelta(minutes=5)))
        woo(seeded, "PUT", f"/orders/{inside['id']}", json={"status": "completed"})
        seeded.woo.configure(clock=at(two_days_ago + timedelta(hours=3)))
        woo(seeded, "PUT", f"/orders/{outside['id']}", json={"status": "completed"})
    finally:
        seeded.woo.configure(clock=None)

    # the run whose 15-minute data interval starts two days ago (a logical date is the interval's end here)
    backfill = run_dag(two_days_ago + timedelta(minutes=15))
    assert backfill.state == "success"
    extracted = staging_rows(staging_url, "select source_id from staged_run_record where stream = "
                                          f"'woocommerce.orders' and run_id = '{backfill.run_id}'")
    assert [row.source_id for row in extracted] == [str(inside["id"])]
    assert deal_of(seeded, inside["id"])["properties"]["woo_order_status"] == "completed"
    assert deal_of(seeded, outside["id"])["properties"]["woo_order_status"] == outside["status"]
    marks = staging_rows(staging_url, "select high_water_mark from sync_state where stream = 'woocommerce.orders'")
    assert datetime.fromisoformat(str(marks[0].high_water_mark)) > two_days_ago.replace(tzinfo=None) + timedelta(days=1), "backfill moved the mark back"

    other_window = run_dag(two_days_ago + timedelta(hours=3, minutes=15))  # backfilling its window picks it up
    assert other_window.state == "success"
    assert deal_of(seeded, outside["id"])["properties"]["woo_order_status"] == "completed"


def test_edited_order_and_customer_update_the_same_hubspot_records(seeded: Sandbox, staging_url: str) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    assert run_dag(start, scheduled=True).state == "success"
    order = next(o for o in woo_all(seeded, "orders") if o["status"] == "processing" and o["currency"] == "USD")
    customer = next(c for c in woo_all(seeded, "customers") if c["id"] == order["customer_id"]) \
        if order["customer_id"] else woo_all(seeded, "customers")[0]
    deal_before = deal_of(seeded, order["id"])
    contacts_before = {c["properties"]["woo_customer_id"]: c["id"] for c in hubspot_records(
        seeded, "contacts", ["woo_customer_id"]) if c["properties"].get("woo_customer_id")}

    product = next(p for p in woo_all(seeded, "products") if p["type"] == "simple" and p["sku"])
    assert product_in_hubspot(seeded, product["id"])
    woo(seeded, "PUT", f"/orders/{order['id']}", json={"status": "cancelled"})
    woo(seeded, "DELETE", f"/products/{product['id']}")  # trash
    woo(seeded, "PUT", f"/customers/{customer['id']}", json={"email": f"changed.{customer['id']}@example.org"})
    assert run_dag(start + timedelta(minutes=15), {"window_start": at(start), "window_end": at(
        datetime.now(UTC) + timedelta(minutes=1))}).state == "success"

    deal_after = deal_of(seeded, order["id"])
    assert deal_after["id"] == deal_before["id"]
    assert deal_after["properties"]["dealstage"] == "closedlost"
    contacts = [c for c in hubspot_records(seeded, "contacts", ["woo_customer_id", "email"])
                if c["properties"].get("woo_customer_id") == str(customer["id"])]
    assert len(contacts) == 1 and contacts[0]["id"] == contacts_before[str(customer["id"])]
    assert contacts[0]["properties"]["email"] == f"changed.{customer['id']}@example.org"
    assert not product_in_hubspot(seeded, product["id"]), "a trashed product is archived in HubSpot"


def product_in_hubspot(sandbox: Sandbox, product_id: int) -> bool:
    return any(p["properties"].get("woo_product_id") == str(product_id)
               for p in hubspot_records(sandbox, "products", ["woo_product_id"]))
