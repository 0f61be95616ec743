"""Webhooks end to end on a real Airflow (:class:`woohub.testing.airflow_processes.LocalAirflow`: API server
with the project's plugins, scheduler with the LocalExecutor, DAG processor; the metadata database on
PostgreSQL when ``WOOHUB_TEST_POSTGRES_URL`` is set, else SQLite) and the sandboxes, the schedules set a year
away: a signed WooCommerce delivery for a new order becomes, through the plugin's receiver and an Asset event,
an ``asset_triggered`` run and the deal in HubSpot; a HubSpot v3-signed delivery for a deal moved to closed
won becomes the WooCommerce order. Unsigned, wrongly signed, stale and replayed deliveries change nothing:
no event, no run."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, select

from tests.conftest import Sandbox
from tests.e2e.test_hubspot_to_woocommerce import hubspot, orders_of_deal
from tests.e2e.test_woocommerce_to_hubspot import hubspot_records, woo
from tests.helpers import POSTGRES_URL_VAR
from woohub.testing.airflow_processes import HUBSPOT_CLIENT_SECRET, WOO_WEBHOOK_SECRET, LocalAirflow

W2H, H2W = "woocommerce_to_hubspot", "hubspot_to_woocommerce"


@pytest.fixture(scope="module")
def airflow(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAirflow]:
    """One Airflow for the module, both sync DAGs parsed and unpaused (their cron far away)."""
    work = tmp_path_factory.mktemp("webhook-deployment")
    with LocalAirflow(work, hubspot_port=int(os.environ["WOOHUB_TEST_HUBSPOT_PORT"]),
                      woo_port=int(os.environ["WOOHUB_TEST_WOO_PORT"]),
                      postgres_server=os.getenv(POSTGRES_URL_VAR)) as deployment:
        deployment.wait_for_dags([W2H, H2W])
        for dag_id in (W2H, H2W):
            deployment.unpause(dag_id)
        yield deployment


def woo_delivery(order: dict[str, Any], *, secret: str | None = WOO_WEBHOOK_SECRET,
                 delivery_id: str = "d41d8cd98f00b204e9800998ecf8427e") -> tuple[bytes, dict[str, str]]:
    """An ``order.created`` delivery as WooCommerce sends it: the order JSON, signed with
    base64(HMAC-SHA256(body, secret)) (no signature header when ``secret`` is ``None``)."""
    body = json.dumps(order).encode()
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Source": "http://shop.example/",
               "X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Resource": "order",
               "X-WC-Webhook-Event": "created", "X-WC-Webhook-ID": "7", "X-WC-Webhook-Delivery-ID": delivery_id}
    if secret is not None:
        headers["X-WC-Webhook-Signature"] = base64.b64encode(
            hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return body, headers


def hubspot_delivery(url: str, deal_id: str, *, secret: str = HUBSPOT_CLIENT_SECRET,
                     age_seconds: float = 0.0) -> tuple[bytes, dict[str, str]]:
    """A ``deal.propertyChange`` (dealstage → closedwon) batch as HubSpot sends it, signed v3:
    base64(HMAC-SHA256(client secret, method + URL + body + timestamp))."""
    now_ms = int((time.time() - age_seconds) * 1000)
    body = json.dumps([{"eventId": 4711, "subscriptionId": 99, "portalId": 62515, "appId": 1234,
                        "occurredAt": now_ms, "subscriptionType": "deal.propertyChange", "attemptNumber": 0,
                        "objectId": int(deal_id), "propertyName": "dealstage", "propertyValue": "closedwon",
                        "changeSource": "CRM_UI"}]).encode()
    timestamp = str(now_ms)
    signed = b"POST" + url.encode() + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    return body, {"Content-Type": "application/json", "X-HubSpot-Signature-v3": signature,
                  "X-HubSpot-Request-Timestamp": timestamp}


def event_count(airflow: LocalAirflow) -> int:
    from woohub.staging.schema import webhook_event

    engine = create_engine(airflow.staging_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(webhook_event)).scalar_one())
    finally:
        engine.dispose()


def post(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(url, data=body, headers=headers, timeout=30)


def test_signed_webhooks_sync_both_ways_without_the_schedule_and_forged_ones_change_nothing(
        sandbox: Sandbox, airflow: LocalAirflow) -> None:
    sandbox.woo.reset(empty=True)
    sandbox.hubspot.reset(empty=True)
    tee = woo(sandbox, "POST", "/products", json={"name": "Webhook Tee", "type": "simple", "regular_price": "25.00",
                                                   "sku": "WH-TEE", "manage_stock": True, "stock_quantity": 40})
    ada = woo(sandbox, "POST", "/customers", json={"email": "ada@example.com", "first_name": "Ada",
                                                    "last_name": "Hook"})
    address = {"first_name": "Ada", "last_name": "Hook", "address_1": "3 Hook Road", "city": "Springfield",
               "postcode": "11111", "country": "US", "state": "CA", "email": "ada@example.com"}
    order = woo(sandbox, "POST", "/orders", json={"customer_id": ada["id"], "status": "processing",
                                                   "billing": address, "shipping": address,
                                                   "line_items": [{"product_id": tee["id"], "quantity": 2}]})
    woo_url = airflow.webhook_url("woocommerce")

    unsigned = post(woo_url, *woo_delivery(order, secret=None))
    forged = post(woo_url, *woo_delivery(order, secret="not-the-shop-secret"))
    assert (unsigned.status_code, forged.status_code) == (401, 401)
    assert event_count(airflow) == 0

    accepted = post(woo_url, *woo_delivery(order))
    assert accepted.status_code == 200 and accepted.json()["recorded"] == 1, accepted.text
    run = airflow.wait_for_run(W2H, run_type="asset_triggered", timeout=150)
    assert run["state"] == "success", airflow.log_tail("scheduler")
    deals = [d for d in hubspot_records(sandbox, "deals", ["woo_order_id"])
             if d["properties"].get("woo_order_id") == str(order["id"])]
    assert len(deals) == 1

    replayed = post(woo_url, *woo_delivery(order))
    assert replayed.status_code == 200 and replayed.json()["recorded"] == 0, replayed.text
    assert event_count(airflow) == 1

    # the order's product and customer are in HubSpot now; a salesperson closes an upsell deal
    products = hubspot(sandbox, "GET", "/crm/v3/objects/products", params={"properties": "woo_product_id"})["results"]
    contacts = hubspot(sandbox, "GET", "/crm/v3/objects/contacts", params={"properties": "email"})["results"]
    product_id = next(p["id"] for p in products if p["properties"].get("woo_product_id") == str(tee["id"]))
    contact_id = next(c["id"] for c in contacts if c["properties"].get("email") == "ada@example.com")
    deal_id = hubspot(sandbox, "POST", "/crm/v3/objects/deals", json={"properties": {
        "dealname": "Ada upsell", "amount": "75.00", "pipeline": "default", "dealstage": "appointmentscheduled",
        "deal_currency_code": "USD"}})["id"]
    hubspot(sandbox, "PUT", f"/crm/v4/objects/deals/{deal_id}/associations/default/contacts/{contact_id}")
    item = hubspot(sandbox, "POST", "/crm/v3/objects/line_items", json={"properties": {
        "name": "Webhook Tee", "quantity": "3", "price": "25.00", "hs_product_id": product_id}})
    hubspot(sandbox, "PUT", f"/crm/v4/objects/deals/{deal_id}/associations/default/line_items/{item['id']}")
    hubspot(sandbox, "PATCH", f"/crm/v3/objects/deals/{deal_id}", json={"properties": {"dealstage": "closedwon"}})

    hubspot_url = airflow.webhook_url("hubspot")
    stale = post(hubspot_url, *hubspot_delivery(hubspot_url, deal_id, age_seconds=600))
    wrong = post(hubspot_url, *hubspot_delivery(hubspot_url, deal_id, secret="not-the-app-secret"))
    body, headers = hubspot_delivery(hubspot_url, deal_id)
    unsigned = post(hubspot_url, body, {k: v for k, v in headers.items() if k != "X-HubSpot-Signature-v3"})
    assert (stale.status_code, wrong.status_code, unsigned.status_code) == (401, 401, 401)
    assert event_count(airflow) == 1

    accepted = post(hubspot_url, body, headers)
    assert accepted.status_code == 200 and accepted.json()["recorded"] == 1, accepted.text
    run = airflow.wait_for_run(H2W, run_type="asset_triggered", timeout=150)
    assert run["state"] == "success", airflow.log_tail("scheduler")
    orders = orders_of_deal(sandbox, deal_id)
    assert len(orders) == 1 and orders[0]["customer_id"] == ada["id"]

    replayed = post(hubspot_url, body, headers)  # the same delivery again, within the timestamp's 5 minutes
    assert replayed.status_code == 200 and replayed.json()["recorded"] == 0, replayed.text

    # forged, stale and replayed deliveries woke nothing: one run per DAG, both webhook-triggered
    assert [r["run_type"] for r in airflow.runs(W2H)] == ["asset_triggered"]
    assert [r["run_type"] for r in airflow.runs(H2W)] == ["asset_triggered"]
    assert event_count(airflow) == 2
