"""Run planning and high-water marks, the same for every sync direction.

**Windows.** A run syncs the records its source modified in ``[start - lookback, end)``. The window comes
from the run's data interval, whatever the run type (scheduled, manual with "Specify Manually" in the
trigger form, a backfill run, or the ``window_start``/``window_end`` params of a manual trigger).

**Marks mean "synced without a gap".** Only scheduled runs move a high-water mark, and only after every
load of the run succeeded; a scheduled run starts at the earlier of its data interval start and the mark,
so whatever a failed, skipped or paused stretch missed is caught up. A manual run or a backfill never moves
a mark, so it can never make the schedule skip data. A scheduled run with no mark yet, or any run with
``full_resync``, syncs everything.

**Webhook-triggered runs** (run type ``asset_triggered``: a webhook's Asset event woke the DAG,
:mod:`woohub.webhooks`) claim the pending webhook events of their direction's streams
(:func:`woohub.webhooks.events.claim_pending`) and sync exactly those records: the extracts read them by id,
no window is walked and no mark moves. Scheduled runs claim the pending events too and read those records by
id on top of their window (so the schedule drains what a lost Asset event left); manual runs and backfills
claim nothing. The claim travels in the plan (:attr:`RunPlan.targets`); a claim of more than
:data:`TARGETS_IN_PLAN` ids (a flash sale) stays in the ``webhook_event`` table instead, where the claimed
rows name the run, and :func:`target_ids` reads it from there. An extract closes its events
(:func:`close_events`, ``state = staged``) only after it staged their records; a run that fails before leaves
them pending, and the next run claims them again.

**What a run processes** (:func:`candidate_ids`): the records it staged itself, every staged record whose
newest version is not synced yet (staged by a run that failed before its load, or by an overlapping run),
the records of the dead letters it claimed, and, with ``recheck_quarantine``, the quarantined ones. A record
quarantined in exactly its current version is left out until its source changes or a recheck is asked for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from woohub.core import dead_letters, quarantine
from woohub.staging import repository

log = logging.getLogger(__name__)

SCHEDULED = "scheduled"
#: the run type of a run an Asset event created (Airflow's ``DagRunType.ASSET_TRIGGERED``)
ASSET_TRIGGERED = "asset_triggered"
#: the run types that claim pending webhook events
CLAIMING_RUN_TYPES = (SCHEDULED, ASSET_TRIGGERED)
#: at most this many claimed ids travel in the plan (XCom); a bigger claim is read from ``webhook_event``
TARGETS_IN_PLAN = 2000
DEFAULT_LOOKBACK = timedelta(minutes=5)
DEFAULT_MAX_QUARANTINE_SHARE = 0.05
DEFAULT_QUARANTINE_FLOOR = 10


def lookback() -> timedelta:
    """The overlap every window gets at its start (``WOOHUB_LOOKBACK_MINUTES``, default 5)."""
    return timedelta(minutes=float(os.getenv("WOOHUB_LOOKBACK_MINUTES", "5")))


@dataclass(frozen=True)
class RunPlan:
    """What one run does; small and JSON-able so it can travel through XCom.

    :param start: window start (naive UTC ISO), ``None`` for a full sync
    :param moves_marks: a scheduled, writing run: it commits the high-water marks when its loads succeed
    :param rewrite: write every record again even when the ledger says it is unchanged (``full_resync``)
    :param extras: direction-specific decisions (e.g. whether customers get a full scan)
    :param recheck: ``stream -> source ids`` the run processes again whatever the window holds (e.g. the
        deals rejected earlier, which a restock lets through without anyone touching the deal)
    :param targets: ``stream -> source ids`` named by the webhook events the run claimed (read by id);
        ``None``: the run claimed nothing. With ``targets_in_staging`` the lists are empty and the ids are
        in ``webhook_event`` (see :func:`target_ids`)
    :param target_parents: ``stream -> {id: parent id}`` where a webhook named a parent (a variation's product)
    :param events_upto: the newest webhook event id the run claimed (what its extracts close)
    :param walks_window: whether the extracts walk the window (``False``: an ``asset_triggered`` run, which
        reads its targets only)
    """

    run_id: str
    run_type: str
    start: str | None
    end: str
    full: bool
    moves_marks: bool
    dry_run: bool = False
    rewrite: bool = False
    recheck_quarantine: bool = False
    max_quarantine_share: float = DEFAULT_MAX_QUARANTINE_SHARE
    quarantine_floor: int = DEFAULT_QUARANTINE_FLOOR
    retries_claimed: int = 0
    extras: dict[str, Any] | None = None
    recheck: dict[str, list[str]] | None = None
    targets: dict[str, list[str]] | None = None
    target_parents: dict[str, dict[str, str]] | None = None
    events_upto: int | None = None
    targets_in_staging: bool = False
    walks_window: bool = True

    def rechecked(self, stream: str) -> list[str]:
        """The ids of ``stream`` this run re-reads and processes again (see ``recheck``)."""
        return list((self.recheck or {}).get(stream) or [])

    @property
    def window_start(self) -> datetime | None:
        return datetime.fromisoformat(self.start) if self.start else None

    @property
    def window_end(self) -> datetime:
        return datetime.fromisoformat(self.end)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunPlan:
        return cls(**data)


def to_naive_utc(moment: datetime | str) -> datetime:
    """``moment`` in UTC without tzinfo (staging's form); ISO strings are parsed, naive ones taken as UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def plan_run(engine: Engine, run_id: str, run_type: str, interval_start: datetime | None,
             interval_end: datetime | None, params: Mapping[str, Any], *, mark_streams: Sequence[str],
             event_streams: Sequence[str] = (), overlap: timedelta | None = None,
             now: datetime | None = None) -> RunPlan:
    """Decide the run's window (see the module docstring), claim its due dead letters and, on scheduled and
    webhook-triggered runs, the pending webhook events of ``event_streams``.

    :param mark_streams: the source streams whose marks bound this direction's window (the earliest wins)
    :param event_streams: the streams whose webhook events this direction's runs claim
    """
    overlap = lookback() if overlap is None else overlap
    now = now or repository.utcnow()
    if run_type == ASSET_TRIGGERED:
        return _plan_targets_only(engine, run_id, params, event_streams, now)
    scheduled = run_type == SCHEDULED
    dry_run = bool(params.get("dry_run"))
    marks = [repository.get_high_water_mark(engine, stream) for stream in mark_streams]
    mark = None if not marks or None in marks else min(marks)
    end = to_naive_utc(interval_end) if interval_end else now
    if params.get("window_start"):  # an explicit window is taken as given, without the lookback overlap
        start = to_naive_utc(params["window_start"])
        end = to_naive_utc(params["window_end"]) if params.get("window_end") else end
        overlap = timedelta(0)
    else:
        start = to_naive_utc(interval_start) if interval_start else end
        if scheduled and mark is not None and mark < start:
            log.info("catching up from the high-water mark %s (data interval starts %s)", mark, start)
            start = mark
    if start > end:
        raise ValueError(f"the window starts after it ends: {start} > {end}")
    full = bool(params.get("full_resync")) or (scheduled and mark is None)
    if mark is None and not full:
        log.warning("no high-water mark yet: this %s run syncs only its window; the first scheduled run (or a "
                    "run with full_resync) does the initial full load", run_type)
    return RunPlan(
        run_id=run_id, run_type=run_type, start=None if full else (start - overlap).isoformat(),
        end=end.isoformat(), full=full, moves_marks=scheduled and not dry_run,
        **_run_settings(engine, run_id, params, now),
        **(claim_targets(engine, event_streams, run_id) if scheduled and event_streams else {}),
    )


def _plan_targets_only(engine: Engine, run_id: str, params: Mapping[str, Any], event_streams: Sequence[str],
                       now: datetime) -> RunPlan:
    """The plan of a webhook-triggered run: its claimed events' records, read by id; an empty window at
    ``now`` that no extract walks; no mark moves (the window params of a manual run do not apply)."""
    settings = _run_settings(engine, run_id, params, now)
    claim = claim_targets(engine, event_streams, run_id)
    log.info("webhook-triggered run: %s", ", ".join(f"{stream} {len(ids)}" for stream, ids in
                                                    (claim.get("targets") or {}).items()) or "no pending events")
    return RunPlan(
        run_id=run_id, run_type=ASSET_TRIGGERED, start=now.isoformat(), end=now.isoformat(), full=False,
        moves_marks=False, walks_window=False, **settings, **({"targets": {}, "target_parents": {}} | claim),
    )


def _run_settings(engine: Engine, run_id: str, params: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The :class:`RunPlan` fields every run type takes alike from its params, and its claim of the due dead
    letters (none on a dry run)."""
    dry_run = bool(params.get("dry_run"))
    return {
        "dry_run": dry_run, "rewrite": bool(params.get("full_resync")),
        "recheck_quarantine": bool(params.get("recheck_quarantine")),
        "max_quarantine_share": float(_given(params, "max_quarantine_share", DEFAULT_MAX_QUARANTINE_SHARE)),
        "quarantine_floor": int(_given(params, "quarantine_floor", DEFAULT_QUARANTINE_FLOOR)),
        "retries_claimed": 0 if dry_run else dead_letters.claim_due(engine, run_id, now=now),
    }


def claim_targets(engine: Engine, streams: Sequence[str], run_id: str) -> dict[str, Any]:
    """Claim the pending webhook events of ``streams`` for ``run_id``; the :class:`RunPlan` fields that carry
    the claim (nothing when none was pending). More than :data:`TARGETS_IN_PLAN` ids stay in staging."""
    from woohub.webhooks.events import claim_pending

    claim = claim_pending(engine, streams, run_id)
    if claim.empty:
        return {}
    total = sum(len(ids) for ids in claim.ids.values())
    if total > TARGETS_IN_PLAN:
        log.info("claimed %d webhook event record(s): their ids stay in webhook_event", total)
        return {"targets": {stream: [] for stream in claim.ids}, "target_parents": {},
                "events_upto": claim.upto, "targets_in_staging": True}
    log.info("claimed webhook events up to id %s: %s", claim.upto,
             ", ".join(f"{stream} {len(ids)}" for stream, ids in claim.ids.items()))
    return {"targets": {stream: list(ids) for stream, ids in claim.ids.items()},
            "target_parents": {stream: dict(p) for stream, p in claim.parents.items()},
            "events_upto": claim.upto}


def target_ids(engine: Engine, plan: RunPlan, stream: str) -> list[str]:
    """The record ids of ``stream`` the run's claimed webhook events name (each once, in arrival order)."""
    if plan.targets is None:
        return []
    if not plan.targets_in_staging:
        return list(plan.targets.get(stream) or [])
    return list(_claimed_rows(engine, plan, stream))


def target_parents(engine: Engine, plan: RunPlan, stream: str) -> dict[str, str]:
    """``record id -> parent id`` of the targets of ``stream`` whose webhook named a parent."""
    if plan.targets is None:
        return {}
    if not plan.targets_in_staging:
        return dict((plan.target_parents or {}).get(stream) or {})
    return {record_id: parent for record_id, parent in _claimed_rows(engine, plan, stream).items() if parent}


def _claimed_rows(engine: Engine, plan: RunPlan, stream: str) -> dict[str, str | None]:
    """``record id -> parent id`` of the ``webhook_event`` rows of ``stream`` the run claimed (whatever their
    state now: a cleared task reads them again after it staged them once)."""
    from sqlalchemy import select

    from woohub.staging.schema import webhook_event

    query = select(webhook_event.c.record_id, webhook_event.c.parent_id).where(
        webhook_event.c.stream == stream, webhook_event.c.claimed_run_id == plan.run_id,
        webhook_event.c.id <= (plan.events_upto or 0)).order_by(webhook_event.c.id)
    rows: dict[str, str | None] = {}
    with engine.connect() as connection:
        for record_id, parent_id in connection.execute(query):
            if record_id not in rows or parent_id:
                rows[record_id] = parent_id
    return rows


def close_events(engine: Engine, plan: RunPlan, streams: Iterable[str]) -> int:
    """After an extract staged the records of ``streams``: their claimed webhook events are ``staged``
    (:func:`woohub.webhooks.events.mark_staged`); how many."""
    if plan.events_upto is None:
        return 0
    from woohub.webhooks.events import mark_staged

    closed = sum(mark_staged(engine, stream, plan.events_upto, plan.run_id) for stream in streams)
    if closed:
        log.info("%d webhook event(s) staged", closed)
    return closed


def _given(params: Mapping[str, Any], name: str, default: Any) -> Any:
    """The param's value, or ``default`` when it is absent or null."""
    value = params.get(name)
    return default if value is None else value


def commit_marks(engine: Engine, plan: RunPlan, streams: Iterable[str]) -> list[str]:
    """After every load of a scheduled run succeeded: its streams are synced up to the window end. Other
    runs leave the marks alone. Returns the streams whose mark was offered the new end."""
    if not plan.moves_marks:
        log.info("%s run %s leaves the high-water marks alone", plan.run_type, plan.run_id)
        return []
    streams = list(streams)
    for stream in streams:
        repository.set_high_water_mark(engine, stream, plan.window_end, plan.run_id)
    return streams


def candidate_ids(engine: Engine, stream: str, plan: RunPlan) -> set[str]:
    """The staged records of ``stream`` that ``plan``'s run processes (see the module docstring)."""
    ids = repository.run_source_ids(engine, stream, plan.run_id)
    quarantined = quarantine.open_versions(engine, stream)
    for source_id, digest in repository.unsynced_versions(engine, stream).items():
        if quarantined.get(source_id) != digest:
            ids.add(source_id)
    ids |= dead_letters.retry_refs(engine, plan.run_id).get(stream, set())
    ids |= set(plan.rechecked(stream))
    if plan.recheck_quarantine:
        ids |= set(quarantined)
    return ids


def loadable_ids(engine: Engine, stream: str, plan: RunPlan) -> set[str]:
    """The candidates whose newest staged version passed validation (what the loads may write)."""
    return repository.validated_source_ids(engine, stream, candidate_ids(engine, stream, plan))
