"""Conditions found outside a sync run, each alerting once through :func:`woohub.core.alerts.alert_once`:

- :func:`alert_exhausted_dead_letters`: dead letters that failed ``WOOHUB_DEAD_LETTER_MAX_ATTEMPTS`` times
  (taken with :func:`woohub.core.dead_letters.take_unalerted_exhausted`; one alert key per letter and
  exhaustion, one message per check);
- :func:`alert_lagging_marks`: high-water marks (``sync_state``) more than ``WOOHUB_ALERT_HWM_LAG_MINUTES``
  (default 120) behind now — the sync of that stream is failing, paused or not scheduled; one key per
  stream and UTC day, so an episode alerts once a day, not every hour;
- :func:`alert_if_self_paused`: a woohub DAG (tag ``woohub``) whose failed run makes Airflow pause it
  (``max_consecutive_failed_dag_runs``). Called by the listener in ``plugins/woohub_alerts.py``, in the
  scheduler: Airflow calls ``on_dag_run_failed`` just *before* it counts the failed runs and pauses the DAG,
  so this applies the same rule to the same rows (the scheduler's own session) and alerts when it pauses.

:func:`check_staging_alerts` runs the first two (the hourly ``api_health_check`` DAG, and the dead letters
also at the end of every sync run). Messages name streams, object types, error codes and counts, never a
record's personal data (a key holding an email shows its shape only).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from woohub.core import dead_letters
from woohub.core.alerts import (
    DAG_SELF_PAUSED,
    DEAD_LETTER_EXHAUSTED,
    HIGH_WATER_MARK_LAG,
    alert_key_for,
    alert_once,
    alert_once_each,
)
from woohub.core.personal_data import email_shape
from woohub.staging.repository import utcnow
from woohub.staging.schema import sync_state

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)

HWM_LAG_ENV, DEFAULT_HWM_LAG_MINUTES = "WOOHUB_ALERT_HWM_LAG_MINUTES", 120
WOOHUB_TAG = "woohub"
_LISTED = 20


def shown_key(source_key: str) -> str:
    """A dead letter's key as an alert shows it: ``guest:<email>`` keys show the email's shape and a short
    digest (to tell two apart), other keys as they are."""
    prefix, _, rest = source_key.partition(":")
    if "@" not in source_key:
        return source_key
    digest = hashlib.sha256(source_key.encode()).hexdigest()[:8]
    return f"{prefix}:{email_shape(rest) if rest else email_shape(prefix)} #{digest}"


def alert_exhausted_dead_letters(engine: Engine) -> list[str]:
    """Alert about the dead letters exhausted since the last check (one message listing them); the alert
    keys sent. A letter requeued and exhausted again alerts again (its key carries the last failure time)."""
    letters = dead_letters.take_unalerted_exhausted(engine)
    if not letters:
        return []
    keys = [alert_key_for("dead_letter", row["object_type"], _private_safe(row["source_key"]),
                          f"{row['last_failed_at']:%Y%m%dT%H%M%S%f}") for row in letters]
    listed = ", ".join(f"{row['object_type']} {shown_key(row['source_key'])} ({row['error_code']}, "
                       f"{row['attempts']} attempts)" for row in letters[:_LISTED])
    more = f" and {len(letters) - _LISTED} more" if len(letters) > _LISTED else ""
    return alert_once_each(
        engine, keys, DEAD_LETTER_EXHAUSTED,
        f"woohub: {len(letters)} dead letter(s) exhausted their attempts and are no longer retried: "
        f"{listed}{more}. Requeue them from the report page, with `python -m woohub dead-letters requeue` or "
        "the DAG param requeue_dead_letters.")


def _private_safe(source_key: str) -> str:
    """The key itself, or its digest when it holds an email (alert keys outlive the retention purge)."""
    return hashlib.sha256(source_key.encode()).hexdigest()[:24] if "@" in source_key else source_key


def max_mark_lag() -> timedelta:
    """How far behind now a high-water mark may stand (``WOOHUB_ALERT_HWM_LAG_MINUTES``, default 120)."""
    text = os.getenv(HWM_LAG_ENV, str(DEFAULT_HWM_LAG_MINUTES))
    try:
        minutes = float(text)
    except ValueError:
        raise ValueError(f"{HWM_LAG_ENV} must be a number of minutes, not {text!r}") from None
    if minutes <= 0:
        raise ValueError(f"{HWM_LAG_ENV} must be more than 0 minutes, not {text!r}")
    return timedelta(minutes=minutes)


def lagging_marks(engine: Engine, *, now: datetime, max_lag: timedelta) -> list[dict[str, Any]]:
    """The streams whose high-water mark stands more than ``max_lag`` before ``now`` (naive UTC)."""
    query = select(sync_state).where(sync_state.c.high_water_mark.is_not(None),
                                     sync_state.c.high_water_mark < now - max_lag).order_by(sync_state.c.stream)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def alert_lagging_marks(engine: Engine, *, now: datetime | None = None,
                        max_lag: timedelta | None = None) -> list[str]:
    """Alert once per stream and UTC day about marks lagging more than ``max_lag`` (default
    :func:`max_mark_lag`); the alert keys sent."""
    now = now or utcnow()
    max_lag = max_lag or max_mark_lag()
    rows = lagging_marks(engine, now=now, max_lag=max_lag)
    if not rows:
        return []
    keys = [alert_key_for("hwm_lag", row["stream"], f"{now:%Y-%m-%d}") for row in rows]
    listed = "; ".join(f"{row['stream']} at {row['high_water_mark']:%Y-%m-%d %H:%M} UTC "
                       f"({_duration(now - row['high_water_mark'])} behind, last moved by {row['updated_run_id']})"
                       for row in rows)
    return alert_once_each(
        engine, keys, HIGH_WATER_MARK_LAG,
        f"woohub: high-water mark(s) more than {_duration(max_lag)} behind now: {listed}. The sync of these "
        "streams is failing, paused or not scheduled; its next successful scheduled run catches up.")


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} days {hours % 24} h"


def check_staging_alerts(engine: Engine) -> dict[str, int]:
    """The hourly check: exhausted dead letters and lagging marks; how many alert keys each sent."""
    return {"dead_letters": len(alert_exhausted_dead_letters(engine)),
            "high_water_marks": len(alert_lagging_marks(engine))}


# ------------------------------------------------------------------------------------ self-paused DAGs


def pauses_now(latest_states: Sequence[str], limit: int, already_paused: bool) -> bool:
    """Airflow's rule (``DagRun._check_last_n_dagruns_failed``): a DAG with ``limit`` > 0 is paused when its
    ``limit`` latest runs (newest first) all failed. It paused *itself* only if it was not paused before."""
    return (limit > 0 and not already_paused and len(latest_states) >= limit
            and all(state == "failed" for state in latest_states[:limit]))


def alert_if_self_paused(dag_run: Any, msg: str = "task_failure", *, engine: Engine | None = None) -> bool:
    """For Airflow's ``on_dag_run_failed`` (scheduler side): if this failed run of a woohub DAG makes Airflow
    pause the DAG, alert once per DAG and pause (the key names the run that tipped it). True when sent.

    Airflow checks the limit only for a run failed by its tasks (``msg`` ``task_failure``; not for a timed-out
    or deadlocked run), with the run's rows read in the scheduler's session, where this run already shows its
    new state. The same query in the same session gives the same answer here."""
    from sqlalchemy.orm import object_session

    dag = getattr(dag_run, "dag", None)
    limit = int(getattr(dag, "max_consecutive_failed_dag_runs", 0) or 0)
    if msg != "task_failure" or dag is None or WOOHUB_TAG not in set(getattr(dag, "tags", None) or ()) or limit <= 0:
        return False
    session = object_session(dag_run)
    if session is None:  # a detached run (dag.test() runs tasks through sessions that detach it): read afresh
        from woohub.core.metadata_db import own_session

        with own_session() as fresh:
            return _alert_if_pausing(fresh, dag_run, limit, engine)
    return _alert_if_pausing(session, dag_run, limit, engine)


def _alert_if_pausing(session: Any, dag_run: Any, limit: int, engine: Engine | None) -> bool:
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun

    # whole rows, as Airflow's own check loads them: in the scheduler's session the identity map gives this
    # run with its new state (that session does not autoflush, so a column query would read "running")
    states = [str(getattr(run.state, "value", run.state)) for run in session.scalars(
        select(DagRun).where(DagRun.dag_id == dag_run.dag_id)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc()).limit(limit))]
    paused = bool(session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == dag_run.dag_id)))
    if not pauses_now(states, limit, paused):
        return False
    if engine is None:
        from woohub.staging.database import staging_engine

        engine = staging_engine(os.getenv("WOOHUB_STAGING_CONN_ID", "woohub_staging"))
    return alert_once(
        engine, alert_key_for("dag_paused", dag_run.dag_id, dag_run.run_id), DAG_SELF_PAUSED,
        f"woohub: DAG {dag_run.dag_id} paused itself after {limit} failed runs in a row (the last: "
        f"{dag_run.run_id}). No more runs are scheduled until someone unpauses it: read the failed tasks' logs, "
        "fix the cause, then unpause the DAG in the Airflow UI; the next scheduled run catches up from the "
        "high-water marks.")
