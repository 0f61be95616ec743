"""The steps of the ``woocommerce_to_hubspot`` DAG as plain functions (each DAG task calls one).

Data moves through the staging database: each extract stages payloads under the run id; each validation
quarantines the bad records of the run; each load maps and writes the run's valid records, plus the
records whose earlier load failed and whose retry is due (dead letters claimed by the run).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from woohub.extract.woocommerce import ExtractWindow
from woohub.staging import repository

log = logging.getLogger(__name__)

STREAMS = ("orders", "customers", "products")
DEFAULT_LOOKBACK = timedelta(minutes=int(os.getenv("WOOHUB_LOOKBACK_MINUTES", "5")))
CUSTOMER_FULL_SCAN_EVERY = timedelta(hours=float(os.getenv("WOOHUB_CUSTOMER_FULL_SCAN_HOURS", "24")))
CUSTOMER_FULL_SCAN_STREAM = "customers_full_scan"
DEFAULT_MAX_BAD_SHARE = float(os.getenv("WOOHUB_MAX_QUARANTINE_SHARE", "0.05"))


@dataclass(frozen=True)
class RunPlan:
    """What one run does; small and JSON-able so it can travel through XCom."""

    run_id: str
    start: str | None
    end: str
    full: bool
    customer_full_scan: bool
    retries_claimed: int

    @property
    def window(self) -> ExtractWindow:
        return ExtractWindow(start=datetime.fromisoformat(self.start) if self.start else None,
                             end=datetime.fromisoformat(self.end), full=self.full)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def to_naive_utc(moment: datetime) -> datetime:
    """``moment`` in UTC without tzinfo (staging and WooCommerce's ``*_gmt`` form)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def plan_run(engine: Engine, run_id: str, interval_start: datetime | None, interval_end: datetime | None,
             params: Mapping[str, Any], *, lookback: timedelta = DEFAULT_LOOKBACK,
             now: datetime | None = None) -> RunPlan:
    """Decide the run's window and claim due dead letters.

    - ``params.full_resync``: everything. ``params.window_start``/``window_end`` (ISO, UTC): that window.
    - otherwise ``[min(data interval start, orders high-water mark) - lookback, data interval end)``, so a
      skipped or failed run is caught up; a stream that was never synced gets a full initial load.
    - customers get a full scan when the last one is older than ``WOOHUB_CUSTOMER_FULL_SCAN_HOURS``.
    """
    now = now or repository.utcnow()
    end = to_naive_utc(interval_end) if interval_end else now
    mark = repository.get_high_water_mark(engine, "orders")
    full = bool(params.get("full_resync")) or mark is None
    if params.get("window_start"):
        start = to_naive_utc(datetime.fromisoformat(params["window_start"]))
        end = to_naive_utc(datetime.fromisoformat(params["window_end"])) if params.get("window_end") else end
        full = bool(params.get("full_resync"))
    else:
        start = to_naive_utc(interval_start) if interval_start else end
        if mark is not None and mark < start:
            start = mark
        start = start - lookback
    last_scan = repository.get_high_water_mark(engine, CUSTOMER_FULL_SCAN_STREAM)
    full_scan = full or last_scan is None or now - last_scan >= CUSTOMER_FULL_SCAN_EVERY
    claimed = repository.claim_due_dead_letters(engine, run_id)
    return RunPlan(run_id, None if full else start.isoformat(), end.isoformat(), full, full_scan, claimed)


def candidate_payloads(engine: Engine, stream: str, run_id: str) -> list[dict[str, Any]]:
    """The staged records a run processes for ``stream``: those it extracted plus its claimed retries."""
    extracted = repository.staged_payloads(engine, stream, run_id=run_id)
    have = {str(p["id"]) for p in extracted}
    retry_ids = repository.retry_refs(engine, run_id).get(stream, set()) - have
    return extracted + (repository.staged_payloads(engine, stream, source_ids=retry_ids) if retry_ids else [])


def valid_payloads(engine: Engine, stream: str, run_id: str) -> list[dict[str, Any]]:
    """:func:`candidate_payloads` minus the records the run quarantined."""
    bad = {row["source_key"] for row in repository.quarantined(engine, run_id=run_id, object_type=stream)}
    return [p for p in candidate_payloads(engine, stream, run_id) if str(p["id"]) not in bad]


def commit_high_water_marks(engine: Engine, plan: RunPlan) -> None:
    """After every load of the run succeeded: orders and products are synced up to the window end; a full
    customer scan happened now. A mark never moves back, so a backfill of an old window leaves it alone."""
    end = datetime.fromisoformat(plan.end)
    for stream in ("orders", "products"):
        repository.set_high_water_mark(engine, stream, end, plan.run_id)
    if plan.customer_full_scan:
        repository.set_high_water_mark(engine, CUSTOMER_FULL_SCAN_STREAM, end, plan.run_id)
