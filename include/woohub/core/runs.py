"""Run planning and high-water marks, the same for every sync direction.

**Windows.** A run syncs the records its source modified in ``[start - lookback, end)``. The window comes
from the run's data interval, whatever the run type (scheduled, manual with "Specify Manually" in the
trigger form, a backfill run, or the ``window_start``/``window_end`` params of a manual trigger).

**Marks mean "synced without a gap".** Only scheduled runs move a high-water mark, and only after every
load of the run succeeded; a scheduled run starts at the earlier of its data interval start and the mark,
so whatever a failed, skipped or paused stretch missed is caught up. A manual run or a backfill never moves
a mark, so it can never make the schedule skip data. A scheduled run with no mark yet, or any run with
``full_resync``, syncs everything.

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
             overlap: timedelta | None = None, now: datetime | None = None) -> RunPlan:
    """Decide the run's window (see the module docstring) and claim its due dead letters.

    :param mark_streams: the source streams whose marks bound this direction's window (the earliest wins)
    """
    overlap = lookback() if overlap is None else overlap
    now = now or repository.utcnow()
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
    claimed = 0 if dry_run else dead_letters.claim_due(engine, run_id, now=now)
    return RunPlan(
        run_id=run_id, run_type=run_type, start=None if full else (start - overlap).isoformat(),
        end=end.isoformat(), full=full, moves_marks=scheduled and not dry_run, dry_run=dry_run,
        rewrite=bool(params.get("full_resync")), recheck_quarantine=bool(params.get("recheck_quarantine")),
        max_quarantine_share=float(_given(params, "max_quarantine_share", DEFAULT_MAX_QUARANTINE_SHARE)),
        quarantine_floor=int(_given(params, "quarantine_floor", DEFAULT_QUARANTINE_FLOOR)),
        retries_claimed=claimed,
    )


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
