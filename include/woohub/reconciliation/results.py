"""The results of a reconciliation run: the per-object frame the Great Expectations suite
``reconciliation_results`` checks (drift rate under ``drift_threshold`` of ``reconciliation.yaml``, no
duplicates), the outcome in the same Data Docs as the sync checks, and :func:`drift_summary` for alerts and
reports. The frame holds counts and rates per object type only: no keys, no emails, nothing personal."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, func, select

from woohub.reconciliation.compare import DUPLICATE, OBJECT_TYPES
from woohub.reconciliation.settings import ReconciliationSettings, packaged_settings
from woohub.staging.schema import reconciliation_difference, reconciliation_run

if TYPE_CHECKING:
    import os

    import pandas as pd

log = logging.getLogger(__name__)

#: the suite (and its validation definition, checkpoint and data asset) in ``great_expectations/``
SUITE = "reconciliation_results"
#: the suite parameter the drift expectation takes its maximum from
DRIFT_THRESHOLD_PARAMETER = "drift_threshold"
FRAME_COLUMNS = ["object_type", "woocommerce_records", "hubspot_records", "paired", "differences", "duplicates",
                 "drift_rate"]


def results_frame(engine: Engine, run_id: str) -> pd.DataFrame:
    """One row per object type (``deal``, ``contact``, ``product``, ``line_item``) of the run: its counts,
    ``duplicates`` (duplicate differences) and ``drift_rate`` (a float)."""
    import pandas as pd

    d = reconciliation_difference
    with engine.connect() as connection:
        runs = {r.object_type: r for r in connection.execute(select(reconciliation_run).where(and_(
            reconciliation_run.c.run_id == run_id, reconciliation_run.c.object_type.in_(OBJECT_TYPES))))}
        duplicates = dict(connection.execute(select(d.c.object_type, func.count()).where(and_(
            d.c.run_id == run_id, d.c.kind == DUPLICATE)).group_by(d.c.object_type)).all())
    if not runs:
        raise LookupError(f"reconciliation run {run_id!r} has no results (did its compare step run?)")
    rows = [{"object_type": t, "woocommerce_records": runs[t].woocommerce_records,
             "hubspot_records": runs[t].hubspot_records, "paired": runs[t].paired,
             "differences": runs[t].differences, "duplicates": int(duplicates.get(t, 0)),
             "drift_rate": float(runs[t].drift_rate or 0)} for t in OBJECT_TYPES if t in runs]
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def check_results(engine: Engine, run_id: str, *, settings: ReconciliationSettings | None = None,
                  gx_root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Run the ``reconciliation_results`` checkpoint on :func:`results_frame` (its Data Docs page goes into the
    sync checks' site). A failed expectation is logged and returned, not raised: drift is what the heal
    step is for, and the drift alert reads :func:`drift_summary`."""
    from woohub.core.quality import expectation_label, resolve_gx_root, run_checkpoint

    settings = settings or packaged_settings()
    frame = results_frame(engine, run_id)
    root = resolve_gx_root(gx_root)
    results, statistics = run_checkpoint(root, SUITE, frame, run_id,
                                         {DRIFT_THRESHOLD_PARAMETER: settings.drift_threshold})
    failed = sorted(expectation_label(r) for r in results if not r.success)
    over = sorted(frame.loc[frame["drift_rate"] > settings.drift_threshold, "object_type"])
    duplicated = sorted(frame.loc[frame["duplicates"] > 0, "object_type"])
    if failed:
        log.warning("reconciliation %s: results check failed (%s): drift over %.2f%% in %s, duplicates in %s",
                    run_id, ", ".join(failed), settings.drift_threshold * 100, ", ".join(over) or "none",
                    ", ".join(duplicated) or "none")
    else:
        log.info("reconciliation %s: results check passed (drift under %.2f%%, no duplicates)", run_id,
                 settings.drift_threshold * 100)
    docs = root / "uncommitted/data_docs/local_site/index.html"
    return {"success": not failed, "failed": failed, "over_threshold": over, "duplicates_in": duplicated,
            "evaluated_expectations": int(statistics.get("evaluated_expectations", 0)),
            "data_docs": str(docs) if docs.exists() else None}


def drift_summary(engine: Engine, run_id: str, *, settings: ReconciliationSettings | None = None) -> dict[str, Any]:
    """What a reconciliation run found, for alerts and reports: ``{"run_id", "dry_run", "threshold",
    "started_at", "finished_at", "objects": {object_type: {"records", "woocommerce_records", "hubspot_records",
    "paired", "differences", "drift_rate", "over_threshold", "kinds": {kind: n}, "actions": {action: n}}},
    "over_threshold": [object types], "max_drift_rate"}``. Only counts: no keys, no emails. ``LookupError``
    when the run has no results."""
    settings = settings or packaged_settings()
    d = reconciliation_difference
    with engine.connect() as connection:
        runs = list(connection.execute(select(reconciliation_run).where(reconciliation_run.c.run_id == run_id)
                                       .order_by(reconciliation_run.c.object_type)))
        counted = list(connection.execute(select(d.c.object_type, d.c.kind, d.c.action, func.count())
                                          .where(d.c.run_id == run_id).group_by(d.c.object_type, d.c.kind, d.c.action)))
    if not runs:
        raise LookupError(f"reconciliation run {run_id!r} has no results")
    objects: dict[str, dict[str, Any]] = {}
    for row in runs:
        rate = float(row.drift_rate) if row.drift_rate is not None else None
        objects[row.object_type] = {
            "woocommerce_records": row.woocommerce_records, "hubspot_records": row.hubspot_records,
            "paired": row.paired, "differences": row.differences, "drift_rate": rate,
            "over_threshold": rate is not None and rate > settings.drift_threshold, "kinds": {}, "actions": {}}
    for object_type, kind, action, count in counted:
        entry = objects.setdefault(object_type, {"kinds": {}, "actions": {}, "drift_rate": None,
                                                 "over_threshold": False})
        entry["kinds"][kind] = entry["kinds"].get(kind, 0) + int(count)
        entry["actions"][action] = entry["actions"].get(action, 0) + int(count)
    rates = [o["drift_rate"] for o in objects.values() if o["drift_rate"] is not None]
    return {"run_id": run_id, "dry_run": bool(runs[0].dry_run), "threshold": settings.drift_threshold,
            "started_at": _iso(runs[0].started_at), "finished_at": _iso(runs[0].finished_at), "objects": objects,
            "over_threshold": sorted(t for t, o in objects.items() if o["over_threshold"]),
            "max_drift_rate": max(rates) if rates else 0.0}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


__all__ = ["DRIFT_THRESHOLD_PARAMETER", "SUITE", "check_results", "drift_summary", "results_frame"]
