"""A woohub DAG that pauses itself after repeated failures alerts once, proven through Airflow's own code: a
tiny woohub DAG built with the sync DAGs' settings (``sync_dag_settings()``, its limit from
``WOOHUB_MAX_CONSECUTIVE_FAILED_RUNS`` = 2), in a separate Airflow (own home and metadata DB, this project's
``plugins/`` loaded by Airflow's plugins manager), gets three failed scheduled runs driven as the scheduler
drives them: ``DagRun.update_state`` on the run loaded in its session marks it failed, calls the listener
of ``plugins/woohub_alerts.py`` and pauses the DAG after the second. The alert reaches the real webhook and
SMTP receivers once.

Not proven here: the task's own execution (its failure is recorded as a worker reports it), and the
scheduler process itself. ``dag.test()`` cannot show the pause: it detaches its DagRun while a task runs,
so Airflow's consecutive-failure check reads the run's stale ``running`` row and never pauses under
``dag.test()`` (the listener then sees the same and stays quiet).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from tests.alerts.conftest import REPORT_URL, SECRETS, Received, smtp_connection, webhook_connection
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

DAG_ID = "woohub_failing_sync"
FAILING_DAG = '''"""A woohub DAG whose only task fails at once."""
from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowFailException

from woohub.sync.dag_support import sync_dag_settings


@dag(dag_id="woohub_failing_sync", schedule=None, tags=["woohub", "sync"], **sync_dag_settings())
def woohub_failing_sync():
    @task
    def extract():
        raise AirflowFailException("the shop refused the credentials")

    extract()


woohub_failing_sync()
'''
RUNS = '''
import sys
from datetime import UTC, datetime

from airflow import settings
from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
from airflow.models.dag import DagModel
from airflow.models.dagbag import DBDagBag
from airflow.models.dagrun import DagRun
from airflow.sdk import timezone
from airflow.utils.db import initdb
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from airflow.utils.types import DagRunTriggeredByType, DagRunType
from sqlalchemy import select

DAG_ID = "woohub_failing_sync"
initdb()
with create_session() as session:  # what the DAG processor does: the bundle's DAGs into the metadata DB
    manager = DagBundlesManager()
    manager.sync_bundles_to_db(session=session)
bundle = manager.get_bundle("dags-folder")
bundle.initialize()
sync_bag_to_db(BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name),
               bundle.name, bundle.version)


def paused():
    with create_session() as session:
        return session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == DAG_ID))


def failed_scheduled_run(hour):
    # a scheduled run whose task fails, driven as the scheduler drives it (SchedulerJobRunner._schedule_dag_run):
    # each round loads the run in a session of its own and DagRun.update_state decides; the task's failure is
    # recorded as a worker reports it (state failed), the task itself is not executed
    session = settings.Session()
    serialized = DBDagBag().get_latest_version_of_dag(DAG_ID, session=session)
    logical = datetime(2026, 11, 1, hour, tzinfo=UTC)
    run = serialized.create_dagrun(
        run_id=f"scheduled__{logical.isoformat()}", logical_date=logical, data_interval=(logical, logical),
        run_after=timezone.utcnow(), run_type=DagRunType.SCHEDULED, triggered_by=DagRunTriggeredByType.TIMETABLE,
        state=DagRunState.RUNNING, start_date=timezone.utcnow(), session=session)
    run_id = run.run_id
    session.commit()
    while True:
        session = settings.Session()
        session.expire_all()
        dag_run = session.scalar(select(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.run_id == run_id))
        dag_run.dag = DBDagBag().get_dag_for_run(dag_run, session=session)
        schedulable, _ = dag_run.update_state(session=session, execute_callbacks=False)
        for ti in schedulable:  # the worker ran it, and it failed
            ti.try_number += 1
            ti.state = TaskInstanceState.FAILED
            ti.end_date = timezone.utcnow()
        session.commit()
        if dag_run.state != DagRunState.RUNNING:
            return run_id, dag_run.state


print("LIMIT", DBDagBag().get_latest_version_of_dag(DAG_ID, session=settings.Session()).max_consecutive_failed_dag_runs)
for hour in (0, 1, 2):
    run_id, state = failed_scheduled_run(hour)
    print("RUN", run_id, state, paused(), flush=True)
'''


@pytest.fixture(scope="module")
def paused_dag(receivers: Received, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the failing DAG three times in its own Airflow; what it printed and what the receivers got."""
    work = tmp_path_factory.mktemp("self-pause")
    (work / "dags").mkdir()
    (work / "dags" / f"{DAG_ID}.py").write_text(FAILING_DAG)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(work / "home"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work / 'home' / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(work / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "WOOHUB_MAX_CONSECUTIVE_FAILED_RUNS": "2",
        "AIRFLOW_CONN_WOOHUB_STAGING": f'{{"conn_type": "sqlite", "host": "{work / "staging.db"}"}}',
        "AIRFLOW_CONN_WOOHUB_ALERTS": webhook_connection(receivers.webhook_port),
        "AIRFLOW_CONN_WOOHUB_SMTP": smtp_connection(receivers.smtp_port),
        "WOOHUB_REPORT_URL": REPORT_URL,
    }
    receivers.clear()
    result = subprocess.run([sys.executable, "-c", RUNS, str(work / "dags")], env=env, cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=240, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    runs = [line.split()[1:] for line in result.stdout.splitlines() if line.startswith("RUN ")]
    return {"runs": runs, "output": output, "staging": work / "staging.db",
            "posts": [p["body"]["text"] for p in receivers.posts],
            "emails": [f"{m['subject']}\n{m['body']}" for m in receivers.emails]}


def test_airflow_pauses_the_dag_after_the_limit(paused_dag: dict[str, Any]) -> None:
    assert [(state, paused) for _, state, paused in paused_dag["runs"]] == [
        ("failed", "False"), ("failed", "True"), ("failed", "True")], paused_dag["output"][-3000:]
    assert "LIMIT 2" in paused_dag["output"], "sync_dag_settings() took the limit from the environment"


def test_the_self_pause_alerts_once_naming_the_run_that_paused_it(paused_dag: dict[str, Any]) -> None:
    second_run = paused_dag["runs"][1][0]
    pauses = [text for text in paused_dag["posts"] if "paused itself" in text]
    assert len(pauses) == 1, paused_dag["posts"]
    assert f"DAG {DAG_ID} paused itself after 2 failed runs in a row (the last: {second_run})" in pauses[0]
    assert REPORT_URL in pauses[0]
    emailed = [text for text in paused_dag["emails"] if "paused itself" in text]
    assert len(emailed) == 1 and REPORT_URL in emailed[0]
    assert not any(secret in text for text in paused_dag["posts"] + paused_dag["emails"] for secret in SECRETS)


def test_the_pause_is_recorded_in_alert_sent(paused_dag: dict[str, Any]) -> None:
    from sqlalchemy import select

    from woohub.staging.database import engine_for_url
    from woohub.staging.schema import alert_sent

    engine = engine_for_url(f"sqlite:///{paused_dag['staging']}")
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(select(alert_sent))]
    assert [(r["alert_key"], r["kind"], r["channels"]) for r in rows] == [
        (f"dag_paused:{DAG_ID}:{paused_dag['runs'][1][0]}", "dag_self_paused", "webhook,email")]
