"""The steps of the ``reconciliation`` DAG that frame the night (each DAG task calls one function):
:func:`start_night` (the snapshot table keeps one night), then the full reads
(:mod:`woohub.reconciliation.snapshot`), :func:`woohub.reconciliation.compare.compare_run`,
:func:`woohub.reconciliation.results.check_results`, :func:`woohub.reconciliation.heal.apply_heals`,
:func:`purge_retention` (skipped on a dry run) and :func:`report_night`."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, update

from woohub.staging.repository import utcnow
from woohub.staging.schema import reconciliation_run

log = logging.getLogger(__name__)

#: the environment variable holding the DAG's cron, and its default (02:00 UTC every night)
CRON_VARIABLE, DEFAULT_CRON = "WOOHUB_RECONCILIATION_CRON", "0 2 * * *"


def start_night(engine: Engine, run_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Clear the snapshot rows of older nights; the night's start (naive UTC ISO) for the run rows."""
    from woohub.reconciliation.snapshot import start_snapshot

    started = now or utcnow()
    start_snapshot(engine, run_id)
    return {"run_id": run_id, "started_at": started.isoformat()}


def purge_retention(engine: Engine, *, gx_root: Any = None, now: datetime | None = None) -> dict[str, Any]:
    """The retention purge (:mod:`woohub.core.retention`): personal data older than ``WOOHUB_RETENTION_DAYS``
    leaves staging, and old GX validation results leave the file context."""
    from woohub.core.retention import prune_validation_results, purge_staging, retention_days

    days = retention_days()
    purged = purge_staging(engine, older_than_days=days, now=now)
    pruned = prune_validation_results(gx_root, older_than_days=days, now=now)
    log.info("retention (%d days): purged %s; %d GX validation result(s) pruned", days,
             ", ".join(f"{table} {n}" for table, n in sorted(purged.items()) if n) or "nothing", pruned)
    return {"days": days, "purged": purged, "validation_results_pruned": pruned}


def finish_run(engine: Engine, run_id: str, *, now: datetime | None = None) -> int:
    """Record when the night ended (``reconciliation_run.finished_at``); rows updated."""
    with engine.begin() as connection:
        return connection.execute(update(reconciliation_run).where(reconciliation_run.c.run_id == run_id)
                                  .values(finished_at=now or utcnow())).rowcount


def report_night(engine: Engine, run_id: str) -> dict[str, Any]:
    """Record the night's end, log its summary per object and kind (and the actions taken), and alert once
    when a real night's drift passes the threshold (:func:`woohub.core.alerts.alert_drift`)."""
    from woohub.reconciliation.results import drift_summary

    finish_run(engine, run_id)
    try:
        summary = drift_summary(engine, run_id)
    except LookupError:
        log.warning("reconciliation %s has nothing to report (its compare step did not run)", run_id)
        return {"run_id": run_id, "objects": {}}
    for object_type, entry in summary["objects"].items():
        kinds = ", ".join(f"{k}={n}" for k, n in sorted(entry["kinds"].items())) or "no differences"
        actions = ", ".join(f"{a}={n}" for a, n in sorted(entry["actions"].items()))
        rate = "" if entry["drift_rate"] is None else f", drift rate {entry['drift_rate']:.2%}"
        log.info("%s %s: %s%s%s", run_id, object_type, kinds, f" ({actions})" if actions else "", rate)
    if summary["over_threshold"]:
        log.warning("reconciliation %s: drift over the threshold %.2f%% in %s", run_id, summary["threshold"] * 100,
                    ", ".join(summary["over_threshold"]))
        if not summary["dry_run"]:
            from woohub.core.alerts import alert_drift

            alert_drift(engine, run_id, summary, summary["threshold"])
    return summary
