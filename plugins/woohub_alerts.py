"""woohub alerts that only Airflow itself can see: a woohub DAG that pauses itself after
``max_consecutive_failed_dag_runs`` failed runs in a row.

An Airflow listener (``on_dag_run_failed``), run by the scheduler when a DAG run fails, just before Airflow
counts the failed runs and pauses the DAG; the decision and the alert are
:func:`woohub.monitoring.alert_checks.alert_if_self_paused`. Task code cannot do this in Airflow 3 (it has no
access to the metadata database).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    """Alert once when this failed run makes Airflow pause a woohub DAG; never disturbs the scheduler."""
    try:
        from woohub.monitoring.alert_checks import alert_if_self_paused

        alert_if_self_paused(dag_run, msg)
    except Exception:
        log.exception("woohub: could not check whether %s paused itself", getattr(dag_run, "dag_id", "?"))


class WoohubAlertsPlugin(AirflowPlugin):
    """Registers this module's listener."""

    name = "woohub_alerts"
    listeners = [sys.modules[__name__]]
