"""What the report page reads from staging (SQLAlchemy Core, any staging database): the counts of the last
runs of each woohub DAG, the nightly drift per object, the open quarantine and dead letters, and the latest
reconciliation's differences.

Which DAG a ``run_stats`` row belongs to follows from its object type (run ids alone do not tell: two DAGs'
scheduled runs at one time share a run id): ``woocommerce_to_hubspot`` records its extracts as
``woocommerce_<object>`` and its validations and loads as the HubSpot objects (``products``, ``contacts``,
``deals``, ``line_items``); ``hubspot_to_woocommerce`` records ``hubspot_<object>_extract``,
``hubspot_<object>`` (validation) and the WooCommerce objects it writes (``customers``, ``orders``). The
``reconciliation`` DAG's counts are its ``reconciliation_run`` rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from woohub.staging.schema import (
    STAGED_TABLES,
    dead_letter,
    quarantine,
    reconciliation_difference,
    reconciliation_run,
    review_action,
    run_stats,
)

W2H, H2W, RECONCILIATION = "woocommerce_to_hubspot", "hubspot_to_woocommerce", "reconciliation"
#: the DAGs the page reports on, in the order it shows them
WOOHUB_DAG_IDS = (W2H, H2W, RECONCILIATION)
SYNC_DAG_IDS = (W2H, H2W)
#: ``run_stats`` object types of each sync DAG: exact names, and the prefix of the rest
_RUN_STATS_NAMES = {W2H: ("products", "contacts", "deals", "line_items"), H2W: ("customers", "orders")}
_RUN_STATS_PREFIX = {W2H: "woocommerce_", H2W: "hubspot_"}
#: counters of a ``run_stats`` row
COUNTERS = ("extracted", "valid", "quarantined", "created", "updated", "unchanged", "failed", "api_calls")
#: the documented kinds of ``reconciliation_difference`` (the filter refuses anything else)
DIFFERENCE_KINDS = ("missing_in_hubspot", "missing_in_woocommerce", "field_mismatch", "duplicate", "orphaned_link",
                    "empty_value_kept", "stale_quarantine", "dead_letter")
DIFFERENCE_COLUMNS = ("run_id", "object_type", "woocommerce_id", "hubspot_id", "kind", "field", "woocommerce_value",
                      "hubspot_value", "action", "heal_ref", "detected_at", "healed_at")
_OBJECT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: quarantine object types that are not staged streams, and which DAG checks them again (on every run)
_MAPPED_QUARANTINE = {"woocommerce_to_hubspot.contacts": W2H, "hubspot_to_woocommerce.deals": H2W}
#: dead-letter object types -> the DAG whose loads wrote them (when the letter's ``source_ref`` does not say)
_DEAD_LETTER_DAG = {"product": W2H, "contact": W2H, "deal": W2H, "line_item": W2H, "customer": H2W,
                    "deal_order": H2W}


class FilterError(ValueError):
    """A differences filter that cannot be right (an unknown kind, an impossible object type)."""


@dataclass(frozen=True)
class AirflowRun:
    """One DAG run as Airflow's metadata database has it (times aware or naive UTC)."""

    dag_id: str
    run_id: str
    state: str | None
    run_type: str | None
    start_date: datetime | None
    end_date: datetime | None


@dataclass
class RunSummary:
    """One run of a woohub DAG: Airflow's view of it (when Airflow knows it) and its counts from staging.

    ``totals`` for a sync DAG: ``extracted`` (from its extract rows), ``synced`` (created + updated),
    ``unchanged``, ``quarantined``, ``failed``, ``api_calls``; for ``reconciliation``: ``woocommerce_records``,
    ``hubspot_records``, ``paired``, ``differences``. ``objects``: the counters per object type."""

    dag_id: str
    run_id: str
    state: str | None = None
    run_type: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    totals: dict[str, int] = field(default_factory=dict)
    objects: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def sort_time(self) -> datetime:
        return self.started_at or self.finished_at or datetime.min


