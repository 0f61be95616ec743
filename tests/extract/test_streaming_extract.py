"""Extracts stage as they read (memory holds one batch, not the walk) and log progress against X-WP-Total."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import Sandbox


@pytest.fixture
def engine(tmp_path: Path):
    from woohub.staging.database import engine_for_url, migrate

    engine = engine_for_url(f"sqlite:///{tmp_path / 'staging.db'}")
    migrate(engine)
    return engine


def test_orders_are_staged_batch_by_batch_with_progress(sandbox: Sandbox, engine, monkeypatch) -> None:
    from woohub.core.progress import Progress
    from woohub.staging import repository
    from woohub.woocommerce import WooCommerceHook, extract
    from woohub.woocommerce.extract import ExtractWindow, extract_orders

    sandbox.woo.reset(seed=11, customers=10, products=5, orders=230)
    writes: list[int] = []
    original = repository.stage_records

    def counting(engine, stream, records, run_id, *args, **kwargs):
        records = list(records)
        writes.append(len(records))
        return original(engine, stream, records, run_id, *args, **kwargs)

    monkeypatch.setattr(repository, "stage_records", counting)
    monkeypatch.setattr(extract, "STAGE_BATCH", 40)
    lines: list[str] = []
    monkeypatch.setattr(extract, "Progress", functools.partial(Progress, emit=lines.append))
    hook = WooCommerceHook()
    expected = {o["id"] for o in hook.iter_records("orders")} | {
        o["id"] for o in hook.iter_records("orders", {"status": "trash"})}
    result = extract_orders(hook, engine, ExtractWindow(None, datetime(2100, 1, 1), full=True), "run-1")

    assert result.staged == len(expected) == len(repository.run_source_ids(engine, "woocommerce.orders", "run-1"))
    assert max(writes) <= 40 and len(writes) >= len(expected) // 40, writes
    assert all(line.startswith("extract woocommerce.orders: ") for line in lines)
    assert any(f"of {len(expected):,} (" in line for line in lines), lines  # X-WP-Total of both walks
    assert lines[-1].endswith("done") and "API calls" in lines[-1]
    assert len(lines) >= 10, "a line at every 10 % of the total"
