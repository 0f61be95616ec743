"""Dead letters on a real staging database: backoff, the attempts cap, exclusive claims between overlapping
runs, released claims, requeue (also through ``python -m woohub``), one alert per exhaustion."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from woohub.core import dead_letters
from woohub.staging.database import engine_for_url, migrate
from woohub.staging.repository import utcnow


@pytest.fixture
def staging(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'staging.db'}"
    engine = engine_for_url(url)
    migrate(engine)
    return engine, url


def fail(engine, key: str, run_id: str, cap: int = 3) -> dict:
    dead_letters.record_failures(engine, "deal", [{"source_key": key, "error_code": "X", "error_message": "boom",
                                                   "source_ref": f"woocommerce.orders:{key}"}], run_id,
                                 attempts_cap=cap)
    return next(r for r in dead_letters.dead_letters(engine, states=("open", "exhausted")) if r["source_key"] == key)


def due_now(engine) -> None:
    from sqlalchemy import update

    from woohub.staging.schema import dead_letter

    with engine.begin() as connection:
        connection.execute(update(dead_letter).values(next_retry_at=utcnow() - timedelta(seconds=1)))


def test_failures_back_off_and_exhaust_at_the_cap(staging) -> None:
    engine, _ = staging
    first = fail(engine, "1", "r1")
    assert (first["state"], first["attempts"], first["source_ref"]) == ("open", 1, "woocommerce.orders:1")
    assert first["next_retry_at"] - first["last_failed_at"] == timedelta(minutes=5)
    second = fail(engine, "1", "r2")
    assert second["next_retry_at"] - second["last_failed_at"] == timedelta(minutes=10)
    third = fail(engine, "1", "r3")
    assert (third["state"], third["attempts"]) == ("exhausted", 3)
    due_now(engine)
    assert dead_letters.claim_due(engine, "r4") == 0, "an exhausted letter is not retried"


def test_a_claim_is_exclusive_until_released_or_expired(staging) -> None:
    engine, _ = staging
    fail(engine, "7", "r1")
    due_now(engine)
    assert dead_letters.claim_due(engine, "backfill") == 1
    assert dead_letters.claim_due(engine, "scheduled") == 0, "an overlapping run took a claimed letter"
    assert dead_letters.retry_refs(engine, "backfill") == {"woocommerce.orders": {"7"}}
    assert dead_letters.retry_refs(engine, "scheduled") == {}
    assert dead_letters.release_claims(engine, "backfill") == 1
    assert dead_letters.claim_due(engine, "scheduled") == 1
    later = utcnow() + dead_letters.CLAIM_TTL + timedelta(minutes=1)
    assert dead_letters.claim_due(engine, "much-later", now=later) == 1, "a dead run's claim expires"


def test_success_resolves_and_exhaustion_alerts_once(staging) -> None:
    engine, _ = staging
    fail(engine, "8", "r1", cap=1)
    assert [r["source_key"] for r in dead_letters.take_unalerted_exhausted(engine)] == ["8"]
    assert dead_letters.take_unalerted_exhausted(engine) == []
    fail(engine, "9", "r1")
    dead_letters.resolve_dead_letters(engine, "deal", ["9"])
    assert [r["source_key"] for r in dead_letters.dead_letters(engine)] == ["8"]
    assert fail(engine, "9", "r2")["attempts"] == 1, "a resolved letter that fails again starts afresh"


def test_requeue_through_the_command_line(staging) -> None:
    engine, url = staging
    fail(engine, "5", "r1", cap=1)
    fail(engine, "6", "r1", cap=1)
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "woohub", "--staging-url", url, "dead-letters", "requeue",
                             "--key", "5"], capture_output=True, text=True, cwd=root, env=dict(os.environ),
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "requeued 1 dead letter(s)" in result.stdout
    states = {r["source_key"]: (r["state"], r["attempts"]) for r in dead_letters.dead_letters(engine)}
    assert states == {"5": ("open", 0), "6": ("exhausted", 1)}
    assert dead_letters.claim_due(engine, "next") == 1, "a requeued letter is due at once"
    listed = subprocess.run([sys.executable, "-m", "woohub", "--staging-url", url, "dead-letters", "list",
                             "--state", "exhausted"], capture_output=True, text=True, cwd=root, check=False)
    assert listed.returncode == 0 and '"source_key": "6"' in listed.stdout and '"source_key": "5"' not in listed.stdout
