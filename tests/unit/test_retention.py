"""Retention on real staging databases (SQLite and PostgreSQL) and a GX folder: old synced payloads, old run
records and old released quarantine rows go; unsynced rows, open quarantine, what a dead letter re-processes
and the run counts stay; old validation results and their Data Docs pages go by modification time; the
``python -m woohub retention purge`` command, dry run included."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from tests.helpers import migrated_staging
from woohub.core import retention
from woohub.staging.repository import upsert, utcnow
from woohub.staging.schema import (
    dead_letter,
    id_map,
    quarantine,
    reconciliation_difference,
    run_stats,
    staged_run_record,
    stg_hubspot_line_items,
    stg_woocommerce_customers,
    stg_woocommerce_orders,
    sync_state,
)

NOW = utcnow().replace(microsecond=0)  # the command measures from the real clock
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=5)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def staging(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    with migrated_staging(request.param, tmp_path, "woohub_ret") as staged_db:
        yield staged_db


def staged(source_id: str, extracted_at: datetime, *, synced: bool) -> dict:
    return {"source_id": source_id, "payload": '{"billing": {"email": "a@example.com"}}', "content_hash": "h2",
            "source_modified_at": None, "extracted_run_id": "r", "extracted_at": extracted_at,
            "validated_hash": "h2", "synced_hash": "h2" if synced else "h1"}


def quarantined(key: str, at: datetime, released_at: datetime | None) -> dict:
    return {"object_type": "woocommerce.orders", "source_key": key, "reasons": '["bad"]', "content_hash": "h2",
            "first_quarantined_at": at, "quarantined_at": at, "run_id": "r",
            "released_at": released_at, "released_run_id": "r2" if released_at else None}


def seed(engine: Engine) -> None:
    """Orders: 1 old synced, 2 recent synced, 3 old unsynced, 4 old synced but quarantined, 5 old synced
    with an exhausted dead letter, 6 old synced with a resolved one, 7 old synced with one a person
    dismissed from the report page. Customers: 9 old synced. Line items:
    one old row never marked synced (a lookup stream)."""
    with engine.begin() as connection:
        upsert(connection, stg_woocommerce_orders, [
            staged("1", OLD, synced=True), staged("2", RECENT, synced=True), staged("3", OLD, synced=False),
            staged("4", OLD, synced=True), staged("5", OLD, synced=True), staged("6", OLD, synced=True),
            staged("7", OLD, synced=True)])
        upsert(connection, stg_woocommerce_customers, [staged("9", OLD, synced=True)])
        upsert(connection, stg_hubspot_line_items, [{**staged("70", OLD, synced=False), "synced_hash": None}])
        upsert(connection, staged_run_record, [
            {"run_id": "old", "stream": "woocommerce.orders", "source_id": "1", "content_hash": "h2",
             "extracted_at": OLD},
            {"run_id": "new", "stream": "woocommerce.orders", "source_id": "2", "content_hash": "h2",
             "extracted_at": RECENT}])
        upsert(connection, quarantine, [
            quarantined("4", OLD, None),  # open, old: waits for a person
            quarantined("10", OLD, OLD + timedelta(days=1)),  # released long ago
            quarantined("11", OLD, RECENT)])  # released recently
        letter = {"object_type": "deal", "error_code": "X", "error_message": "boom", "attempts": 8,
                  "first_failed_at": OLD, "last_failed_at": OLD, "next_retry_at": OLD, "last_run_id": "r"}
        upsert(connection, dead_letter, [
            {**letter, "source_key": "5", "source_ref": "woocommerce.orders:5", "state": "exhausted"},
            {**letter, "source_key": "6", "source_ref": "woocommerce.orders:6", "state": "resolved",
             "resolved_at": OLD},
            {**letter, "source_key": "7", "source_ref": "woocommerce.orders:7", "state": "dismissed"}])
        upsert(connection, run_stats, [{"run_id": "old", "object_type": "deal", "extracted": 6, "updated_at": OLD}])
        difference = {"run_id": "night", "object_type": "contact", "woocommerce_id": "customer:9", "kind":
                      "field_mismatch", "field": "email", "woocommerce_value": "a@example.com",
                      "hubspot_value": "b@example.com"}
        connection.execute(insert(reconciliation_difference), [
            {**difference, "id": 1, "action": "reported", "detected_at": OLD},  # an old report: goes
            {**difference, "id": 2, "action": "heal_queued", "detected_at": OLD},  # still to be written: kept
            {**difference, "id": 3, "action": "reported", "detected_at": RECENT}])
        upsert(connection, id_map, [{"object_type": "deal", "woocommerce_key": "1", "hubspot_id": "h1"}])
        upsert(connection, sync_state, [{"stream": "woocommerce.orders", "high_water_mark": OLD,
                                         "updated_at": OLD, "updated_run_id": "old"}])


def keys(engine: Engine, table, column: str = "source_id") -> set[str]:
    with engine.connect() as connection:
        return {row[0] for row in connection.execute(select(table.c[column]))}


def count(engine: Engine, table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_purge_deletes_old_synced_data_and_keeps_what_still_waits(staging) -> None:
    engine, _ = staging
    seed(engine)
    counts = retention.purge_staging(engine, older_than_days=30, now=NOW)
    assert counts["stg_woocommerce_orders"] == 3 and counts["stg_woocommerce_customers"] == 1
    assert counts["staged_run_record"] == 1 and counts["quarantine"] == 1
    assert counts["stg_hubspot_line_items"] == 0
    assert counts["reconciliation_difference"] == 1
    assert keys(engine, reconciliation_difference, "id") == {2, 3}
    assert "run_stats" not in counts
    # 1, 6 and 7 (their dead letters are resolved / dismissed) go; 2 is recent, 3 unsynced, 4 quarantined, 5 a dead letter's
    assert keys(engine, stg_woocommerce_orders) == {"2", "3", "4", "5"}
    assert keys(engine, stg_woocommerce_customers) == set()
    assert keys(engine, stg_hubspot_line_items) == {"70"}
    assert keys(engine, staged_run_record, "run_id") == {"new"}
    assert keys(engine, quarantine, "source_key") == {"4", "11"}
    assert (count(engine, run_stats), count(engine, id_map), count(engine, sync_state),
            count(engine, dead_letter)) == (1, 1, 1, 3)
    assert sum(retention.purge_staging(engine, older_than_days=30, now=NOW).values()) == 0, "nothing left to purge"


def test_a_shorter_retention_reaches_recent_rows_and_dry_run_deletes_nothing(staging) -> None:
    engine, _ = staging
    seed(engine)
    would = retention.purge_staging(engine, older_than_days=1, now=NOW, dry_run=True)
    assert (would["stg_woocommerce_orders"], would["staged_run_record"], would["quarantine"]) == (4, 2, 2)
    assert count(engine, stg_woocommerce_orders) == 7 and count(engine, quarantine) == 3
    assert retention.purge_staging(engine, older_than_days=1, now=NOW) == would


def test_retention_days_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(retention.RETENTION_DAYS_ENV, raising=False)
    assert retention.retention_days() == 30
    monkeypatch.setenv(retention.RETENTION_DAYS_ENV, "7")
    assert retention.retention_days() == 7
    monkeypatch.setenv(retention.RETENTION_DAYS_ENV, "0")
    with pytest.raises(ValueError, match="at least 1"):
        retention.retention_days()


def gx_file(root: Path, relative: str, modified: datetime) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    stamp = modified.timestamp() if modified.tzinfo else (modified - datetime(1970, 1, 1)).total_seconds()
    os.utime(path, (stamp, stamp))
    return path


def gx_root(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "great_expectations"
    result = "uncommitted/validations/woocommerce_orders_staging/{run}/20260101T000000.000000Z/x.json"
    page = "uncommitted/data_docs/local_site/validations/woocommerce_orders_staging/{run}/20260101T000000.000000Z/x.html"
    files = {
        "old_result": gx_file(root, result.format(run="old"), OLD),
        "old_page": gx_file(root, page.format(run="old"), RECENT),  # its result is old: goes with it
        "new_result": gx_file(root, result.format(run="new"), RECENT),
        "new_page": gx_file(root, page.format(run="new"), RECENT),
        "orphan_page": gx_file(root, page.format(run="gone"), OLD),
        "store_id": gx_file(root, "uncommitted/validations/.ge_store_backend_id", OLD),
        "suite": gx_file(root, "expectations/woocommerce_orders_staging.json", OLD),
        "checkpoint": gx_file(root, "checkpoints/woocommerce_orders_staging.json", OLD),
        "index": gx_file(root, "uncommitted/data_docs/local_site/index.html", OLD),
    }
    return root, files


def test_old_validation_results_and_their_pages_are_pruned_by_modification_time(tmp_path: Path) -> None:
    root, files = gx_root(tmp_path)
    assert retention.prune_validation_results(root, older_than_days=30, now=NOW, dry_run=True) == 1
    assert all(path.exists() for path in files.values())
    assert retention.prune_validation_results(root, older_than_days=30, now=NOW) == 1
    gone = {name for name, path in files.items() if not path.exists()}
    assert gone == {"old_result", "old_page", "orphan_page"}
    assert not (root / "uncommitted/validations/woocommerce_orders_staging/old").exists(), "empty folders go"
    assert (root / "uncommitted/validations").is_dir()


def test_the_command_purges_and_its_dry_run_only_counts(staging, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from woohub.cli import main

    engine, url = staging
    seed(engine)
    root, files = gx_root(tmp_path)
    monkeypatch.setenv(retention.RETENTION_DAYS_ENV, "30")
    base = ["--staging-url", url, "retention", "purge", "--gx-root", str(root)]
    assert main([*base, "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "stg_woocommerce_orders: 3" in dry and "gx_validation_results: 1" in dry and "would purge" in dry
    assert count(engine, stg_woocommerce_orders) == 7 and all(p.exists() for p in files.values())
    assert main([*base, "--days", "1"]) == 0
    done = capsys.readouterr().out
    assert "quarantine: 2" in done and "gx_validation_results: 2" in done and "purged" in done
    assert keys(engine, stg_woocommerce_orders) == {"3", "4", "5"}
    assert count(engine, run_stats) == 1


def test_python_m_woohub_retention_purge_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'staging.db'}"
    env = {k: v for k, v in os.environ.items() if k != retention.RETENTION_DAYS_ENV}
    result = subprocess.run([sys.executable, "-m", "woohub", "--staging-url", url, "retention", "purge", "--gx-root",
                             str(tmp_path / "gx"), "--dry-run"], capture_output=True, text=True, env=env,
                            cwd=Path(__file__).resolve().parents[2], check=False)
    assert result.returncode == 0, result.stderr
    assert "would purge 0 row(s)/result(s) older than 30 day(s)" in result.stdout
