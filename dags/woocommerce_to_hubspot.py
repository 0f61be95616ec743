"""
### WooCommerce → HubSpot

Within seconds of a WooCommerce webhook, and every 15 minutes (`WOOHUB_W2H_CRON`) as the safety net, syncs
the WooCommerce store into the HubSpot portal:
**products and variations** → HubSpot products, **customers and guest buyers** → contacts,
**orders** → deals with line items and their contact, each written once and kept up to date.

**Webhook-triggered runs.** The store's webhooks (`order.*`, `customer.*`, `product.*`) reach
`POST /woohub/webhooks/woocommerce` (signature checked), which records one event per changed record and
emits an event of the Asset `woohub://woocommerce/changes` — this DAG's schedule is that Asset *or* the
cron. Such a run (type `asset_triggered`) claims the pending webhook events, reads exactly those records by
id (plus the customers and products of its orders that staging lacks), never walks a window and never
moves a high-water mark. Events arriving while a run is active become one more run when it ends (one
active run at a time); a run that fails before its extract staged the records leaves their events pending
for the next run. Scheduled runs claim pending events too (what a lost Asset event left).

1. `plan_run` — the window `[start − lookback, end)` from the run's data interval; a scheduled run starts
   at its high-water mark when that is earlier (catch-up after failed or skipped runs); claims dead letters
   due for a retry and (scheduled and webhook-triggered runs) the pending webhook events.
2. `check_hubspot_setup` — creates the `woo_*` custom properties if missing and checks the status → stage
   table in `include/woohub/mapping/woocommerce_to_hubspot/mapping.yaml` against the portal's pipelines.
3. `extract_*` — WooCommerce changes into the staging tables (`woohub_staging` connection): the window's
   changes and the records the claimed webhook events name, by id; then those events are `staged`.
4. `validate_*` — Great Expectations suites on the run's candidates (its own records, whatever earlier runs
   staged but did not sync, claimed retries); bad rows are quarantined with the failing expectation and
   validated again when they change; more than `max(quarantine_floor, max_quarantine_share × total)` bad
   rows fail the task.
5. `load_*` — HubSpot batch upserts in dependency order under a lock per object; unchanged records cost no
   API call; failed records go to the dead-letter table and are retried by later runs with backoff.
6. `commit_high_water_marks` (scheduled runs only), then `report_run` (counts per object, quarantine, dead
   letters, API calls; alerts once per exhausted dead letter).

**Manual runs and backfills** sync their own data interval ("Specify Manually" in the trigger form, or
`airflow backfill create --dag-id woocommerce_to_hubspot --from-date … --to-date …`) and never move a
high-water mark. Params: `full_resync`, `dry_run`, `recheck_quarantine`, `requeue_dead_letters`,
`max_quarantine_share`, `quarantine_floor`, and `window_start`/`window_end` to override the window of a
manual run from the CLI (`airflow dags trigger --conf`).
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import chain, dag, task, teardown

from woohub.sync import dag_support as support
from woohub.sync.dag_support import SHORT_TIMEOUT
from woohub.webhooks import WOOCOMMERCE_CHANGES

DAG_ID = os.path.basename(__file__).removesuffix(".py")


@dag(
    dag_id=DAG_ID,
    schedule=support.sync_schedule("WOOHUB_W2H_CRON", WOOCOMMERCE_CHANGES),
    doc_md=__doc__,
    tags=["woohub", "sync", "woocommerce", "hubspot"],
    params=support.sync_params(
        full_resync_description="extract everything and write every record again, even unchanged ones "
                                "(re-creates what a person archived in HubSpot)",
        dry_run_description="extract, validate and map; report what would be written; write nothing "
                            "to HubSpot",
    ),
    **support.sync_dag_settings(),
)
def woocommerce_to_hubspot() -> None:
    @task(execution_timeout=SHORT_TIMEOUT)
    def plan_run() -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import plan_run

        return support.plan_this_run(plan_run)

    @task(execution_timeout=SHORT_TIMEOUT)
    def check_hubspot_setup() -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import check_hubspot_setup

        return check_hubspot_setup(support.hubspot_hook(), dry_run=support.is_dry_run())

    @task
    def extract_orders(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import record_extract
        from woohub.woocommerce.extract import ORDERS, extract_orders

        engine = support.engine()
        result = extract_orders(support.woocommerce_hook(), engine, support.extract_window(plan), support.run_id(),
                                **support.by_id(plan, ORDERS))
        support.close_events(plan, ORDERS)
        return record_extract(engine, support.run_id(), result)

    @task
    def extract_products(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.core.runs import target_parents
        from woohub.sync.woocommerce_to_hubspot import record_extract
        from woohub.woocommerce.extract import PRODUCTS, extract_products

        engine = support.engine()
        result = extract_products(support.woocommerce_hook(), engine, support.extract_window(plan),
                                  support.run_id(), **support.by_id(plan, PRODUCTS),
                                  target_parents=target_parents(engine, support.as_run_plan(plan), PRODUCTS))
        support.close_events(plan, PRODUCTS)
        return record_extract(engine, support.run_id(), result)

    @task
    def extract_customers(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import record_extract
        from woohub.woocommerce.extract import CUSTOMERS, extract_customers

        engine = support.engine()
        full_scan = bool((support.as_run_plan(plan).extras or {}).get("customer_full_scan"))
        result = extract_customers(support.woocommerce_hook(), engine, support.extract_window(plan),
                                   support.run_id(), full_scan=full_scan, **support.by_id(plan, CUSTOMERS))
        support.close_events(plan, CUSTOMERS)
        return record_extract(engine, support.run_id(), result)

    @task
    def validate_stream(stream: str, plan: dict[str, Any], setup: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import validate_stream

        with support.bad_data_fails_at_once():
            return validate_stream(support.engine(), stream, support.as_run_plan(plan),
                                   enabled_currencies=setup["enabled_currencies"])

    @task
    def load_object(object_type: str, plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import load_object

        return load_object(support.hubspot_hook(), support.engine(), object_type, support.as_run_plan(plan))

    @task(execution_timeout=SHORT_TIMEOUT)
    def commit_high_water_marks(plan: dict[str, Any]) -> list[str]:
        from woohub.sync.woocommerce_to_hubspot import commit_high_water_marks

        return commit_high_water_marks(support.engine(), support.as_run_plan(plan))

    # A teardown: it runs whatever happened upstream, and its own outcome does not decide the run's state
    # (an all_done leaf task would mark a run with failed loads as successful).
    @teardown
    @task(execution_timeout=SHORT_TIMEOUT)
    def report_run() -> dict[str, Any]:
        from woohub.core.report import report_run

        return report_run(support.engine(), support.run_id(), DAG_ID)

    plan = plan_run()
    setup = check_hubspot_setup()
    orders = extract_orders(plan)
    products = extract_products(plan)
    customers = extract_customers(plan)
    chain(plan, setup, orders, [products, customers])

    valid_orders = validate_stream.override(task_id="validate_orders")("woocommerce.orders", plan, setup)
    valid_products = validate_stream.override(task_id="validate_products")("woocommerce.products", plan, setup)
    valid_customers = validate_stream.override(task_id="validate_customers")("woocommerce.customers", plan, setup)
    [orders, products] >> valid_orders
    products >> valid_products
    customers >> valid_customers

    load_products = load_object.override(task_id="load_products")("products", plan)
    load_contacts = load_object.override(task_id="load_contacts")("contacts", plan)
    load_deals = load_object.override(task_id="load_deals")("deals", plan)
    load_line_items = load_object.override(task_id="load_line_items")("line_items", plan)
    [valid_products, valid_orders] >> load_products
    [valid_customers, valid_orders] >> load_contacts
    [load_contacts, valid_orders] >> load_deals
    [load_deals, load_products] >> load_line_items

    committed = commit_high_water_marks(plan)
    load_line_items >> committed >> report_run()


woocommerce_to_hubspot()
