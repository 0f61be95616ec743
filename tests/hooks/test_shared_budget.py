"""The shared rate-limit budget in a real staging database (SQLite file, PostgreSQL), on a fake clock:
window arithmetic, the server's limit and remaining count shared through the budget row, pruning, and
how a hook finds the store. ``test_shared_budget_processes.py`` runs it from several OS processes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from tests.hooks.conftest import MakeConnection
from woohub.http.rate_limit import RollingWindowLimiter, ServerWindow
from woohub.http.shared_budget import (
    STORE_ENV_VAR,
    BudgetSpec,
    ServerReport,
    SharedRollingWindowLimiter,
    SqlBudgetStore,
    store_conn_id,
)
from woohub.staging.database import engine_for_url, migrate
from woohub.staging.schema import rate_limit_call

POSTGRES_URL_VAR = "WOOHUB_TEST_POSTGRES_URL"
EPOCH = datetime(2026, 12, 1, 12, 0, 0)


def budget_database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh staging database (SQLite file or a new PostgreSQL database) migrated to the newest revision,
    as a SQLAlchemy URL; the PostgreSQL database is dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'budget.db'}"
        migrate(engine_for_url(url))
        yield url
        engine_for_url(url).dispose()
        return
    if not os.getenv(POSTGRES_URL_VAR):
        pytest.skip(f"PostgreSQL budget tests need {POSTGRES_URL_VAR}; .ci/run sets it")
    from tests.helpers import postgres_database

    with postgres_database("woohub_budget") as url:
        migrate(engine_for_url(url))
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    for url in budget_database_url(request.param, tmp_path):
        yield engine_for_url(url)


class FakeClock:
    """Naive-UTC time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> datetime:
        return EPOCH + timedelta(seconds=self.seconds)

    def sleep(self, seconds: float) -> None:
        self.seconds += seconds


def _max_in_window(starts: list[float], window: float) -> int:
    return max(sum(1 for t in starts if s <= t < s + window) for s in starts)


def _report(remaining: int | None = None, limit: int | None = None, interval_ms: int | None = 10_000,
            age: float = 0.0) -> ServerReport:
    return ServerReport(ServerWindow(remaining, limit, interval_ms), age)


def test_a_burst_never_exceeds_the_budget_in_any_window(engine: Engine) -> None:
    clock = FakeClock()
    limiter = SharedRollingWindowLimiter(SqlBudgetStore(engine, clock=clock),
                                         BudgetSpec("portal-1", 100, 10.0, margin=10), sleep=clock.sleep)
    starts = []
    for _ in range(250):
        limiter.acquire()
        starts.append(clock.seconds)
    assert _max_in_window(starts, 10.0) == 90
    assert 20.0 <= clock.seconds < 21.0  # 250 calls at 90 per 10 s: the third window opens at t=20


def test_two_stores_on_one_database_share_one_budget(engine: Engine) -> None:
    clock = FakeClock()
    spec = BudgetSpec("portal-2", 10, 10.0, margin=0, slack_seconds=0.5)
    first, second = SqlBudgetStore(engine, clock=clock), SqlBudgetStore(engine, clock=clock)
    first.configure(spec)
    admitted = [store.try_acquire(spec) for store in (first, second) * 5]
    assert admitted == [0.0] * 10
    assert second.try_acquire(spec) == pytest.approx(10.5)  # the 11th waits for the first to leave the window
    assert first.try_acquire(BudgetSpec("other-portal", 10, 10.0)) == 0.0  # budgets are per name
    clock.seconds = 10.5  # the first ten left the window: room for ten more, from either store
    assert [store.try_acquire(spec) for store in (second, first) * 5] == [0.0] * 10
    assert first.try_acquire(spec) == pytest.approx(10.5)
    with engine.connect() as connection:  # expired starts are deleted by the acquire that finds them
        stored = connection.execute(select(func.count()).where(rate_limit_call.c.budget_name == spec.name))
        assert stored.scalar_one() == 10


def test_calls_the_server_counted_elsewhere_take_up_the_shared_budget(engine: Engine) -> None:
    clock = FakeClock()
    spec = BudgetSpec("portal-3", 100, 10.0, margin=10)
    ours, other_process = SqlBudgetStore(engine, clock=clock), SqlBudgetStore(engine, clock=clock)
    assert ours.try_acquire(spec) == 0.0
    assert ours.try_acquire(spec, _report(remaining=99, limit=100)) == 0.0  # only our own call: no change
    clock.seconds = 4.0
    # another integration on the app spent 93 calls: the server has 95 in its window, the budget had 2
    assert ours.try_acquire(spec, _report(remaining=5, limit=100)) == pytest.approx(10.0)
    assert other_process.try_acquire(spec) == pytest.approx(10.0)  # every process sees them
    snapshot = ours.snapshot(spec)
    assert snapshot is not None and snapshot.calls_in_window == 95
    clock.seconds = 14.0
    assert other_process.try_acquire(spec) == 0.0
    # a report older than the window says nothing about it any more
    assert ours.try_acquire(spec, _report(remaining=0, limit=100, age=11.0)) == 0.0


