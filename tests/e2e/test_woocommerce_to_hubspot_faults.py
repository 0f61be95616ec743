"""The ``woocommerce_to_hubspot`` DAG under failure: bad records, API fault storms, a worker killed in the
middle of a load. Each ends with every record in HubSpot exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PROJECT_ROOT, Sandbox
from tests.e2e.test_woocommerce_to_hubspot import (
    hubspot_records,
    run_dag,
    staging_rows,
    woo,
    woo_all,
)

# Failure handling does not depend on the staging engine: these run on SQLite only (the happy paths run on both).
pytestmark = [pytest.mark.usefixtures("airflow_db", "gx_root"),
              pytest.mark.parametrize("staging_url", ["sqlite"], indirect=True)]


def assert_everything_once(sandbox: Sandbox, staging_url: str) -> None:
    """Every WooCommerce order, customer and live product is in HubSpot exactly once (quarantined aside)."""
    quarantined = {(r.object_type, r.source_key) for r in staging_rows(
        staging_url, "select object_type, source_key from quarantine where released_at is null")}
    orders = woo_all(sandbox, "orders") + woo_all(sandbox, "orders", status="trash")
    deals = Counter(d["properties"].get("woo_order_id") for d in hubspot_records(sandbox, "deals", ["woo_order_id"]))
    deals.pop(None, None)
    assert set(deals) == {str(o["id"]) for o in orders} - {k for t, k in quarantined if t == "woocommerce.orders"}
    assert set(deals.values()) == {1}, "duplicate deals"
    contacts = hubspot_records(sandbox, "contacts", ["email", "woo_customer_id"])
    emails = Counter(c["properties"]["email"].lower() for c in contacts if c["properties"].get("email"))
    assert max(emails.values()) == 1, "duplicate contacts"
    customer_ids = Counter(c["properties"].get("woo_customer_id") for c in contacts)
    customer_ids.pop(None, None)
    assert set(customer_ids) == {str(c["id"]) for c in woo_all(sandbox, "customers", role="all")}
    assert set(customer_ids.values()) == {1}
    line_items = Counter(li["properties"].get("woo_line_item_id")
                         for li in hubspot_records(sandbox, "line_items", ["woo_line_item_id"]))
    line_items.pop(None, None)
    assert set(line_items.values()) == {1}, "duplicate line items"
    products = Counter(p["properties"].get("woo_product_id")
                       for p in hubspot_records(sandbox, "products", ["woo_product_id"]))
    products.pop(None, None)
    assert set(products.values()) == {1}, "duplicate products"


def make_dead_letters_due(staging_url: str) -> None:
    """Let the dead letters' backoff pass (as if their retry time had come)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(staging_url)
    with engine.begin() as connection:
        connection.execute(text("update dead_letter set next_retry_at = :past"),
                           {"past": datetime(2000, 1, 1)})
    engine.dispose()


def order_in(sandbox: Sandbox, currency: str) -> dict:
    """A real order in a currency other than the store's (WooCommerce accepts any, recording 036)."""
    product = next(p for p in woo_all(sandbox, "products") if p["type"] == "simple" and p["status"] == "publish")
    return woo(sandbox, "POST", "/orders", json={
        "currency": currency, "billing": {"email": "eur.buyer@example.org", "first_name": "Eur"},
        "line_items": [{"product_id": product["id"], "quantity": 1}]})


def test_a_bad_order_is_quarantined_with_its_reason_and_loads_once_fixed(seeded: Sandbox, staging_url: str) -> None:
    bad = order_in(seeded, "EUR")  # the portal has USD only
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    run = run_dag(start, scheduled=True)
    assert run.state == "success", "one bad order must not fail the run (quarantine floor)"
    rows = staging_rows(staging_url, "select object_type, source_key, reasons, released_at from quarantine")
    reasons = {(r.object_type, r.source_key): json.loads(r.reasons) for r in rows if r.released_at is None}
    assert any("EUR" in reason for reason in reasons[("woocommerce.orders", str(bad["id"]))]), reasons
    synced = {d["properties"].get("woo_order_id") for d in hubspot_records(seeded, "deals", ["woo_order_id"])}
    assert str(bad["id"]) not in synced
    assert_everything_once(seeded, staging_url)

    woo(seeded, "PUT", f"/orders/{bad['id']}", json={"currency": "USD"})  # fixed in WooCommerce
    # the next scheduled run, whose data interval (the 15 minutes before its logical date's slot) holds the fix
    again = run_dag(datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=30), scheduled=True)
    assert again.state == "success"
    synced = {d["properties"].get("woo_order_id") for d in hubspot_records(seeded, "deals", ["woo_order_id"])}
    assert str(bad["id"]) in synced, "the fixed order was not loaded"
    released = staging_rows(staging_url, "select released_run_id from quarantine where object_type = "
                                         f"'woocommerce.orders' and source_key = '{bad['id']}'")
    assert [r.released_run_id for r in released] == [again.run_id]
    assert_everything_once(seeded, staging_url)


