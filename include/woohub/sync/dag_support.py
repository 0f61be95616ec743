"""What the two sync DAGs (``dags/woocommerce_to_hubspot.py``, ``dags/hubspot_to_woocommerce.py``) share: the
connection ids, the DAG settings and default task arguments, the trigger-form params, and the factories
their tasks build the staging engine, the API hooks and the run plan with.

Importing this module reads only environment variables: Airflow, the hooks and the database are imported
inside the functions (the DAG processor parses every DAG file every few seconds; a DAG file must not
connect to anything or pull in heavy modules while it is parsed, and modules under ``include/`` stay
importable without Airflow)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from woohub.core.runs import DEFAULT_MAX_QUARANTINE_SHARE, DEFAULT_QUARANTINE_FLOOR

if TYPE_CHECKING:
    from airflow.sdk import AssetOrTimeSchedule, Param
    from sqlalchemy import Engine

    from woohub.core.extract import ExtractWindow
    from woohub.core.runs import RunPlan
    from woohub.hubspot import HubSpotHook
    from woohub.woocommerce import WooCommerceHook

HUBSPOT_CONN_ID = os.getenv("WOOHUB_HUBSPOT_CONN_ID", "hubspot_default")
WOOCOMMERCE_CONN_ID = os.getenv("WOOHUB_WOOCOMMERCE_CONN_ID", "woocommerce_default")
STAGING_CONN_ID = os.getenv("WOOHUB_STAGING_CONN_ID", "woohub_staging")
#: the default cron of both sync DAGs (each has its own variable to change it)
DEFAULT_CRON = "*/15 * * * *"
#: the execution timeout of the small tasks (planning, setup checks, high-water marks, the report)
SHORT_TIMEOUT = timedelta(minutes=10)


# ------------------------------------------------------------------------------------ the DAG itself


def sync_schedule(cron_variable: str, changes_asset: str, default: str = DEFAULT_CRON) -> AssetOrTimeSchedule:
    """Runs on a UTC cron with real data intervals (the safety net; its runs are backfillable), its cron from
    the environment variable ``cron_variable`` (else ``default``, :data:`DEFAULT_CRON` unless given), and on
    every event of the Asset ``changes_asset`` (a source system's changes, emitted by the webhook receiver,
    :mod:`woohub.webhooks`): those runs have the run type ``asset_triggered`` and no data interval.

    How Airflow (3.3) turns Asset events into runs: each event queues the DAG (one queue row per asset and
    DAG, however many events); the scheduler creates ONE run for the queue, which consumes every event since
    the DAG's previous asset-triggered run. While a run of the DAG is queued or running
    (``max_active_runs=1``) the scheduler defers: events keep arriving in the same queue row and become one
    more run when the active one ends. So a burst costs at most the running run plus one."""
    from airflow.sdk import Asset, AssetOrTimeSchedule, CronDataIntervalTimetable

    name = changes_asset.split("://", 1)[-1].replace("/", "_")
    return AssetOrTimeSchedule(timetable=CronDataIntervalTimetable(os.getenv(cron_variable, default), timezone="UTC"),
                               assets=[Asset(uri=changes_asset, name=name)])


def sync_dag_settings() -> dict[str, Any]:
    """The ``@dag`` arguments both sync DAGs take alike: start date, no catch-up, one active run at a time,
    paused by Airflow after ``WOOHUB_MAX_CONSECUTIVE_FAILED_RUNS`` (default 3; 0 = never) failed runs in a row
    (which alerts, see ``plugins/woohub_alerts.py``), and :func:`default_args`."""
    return {"start_date": datetime(2026, 1, 1), "catchup": False, "max_active_runs": 1,
            "max_consecutive_failed_dag_runs": int(os.getenv("WOOHUB_MAX_CONSECUTIVE_FAILED_RUNS", "3")),
            "default_args": default_args()}  # fmt: skip


def default_args() -> dict[str, Any]:
    """The default task arguments: 3 retries with exponential backoff from ``WOOHUB_RETRY_DELAY_SECONDS``
    (default 60), an execution timeout of ``WOOHUB_TASK_TIMEOUT_MINUTES`` (default 120), and the failure
    alert. The environment is read on each call, i.e. each time a DAG file is parsed."""
    from woohub.core.alerts import on_task_failure

    return {
        "owner": "data-team",
        "on_failure_callback": on_task_failure,
        "retries": 3,
        "retry_delay": timedelta(seconds=float(os.getenv("WOOHUB_RETRY_DELAY_SECONDS", "60"))),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(minutes=float(os.getenv("WOOHUB_TASK_TIMEOUT_MINUTES", "120"))),
    }


def sync_params(*, full_resync_description: str, dry_run_description: str) -> dict[str, Param]:
    """The params of a sync DAG's trigger form (``dag_run.conf``), typed so the form validates them; the
    two whose meaning depends on the direction get that DAG's description."""
    from airflow.sdk import Param

    return {
        "full_resync": Param(False, type="boolean", title="Full resync", description=full_resync_description),
        "dry_run": Param(False, type="boolean", title="Dry run", description=dry_run_description),
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
    }


