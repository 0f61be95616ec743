"""Webhook-triggered sync runs through Airflow (``dag.test()`` making an ``asset_triggered`` run, as the
scheduler does for an Asset event) against the sandboxes: a run reads exactly the records its webhook events
name, syncs them, closes the events and leaves the high-water marks alone; a run whose extract fails leaves
its events pending and the next run takes them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests.conftest import Sandbox
from tests.e2e.test_hubspot_to_woocommerce import Shop, hubspot, make_deal, orders_of_deal
from tests.e2e.test_woocommerce_to_hubspot import hubspot_records, woo

pytestmark = pytest.mark.usefixtures("airflow_db")

W2H, H2W = "woocommerce_to_hubspot", "hubspot_to_woocommerce"
MARK = datetime(2026, 1, 1, 12, 0)


@contextmanager
def _runs_created_as_asset_triggered() -> Iterator[None]:
    """Make ``dag.test()`` create the run the scheduler creates for an Asset event: run type
    ``asset_triggered``, no logical date, no data interval, triggered by an asset."""
    import airflow.models.dagrun as dagrun_module

    original = dagrun_module.get_or_create_dagrun

    def create(*, dag: Any, run_id: str, logical_date: Any, data_interval: Any, run_after: Any, conf: Any,
               triggered_by: Any, triggering_user_name: Any, start_date: Any, session: Any) -> Any:
        from airflow.models.dagrun import DagRun
        from airflow.utils.state import DagRunState
        from airflow.utils.types import DagRunTriggeredByType, DagRunType

        return dag.create_dagrun(
            run_id=DagRun.generate_run_id(run_type=DagRunType.ASSET_TRIGGERED, logical_date=None,
                                          run_after=run_after),
            logical_date=None, data_interval=None, run_after=run_after, conf=conf,
            run_type=DagRunType.ASSET_TRIGGERED, state=DagRunState.RUNNING,
            triggered_by=DagRunTriggeredByType.ASSET, triggering_user_name=None, start_date=start_date,
            session=session)

    dagrun_module.get_or_create_dagrun = create
    try:
        yield
    finally:
        dagrun_module.get_or_create_dagrun = original


def run_asset_triggered(dag_id: str) -> Any:
    """One ``asset_triggered`` run of ``dags/<dag_id>.py`` through ``dag.test()``; the DagRun."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import PROJECT_ROOT

    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / f"{dag_id}.py")).dags[dag_id]
    with _runs_created_as_asset_triggered():
        return dag.test(logical_date=None, run_after=datetime.now(UTC))


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The module's own staging database (SQLite) and GX context, migrated, with marks set long ago."""
    from tests.helpers import isolated_dag_files
    from woohub.staging import repository
    from woohub.staging.database import engine_for_url, migrate

    root = tmp_path_factory.mktemp("webhook-runs")
    with isolated_dag_files(root):
        engine = engine_for_url(f"sqlite:///{root / 'staging.db'}")
        migrate(engine)
        for stream in ("woocommerce.orders", "woocommerce.products", "hubspot.deals", "hubspot.contacts"):
            repository.set_high_water_mark(engine, stream, MARK, "earlier-run")
        yield engine
        engine.dispose()


def events(source: str, *records: tuple[str, str, str | None]) -> list[Any]:
    """Webhook events of ``source`` for ``(stream, id, parent)`` records, each its own delivery."""
    from woohub.webhooks.events import WebhookEvent

    stamp = datetime.now(UTC).strftime("%H%M%S%f")
    return [WebhookEvent(source, f"{stamp}-{n}", f"{stream.split('.')[1][:-1]}.updated", stream, record_id, parent)
            for n, (stream, record_id, parent) in enumerate(records)]


def event_states(engine: Engine) -> dict[str, list[tuple[str, str, str | None]]]:
    from woohub.staging.schema import webhook_event

    with engine.connect() as connection:
        rows = connection.execute(select(webhook_event.c.record_id, webhook_event.c.stream, webhook_event.c.state,
                                         webhook_event.c.claimed_run_id).order_by(webhook_event.c.id)).all()
    return {"rows": [(r.stream, r.record_id, r.state) for r in rows],
            "claimed": [(r.record_id, r.claimed_run_id) for r in rows]}  # type: ignore[dict-item]


def staged_by(engine: Engine, run_id: str, stream: str) -> set[str]:
    from woohub.staging import repository

    return repository.run_source_ids(engine, stream, run_id)


def marks(engine: Engine) -> dict[str, datetime | None]:
    from woohub.staging import repository

    return {s: repository.get_high_water_mark(engine, s) for s in
            ("woocommerce.orders", "woocommerce.products", "hubspot.deals", "hubspot.contacts")}


