"""Fixtures for running DAGs through Airflow itself (``dag.test()``) against the sandbox APIs, with the
staging database on SQLite or on PostgreSQL. Airflow is imported inside fixtures only (see tests/conftest.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL_VAR = "WOOHUB_TEST_POSTGRES_URL"


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
    from tests.helpers import postgres_database

    with postgres_database("woohub_test") as url:
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


#: the small seeded store most end-to-end tests sync
STORE = {"seed": 11, "customers": 12, "products": 10, "orders": 36}


@pytest.fixture
def seeded(sandbox: Any) -> Iterator[Any]:
    """Both sandboxes seeded with :data:`STORE`; faults and the shop's clock are cleared afterwards."""
    sandbox.woo.reset(**STORE)
    sandbox.hubspot.reset(**STORE)
    yield sandbox
    sandbox.woo.clear_faults()
    sandbox.hubspot.clear_faults()
    sandbox.woo.configure(clock=None)