def naive_utc(moment: datetime | None) -> datetime | None:
    """``moment`` as naive UTC (staging's form); Airflow's aware times are converted."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def dag_of_run_stats_object(object_type: str) -> str | None:
    """The sync DAG that records ``run_stats`` rows of ``object_type`` (None: neither)."""
    for dag_id in SYNC_DAG_IDS:
        if object_type in _RUN_STATS_NAMES[dag_id] or object_type.startswith(_RUN_STATS_PREFIX[dag_id]):
            return dag_id
    return None


def _run_stats_condition(dag_id: str) -> Any:
    prefix = _RUN_STATS_PREFIX[dag_id].replace("_", "\\_")
    return or_(run_stats.c.object_type.in_(_RUN_STATS_NAMES[dag_id]),
               run_stats.c.object_type.like(f"{prefix}%", escape="\\"))


def sync_run_totals(dag_id: str, objects: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """The totals of one sync run from its counters per object (see :class:`RunSummary`)."""
    extract_rows = [counts for name, counts in objects.items()
                    if (name.startswith("woocommerce_") if dag_id == W2H else name.endswith("_extract"))]
    total = {name: sum(int(counts.get(name) or 0) for counts in objects.values()) for name in COUNTERS}
    return {"extracted": sum(int(counts.get("extracted") or 0) for counts in extract_rows),
            "synced": total["created"] + total["updated"], "unchanged": total["unchanged"],
            "quarantined": total["quarantined"], "failed": total["failed"], "api_calls": total["api_calls"]}


def run_stats_of(engine: Engine, dag_id: str, run_ids: Sequence[str]) -> dict[str, dict[str, dict[str, int]]]:
    """``run_id -> object_type -> counters`` of ``dag_id``'s rows for ``run_ids``."""
    found: dict[str, dict[str, dict[str, int]]] = {}
    if not run_ids:
        return found
    query = select(run_stats).where(and_(run_stats.c.run_id.in_(list(run_ids)), _run_stats_condition(dag_id)))
    with engine.connect() as connection:
        for row in connection.execute(query):
            found.setdefault(row.run_id, {})[row.object_type] = {name: int(getattr(row, name) or 0)
                                                                 for name in COUNTERS}
    return found


def staged_sync_runs(engine: Engine, dag_id: str, limit: int) -> list[tuple[str, datetime]]:
    """The last ``limit`` runs of sync DAG ``dag_id`` that recorded counts: ``(run_id, last update)``, newest
    first."""
    last = func.max(run_stats.c.updated_at)
    query = (select(run_stats.c.run_id, last.label("last")).where(_run_stats_condition(dag_id))
             .group_by(run_stats.c.run_id).order_by(last.desc()).limit(limit))
    with engine.connect() as connection:
        return [(row.run_id, row.last) for row in connection.execute(query)]


def reconciliation_runs(engine: Engine, run_ids: Sequence[str] | None = None,
                        limit: int = 30) -> dict[str, dict[str, Any]]:
    """``run_id -> {started_at, finished_at, dry_run, objects: {object_type: counts}}`` of the last ``limit``
    reconciliation runs (or of ``run_ids``), newest first."""
    started = func.min(reconciliation_run.c.started_at)
    ids_query = select(reconciliation_run.c.run_id).group_by(reconciliation_run.c.run_id)
    if run_ids is not None:
        ids_query = ids_query.where(reconciliation_run.c.run_id.in_(list(run_ids)))
    ids_query = ids_query.order_by(started.desc()).limit(limit)
    runs: dict[str, dict[str, Any]] = {}
    with engine.connect() as connection:
        ids = [row.run_id for row in connection.execute(ids_query)]
        if not ids:
            return runs
        for run_id in ids:
            runs[run_id] = {"started_at": None, "finished_at": None, "dry_run": False, "objects": {}}
        rows = connection.execute(select(reconciliation_run).where(reconciliation_run.c.run_id.in_(ids))
                                  .order_by(reconciliation_run.c.object_type))
        for row in rows:
            run = runs[row.run_id]
            run["started_at"] = min(filter(None, [run["started_at"], row.started_at]), default=None)
            run["finished_at"] = max(filter(None, [run["finished_at"], row.finished_at]), default=None)
            run["dry_run"] = run["dry_run"] or bool(row.dry_run)
            run["objects"][row.object_type] = {
                "woocommerce_records": int(row.woocommerce_records or 0), "hubspot_records": int(row.hubspot_records or 0),
                "paired": int(row.paired or 0), "differences": int(row.differences or 0),
                "drift_rate": row.drift_rate}
    return runs


