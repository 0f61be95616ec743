"""Several OS processes (forked, as the LocalExecutor and Celery's prefork pool start tasks), each with its
own HubSpotHook, share one rate-limit budget in a staging database (SQLite file or PostgreSQL) and hammer
the HubSpot sandbox process with its rate limits on. Together they stay within the budget and get no 429,
where per-process budgets would each allow the whole limit."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Sandbox
from tests.hooks.conftest import MakeConnection
from tests.hooks.test_shared_budget import budget_database_url
from woohub.http import ApiHTTPError
from woohub.http.shared_budget import STORE_ENV_VAR, BudgetSpec, SqlBudgetStore
from woohub.hubspot import HubSpotHook
from woohub.staging.database import engine_for_url

STORE_CONN_ID = "budget_store"
SEARCH_BODY = {"filterGroups": [], "limit": 1}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated staging database and the ``budget_store`` connection naming it; the parent process has
    used its engine, so every forked worker inherits a connection pool it must not use."""
    monkeypatch.delenv(STORE_ENV_VAR, raising=False)
    for url in budget_database_url(request.param, tmp_path):
        monkeypatch.setenv(f"AIRFLOW_CONN_{STORE_CONN_ID.upper()}",
                           json.dumps({"conn_type": "http", "extra": {"sqlalchemy_url": url}}))
        yield url


def _hubspot_connection(make_connection: MakeConnection, sandbox: Sandbox, conn_id: str, **extra: Any) -> str:
    return make_connection(conn_id, host=sandbox.hubspot_url, password="sandbox-token",
                           extra={"rate_limit_store": STORE_CONN_ID, "max_attempts": 1, **extra})


def _worker(conn_id: str, method: str, path: str, calls: int, start: Barrier, results: Queue) -> None:
    """In a child process: ``calls`` requests through a fresh hook; reports (admission time, status) pairs,
    the admission time being when the limiter let the call go (search limiter for searches)."""
    hook = HubSpotHook(conn_id)
    hook.get_conn()
    limiter = hook._search_limiter if path.endswith("/search") else hook._limiter
    assert limiter is not None
    admitted: list[float] = []
    acquire = limiter.acquire

    def timed_acquire() -> float:
        waited = acquire()
        admitted.append(time.time())
        return waited
    limiter.acquire = timed_acquire  # type: ignore[method-assign]
    outcomes: list[tuple[float, int]] = []
    start.wait(timeout=60)
    for _ in range(calls):
        try:
            status = hook.request(method, path, json=SEARCH_BODY if method == "POST" else None,
                                  idempotent=True).status_code
        except ApiHTTPError as error:
            status = error.status or 0
        outcomes.append((admitted[-1], status))
    results.put(outcomes)


def _run_workers(conn_id: str, processes: int, calls: int, method: str = "GET",
                 path: str = "/crm/v3/objects/contacts") -> list[tuple[float, int]]:
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_worker, args=(conn_id, method, path, calls, start, results))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    try:
        outcomes = [item for _ in workers for item in results.get(timeout=60)]
    finally:
        for worker in workers:
            worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0] * processes
    return sorted(outcomes)


def _max_in_window(starts: list[float], window: float) -> int:
    return max(sum(1 for t in starts if s <= t < s + window) for s in starts)


def test_processes_share_the_ten_second_budget(store_url: str, empty_sandbox: Sandbox,
                                               make_connection: MakeConnection) -> None:
    empty_sandbox.hubspot.configure(ten_second_limit=20, rate_limits_enabled=True)
    conn_id = _hubspot_connection(make_connection, empty_sandbox, "hs_shared", ten_second_limit=20,
                                  rate_limit_margin=2)
    outcomes = _run_workers(conn_id, processes=3, calls=12)  # 36 calls: each process alone fits 18 / window
    starts = [admitted for admitted, _ in outcomes]
    assert [status for _, status in outcomes] == [200] * 36
    assert empty_sandbox.hubspot.stats()["statuses"] == {"200": 36}  # the server saw no 429 at all
    # 20 - margin 2 over all three processes, in any of the server's 10-s windows (the budget's window is
    # 0.5 s longer; the times are taken in the workers just after admission, a little late)
    assert _max_in_window(starts, 10.0) <= 18
    assert starts[-1] - starts[0] >= 10.0  # the second half waited for the first to leave the window


def test_the_shared_budget_follows_the_portals_limit(store_url: str, empty_sandbox: Sandbox,
                                                     make_connection: MakeConnection) -> None:
    empty_sandbox.hubspot.configure(ten_second_limit=12, rate_limits_enabled=True)
    conn_id = _hubspot_connection(make_connection, empty_sandbox, "hs_portal")  # configured: 100 per 10 s
    outcomes = _run_workers(conn_id, processes=2, calls=8)
    starts = [admitted for admitted, _ in outcomes]
    assert [status for _, status in outcomes] == [200] * 16
    assert empty_sandbox.hubspot.stats()["statuses"] == {"200": 16}
    assert _max_in_window(starts, 10.0) <= 11  # 12 - 10%, learnt from X-HubSpot-RateLimit-Max
    assert starts[-1] - starts[0] >= 10.0
    stored = SqlBudgetStore(engine_for_url(store_url)).snapshot(
        BudgetSpec(f"hs_portal@127.0.0.1:{empty_sandbox.hubspot_url.rsplit(':', 1)[1]}", 100, 10.0))
    assert stored is not None
    assert (stored.call_limit, stored.interval_ms, stored.limit_source) == (12, 10_000, "server")


def test_search_is_paced_across_processes(store_url: str, empty_sandbox: Sandbox,
                                          make_connection: MakeConnection) -> None:
    empty_sandbox.hubspot.configure(search_per_second=5, rate_limits_enabled=True, search_index_delay_seconds=0)
    conn_id = _hubspot_connection(make_connection, empty_sandbox, "hs_search")  # search_per_second: 5
    outcomes = _run_workers(conn_id, processes=3, calls=5, method="POST", path="/crm/v3/objects/contacts/search")
    starts = [admitted for admitted, _ in outcomes]
    assert [status for _, status in outcomes] == [200] * 15
    assert empty_sandbox.hubspot.stats()["statuses"] == {"200": 15}
    assert _max_in_window(starts, 1.0) <= 5  # in any of the server's one-second windows
    assert starts[-1] - starts[0] >= 2.0  # 15 searches at 5 per 1.1 s: the third second opens at 2.2 s
