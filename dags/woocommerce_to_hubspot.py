"""
### WooCommerce → HubSpot

Every 15 minutes (`WOOHUB_W2H_CRON`), syncs the WooCommerce store into the HubSpot portal:
**products and variations** → HubSpot products, **customers and guest buyers** → contacts,
**orders** → deals with line items and their contact, each written once and kept up to date.

1. `plan_run` — the window `[start − lookback, end)` from the run's data interval (or `params`), caught
   up to the orders high-water mark after skipped or failed runs; claims dead letters due for a retry.
2. `check_hubspot_setup` — creates the `woo_*` custom properties if missing and checks the status → stage
   table in `include/woohub/mapping/woocommerce_to_hubspot.yaml` against the portal's pipelines.
3. `extract_*` — WooCommerce changes into the staging tables (`woohub_staging` connection).
4. `validate_*` — Great Expectations suites on the staged rows; bad rows are quarantined with the failing
   expectation and not loaded; too many bad rows fail the task (`WOOHUB_MAX_QUARANTINE_SHARE`).
5. `load_*` — HubSpot batch upserts in dependency order; unchanged records cost no API call; failed
   records go to the dead-letter table and are retried by later runs with backoff.
6. `commit_high_water_marks`, then `report_run` (counts per object, quarantine, dead letters, API calls).

**Manual runs / backfills**: trigger with `{"full_resync": true}` or
`{"window_start": "2026-11-01T00:00:00", "window_end": "2026-11-02T00:00:00"}` (UTC), or
`airflow backfill create --dag-id woocommerce_to_hubspot --from-date … --to-date …`.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, chain, dag, get_current_context, task, teardown

from woohub.core.alerts import on_task_failure

DAG_ID = os.path.basename(__file__).removesuffix(".py")
_HUBSPOT_CONN_ID = os.getenv("WOOHUB_HUBSPOT_CONN_ID", "hubspot_default")
_WOOCOMMERCE_CONN_ID = os.getenv("WOOHUB_WOOCOMMERCE_CONN_ID", "woocommerce_default")
_STAGING_CONN_ID = os.getenv("WOOHUB_STAGING_CONN_ID", "woohub_staging")
_SCHEDULE = os.getenv("WOOHUB_W2H_CRON", "*/15 * * * *")
_RETRY_DELAY = timedelta(seconds=float(os.getenv("WOOHUB_RETRY_DELAY_SECONDS", "60")))


def _run_id() -> str:
    return get_current_context()["run_id"]


def _engine() -> Any:
    from woohub.staging.database import staging_engine

    return staging_engine(_STAGING_CONN_ID)


def _plan(plan: dict[str, Any]) -> Any:
    from woohub.sync.woocommerce_to_hubspot import RunPlan

    return RunPlan(**plan)


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable(_SCHEDULE, timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=10,
    doc_md=__doc__,
    tags=["woohub", "sync", "woocommerce", "hubspot"],
    default_args={"owner": "data-team", "on_failure_callback": on_task_failure,
                  "retries": 3, "retry_delay": _RETRY_DELAY,
                  "retry_exponential_backoff": True},
    params={
        "full_resync": Param(False, type="boolean", description="extract everything, not just the window"),
        "window_start": Param(None, type=["null", "string"], description="UTC ISO start of a manual window"),
        "window_end": Param(None, type=["null", "string"], description="UTC ISO end of a manual window"),
    },
)
def woocommerce_to_hubspot() -> None:
    @task
    def plan_run() -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import plan_run

        context = get_current_context()
        return plan_run(_engine(), context["run_id"], context.get("data_interval_start"),
                        context.get("data_interval_end"), context["params"]).as_dict()

    @task
    def check_hubspot_setup() -> list[str]:
        from woohub.hubspot import HubSpotHook
        from woohub.sync.woocommerce_to_hubspot import check_hubspot_setup

        return check_hubspot_setup(HubSpotHook(_HUBSPOT_CONN_ID))

    @task
    def extract_orders(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import record_extract
        from woohub.woocommerce import WooCommerceHook
        from woohub.woocommerce.extract import extract_orders

        engine = _engine()
        result = extract_orders(WooCommerceHook(_WOOCOMMERCE_CONN_ID), engine, _plan(plan).window, _run_id())
        return record_extract(engine, _run_id(), result)

    @task
    def extract_products(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import record_extract
        from woohub.woocommerce import WooCommerceHook
        from woohub.woocommerce.extract import extract_products

        engine = _engine()
        result = extract_products(WooCommerceHook(_WOOCOMMERCE_CONN_ID), engine, _plan(plan).window, _run_id())
        return record_extract(engine, _run_id(), result)

    @task
    def extract_customers(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import record_extract
        from woohub.woocommerce import WooCommerceHook
        from woohub.woocommerce.extract import extract_customers

        run_plan, engine = _plan(plan), _engine()
        result = extract_customers(WooCommerceHook(_WOOCOMMERCE_CONN_ID), engine, run_plan.window, _run_id(),
                                   full_scan=run_plan.customer_full_scan)
        return record_extract(engine, _run_id(), result)

    @task
    def validate_stream(stream: str) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import validate_stream

        return validate_stream(_engine(), stream, _run_id())

    @task
    def load_object(object_type: str) -> dict[str, Any]:
        from woohub.hubspot import HubSpotHook
        from woohub.sync.woocommerce_to_hubspot import load_object

        return load_object(HubSpotHook(_HUBSPOT_CONN_ID), _engine(), object_type, _run_id())

    @task
    def commit_high_water_marks(plan: dict[str, Any]) -> None:
        from woohub.sync.woocommerce_to_hubspot import commit_high_water_marks

        commit_high_water_marks(_engine(), _plan(plan))

    # A teardown: it runs whatever happened upstream, and its own outcome does not decide the run's state
    # (an all_done leaf task would mark a run with failed loads as successful).
    @teardown
    def report_run() -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import report_run

        return report_run(_engine(), _run_id())

    plan = plan_run()
    setup = check_hubspot_setup()
    orders = extract_orders(plan)
    products = extract_products(plan)
    customers = extract_customers(plan)
    chain(plan, setup, orders, [products, customers])

    valid_orders = validate_stream.override(task_id="validate_orders")("orders")
    valid_products = validate_stream.override(task_id="validate_products")("products")
    valid_customers = validate_stream.override(task_id="validate_customers")("customers")
    [orders, products] >> valid_orders
    products >> valid_products
    customers >> valid_customers

    load_products = load_object.override(task_id="load_products")("products")
    load_contacts = load_object.override(task_id="load_contacts")("contacts")
    load_deals = load_object.override(task_id="load_deals")("deals")
    load_line_items = load_object.override(task_id="load_line_items")("line_items")
    [valid_products, valid_orders] >> load_products
    [valid_customers, valid_orders] >> load_contacts
    [load_contacts, valid_orders] >> load_deals
    [load_deals, load_products] >> load_line_items

    committed = commit_high_water_marks(plan)
    load_line_items >> committed >> report_run()


woocommerce_to_hubspot()