def test_the_budget_follows_the_servers_limit_for_every_process(engine: Engine) -> None:
    clock = FakeClock()
    configured = BudgetSpec("portal-4", 100, 10.0, slack_seconds=0.5)  # margin: 10% of the limit in force
    store = SqlBudgetStore(engine, clock=clock)
    store.configure(configured)
    assert store.try_acquire(configured) == 0.0
    assert store.try_acquire(configured, _report(remaining=19, limit=20, interval_ms=10_000)) == 0.0
    snapshot = store.snapshot(configured)
    assert snapshot is not None
    assert (snapshot.call_limit, snapshot.interval_ms, snapshot.limit_source) == (20, 10_000, "server")
    late_process = SqlBudgetStore(engine, clock=clock)
    late_process.configure(configured)  # a process configured with 100 does not undo what the server said
    admitted = [late_process.try_acquire(configured) for _ in range(17)]
    assert admitted == [0.0] * 16 + [pytest.approx(10.5)]  # 20 - 10% = 18 per window, two already spent
    fixed_margin = BudgetSpec("portal-4", 100, 10.0, margin=5, slack_seconds=0.5)
    clock.seconds = 10.5
    assert [store.try_acquire(fixed_margin) for _ in range(16)] == [0.0] * 15 + [pytest.approx(10.5)]


def test_a_configured_limit_applies_until_the_server_reports_one(engine: Engine) -> None:
    store = SqlBudgetStore(engine, clock=FakeClock())
    store.configure(BudgetSpec("portal-5", 100, 10.0))
    store.configure(BudgetSpec("portal-5", 40, 5.0))  # a redeployed connection with a new limit
    snapshot = store.snapshot(BudgetSpec("portal-5", 40, 5.0))
    assert snapshot is not None
    assert (snapshot.call_limit, snapshot.interval_ms, snapshot.limit_source) == (40, 5_000, "config")


def test_the_limiter_hands_the_newest_response_to_its_next_acquire(engine: Engine) -> None:
    clock = FakeClock()
    store = SqlBudgetStore(engine, clock=clock)
    limiter = SharedRollingWindowLimiter(store, BudgetSpec("portal-6", 100, 10.0, margin=10),
                                         sleep=clock.sleep, monotonic=lambda: clock.seconds)
    assert limiter.acquire() == 0.0
    limiter.observe_headers({})  # a search response: no rate-limit headers, nothing kept
    limiter.observe_headers({"X-HubSpot-RateLimit-Max": "30", "X-HubSpot-RateLimit-Remaining": "10",
                             "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})
    # the server counted 20 of its 30; a margin of 10 leaves 20: the budget is full until t=10
    assert limiter.acquire() == pytest.approx(10.0)
    snapshot = store.snapshot(limiter.spec)
    assert snapshot is not None and snapshot.call_limit == 30


def test_where_a_hook_finds_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STORE_ENV_VAR, raising=False)
    assert store_conn_id({}) is None
    assert store_conn_id({"rate_limit_store": "woohub_staging"}) == "woohub_staging"
    monkeypatch.setenv(STORE_ENV_VAR, "staging_from_env")
    assert store_conn_id({}) == "staging_from_env"
    assert store_conn_id({"rate_limit_store": "mine"}) == "mine"
    assert store_conn_id({"rate_limit_store": False}) is None  # this connection opts out


def test_a_hook_shares_its_budget_only_when_a_store_is_named(tmp_path: Path, make_connection: MakeConnection,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from woohub.hubspot import HubSpotHook

    monkeypatch.delenv(STORE_ENV_VAR, raising=False)
    make_connection("hs_local", host="http://127.0.0.1:9", password="t")
    local = HubSpotHook("hs_local")
    local.get_conn()
    assert isinstance(local._limiter, RollingWindowLimiter)

    url = f"sqlite:///{tmp_path / 'staging.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_BUDGET_STORE", json.dumps({"conn_type": "sqlite",
                                                                 "host": str(tmp_path / "staging.db")}))
    monkeypatch.setenv(STORE_ENV_VAR, "budget_store")
    shared = HubSpotHook("hs_local")
    shared.get_conn()  # migrates the store's database and creates the budgets
    assert isinstance(shared._limiter, SharedRollingWindowLimiter)
    assert shared._limiter.spec == BudgetSpec("hs_local@127.0.0.1:9", 100, 10.0, slack_seconds=0.5)
    assert isinstance(shared._search_limiter, SharedRollingWindowLimiter)
    assert shared._search_limiter.spec.name == "hs_local@127.0.0.1:9/search"
    store = SqlBudgetStore(engine_for_url(url))
    stored: dict[str, Any] = {}
    for spec in (shared._limiter.spec, shared._search_limiter.spec):
        snapshot = store.snapshot(spec)
        assert snapshot is not None
        stored[spec.name] = (snapshot.call_limit, snapshot.interval_ms)
    assert stored == {"hs_local@127.0.0.1:9": (100, 10_000), "hs_local@127.0.0.1:9/search": (5, 1_000)}
    engine_for_url(url).dispose()
