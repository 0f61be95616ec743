"""Every DAG in dags/ parses with Airflow's DagBag and follows the house rules: no import errors,
dag_id equal to the file name, documentation, approved tags, retries, one active run at a time, and no
network or database access while the file is parsed (the DAG processor parses every file every few
seconds; a parse-time API call would hammer HubSpot and WooCommerce)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = ROOT / "dags"
APPROVED_TAGS = {"woohub", "hubspot", "woocommerce", "sync", "extract", "reconciliation", "monitoring",
                 "data-quality"}

try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # older 3.x location
    from airflow.models.dagbag import DagBag


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS_FOLDER))


def dag_files() -> list[Path]:
    return sorted(p for p in DAGS_FOLDER.glob("*.py") if not p.name.startswith("_"))


def test_there_are_dags() -> None:
    assert dag_files(), "dags/ holds no DAG file"


def test_no_import_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}, dagbag.import_errors


def test_each_file_defines_the_dag_named_after_it(dagbag: DagBag) -> None:
    assert sorted(dagbag.dag_ids) == [p.stem for p in dag_files()]


@pytest.mark.parametrize("dag_file", dag_files(), ids=lambda p: p.stem)
def test_governance(dagbag: DagBag, dag_file: Path) -> None:
    dag = dagbag.dags.get(dag_file.stem)
    assert dag is not None
    assert dag.doc_md and len(dag.doc_md.strip()) > 40, "doc_md should explain the DAG (use the module docstring)"
    assert dag.tags and set(dag.tags) <= APPROVED_TAGS, f"tags {dag.tags} not within {sorted(APPROVED_TAGS)}"
    assert dag.default_args.get("retries", 0) >= 2, "default_args must set retries >= 2"
    assert dag.max_active_runs == 1
    assert dag.catchup is False or dag.timetable.can_be_scheduled, "catchup must be deliberate"
    for task in dag.tasks:
        assert task.retries >= 2 or task.task_id.startswith("report_"), f"{task.task_id} has no retries"


_PARSE_PROBE = r"""
import json, sys, traceback
from pathlib import Path
dags_folder, project = sys.argv[1], sys.argv[2]
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
watched = ("socket.connect", "socket.getaddrinfo", "sqlite3.connect", "urllib.Request", "http.client.connect")
hits = []
def audit(event, args):
    if event not in watched:
        return
    frames = [f for f in traceback.extract_stack() if f.filename.startswith(project)
              and "/.venv/" not in f.filename and "/tests/" not in f.filename]
    if frames:
        hits.append({"event": event, "where": f"{frames[-1].filename}:{frames[-1].lineno}"})
sys.addaudithook(audit)
bag = DagBag(dag_folder=dags_folder)
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "hits": hits}))
"""


def _parse_probe(dags_folder: Path, project: Path) -> dict:
    """Parse ``dags_folder`` in a fresh interpreter with an audit hook that records every socket or SQLite
    connection made from the project's own code (dags/, include/, plugins/) while parsing."""
    result = subprocess.run(
        [sys.executable, "-c", _PARSE_PROBE, str(dags_folder), str(project)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_parse_probe_catches_a_dag_that_calls_an_api_at_parse_time(tmp_path: Path) -> None:
    (tmp_path / "chatty.py").write_text(
        "import requests, sqlite3\n"
        "from airflow.sdk import dag\n"
        "sqlite3.connect(':memory:')\n"
        "try:\n    requests.get('http://127.0.0.1:9/ping', timeout=0.2)\nexcept Exception:\n    pass\n"
        "@dag(schedule=None)\ndef chatty():\n    pass\nchatty()\n"
    )
    report = _parse_probe(tmp_path, tmp_path)
    assert report["dags"] == ["chatty"]
    assert {hit["event"] for hit in report["hits"]} >= {"sqlite3.connect", "socket.connect"}


def test_parsing_touches_no_network_or_database() -> None:
    report = _parse_probe(DAGS_FOLDER, ROOT)
    assert report["dags"], "the probe parsed no DAG"
    assert report["errors"] == {}
    assert report["hits"] == [], f"parse-time network/database access: {report['hits']}"


def test_every_task_has_an_execution_timeout() -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import PROJECT_ROOT

    dags = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags
    missing = [f"{dag_id}.{task.task_id}" for dag_id, dag in dags.items() for task in dag.tasks
               if task.execution_timeout is None]
    assert dags and missing == []


def test_sync_params_are_typed_for_the_trigger_form() -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import PROJECT_ROOT

    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "woocommerce_to_hubspot.py")).dags["woocommerce_to_hubspot"]
    schema = {name: dag.params.get_param(name).schema for name in dag.params}
    assert {name: s["type"] for name, s in schema.items()} == {
        "full_resync": "boolean", "dry_run": "boolean", "recheck_quarantine": "boolean",
        "requeue_dead_letters": "boolean", "max_quarantine_share": "number", "quarantine_floor": "integer",
        "window_start": ["null", "string"], "window_end": ["null", "string"]}
    assert schema["window_start"]["format"] == schema["window_end"]["format"] == "date-time"
    assert (schema["max_quarantine_share"]["minimum"], schema["max_quarantine_share"]["maximum"]) == (0, 1)