@pytest.fixture(scope="module")
def store(sandbox: Sandbox, staging: Engine) -> dict[str, Any]:
    """A small store: a simple product, a variable one with a variation, a customer; two new orders of
    hers, of which only the first is named by a webhook."""
    sandbox.hubspot.reset(empty=True)
    sandbox.woo.reset(empty=True)
    sandbox.hubspot.configure(search_index_delay_seconds=0.3)
    tee = woo(sandbox, "POST", "/products", json={"name": "Hook Tee", "type": "simple", "regular_price": "20.00",
                                                   "sku": "HTEE", "manage_stock": True, "stock_quantity": 50})
    hoodie = woo(sandbox, "POST", "/products", json={
        "name": "Hook Hoodie", "type": "variable", "sku": "HHOOD",
        "attributes": [{"name": "Size", "options": ["M", "L"], "variation": True, "visible": True}]})
    size_m = woo(sandbox, "POST", f"/products/{hoodie['id']}/variations", json={
        "regular_price": "40.00", "sku": "HHOOD-M", "manage_stock": True, "stock_quantity": 20,
        "attributes": [{"name": "Size", "option": "M"}]})
    size_l = woo(sandbox, "POST", f"/products/{hoodie['id']}/variations", json={
        "regular_price": "42.00", "sku": "HHOOD-L", "attributes": [{"name": "Size", "option": "L"}]})
    address = {"first_name": "Wendy", "last_name": "Hook", "address_1": "2 Hook Lane", "city": "Springfield",
               "postcode": "11111", "country": "US", "state": "CA", "email": "wendy@example.com"}
    wendy = woo(sandbox, "POST", "/customers", json={"email": "wendy@example.com", "first_name": "Wendy",
                                                      "last_name": "Hook", "billing": address})
    lines = [{"product_id": tee["id"], "quantity": 1},
             {"product_id": hoodie["id"], "variation_id": size_m["id"], "quantity": 1}]
    named = woo(sandbox, "POST", "/orders", json={"customer_id": wendy["id"], "status": "processing",
                                                   "billing": address, "line_items": lines})
    bystander = woo(sandbox, "POST", "/orders", json={"customer_id": wendy["id"], "status": "processing",
                                                       "billing": address, "line_items": lines[:1]})
    return {"tee": tee, "hoodie": hoodie, "size_m": size_m, "size_l": size_l, "wendy": wendy, "named": named,
            "bystander": bystander}


def test_a_webhook_triggered_run_syncs_exactly_the_named_records(sandbox: Sandbox, staging: Engine,
                                                                 store: dict[str, Any]) -> None:
    from woohub.webhooks.events import record_events

    before = marks(staging)
    recorded = record_events(staging, events("woocommerce", ("woocommerce.orders", str(store["named"]["id"]), None),
                                             ("woocommerce.products", str(store["size_l"]["id"]),
                                              str(store["hoodie"]["id"]))))
    assert recorded.new == 2 and recorded.signal
    sandbox.woo.stats(reset=True)

    run = run_asset_triggered(W2H)
    assert run.state == "success" and run.run_type == "asset_triggered"
    reads = sandbox.woo.stats()["routes"]
    # by id: the order (include, status=any), its customer (include), its products that staging lacks (the
    # simple one by id, the variation through its parent), the named variation through its parent; no walk
    assert reads == {"GET /wp-json/wc/v3/orders": 1, "GET /wp-json/wc/v3/customers": 1,
                     "GET /wp-json/wc/v3/products/{id}": 1, "GET /wp-json/wc/v3/products/{id}/variations": 2}, reads
    assert staged_by(staging, run.run_id, "woocommerce.orders") == {str(store["named"]["id"])}
    assert staged_by(staging, run.run_id, "woocommerce.customers") == {str(store["wendy"]["id"])}
    assert {str(store["tee"]["id"]), str(store["size_m"]["id"]), str(store["size_l"]["id"])} <= staged_by(
        staging, run.run_id, "woocommerce.products")
    deals = hubspot_records(sandbox, "deals", ["woo_order_id"])
    assert [d["properties"]["woo_order_id"] for d in deals] == [str(store["named"]["id"])], "the bystander synced"
    assert [row[2] for row in event_states(staging)["rows"]] == ["staged", "staged"]
    assert marks(staging) == before, "a webhook-triggered run moved a mark"


def test_a_run_whose_extract_fails_leaves_its_events_to_the_next_run(sandbox: Sandbox, staging: Engine,
                                                                     store: dict[str, Any]) -> None:
    from woohub.webhooks.events import pending_count, record_events

    woo(sandbox, "PUT", f"/orders/{store['bystander']['id']}", json={"status": "completed"})
    record_events(staging, events("woocommerce", ("woocommerce.orders", str(store["bystander"]["id"]), None)))
    sandbox.woo.set_faults({"kind": "status", "status": 401, "method": "GET", "path": r"/orders"})
    try:
        failed = run_asset_triggered(W2H)
    finally:
        sandbox.woo.clear_faults()
    assert failed.state == "failed"
    assert pending_count(staging, "woocommerce") == 1
    assert event_states(staging)["claimed"][-1] == (str(store["bystander"]["id"]), failed.run_id)

    retried = run_asset_triggered(W2H)
    assert retried.state == "success"
    assert pending_count(staging, "woocommerce") == 0
    assert event_states(staging)["claimed"][-1] == (str(store["bystander"]["id"]), retried.run_id)
    deals = {d["properties"]["woo_order_id"] for d in hubspot_records(sandbox, "deals", ["woo_order_id"])}
    assert deals == {str(store["named"]["id"]), str(store["bystander"]["id"])}


