"""
### WooCommerce → HubSpot

Every 15 minutes (`WOOHUB_W2H_CRON`), syncs the WooCommerce store into the HubSpot portal:
**products and variations** → HubSpot products, **customers and guest buyers** → contacts,
**orders** → deals with line items and their contact, each written once and kept up to date.

1. `plan_run` — the window `[start − lookback, end)` from the run's data interval; a scheduled run starts
   at its high-water mark when that is earlier (catch-up after failed or skipped runs); claims dead letters
   due for a retry.
2. `check_hubspot_setup` — creates the `woo_*` custom properties if missing and checks the status → stage
   table in `include/woohub/mapping/woocommerce_to_hubspot/mapping.yaml` against the portal's pipelines.
3. `extract_*` — WooCommerce changes into the staging tables (`woohub_staging` connection).
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
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, chain, dag, get_current_context, task, teardown

from woohub.core.alerts import on_task_failure
from woohub.core.runs import DEFAULT_MAX_QUARANTINE_SHARE, DEFAULT_QUARANTINE_FLOOR

DAG_ID = os.path.basename(__file__).removesuffix(".py")
_HUBSPOT_CONN_ID = os.getenv("WOOHUB_HUBSPOT_CONN_ID", "hubspot_default")
_WOOCOMMERCE_CONN_ID = os.getenv("WOOHUB_WOOCOMMERCE_CONN_ID", "woocommerce_default")
_STAGING_CONN_ID = os.getenv("WOOHUB_STAGING_CONN_ID", "woohub_staging")
_SCHEDULE = os.getenv("WOOHUB_W2H_CRON", "*/15 * * * *")
_RETRY_DELAY = timedelta(seconds=float(os.getenv("WOOHUB_RETRY_DELAY_SECONDS", "60")))
_TASK_TIMEOUT = timedelta(minutes=float(os.getenv("WOOHUB_TASK_TIMEOUT_MINUTES", "120")))
_SHORT_TIMEOUT = timedelta(minutes=10)


def _run_id() -> str:
    return get_current_context()["run_id"]


def _engine() -> Any:
    from woohub.staging.database import staging_engine

    return staging_engine(_STAGING_CONN_ID)


def _hubspot() -> Any:
    """The HubSpot hook; its rate-limit budget is shared through the staging database by every task and
    worker (unless the connection or ``WOOHUB_RATE_LIMIT_STORE`` says otherwise)."""
    from woohub.hubspot import HubSpotHook

    return HubSpotHook(_HUBSPOT_CONN_ID, rate_limit_store=_STAGING_CONN_ID)


def _plan(plan: dict[str, Any]) -> Any:
    from woohub.core.runs import RunPlan

    return RunPlan.from_dict(plan)


def _window(plan: dict[str, Any]) -> Any:
    from woohub.sync.woocommerce_to_hubspot import extract_window

    return extract_window(_plan(plan))


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
                  "retries": 3, "retry_delay": _RETRY_DELAY, "retry_exponential_backoff": True,
                  "execution_timeout": _TASK_TIMEOUT},
    params={
        "full_resync": Param(False, type="boolean", title="Full resync",
                             description="extract everything and write every record again, even unchanged ones "
                                         "(re-creates what a person archived in HubSpot)"),
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="extract, validate and map; report what would be written; write nothing "
                                     "to HubSpot"),
        "recheck_quarantine": Param(False, type="boolean", title="Recheck quarantine",
                                    description="validate every quarantined record again"),
        "requeue_dead_letters": Param(False, type="boolean", title="Requeue exhausted dead letters",
                                      description="open exhausted dead letters again with fresh attempts"),
        "max_quarantine_share": Param(DEFAULT_MAX_QUARANTINE_SHARE, type="number", minimum=0, maximum=1,
                                      title="Max quarantine share",
                                      description="a stream fails when more than max(floor, share × total) "
                                                  "records are quarantined"),
        "quarantine_floor": Param(DEFAULT_QUARANTINE_FLOOR, type="integer", minimum=0, title="Quarantine floor",
                                  description="bad records a stream may always have without failing"),
        "window_start": Param(None, type=["null", "string"], format="date-time", title="Window start (UTC)",
                              description="overrides the data interval start of a manual run"),
        "window_end": Param(None, type=["null", "string"], format="date-time", title="Window end (UTC)",
                            description="overrides the data interval end of a manual run"),
    },
)
def woocommerce_to_hubspot() -> None:
    @task(execution_timeout=_SHORT_TIMEOUT)
    def plan_run() -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import plan_run

        context = get_current_context()
        run_type = str(getattr(context["dag_run"].run_type, "value", context["dag_run"].run_type))
        return plan_run(_engine(), context["run_id"], run_type, context.get("data_interval_start"),
                        context.get("data_interval_end"), context["params"]).as_dict()

    @task(execution_timeout=_SHORT_TIMEOUT)
    def check_hubspot_setup() -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import check_hubspot_setup

        return check_hubspot_setup(_hubspot(),
                                   dry_run=bool(get_current_context()["params"].get("dry_run")))

    @task
    def extract_orders(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import record_extract
        from woohub.woocommerce import WooCommerceHook
        from woohub.woocommerce.extract import extract_orders

        engine = _engine()
        result = extract_orders(WooCommerceHook(_WOOCOMMERCE_CONN_ID), engine, _window(plan), _run_id())
        return record_extract(engine, _run_id(), result)

    @task
    def extract_products(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import record_extract
        from woohub.woocommerce import WooCommerceHook
        from woohub.woocommerce.extract import extract_products

        engine = _engine()
        result = extract_products(WooCommerceHook(_WOOCOMMERCE_CONN_ID), engine, _window(plan), _run_id())
        return record_extract(engine, _run_id(), result)

    @task
    def extract_customers(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import record_extract
        from woohub.woocommerce import WooCommerceHook
        from woohub.woocommerce.extract import extract_customers

        run_plan, engine = _plan(plan), _engine()
        result = extract_customers(WooCommerceHook(_WOOCOMMERCE_CONN_ID), engine, _window(plan), _run_id(),
                                   full_scan=bool((run_plan.extras or {}).get("customer_full_scan")))
        return record_extract(engine, _run_id(), result)

    @task
    def validate_stream(stream: str, plan: dict[str, Any], setup: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from woohub.core.quality import DataQualityError
        from woohub.sync.woocommerce_to_hubspot import validate_stream

        try:
            return validate_stream(_engine(), stream, _plan(plan), enabled_currencies=setup["enabled_currencies"])
        except DataQualityError as error:  # the same data fails the same way: no retries
            raise AirflowFailException(str(error)) from error

    @task
    def load_object(object_type: str, plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.woocommerce_to_hubspot import load_object

        return load_object(_hubspot(), _engine(), object_type, _plan(plan))

    @task(execution_timeout=_SHORT_TIMEOUT)
    def commit_high_water_marks(plan: dict[str, Any]) -> list[str]:
        from woohub.sync.woocommerce_to_hubspot import commit_high_water_marks

        return commit_high_water_marks(_engine(), _plan(plan))

    # A teardown: it runs whatever happened upstream, and its own outcome does not decide the run's state
    # (an all_done leaf task would mark a run with failed loads as successful).
    @teardown
    @task(execution_timeout=_SHORT_TIMEOUT)
    def report_run() -> dict[str, Any]:
        from woohub.core.report import report_run

        return report_run(_engine(), _run_id(), DAG_ID)

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
