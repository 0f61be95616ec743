"""Helpers for the hook tests: Airflow connections defined through ``AIRFLOW_CONN_*`` variables, and a fast
retry policy so retry tests take milliseconds."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from woohub.hooks import RetryPolicy

FAST_RETRIES = RetryPolicy(max_attempts=4, max_retry_seconds=10, backoff_initial_seconds=0.01,
                           backoff_max_seconds=0.05, backoff_jitter_seconds=0.0)

MakeConnection = Callable[..., str]


@pytest.fixture
def make_connection(monkeypatch: pytest.MonkeyPatch) -> MakeConnection:
    """Define a connection ``conn_id`` from keyword fields (``extra`` as a dict) and return its id."""
    def make(conn_id: str, **fields: Any) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "http", **fields}))
        return conn_id
    return make


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr("tenacity.nap.time.sleep", recorded.append)
    return recorded


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """All log output so far: Airflow's structlog writes hook logs to stdout, stdlib logging to caplog."""
    caplog.set_level(logging.INFO)

    def text() -> str:
        out, err = capsys.readouterr()
        return out + err + caplog.text
    return text
