"""How a run's window is chosen and which runs move marks (plan_run, commit), without Airflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from woohub.core.quality import quarantine_limit
from woohub.staging import repository
from woohub.staging.database import engine_for_url, migrate
from woohub.sync.woocommerce_to_hubspot import (
    CUSTOMER_FULL_SCAN_STREAM,
    MARK_STREAMS,
    ORDERS,
    PRODUCTS,
    commit_high_water_marks,
    plan_run,
)

T = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
NAIVE = T.replace(tzinfo=None)
LOOKBACK = timedelta(minutes=5)


@pytest.fixture
def engine(tmp_path: Path):
    engine = engine_for_url(f"sqlite:///{tmp_path / 'staging.db'}")
    migrate(engine)
    return engine


def synced_until(engine, moment: datetime) -> None:
    for stream in (*MARK_STREAMS, CUSTOMER_FULL_SCAN_STREAM):
        repository.set_high_water_mark(engine, stream, moment, "earlier-run")


def plan(engine, run_type: str, start: datetime, end: datetime, params: dict | None = None, run_id: str = "r"):
    return plan_run(engine, run_id, run_type, start, end, params or {}, overlap=LOOKBACK, now=NAIVE)


def test_first_scheduled_run_is_a_full_initial_load(engine) -> None:
    first = plan(engine, "scheduled", T - timedelta(minutes=15), T)
    assert first.full and first.start is None and first.extras["customer_full_scan"] and first.moves_marks


def test_a_manual_run_without_a_mark_syncs_only_its_window(engine) -> None:
    manual = plan(engine, "manual", T - timedelta(minutes=15), T)
    assert not manual.full and not manual.moves_marks
    assert manual.start == (NAIVE - timedelta(minutes=20)).isoformat()


def test_regular_run_takes_its_interval_with_lookback(engine) -> None:
    synced_until(engine, NAIVE - timedelta(minutes=15))
    regular = plan(engine, "scheduled", T - timedelta(minutes=15), T)
    assert not regular.full
    assert (regular.start, regular.end) == ((NAIVE - timedelta(minutes=20)).isoformat(), NAIVE.isoformat())
    assert not regular.extras["customer_full_scan"]


def test_scheduled_run_after_skipped_or_failed_runs_starts_at_the_high_water_mark(engine) -> None:
    synced_until(engine, NAIVE - timedelta(hours=2))
    caught_up = plan(engine, "scheduled", T - timedelta(minutes=15), T)
    assert caught_up.start == (NAIVE - timedelta(hours=2) - LOOKBACK).isoformat()


def test_manual_and_backfill_runs_keep_to_their_interval_and_never_move_marks(engine) -> None:
    synced_until(engine, NAIVE - timedelta(days=10))
    for run_type in ("manual", "backfill"):
        later = T + timedelta(days=1)
        run = plan(engine, run_type, later, later + timedelta(days=1), run_id=run_type)
        assert (run.start, run.end) == ((later.replace(tzinfo=None) - LOOKBACK).isoformat(),
                                        (later + timedelta(days=1)).replace(tzinfo=None).isoformat())
        assert commit_high_water_marks(engine, run) == []
    assert repository.get_high_water_mark(engine, ORDERS) == NAIVE - timedelta(days=10), "a manual run moved the mark"
    # the gap stays with the schedule: the next scheduled run starts at the mark
    scheduled = plan(engine, "scheduled", T + timedelta(days=2), T + timedelta(days=2, minutes=15))
    assert scheduled.start == (NAIVE - timedelta(days=10) - LOOKBACK).isoformat()
    assert commit_high_water_marks(engine, scheduled) == [*MARK_STREAMS, CUSTOMER_FULL_SCAN_STREAM]
    assert repository.get_high_water_mark(engine, PRODUCTS) == NAIVE + timedelta(days=2, minutes=15)


def test_a_mark_never_moves_back(engine) -> None:
    synced_until(engine, NAIVE)
    repository.set_high_water_mark(engine, ORDERS, NAIVE - timedelta(days=3), "old")
    assert repository.get_high_water_mark(engine, ORDERS) == NAIVE


def test_params_choose_a_window_or_a_full_resync(engine) -> None:
    synced_until(engine, NAIVE)
    window = plan(engine, "manual", T, T, {"window_start": "2026-11-01T00:00:00Z", "window_end": "2026-11-02T00:00:00"})
    assert (window.start, window.end, window.full) == ("2026-11-01T00:00:00", "2026-11-02T00:00:00", False)
    future = plan(engine, "manual", T, T, {"window_start": "2026-11-01T00:00:00", "window_end": "2027-01-01T00:00:00"})
    assert not future.moves_marks, "a window ending in the future must not switch the schedule's catch-up off"
    full = plan(engine, "manual", T, T, {"full_resync": True})
    assert full.full and full.rewrite and full.extras["customer_full_scan"] and not full.moves_marks
    dry = plan(engine, "scheduled", T, T, {"dry_run": True})
    assert dry.dry_run and not dry.moves_marks


def test_customer_full_scan_comes_round_after_its_interval(engine) -> None:
    synced_until(engine, NAIVE - timedelta(hours=25))
    repository.set_high_water_mark(engine, ORDERS, NAIVE, "r")
    repository.set_high_water_mark(engine, PRODUCTS, NAIVE, "r")
    assert plan(engine, "scheduled", T, T).extras["customer_full_scan"]


@pytest.mark.parametrize(("total", "share", "floor", "limit"), [
    (3, 0.05, 10, 10), (1000, 0.05, 10, 50), (0, 0.05, 0, 0), (100, 0.0, 1, 1)])
def test_quarantine_limit_has_a_floor(total: int, share: float, floor: int, limit: float) -> None:
    assert quarantine_limit(total, share, floor) == limit


def test_rechecked_ids_are_candidates_and_loadable_only_once_validated(engine) -> None:
    """The ids a plan re-checks (the deals rejected earlier) are candidates of their stream only, whatever the
    window staged, and loadable only when their newest staged version passed validation."""
    from woohub.core import runs

    base = plan(engine, "scheduled", T - timedelta(minutes=15), T)
    rechecking = runs.RunPlan.from_dict({**base.as_dict(), "recheck": {"hubspot.deals": ["41", "42"]}})
    assert runs.RunPlan.from_dict(rechecking.as_dict()).rechecked("hubspot.deals") == ["41", "42"]
    assert runs.candidate_ids(engine, "hubspot.deals", base) == set()
    repository.stage_records(engine, "hubspot.deals", [{"id": "41"}, {"id": "42"}], "earlier-run")
    repository.mark_synced(engine, "hubspot.deals", repository.staged_hashes(engine, "hubspot.deals"))
    assert runs.candidate_ids(engine, "hubspot.deals", rechecking) == {"41", "42"}
    assert runs.candidate_ids(engine, "hubspot.contacts", rechecking) == set()
    repository.mark_validated(engine, "hubspot.deals", {"41": repository.staged_hashes(engine, "hubspot.deals")["41"]})
    assert runs.loadable_ids(engine, "hubspot.deals", rechecking) == {"41"}