def test_a_deal_webhook_makes_the_order_without_a_search(sandbox: Sandbox, staging: Engine,
                                                         store: dict[str, Any]) -> None:
    from woohub.webhooks.events import pending_count, record_events

    before = marks(staging)
    products = hubspot(sandbox, "GET", "/crm/v3/objects/products",
                       params={"limit": 100, "properties": "woo_product_id"})["results"]
    contacts = hubspot(sandbox, "GET", "/crm/v3/objects/contacts",
                       params={"limit": 100, "properties": "woo_customer_id"})["results"]
    shop = Shop(store["tee"], store["hoodie"], store["size_m"], {}, store["wendy"], {},
                {int(p["properties"]["woo_product_id"]): p["id"] for p in products},
                {int(c["properties"]["woo_customer_id"]): c["id"] for c in contacts
                 if c["properties"].get("woo_customer_id")})
    deal_id = make_deal(sandbox, shop, [(store["tee"], 2, "20.00")], amount="40.00")
    record_events(staging, events("hubspot", ("hubspot.deals", deal_id, None)))
    sandbox.hubspot.stats(reset=True)

    run = run_asset_triggered(H2W)
    assert run.state == "success"
    assert len(orders_of_deal(sandbox, deal_id)) == 1
    routes = sandbox.hubspot.stats()["routes"]
    assert not [r for r in routes if "search" in r], f"a webhook-triggered run searched: {routes}"
    assert staged_by(staging, run.run_id, "hubspot.deals") == {deal_id}
    assert pending_count(staging, "hubspot") == 0
    assert marks(staging) == before


def test_plans_claim_on_scheduled_and_webhook_runs_only_and_keep_a_flash_sale_out_of_xcom(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from woohub.core import runs
    from woohub.staging.database import engine_for_url, migrate
    from woohub.sync.woocommerce_to_hubspot import plan_run
    from woohub.webhooks.events import record_events

    engine = engine_for_url(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate(engine)
    monkeypatch.setattr(runs, "TARGETS_IN_PLAN", 5)  # (2,000 in earnest: a flash sale of 10,000 orders)
    sale = [("woocommerce.orders", str(1000 + n), None) for n in range(runs.TARGETS_IN_PLAN + 1)]
    record_events(engine, events("woocommerce", *sale, ("woocommerce.products", "77", "70")))
    now = datetime(2026, 12, 1, 12, 0)
    manual = plan_run(engine, "manual__1", "manual", now - timedelta(minutes=15), now, {}, now=now)
    assert manual.targets is None and manual.events_upto is None
    flash = plan_run(engine, "asset_triggered__1", "asset_triggered", None, None, {}, now=now)
    assert not flash.walks_window and not flash.moves_marks and not flash.extras["customer_full_scan"]
    assert flash.targets_in_staging and flash.targets == {"woocommerce.orders": [], "woocommerce.products": []}
    assert runs.target_ids(engine, flash, "woocommerce.orders") == [r[1] for r in sale]
    assert runs.target_parents(engine, flash, "woocommerce.products") == {"77": "70"}
    assert runs.close_events(engine, flash, ["woocommerce.orders"]) == len(sale)

    record_events(engine, events("woocommerce", ("woocommerce.customers", "5", None)))
    scheduled = plan_run(engine, "scheduled__1", "scheduled", now - timedelta(minutes=15), now, {}, now=now)
    assert scheduled.walks_window and scheduled.moves_marks and not scheduled.targets_in_staging
    assert scheduled.targets == {"woocommerce.products": ["77"], "woocommerce.customers": ["5"]}
    assert scheduled.target_parents == {"woocommerce.products": {"77": "70"}}
    assert runs.close_events(engine, flash, ["woocommerce.products"]) == 0, "the scheduled run took it over"
    assert runs.close_events(engine, scheduled, ["woocommerce.products", "woocommerce.customers"]) == 2
    engine.dispose()


def test_the_cron_half_of_the_schedule_still_backfills(store: dict[str, Any]) -> None:
    """``airflow backfill create --dry-run`` on the serialized DAG (the earlier runs stored it): one run per
    cron interval, as before the Asset joined the schedule."""
    import os
    import subprocess
    import sys

    airflow = str(Path(sys.executable).with_name("airflow"))
    done = subprocess.run([airflow, "backfill", "create", "--dag-id", W2H, "--from-date", "2026-11-01T00:00:00",
                           "--to-date", "2026-11-01T00:59:00", "--dry-run"], capture_output=True, text=True,
                          env=os.environ, check=False, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    planned = [line.split("|")[1].strip() for line in done.stdout.splitlines() if line.startswith("| 2026-")]
    assert planned == [f"2026-11-01 00:{minute}:00+00:00" for minute in ("00", "15", "30", "45")], done.stdout
