"""The per-object load lock holds across processes and is released when its holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

_HOLD = r"""
import sys, time
from woohub.core.locks import exclusive
from woohub.staging.database import engine_for_url
with exclusive(engine_for_url(sys.argv[1]), "load.hubspot.deals"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def holder(url: str, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", _HOLD, url, str(seconds)], stdout=subprocess.PIPE,
                               text=True, env=dict(os.environ))
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'staging.db'}"
    server = os.getenv("WOOHUB_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("PostgreSQL tests need WOOHUB_TEST_POSTGRES_URL; .ci/run sets it")
    return server


def test_a_second_holder_waits_and_a_killed_holder_lets_go(url: str) -> None:
    from woohub.core.locks import exclusive
    from woohub.staging.database import engine_for_url

    engine = engine_for_url(url)
    first = holder(url, 1.5)
    started = time.monotonic()
    with exclusive(engine, "load.hubspot.deals", poll_seconds=0.05):
        waited = time.monotonic() - started
    first.wait(timeout=10)
    assert waited >= 1.0, f"the lock was taken while another process held it (waited {waited:.2f} s)"

    with exclusive(engine, "load.hubspot.contacts", poll_seconds=0.05):  # another name: no wait
        pass

    killed = holder(url, 60)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    started = time.monotonic()
    with exclusive(engine, "load.hubspot.deals", poll_seconds=0.05):
        assert time.monotonic() - started < 5, "a killed holder left the lock behind"
