"""Task-failure alerts for the woohub DAGs.

Every failure is logged at ERROR with the DAG, task, run, try and the error. If an Airflow connection
``woohub_alerts`` exists (conn id from ``WOOHUB_ALERTS_CONN_ID``), a JSON message ``{"text": ...}`` — the
shape Slack and Microsoft Teams incoming webhooks accept — is POSTed to its URL (host/schema/port plus
the path in ``extra.endpoint``; the webhook's secret belongs in the connection, never in code). An alert
that cannot be sent is logged and does not mask the task's own failure.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def failure_message(context: dict[str, Any]) -> str:
    """One line naming what failed and why (the exception's text, which never holds credentials)."""
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", None) or context.get("dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = context.get("run_id") or getattr(ti, "run_id", "?")
    attempt = getattr(ti, "try_number", "?")
    error = context.get("exception")
    reason = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
    return f"woohub: {dag_id}.{task_id} failed (run {run_id}, try {attempt}): {reason}"[:3000]


def on_task_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` for every woohub task: log, then notify the alerts webhook if configured."""
    send_alert(failure_message(context))


def send_alert(message: str) -> bool:
    """Log ``message`` at ERROR and POST it to the alerts webhook if one is configured; True when posted."""
    log.error(message)
    conn_id = os.getenv("WOOHUB_ALERTS_CONN_ID", "woohub_alerts")
    try:
        from airflow.providers.http.hooks.http import HttpHook
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(conn_id)
    except Exception:  # no alerts connection configured: logging is the alert
        return False
    try:
        hook = HttpHook(method="POST", http_conn_id=conn_id)
        endpoint = (connection.extra_dejson or {}).get("endpoint", "")
        hook.run(endpoint, json={"text": message[:3000]}, extra_options={"timeout": 10})
        return True
    except Exception as error:  # an unreachable webhook must not hide the task's own failure
        log.error("could not send the alert to %s: %s", conn_id, type(error).__name__)
        return False
