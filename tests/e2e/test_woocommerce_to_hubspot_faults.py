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
    STORE,
    hubspot_records,
    run_dag,
    staging_rows,
    woo,
    woo_all,
)

# Failure handling does not depend on the staging engine: these run on SQLite only (the happy paths run on both).
pytestmark = [pytest.mark.usefixtures("airflow_db", "gx_root"),
              pytest.mark.parametrize("staging_url", ["sqlite"], indirect=True)]


@pytest.fixture
def seeded(sandbox: Sandbox) -> Sandbox:
    sandbox.woo.reset(**STORE)
    sandbox.hubspot.reset(**STORE)
    yield sandbox
    sandbox.woo.clear_faults()
    sandbox.hubspot.clear_faults()


def assert_everything_once(sandbox: Sandbox, staging_url: str) -> None:
    """Every WooCommerce order, customer and live product is in HubSpot exactly once (quarantined aside)."""
    quarantined = {(r.object_type, r.source_key) for r in staging_rows(
        staging_url, "select object_type, source_key from quarantine")}
    orders = woo_all(sandbox, "orders") + woo_all(sandbox, "orders", status="trash")
    deals = Counter(d["properties"].get("woo_order_id") for d in hubspot_records(sandbox, "deals", ["woo_order_id"]))
    deals.pop(None, None)
    assert set(deals) == {str(o["id"]) for o in orders} - {k for t, k in quarantined if t == "orders"}
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


def test_bad_records_are_quarantined_with_reasons_and_the_rest_is_loaded(
        seeded: Sandbox, staging_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOOHUB_MAX_QUARANTINE_SHARE", "0.5")
    no_sku = woo(seeded, "POST", "/products", json={"name": "Mystery box", "type": "simple",
                                                    "regular_price": "9.99"})
    run = run_dag(datetime.now(UTC).replace(second=0, microsecond=0))
    assert run.state == "success"
    rows = staging_rows(staging_url, "select object_type, source_key, reasons from quarantine")
    reasons = {(r.object_type, r.source_key): json.loads(r.reasons) for r in rows}
    assert ("products", str(no_sku["id"])) in reasons
    assert any("sku" in reason for reason in reasons[("products", str(no_sku["id"]))])
    synced = {p["properties"].get("woo_product_id") for p in hubspot_records(seeded, "products", ["woo_product_id"])}
    assert str(no_sku["id"]) not in synced
    assert_everything_once(seeded, staging_url)


def test_too_many_bad_records_fail_the_run_before_anything_is_loaded(
        seeded: Sandbox, staging_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOOHUB_MAX_QUARANTINE_SHARE", "0.01")
    woo(seeded, "POST", "/products", json={"name": "Mystery box", "type": "simple", "regular_price": "9.99"})
    run = run_dag(datetime.now(UTC).replace(second=0, microsecond=0))
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["validate_products"] == "failed"
    assert states["load_products"] == "upstream_failed"
    assert states["commit_high_water_marks"] == "upstream_failed"
    assert states["report_run"] == "success", "the report runs even when the sync failed"
    assert staging_rows(staging_url, "select source_key from quarantine where object_type = 'products'")
    assert not staging_rows(staging_url, "select * from sync_state where stream = 'orders'"), \
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
    first = run_dag(start)
    injected = sum(r["injected"] for r in seeded.hubspot.stats()["faults"] + seeded.woo.stats()["faults"])
    assert injected > 10, "the storm did not happen"
    seeded.hubspot.clear_faults()
    seeded.woo.clear_faults()
    make_dead_letters_due(staging_url)
    second = run_dag(start + timedelta(minutes=15))
    assert second.state == "success", f"first run {first.state}, second run {second.state}"
    assert_everything_once(seeded, staging_url)
    open_letters = staging_rows(staging_url, "select * from dead_letter where resolved_at is null")
    assert open_letters == [], open_letters


_KILLABLE_RUN = r"""
import sys
from datetime import datetime
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).dags["woocommerce_to_hubspot"]
dag.test(logical_date=datetime.fromisoformat(sys.argv[2]))
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
    assert not staging_rows(staging_url, "select * from sync_state where stream = 'orders'"), \
        "the killed run got as far as committing"
    rerun = run_dag(start + timedelta(minutes=15))
    assert rerun.state == "success"
    assert_everything_once(seeded, staging_url)
