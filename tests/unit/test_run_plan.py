"""How a run's extraction window is chosen (plan_run), without Airflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from woohub.staging import repository
from woohub.staging.database import engine_for_url, migrate
from woohub.sync.woocommerce_to_hubspot import CUSTOMER_FULL_SCAN_STREAM, plan_run

T = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
NAIVE = T.replace(tzinfo=None)
LOOKBACK = timedelta(minutes=5)


@pytest.fixture
def engine(tmp_path: Path):
    engine = engine_for_url(f"sqlite:///{tmp_path / 'staging.db'}")
    migrate(engine)
    return engine


def synced_until(engine, moment: datetime) -> None:
    for stream in ("orders", "products", CUSTOMER_FULL_SCAN_STREAM):
        repository.set_high_water_mark(engine, stream, moment, "earlier-run")


def test_first_run_is_a_full_initial_load(engine) -> None:
    plan = plan_run(engine, "r1", T - timedelta(minutes=15), T, {}, lookback=LOOKBACK, now=NAIVE)
    assert plan.full and plan.start is None and plan.customer_full_scan


def test_regular_run_takes_its_interval_with_lookback(engine) -> None:
    synced_until(engine, NAIVE - timedelta(minutes=15))
    plan = plan_run(engine, "r2", T - timedelta(minutes=15), T, {}, lookback=LOOKBACK, now=NAIVE)
    assert not plan.full
    assert (plan.start, plan.end) == ((NAIVE - timedelta(minutes=20)).isoformat(), NAIVE.isoformat())
    assert not plan.customer_full_scan


def test_run_after_skipped_or_failed_runs_starts_at_the_high_water_mark(engine) -> None:
    synced_until(engine, NAIVE - timedelta(hours=2))
    plan = plan_run(engine, "r3", T - timedelta(minutes=15), T, {}, lookback=LOOKBACK, now=NAIVE)
    assert plan.start == (NAIVE - timedelta(hours=2) - LOOKBACK).isoformat()


def test_backfill_of_an_old_interval_keeps_to_that_interval(engine) -> None:
    synced_until(engine, NAIVE)
    old = T - timedelta(days=3)
    plan = plan_run(engine, "r4", old, old + timedelta(minutes=15), {}, lookback=LOOKBACK, now=NAIVE)
    assert (plan.start, plan.end) == ((old.replace(tzinfo=None) - LOOKBACK).isoformat(),
                                      (old + timedelta(minutes=15)).replace(tzinfo=None).isoformat())
    repository.set_high_water_mark(engine, "orders", old.replace(tzinfo=None), "r4")
    assert repository.get_high_water_mark(engine, "orders") == NAIVE, "a backfill never moves the mark back"


def test_params_choose_a_window_or_a_full_resync(engine) -> None:
    synced_until(engine, NAIVE)
    window = plan_run(engine, "r5", T, T, {"window_start": "2026-11-01T00:00:00", "window_end": "2026-11-02T00:00:00"},
                      lookback=LOOKBACK, now=NAIVE)
    assert (window.start, window.end, window.full) == ("2026-11-01T00:00:00", "2026-11-02T00:00:00", False)
    full = plan_run(engine, "r6", T, T, {"full_resync": True}, lookback=LOOKBACK, now=NAIVE)
    assert full.full and full.customer_full_scan


def test_customer_full_scan_comes_round_after_its_interval(engine) -> None:
    synced_until(engine, NAIVE - timedelta(hours=25))
    repository.set_high_water_mark(engine, "orders", NAIVE, "r")
    repository.set_high_water_mark(engine, "products", NAIVE, "r")
    assert plan_run(engine, "r7", T, T, {}, lookback=LOOKBACK, now=NAIVE).customer_full_scan