def test_too_many_bad_records_fail_the_run_before_anything_is_loaded(seeded: Sandbox, staging_url: str) -> None:
    bad = {str(order_in(seeded, "EUR")["id"]), str(order_in(seeded, "JPY")["id"])}
    run = run_dag(datetime.now(UTC).replace(second=0, microsecond=0),
                  {"quarantine_floor": 1, "max_quarantine_share": 0.01}, scheduled=True)
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["validate_orders"] == "failed"
    assert states["load_deals"] == "upstream_failed"
    assert states["commit_high_water_marks"] == "upstream_failed"
    assert states["report_run"] == "success", "the report runs even when the sync failed"
    quarantined = {r.source_key for r in staging_rows(staging_url, "select source_key from quarantine where "
                                                                   "object_type = 'woocommerce.orders'")}
    assert bad <= quarantined
    tries = {ti.task_id: ti.try_number for ti in run.get_task_instances()}
    assert tries["validate_orders"] == 1, "a data-quality failure is not retried (the same data fails again)"
    assert not staging_rows(staging_url, "select * from sync_state where stream = 'woocommerce.orders'"), \
        "a failed run must not move the high-water mark"


def test_fault_storm_then_retry_ends_with_every_record_once(seeded: Sandbox, staging_url: str) -> None:
    seeded.hubspot.set_faults(
        {"kind": "status", "status": 429, "rate": 0.2, "path": "/crm/v3/objects", "seed": 1, "retry_after": 0.2},
        {"kind": "status", "status": 503, "rate": 0.15, "path": "/crm/v", "seed": 2},
        {"kind": "drop", "rate": 0.1, "path": "/batch/", "seed": 3},
    )
    seeded.woo.set_faults(
        {"kind": "status", "status": 503, "rate": 0.2, "path": "/wp-json/wc/v3/", "seed": 4},
        {"kind": "drop", "rate": 0.1, "path": "/wp-json/wc/v3/", "seed": 5},
    )
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    first = run_dag(start, scheduled=True)
    injected = sum(r["injected"] for r in seeded.hubspot.stats()["faults"] + seeded.woo.stats()["faults"])
    assert injected > 10, "the storm did not happen"
    seeded.hubspot.clear_faults()
    seeded.woo.clear_faults()
    make_dead_letters_due(staging_url)
    second = run_dag(start + timedelta(minutes=15), scheduled=True)
    assert second.state == "success", f"first run {first.state}, second run {second.state}"
    assert_everything_once(seeded, staging_url)
    open_letters = staging_rows(staging_url, "select * from dead_letter where state != 'resolved'")
    assert open_letters == [], open_letters


_KILLABLE_RUN = r"""
import sys
from datetime import datetime
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).dags["woocommerce_to_hubspot"]
dag.test(logical_date=datetime.fromisoformat(sys.argv[2]), run_conf={"full_resync": True})
"""


def test_worker_killed_mid_load_then_rerun_leaves_no_duplicate_and_nothing_missing(
        seeded: Sandbox, staging_url: str) -> None:
    """Kill -9 the process running the DAG while HubSpot line items are being written (each line-item batch
    call is slowed down; the sandbox still applies the one in flight after the client is gone), then run
    the DAG again."""
    seeded.hubspot.set_faults({"kind": "slow", "delay_seconds": 3.0, "path": "/objects/line_items/batch",
                               "rate": 1.0})
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE_RUN, str(PROJECT_ROOT / "dags" / "woocommerce_to_hubspot.py"),
         start.isoformat()], env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        # The sandbox counts a request when it answers: deals written means line items are next.
        while not any("/objects/deals/batch" in route for route in seeded.hubspot.stats()["routes"]):
            assert process.poll() is None, "the run ended before it reached the deals load"
            assert time.monotonic() < deadline, "the run never reached the deals load"
            time.sleep(0.05)
        time.sleep(1.0)  # a line-item batch is in flight now
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    time.sleep(3.5)  # let the sandbox finish applying the call the dead worker made
    seeded.hubspot.clear_faults()
    rerun = run_dag(start + timedelta(minutes=15))  # a manual run: it finishes what the killed one staged
    assert rerun.state == "success"
    assert_everything_once(seeded, staging_url)
