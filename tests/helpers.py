"""Small helpers shared by test modules. Airflow is imported inside functions only (see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from woohub.sandbox.control import free_port

__all__ = ["POSTGRES_URL_VAR", "free_port", "isolated_dag_files", "migrated_staging", "postgres_database",
           "run_dag_test"]

POSTGRES_URL_VAR = "WOOHUB_TEST_POSTGRES_URL"


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh database on the server named by ``WOOHUB_TEST_POSTGRES_URL`` (the caller skips without it),
    as a SQLAlchemy URL; dropped afterwards, its pooled connections first."""
    import os
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from woohub.staging.database import engine_for_url

    server = make_url(os.environ[POSTGRES_URL_VAR])
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        engine_for_url(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def isolated_dag_files(root: Any) -> Iterator[Any]:
    """For a module's DAG runs: a SQLite staging file ``root/staging.db`` as the ``woohub_staging`` connection, a
    copy of the project's GX file context in ``root/gx`` (``WOOHUB_GX_ROOT``) and 1 s retry delays; yields the
    ``MonkeyPatch`` that holds them (undone on exit) for more settings."""
    import json
    import shutil
    from pathlib import Path

    import pytest

    project = Path(__file__).resolve().parent.parent
    shutil.copytree(project / "great_expectations", Path(root) / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_WOOHUB_STAGING", json.dumps({"conn_type": "sqlite",
                                                                 "host": str(Path(root) / "staging.db")}))
        patch.setenv("WOOHUB_GX_ROOT", str(Path(root) / "gx"))
        patch.setenv("WOOHUB_RETRY_DELAY_SECONDS", "1")
        yield patch


@contextmanager
def migrated_staging(kind: str, directory: Any, prefix: str) -> Iterator[tuple[Any, str]]:
    """A migrated staging database and its URL: ``kind`` ``sqlite`` (a file in ``directory``) or ``postgres`` (a
    fresh database on the ``WOOHUB_TEST_POSTGRES_URL`` server, named ``prefix_…``, dropped afterwards; the test
    is skipped with that reason without it, as in the rest of the suite)."""
    import os

    import pytest

    from woohub.staging.database import engine_for_url, migrate

    if kind == "sqlite":
        url = f"sqlite:///{directory}/staging.db"
        engine = engine_for_url(url)
        migrate(engine)
        yield engine, url
        return
    if not os.getenv(POSTGRES_URL_VAR):
        pytest.skip(f"PostgreSQL staging tests need {POSTGRES_URL_VAR}; .ci/run sets it")
    with postgres_database(prefix) as url:
        engine = engine_for_url(url)
        migrate(engine)
        yield engine, url


@contextmanager
def _runs_created_as_scheduled() -> Iterator[None]:
    """Make ``dag.test()`` create a real *scheduled* DagRun (run type and run id as the scheduler makes
    them) instead of a manual one: the DAG's tasks then see exactly what a scheduler-created run shows."""
    import airflow.models.dagrun as dagrun_module
    from airflow.utils.types import DagRunType

    original = dagrun_module.get_or_create_dagrun

    def create_scheduled(*, dag: Any, run_id: str, logical_date: Any, data_interval: Any, run_after: Any,
                         conf: Any, triggered_by: Any, triggering_user_name: Any, start_date: Any,
                         session: Any) -> Any:
        from airflow.models.dagrun import DagRun
        from airflow.utils.state import DagRunState
        from sqlalchemy import select

        existing = session.scalar(select(DagRun).where(DagRun.dag_id == dag.dag_id,
                                                       DagRun.logical_date == logical_date))
        if existing:
            session.delete(existing)
            session.commit()
        return dag.create_dagrun(
            run_id=DagRun.generate_run_id(run_type=DagRunType.SCHEDULED, logical_date=logical_date,
                                          run_after=run_after),
            logical_date=logical_date, data_interval=data_interval, run_after=run_after, conf=conf,
            run_type=DagRunType.SCHEDULED, state=DagRunState.RUNNING, triggered_by=triggered_by,
            triggering_user_name=triggering_user_name, start_date=start_date or logical_date, session=session)

    dagrun_module.get_or_create_dagrun = create_scheduled
    try:
        yield
    finally:
        dagrun_module.get_or_create_dagrun = original


def run_dag_test(dag_id: str, logical_date: datetime, conf: dict[str, Any] | None = None, *,
                 scheduled: bool = False) -> Any:
    """Run ``dags/<dag_id>.py`` through Airflow (``dag.test()``) and return the DagRun; ``scheduled``
    makes it a scheduled run (the only kind that moves high-water marks), else it is a manual run."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import PROJECT_ROOT

    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / f"{dag_id}.py")).dags[dag_id]
    if not scheduled:
        return dag.test(logical_date=logical_date, run_conf=conf or {})
    with _runs_created_as_scheduled():
        return dag.test(logical_date=logical_date, run_conf=conf or {})


def copy_sqlite_database(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite database ``source`` through SQLite's backup API. Not a file copy:
    Airflow runs its metadata database in WAL mode, and the newest commits may still be in ``<file>-wal``,
    which a copy of the main file alone leaves out (the copy is then stale, or unreadable)."""
    import sqlite3

    source_db, target_db = sqlite3.connect(source), sqlite3.connect(target)
    try:
        source_db.backup(target_db)
    finally:
        target_db.close()
        source_db.close()