def recent_runs(engine: Engine, dag_id: str, airflow_runs: Sequence[AirflowRun], limit: int = 10) -> list[RunSummary]:
    """The last ``limit`` runs of ``dag_id``, newest first: the runs Airflow knows (``airflow_runs``, with
    their state) and the runs staging has counts of, joined on the run id."""
    summaries: dict[str, RunSummary] = {}
    for run in airflow_runs:
        if run.dag_id == dag_id:
            summaries[run.run_id] = RunSummary(dag_id, run.run_id, run.state, run.run_type,
                                               naive_utc(run.start_date), naive_utc(run.end_date))
    if dag_id == RECONCILIATION:
        staged = reconciliation_runs(engine, limit=limit)
        staged.update(reconciliation_runs(engine, [r for r in summaries if r not in staged], limit=limit))
        for run_id, run in staged.items():
            summary = summaries.setdefault(run_id, RunSummary(dag_id, run_id))
            summary.started_at = summary.started_at or run["started_at"]
            summary.finished_at = summary.finished_at or run["finished_at"]
            summary.objects = {name: {k: v for k, v in counts.items() if k != "drift_rate"}
                               for name, counts in run["objects"].items()}
            summary.totals = {name: sum(counts[name] for counts in summary.objects.values())
                              for name in ("woocommerce_records", "hubspot_records", "paired", "differences")}
            if run["dry_run"]:
                summary.run_type = summary.run_type or "dry run"
    else:
        for run_id, last in staged_sync_runs(engine, dag_id, limit):
            summaries.setdefault(run_id, RunSummary(dag_id, run_id, finished_at=last))
        counts = run_stats_of(engine, dag_id, list(summaries))
        for run_id, summary in summaries.items():
            summary.objects = counts.get(run_id, {})
            summary.totals = sync_run_totals(dag_id, summary.objects)
    return sorted(summaries.values(), key=lambda s: s.sort_time, reverse=True)[:limit]


def drift_history(engine: Engine, limit: int = 30) -> tuple[list[str], dict[str, list[int | None]]]:
    """The nightly drift over the last ``limit`` reconciliation runs, oldest first: the runs' labels (start
    time, UTC) and ``object_type -> differences per run`` (None where a run did not compare that object)."""
    runs = reconciliation_runs(engine, limit=limit)
    ordered = sorted(runs.items(), key=lambda item: item[1]["started_at"] or datetime.min)
    labels = [run["started_at"].strftime("%Y-%m-%d %H:%M") if run["started_at"] else run_id
              for run_id, run in ordered]
    object_types = sorted({name for _, run in ordered for name in run["objects"]})
    series = {name: [(run["objects"][name]["differences"] if name in run["objects"] else None)
                     for _, run in ordered] for name in object_types}
    return labels, series


def quarantine_dag(object_type: str) -> str | None:
    """The DAG whose runs check quarantined records of ``object_type`` again."""
    if object_type in _MAPPED_QUARANTINE:
        return _MAPPED_QUARANTINE[object_type]
    system = object_type.split(".", 1)[0]
    return {"woocommerce": W2H, "hubspot": H2W}.get(system)


def dead_letter_dag(object_type: str, source_ref: str | None) -> str | None:
    """The DAG whose loads retry a dead letter (from its ``source_ref`` stream, else its object type)."""
    if source_ref and ":" in source_ref:
        dag_id = quarantine_dag(source_ref.rsplit(":", 1)[0])
        if dag_id:
            return dag_id
    return _DEAD_LETTER_DAG.get(object_type)


def is_staged_stream(object_type: str) -> bool:
    """Whether quarantine rows of ``object_type`` are staged records (the ones a requeue can re-mark)."""
    return object_type in STAGED_TABLES


def open_quarantine(engine: Engine, limit: int = 200) -> tuple[int, list[dict[str, Any]]]:
    """How many records are in open quarantine, and the ``limit`` most recently quarantined, each with its
    reasons (a list), its DAG and whether a requeue can re-mark it (``requeueable``)."""
    condition = quarantine.c.released_at.is_(None)
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(quarantine).where(condition)).scalar_one()
        rows = connection.execute(select(quarantine).where(condition)
                                  .order_by(quarantine.c.quarantined_at.desc(), quarantine.c.object_type,
                                            quarantine.c.source_key).limit(limit))
        found = []
        for row in rows:
            item = dict(row._mapping)
            item["reasons"] = _reasons(row.reasons)
            item["dag_id"] = quarantine_dag(row.object_type)
            item["requeueable"] = is_staged_stream(row.object_type)
            item["recheck_pending"] = item["requeueable"] and row.content_hash is None
            found.append(item)
    return int(total), found


