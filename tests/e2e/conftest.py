"""Fixtures for running DAGs through Airflow itself (``dag.test()``) against the sandbox APIs, with the
staging database on SQLite or on PostgreSQL. Airflow is imported inside fixtures only (see tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL_VAR = "WOOHUB_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database (SQLite in the session's temporary AIRFLOW_HOME), migrated once."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    result = subprocess.run([airflow, "db", "migrate"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


def _postgres_database() -> Iterator[str]:
    """A fresh database on the server named by WOOHUB_TEST_POSTGRES_URL, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(os.environ[POSTGRES_URL_VAR])
    name = f"woohub_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        from woohub.staging.database import engine_for_url

        url = server.set(database=name).render_as_string(hide_password=False)
        engine_for_url(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def staging_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The staging database as a SQLAlchemy URL, and the ``woohub_staging`` connection pointing at it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'staging.db'}"
        monkeypatch.setenv("AIRFLOW_CONN_WOOHUB_STAGING", json.dumps({"conn_type": "sqlite",
                                                                       "host": str(tmp_path / "staging.db")}))
        yield url
        return
    if not os.getenv(POSTGRES_URL_VAR):
        pytest.skip(f"PostgreSQL staging tests need {POSTGRES_URL_VAR} (a SQLAlchemy URL of a server that "
                    "lets this user create databases); .ci/run sets it")
    for url in _postgres_database():
        monkeypatch.setenv("AIRFLOW_CONN_WOOHUB_STAGING", json.dumps(
            {"conn_type": "postgres", "extra": {"sqlalchemy_url": url}}))
        yield url


@pytest.fixture
def gx_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the GX file context, so test runs do not write results into the repository."""
    import shutil

    root = tmp_path / "great_expectations"
    shutil.copytree(ROOT / "great_expectations", root, ignore=shutil.ignore_patterns("uncommitted"))
    monkeypatch.setenv("WOOHUB_GX_ROOT", str(root))
    return root


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task retries still happen, one second apart (the DAG reads this when it is parsed)."""
    monkeypatch.setenv("WOOHUB_RETRY_DELAY_SECONDS", "1")