# ------------------------------------------------------------------------------------ inside a task


def run_id() -> str:
    """The id of the DAG run the current task belongs to."""
    from airflow.sdk import get_current_context

    return get_current_context()["run_id"]


def engine() -> Engine:
    """The staging database (connection :data:`STAGING_CONN_ID`)."""
    from woohub.staging.database import staging_engine

    return staging_engine(STAGING_CONN_ID)


def hubspot_hook() -> HubSpotHook:
    """The HubSpot hook; its rate-limit budget is shared through the staging database by every task and
    worker (unless the connection or ``WOOHUB_RATE_LIMIT_STORE`` says otherwise)."""
    from woohub.hubspot import HubSpotHook

    return HubSpotHook(HUBSPOT_CONN_ID, rate_limit_store=STAGING_CONN_ID)


def woocommerce_hook() -> WooCommerceHook:
    """The WooCommerce hook (connection :data:`WOOCOMMERCE_CONN_ID`)."""
    from woohub.woocommerce import WooCommerceHook

    return WooCommerceHook(WOOCOMMERCE_CONN_ID)


def as_run_plan(plan: dict[str, Any]) -> RunPlan:
    """The run plan from its XCom form (what the ``plan_run`` task returned)."""
    from woohub.core.runs import RunPlan

    return RunPlan.from_dict(plan)


def extract_window(plan: dict[str, Any]) -> ExtractWindow:
    """The extract window of a run plan in its XCom form."""
    from woohub.core.extract import ExtractWindow

    run_plan = as_run_plan(plan)
    return ExtractWindow(start=run_plan.window_start, end=run_plan.window_end, full=run_plan.full)


def by_id(plan: dict[str, Any], stream: str) -> dict[str, Any]:
    """The keyword arguments an extract of ``stream`` takes for the records the run's webhook events name:
    ``targets`` (ids) and ``walk_window`` (see :mod:`woohub.core.runs`)."""
    from woohub.core.runs import target_ids

    run_plan = as_run_plan(plan)
    return {"targets": target_ids(engine(), run_plan, stream), "walk_window": run_plan.walks_window}


def close_events(plan: dict[str, Any], *streams: str) -> int:
    """After an extract staged its records: the run's claimed webhook events of ``streams`` are staged."""
    from woohub.core.runs import close_events as close

    return close(engine(), as_run_plan(plan), streams)


def plan_this_run(plan_run: Callable[..., RunPlan]) -> dict[str, Any]:
    """Call a direction's ``plan_run(engine, run_id, run_type, interval_start, interval_end, params)`` with
    the current DAG run's values; the plan in its XCom form."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    run_type = str(getattr(context["dag_run"].run_type, "value", context["dag_run"].run_type))
    return plan_run(engine(), context["run_id"], run_type, context.get("data_interval_start"),
                    context.get("data_interval_end"), context["params"]).as_dict()


def is_dry_run() -> bool:
    """Whether the current DAG run was triggered with ``dry_run``."""
    from airflow.sdk import get_current_context

    return bool(get_current_context()["params"].get("dry_run"))


@contextmanager
def bad_data_fails_at_once() -> Iterator[None]:
    """Turn a ``DataQualityError`` into a task failure without retries: the same data fails the same way."""
    from airflow.sdk.exceptions import AirflowFailException

    from woohub.core.quality import DataQualityError

    try:
        yield
    except DataQualityError as error:
        raise AirflowFailException(str(error)) from error
