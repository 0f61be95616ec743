"""Fixtures for the hook tests: Airflow connections defined through ``AIRFLOW_CONN_*`` variables, recorded
retry sleeps and captured logs.

Nothing here may import Airflow (or ``woohub.hooks``) at module level: this conftest loads before the
top-level ``pytest_configure`` points Airflow at the test's temporary home and database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

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
