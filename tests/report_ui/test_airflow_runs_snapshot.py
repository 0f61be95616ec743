"""The runs table reads Airflow's metadata as committed now, whatever transaction the request thread's scoped
session still holds. Airflow's SQLite metadata database runs in WAL mode, where an open read transaction
keeps seeing the database as it was when it began; the API server's request threads share one scoped session
each, and code before ours (authentication, other routes) can leave it inside such a transaction. Seen in CI:
the report page showed a finished reconciliation run as ``running`` (the database said ``success``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_the_runs_table_sees_a_run_finish_while_the_threads_session_holds_an_older_read() -> None:
    from airflow import settings

    from woohub.report_ui.app import airflow_runs

    dag_id = f"woohub_snapshot_probe_{uuid.uuid4().hex[:8]}"
    with settings.engine.begin() as connection:
        assert connection.execute(text("pragma journal_mode")).scalar() == "wal"
        connection.execute(text(
            "insert into dag_run (dag_id, run_id, run_type, state, run_after, clear_number, span_status) "
            "values (:dag_id, 'probe', 'manual', 'running', :now, 0, 'not_started')"),
            {"dag_id": dag_id, "now": datetime.now(UTC).replace(tzinfo=None)})
    held = settings.Session()  # this thread's scoped session, left inside a read transaction
    try:
        unread = held.execute(text("select state from dag_run where dag_id = :d union all "
                                   "select state from dag_run where dag_id = :d"), {"d": dag_id})
        assert unread.fetchone() == ("running",)  # a statement not read to its end holds the snapshot
        with settings.engine.begin() as connection:  # the run ends in another connection (dag.test, a scheduler)
            connection.execute(text("update dag_run set state = 'success' where dag_id = :d"), {"d": dag_id})
        assert [run.state for run in airflow_runs((dag_id,), 5)] == ["success"]
    finally:
        held.rollback()
        settings.Session.remove()
        with settings.engine.begin() as connection:
            connection.execute(text("delete from dag_run where dag_id = :d"), {"d": dag_id})