def _reasons(text: str | None) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return [str(text)]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def open_dead_letters(engine: Engine, limit: int = 200) -> tuple[int, list[dict[str, Any]]]:
    """How many dead letters are ``open`` or ``exhausted``, and the ``limit`` most recent failures, each with
    its DAG."""
    condition = dead_letter.c.state.in_(["open", "exhausted"])
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(dead_letter).where(condition)).scalar_one()
        rows = connection.execute(select(dead_letter).where(condition)
                                  .order_by(dead_letter.c.last_failed_at.desc(), dead_letter.c.object_type,
                                            dead_letter.c.source_key).limit(limit))
        found = [{**row._mapping, "dag_id": dead_letter_dag(row.object_type, row.source_ref)} for row in rows]
    return int(total), found


def latest_reconciliation_run_id(engine: Engine) -> str | None:
    """The run id of the latest reconciliation (by start; a clean night has runs but no differences), else
    of the newest difference."""
    with engine.connect() as connection:
        run_id = connection.execute(select(reconciliation_run.c.run_id)
                                    .order_by(reconciliation_run.c.started_at.desc()).limit(1)).scalar()
        if run_id is None:
            run_id = connection.execute(select(reconciliation_difference.c.run_id)
                                        .order_by(reconciliation_difference.c.detected_at.desc()).limit(1)).scalar()
    return run_id


@dataclass(frozen=True)
class DifferenceFilter:
    """Which differences of one run to show: ``None`` means any."""

    object_type: str | None = None
    kind: str | None = None

    @classmethod
    def parse(cls, object_type: str | None, kind: str | None) -> DifferenceFilter:
        """From query parameters (empty means any); :class:`FilterError` names what is wrong."""
        object_type, kind = (object_type or "").strip() or None, (kind or "").strip() or None
        if kind is not None and kind not in DIFFERENCE_KINDS:
            raise FilterError(f"unknown difference kind {kind!r}; expected one of {', '.join(DIFFERENCE_KINDS)}")
        if object_type is not None and not _OBJECT_TYPE.match(object_type):
            raise FilterError(f"object_type {object_type!r} is not an object type (lower-case letters, digits "
                              "and _, at most 32)")
        return cls(object_type, kind)

    def condition(self, run_id: str) -> Any:
        table = reconciliation_difference
        clauses = [table.c.run_id == run_id]
        if self.object_type:
            clauses.append(table.c.object_type == self.object_type)
        if self.kind:
            clauses.append(table.c.kind == self.kind)
        return and_(*clauses)

    def query_params(self) -> dict[str, str]:
        return {name: value for name, value in (("object_type", self.object_type), ("kind", self.kind)) if value}


def difference_options(engine: Engine, run_id: str) -> tuple[list[str], list[str]]:
    """The object types and kinds that occur in ``run_id``'s differences (what the filter offers)."""
    table = reconciliation_difference
    with engine.connect() as connection:
        object_types = connection.execute(select(table.c.object_type).distinct().where(table.c.run_id == run_id)
                                          .order_by(table.c.object_type)).scalars().all()
        kinds = connection.execute(select(table.c.kind).distinct().where(table.c.run_id == run_id)
                                   .order_by(table.c.kind)).scalars().all()
    return list(object_types), list(kinds)


def count_differences(engine: Engine, run_id: str, wanted: DifferenceFilter) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(reconciliation_difference)
                                      .where(wanted.condition(run_id))).scalar_one())


def iter_differences(engine: Engine, run_id: str, wanted: DifferenceFilter, *, limit: int | None = None,
                     chunk: int = 1000) -> Iterator[dict[str, Any]]:
    """``run_id``'s differences that match ``wanted``, in id order, read ``chunk`` rows at a time (keyset
    paging, so a CSV of any size streams in flat memory); at most ``limit``."""
    table = reconciliation_difference
    columns = [table.c.id, *(table.c[name] for name in DIFFERENCE_COLUMNS)]
    after, sent = None, 0
    while limit is None or sent < limit:
        size = chunk if limit is None else min(chunk, limit - sent)
        query = select(*columns).where(wanted.condition(run_id))
        if after is not None:
            query = query.where(table.c.id > after)
        with engine.connect() as connection:
            rows = connection.execute(query.order_by(table.c.id).limit(size)).all()
        for row in rows:
            yield {name: getattr(row, name) for name in DIFFERENCE_COLUMNS}
        sent += len(rows)
        if len(rows) < size:
            return
        after = rows[-1].id


def recent_review_actions(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    """The last ``limit`` actions people took from the page (who, when, what), newest first."""
    with engine.connect() as connection:
        rows = connection.execute(select(review_action).order_by(review_action.c.id.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]
