"""The Celery deployment of ``docker-compose.yaml`` started natively (:mod:`woohub.deploy.native`): fresh
PostgreSQL databases for Airflow's metadata and for staging, Redis as the broker, the API server, scheduler,
DAG processor, triggerer and TWO Celery workers, and the sandboxes. Both sync DAGs are unpaused (their first
scheduled runs are the initial loads) and must succeed with every task run by a Celery worker, both workers
taking tasks, and the data arriving on both sides: the store's orders as HubSpot deals, and a closed-won deal
made in HubSpot as a WooCommerce order. The compose file's healthchecks pass against the native processes."""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import SANDBOX_TOKEN, Sandbox
from tests.e2e.test_woocommerce_to_hubspot import hubspot_records, staging_rows, woo, woo_all
from tests.helpers import POSTGRES_URL_VAR
from woohub.deploy.native import NativeCeleryDeployment
from woohub.sandbox.control import SandboxControl
from woohub.testing.airflow_processes import LATENCY_SETTINGS

pytestmark = pytest.mark.postgres
SYNC_DAGS = ("woocommerce_to_hubspot", "hubspot_to_woocommerce")
STORE = {"seed": 11, "customers": 4, "products": 4, "orders": 8}
REDIS_URL = os.getenv("WOOHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _redis_up() -> bool:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def hubspot(box: Sandbox, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(method, f"{box.hubspot_url}{path}", timeout=30,
                                headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}, **kwargs)
    assert response.ok, f"{method} {path}: {response.status_code} {response.text[:500]}"
    return response.json() if response.content else None


def seed(box: Sandbox) -> str:
    """A small seeded store, an empty portal with the store's currencies, and in HubSpot a closed-won deal
    for a product and customer of the store (by SKU and email); returns the deal's id."""
    box.woo.reset(**STORE)
    box.hubspot.reset(empty=True)
    box.hubspot.configure(enabled_currencies=["USD", "EUR", "GBP"])
    woo(box, "POST", "/products", json={"name": "Celery Tee", "type": "simple", "regular_price": "20.00",
                                        "sku": "CELERY-TEE", "manage_stock": True, "stock_quantity": 10})
    woo(box, "POST", "/customers", json={"email": "celery.buyer@example.com", "first_name": "Cele",
                                         "last_name": "Ry"})
    contact = hubspot(box, "POST", "/crm/v3/objects/contacts", json={"properties": {
        "email": "celery.buyer@example.com", "firstname": "Cele", "lastname": "Ry"}})
    deal = hubspot(box, "POST", "/crm/v3/objects/deals", json={"properties": {
        "dealname": "Celery upsell", "amount": "40.00", "pipeline": "default", "dealstage": "closedwon",
        "deal_currency_code": "USD"}})
    hubspot(box, "PUT", f"/crm/v4/objects/deals/{deal['id']}/associations/default/contacts/{contact['id']}")
    item = hubspot(box, "POST", "/crm/v3/objects/line_items", json={"properties": {
        "name": "Celery Tee", "quantity": "2", "price": "20.00", "hs_sku": "CELERY-TEE"}})
    hubspot(box, "PUT", f"/crm/v4/objects/deals/{deal['id']}/associations/default/line_items/{item['id']}")
    return str(deal["id"])


def test_both_syncs_run_on_two_celery_workers(tmp_path: Path) -> None:
    if not os.getenv(POSTGRES_URL_VAR):
        pytest.skip(f"the Celery deployment test needs {POSTGRES_URL_VAR}; .ci/run sets it")
    if not _redis_up():
        pytest.skip(f"the Celery deployment test needs Redis at {REDIS_URL}")
    # the DAG processor parses the files once (the runs read the serialized DAGs) instead of every 30 s with
    # two processes: on a 2-core machine that re-parsing competes with the workers for the whole test
    parse_once = {k: v for k, v in LATENCY_SETTINGS.items() if k.startswith("AIRFLOW__DAG_PROCESSOR__")}
    with NativeCeleryDeployment(tmp_path / "deployment", postgres_url=os.environ[POSTGRES_URL_VAR],
                                redis_url=REDIS_URL, workers=2, concurrency=1, environment=parse_once) as deployment:
        try:
            check_deployment(deployment)
        except BaseException:
            print(deployment.tails(60))
            raise


def check_deployment(deployment: NativeCeleryDeployment) -> None:
    box = Sandbox(deployment.hubspot_url, deployment.woo_url, SandboxControl(deployment.hubspot_url),
                  SandboxControl(deployment.woo_url))
    deal_id = seed(box)
    orders_before = woo_all(box, "orders") + woo_all(box, "orders", status="trash")
    deployment.wait_until_parsed(SYNC_DAGS)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:
        health = pool.submit(deployment.healthchecks)  # the compose healthchecks, while the runs go on
        for dag_id in SYNC_DAGS:
            deployment.unpause(dag_id)
        runs = deployment.wait_for_first_runs(SYNC_DAGS, timeout=180)
        print(f"both runs finished {time.monotonic() - started:.1f} s after unpausing")
        healthy = health.result()
    assert {d: r["state"] for d, r in runs.items()} == dict.fromkeys(SYNC_DAGS, "success")
    assert {r["run_type"] for r in runs.values()} == {"scheduled"}
    assert healthy == dict.fromkeys(healthy, True) and len(healthy) == 6, healthy

    # every task ran on a Celery worker, and both workers took tasks
    hosts: Counter[str] = Counter()
    for dag_id, run in runs.items():
        for ti in deployment.task_instances(dag_id, run["dag_run_id"]):
            assert ti["state"] == "success", f"{dag_id}.{ti['task_id']} ended {ti['state']}"
            hosts[ti["hostname"]] += 1
    assert set(hosts) == set(deployment.worker_names), f"tasks per worker hostname: {dict(hosts)}"

    # WooCommerce → HubSpot: one deal per order that was not quarantined
    quarantined = {r.source_key for r in staging_rows(
        deployment.staging_url,
        "select source_key from quarantine where released_at is null and object_type = 'woocommerce.orders'")}
    deals = hubspot_records(box, "deals", ["woo_order_id", "woo_sync_status"])
    by_order = Counter(d["properties"]["woo_order_id"] for d in deals if d["properties"].get("woo_order_id"))
    assert set(by_order) >= {str(o["id"]) for o in orders_before} - quarantined
    assert set(by_order.values()) == {1}, "an order became two deals"

    # HubSpot → WooCommerce: the closed-won deal became one order, its id written back to the deal
    made = [o for o in woo_all(box, "orders")
            if any(m["key"] == "hubspot_deal_id" and str(m["value"]) == deal_id for m in o["meta_data"])]
    assert len(made) == 1, f"orders made from deal {deal_id}: {[o['id'] for o in made]}"
    assert [(line["sku"], line["quantity"]) for line in made[0]["line_items"]] == [("CELERY-TEE", 2)]
    deal = hubspot(box, "GET", f"/crm/v3/objects/deals/{deal_id}", params={"properties": "woo_order_id"})
    assert deal["properties"]["woo_order_id"] == str(made[0]["id"])
