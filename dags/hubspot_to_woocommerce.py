"""
### HubSpot → WooCommerce

Every 15 minutes (`WOOHUB_H2W_CRON`), brings the sales team's changes in HubSpot into the WooCommerce store:
**closed-won deals** (upsell, cross-sell) become **orders** after the checks WooCommerce's API does not make,
and **contact corrections** (email, names, phone, address) reach the linked **customers**.

1. `plan_run` — the window `[start − lookback, end)` from the run's data interval (catch-up from the
   high-water mark on scheduled runs), claimed dead letters, and the deals rejected earlier (rechecked every run).
2. `check_setup` — the `woo_*` HubSpot properties, the store currency.
3. `extract_deals`, `extract_contacts` — HubSpot search on the modification time into the staging tables,
   with the deals' line items, products and contacts through batch reads.
4. `validate_deals`, `validate_contacts` — Great Expectations suites; bad rows are quarantined.
5. `sync_contacts` — changed fields of linked contacts → their customers (field ownership and conflicts in
   `include/woohub/mapping/hubspot_to_woocommerce/mapping.yaml`, conflicts in the `sync_conflict` table).
6. `sync_deals` — qualifying deals → checked → exactly one order each; `woo_sync_status`, `woo_sync_message`
   and `woo_order_id` written back to the deal. A rejected deal says why on the deal and goes through by
   itself once the reason is gone (e.g. a restock).
7. `commit_high_water_marks` (scheduled runs only), then `report_run`.

Manual runs and backfills (`airflow backfill create --dag-id hubspot_to_woocommerce …`) sync their own data
interval and never move a high-water mark. Params as in `woocommerce_to_hubspot`.
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
_SCHEDULE = os.getenv("WOOHUB_H2W_CRON", "*/15 * * * *")
_RETRY_DELAY = timedelta(seconds=float(os.getenv("WOOHUB_RETRY_DELAY_SECONDS", "60")))
_TASK_TIMEOUT = timedelta(minutes=float(os.getenv("WOOHUB_TASK_TIMEOUT_MINUTES", "120")))
_SHORT_TIMEOUT = timedelta(minutes=10)


def _run_id() -> str:
    return get_current_context()["run_id"]


def _engine() -> Any:
    from woohub.staging.database import staging_engine

    return staging_engine(_STAGING_CONN_ID)


def _hubspot() -> Any:
    from woohub.hubspot import HubSpotHook

    return HubSpotHook(_HUBSPOT_CONN_ID, rate_limit_store=_STAGING_CONN_ID)


def _woocommerce() -> Any:
    from woohub.woocommerce import WooCommerceHook

    return WooCommerceHook(_WOOCOMMERCE_CONN_ID)


def _plan(plan: dict[str, Any]) -> Any:
    from woohub.core.runs import RunPlan

    return RunPlan.from_dict(plan)


def _window(plan: dict[str, Any]) -> Any:
    from woohub.core.extract import ExtractWindow

    run_plan = _plan(plan)
    return ExtractWindow(start=run_plan.window_start, end=run_plan.window_end, full=run_plan.full)


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable(_SCHEDULE, timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=10,
    doc_md=__doc__,
    tags=["woohub", "sync", "hubspot", "woocommerce"],
    default_args={"owner": "data-team", "on_failure_callback": on_task_failure,
                  "retries": 3, "retry_delay": _RETRY_DELAY, "retry_exponential_backoff": True,
                  "execution_timeout": _TASK_TIMEOUT},
    params={
        "full_resync": Param(False, type="boolean", title="Full resync",
                             description="extract every deal and contact and compare them all again"),
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="extract, validate and check; report what would be written; write nothing "
                                     "to WooCommerce or HubSpot"),
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
def hubspot_to_woocommerce() -> None:
    @task(execution_timeout=_SHORT_TIMEOUT)
    def plan_run() -> dict[str, Any]:
        from woohub.sync.hubspot_to_woocommerce import plan_run

        context = get_current_context()
        run_type = str(getattr(context["dag_run"].run_type, "value", context["dag_run"].run_type))
        return plan_run(_engine(), context["run_id"], run_type, context.get("data_interval_start"),
                        context.get("data_interval_end"), context["params"]).as_dict()

    @task(execution_timeout=_SHORT_TIMEOUT)
    def check_setup() -> dict[str, Any]:
        from woohub.sync.hubspot_to_woocommerce import check_setup

        return check_setup(_hubspot(), _woocommerce(), dry_run=bool(get_current_context()["params"].get("dry_run")))

    @task
    def extract_deals(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.hubspot.extract import extract_deals

        engine = _engine()
        result = extract_deals(_hubspot(), engine, _window(plan), _run_id(),
                               include_ids=(_plan(plan).extras or {}).get("recheck_deals") or [])
        return _recorded(engine, result)

    @task
    def extract_contacts(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.hubspot.extract import extract_contacts

        engine = _engine()
        return _recorded(engine, extract_contacts(_hubspot(), engine, _window(plan), _run_id()))

    def _recorded(engine: Any, result: Any) -> dict[str, Any]:
        from woohub.core.run_stats import record_counts

        record_counts(engine, _run_id(), result.stream.replace(".", "_") + "_extract", extracted=result.staged,
                      api_calls=result.api_calls)
        return result.as_dict()

    @task
    def validate_stream(stream: str, plan: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from woohub.core.quality import DataQualityError
        from woohub.sync.hubspot_to_woocommerce import validate_stream

        try:
            return validate_stream(_engine(), stream, _plan(plan))
        except DataQualityError as error:  # the same data fails the same way: no retries
            raise AirflowFailException(str(error)) from error

    @task
    def sync_contacts(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.hubspot_to_woocommerce import sync_contacts

        return sync_contacts(_hubspot(), _woocommerce(), _engine(), _plan(plan))

    @task
    def sync_deals(plan: dict[str, Any], setup: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.hubspot_to_woocommerce import sync_deals

        return sync_deals(_hubspot(), _woocommerce(), _engine(), _plan(plan), setup)

    @task(execution_timeout=_SHORT_TIMEOUT)
    def commit_high_water_marks(plan: dict[str, Any]) -> list[str]:
        from woohub.sync.hubspot_to_woocommerce import commit_high_water_marks

        return commit_high_water_marks(_engine(), _plan(plan))

    @teardown
    @task(execution_timeout=_SHORT_TIMEOUT)
    def report_run() -> dict[str, Any]:
        from woohub.core.report import report_run

        return report_run(_engine(), _run_id(), DAG_ID)

    plan = plan_run()
    setup = check_setup()
    deals = extract_deals(plan)
    contacts = extract_contacts(plan)
    chain(plan, setup, [deals, contacts])
    valid_deals = validate_stream.override(task_id="validate_deals")("hubspot.deals", plan)
    valid_contacts = validate_stream.override(task_id="validate_contacts")("hubspot.contacts", plan)
    deals >> valid_deals
    [deals, contacts] >> valid_contacts
    synced_contacts = sync_contacts(plan)
    synced_deals = sync_deals(plan, setup)
    [valid_contacts, valid_deals] >> synced_contacts >> synced_deals
    committed = commit_high_water_marks(plan)
    synced_deals >> committed >> report_run()


hubspot_to_woocommerce()
