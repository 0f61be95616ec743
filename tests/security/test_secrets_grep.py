"""No secret in task logs, XCom, rendered fields, staging or the Data Docs, after a FULL run of
``woocommerce_to_hubspot`` and ``hubspot_to_woocommerce`` by a real Airflow that writes per-task log files:
``airflow dags test --use-executor`` with the LocalExecutor (each task in its own supervised process, the
supervisor writing ``AIRFLOW_HOME/logs/...``) and an ``airflow api-server`` for the Execution API, in an
isolated AIRFLOW_HOME (a copy of the session's migrated metadata DB).

Credentials: HubSpot over OAuth (client secret in the password; a refresh token made for this test, given
to the sandbox through its state API, rotated by the sandbox on every refresh; webhook secret and
developer API key extras), WooCommerce over OAuth 1.0a in the query string (plain HTTP) with a webhook
secret extra. Run-time secrets: the access tokens and rotated refresh tokens the sandbox issued, read from
its state afterwards. One WooCommerce call is dropped (a connection error whose text holds the signed URL)
and one HubSpot write answers 503, so the error paths log too.

The grep is checked not to be vacuous: it reads a non-zero number of log files, XCom rows, rendered-field
rows, staging rows and GX files, it finds values that must be there (the run's task ids in the logs), and
it finds a secret in a control string written the same way.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import PROJECT_ROOT, Sandbox
from tests.helpers import copy_sqlite_database, free_port
from woohub.sandbox.control import isolated_airflow_env
from woohub.testing.airflow_processes import file_tail, stop_process_groups, wait_for_api_server

CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"  # what the HubSpot sandbox accepts
WOO_KEY, WOO_SECRET = "ck_sandbox", "cs_sandbox"
DAG_IDS = ("woocommerce_to_hubspot", "hubspot_to_woocommerce")
CONTROL_DAG_ID = "secrets_masking_control"
#: a DAG next to the two sync DAGs: one task registers a value the way the hooks do (woohub.core.secrets.mask)
#: and logs it, and logs a second value it does not register: the log file must show the first as *** and
#: the second as it is (so the grep below does find a value that reaches a log)
CONTROL_DAG = """
from airflow.sdk import dag, task


@dag(dag_id="secrets_masking_control", schedule=None)
def secrets_masking_control():
    @task
    def log_control_values():
        import logging
        import os

        from woohub.core.secrets import mask

        mask(os.environ["WOOHUB_CONTROL_MASKED"])
        log = logging.getLogger("woohub.control")
        log.warning("control: registered=%s", os.environ["WOOHUB_CONTROL_MASKED"])
        log.warning("control: not registered=%s", os.environ["WOOHUB_CONTROL_UNMASKED"])

    log_control_values()


secrets_masking_control()
"""
STORE = {"seed": 3, "customers": 4, "products": 3, "orders": 6}
_UNMASKED_SIGNATURE = re.compile(r"oauth_signature=(?!\*\*\*)[^&\s'\"]+")


def _airflow() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def _distinct(label: str) -> str:
    return f"woohubsecret-{label}-{secrets.token_hex(8)}"


def _environment(home: Path, work: Path, sandbox: Sandbox, api_port: int, planted: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "WOOHUB_"))}
    env.update(isolated_airflow_env(home, PROJECT_ROOT))
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    dags = work / "dags"  # the two sync DAGs as they are, and the control DAG
    dags.mkdir()
    for dag_id in DAG_IDS:
        shutil.copy(PROJECT_ROOT / "dags" / f"{dag_id}.py", dags / f"{dag_id}.py")
    (dags / f"{CONTROL_DAG_ID}.py").write_text(CONTROL_DAG)
    hubspot_port, woo_port = sandbox.hubspot_url.rsplit(":", 1)[1], sandbox.woo_url.rsplit(":", 1)[1]
    hubspot = {"conn_type": "http", "host": "127.0.0.1", "port": int(hubspot_port), "schema": "http",
               "password": CLIENT_SECRET,
               "extra": {"auth_type": "oauth2", "client_id": CLIENT_ID, "refresh_token": planted["refresh_token"],
                         "webhook_secret": planted["hubspot_webhook_secret"],
                         "developer_api_key": planted["developer_api_key"], "app_id": "1234"}}
    woo = {"conn_type": "http", "host": "127.0.0.1", "port": int(woo_port), "schema": "http",
           "login": WOO_KEY, "password": WOO_SECRET,
           "extra": {"auth_method": "oauth1", "webhook_secret": planted["woo_webhook_secret"]}}
    gx_root = work / "great_expectations"
    shutil.copytree(PROJECT_ROOT / "great_expectations", gx_root, ignore=shutil.ignore_patterns("uncommitted"))
    env.update({
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": json.dumps(hubspot), "AIRFLOW_CONN_WOOCOMMERCE_DEFAULT": json.dumps(woo),
        "AIRFLOW_CONN_WOOHUB_STAGING": json.dumps({"conn_type": "sqlite", "host": str(work / "staging.db")}),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "WOOHUB_CONTROL_MASKED": planted["control_masked"], "WOOHUB_CONTROL_UNMASKED": planted["control_unmasked"],
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "WOOHUB_GX_ROOT": str(gx_root),
        "WOOHUB_RETRY_DELAY_SECONDS": "1",
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })
    return env


def _wait_for_serialized_dags(db: Path, runs: dict[str, subprocess.Popen[bytes]], deadline: float = 120.0) -> None:
    stop = time.monotonic() + deadline
    while time.monotonic() < stop and all(p.poll() is None for p in runs.values()):
        with sqlite3.connect(db, timeout=30) as connection:
            found = connection.execute("select count(distinct dag_id) from serialized_dag where dag_id in (?, ?)",
                                       DAG_IDS).fetchone()[0]
        if found == len(DAG_IDS):
            time.sleep(1.0)  # let the first run's DAG sync commit its last rows
            return
        time.sleep(0.5)


def _last_run_id(db: Path) -> int:
    """The newest ``dag_run`` row id of the copied metadata DB (earlier tests' runs are older)."""
    with sqlite3.connect(db, timeout=30) as connection:
        return int(connection.execute("select coalesce(max(id), 0) from dag_run").fetchone()[0])


def _wait_for_runs(db: Path, runs: dict[str, subprocess.Popen[bytes]], after_id: int,
                   deadline: float = 420.0) -> dict[str, str]:
    """Each DAG's run state once every run has ended. Read from the metadata DB, not from the processes'
    exit: after its run, ``dags test --use-executor`` sometimes hangs in the LocalExecutor's shutdown
    ("waiting for running tasks to finish") with nothing left to run; it gets 20 s, then is stopped."""
    stop = time.monotonic() + deadline
    states: dict[str, str] = {}
    while time.monotonic() < stop:
        with sqlite3.connect(db, timeout=30) as connection:
            states = dict(connection.execute(
                f"select dag_id, state from dag_run where id > ? and dag_id in ({', '.join('?' * len(runs))})",  # noqa: S608
                [after_id, *runs]).fetchall())
        ended = {dag_id for dag_id, state in states.items() if state in ("success", "failed")}
        exited = {dag_id for dag_id, process in runs.items() if process.poll() is not None}
        if ended | exited >= set(runs):
            break
        time.sleep(1.0)
    grace = time.monotonic() + 20
    while time.monotonic() < grace and any(process.poll() is None for process in runs.values()):
        time.sleep(0.5)
    return {dag_id: states.get(dag_id, "no run") for dag_id in runs}


@pytest.fixture(scope="module")
def full_run(sandbox: Sandbox, airflow_db: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Both sync DAGs run by a real executor; what to grep, and the secrets planted and issued."""
    work = tmp_path_factory.mktemp("secrets-grep")
    home = work / "airflow-home"
    home.mkdir()
    copy_sqlite_database(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db", home / "airflow.db")
    planted = {name: _distinct(name) for name in
               ("refresh_token", "hubspot_webhook_secret", "developer_api_key", "woo_webhook_secret",
                "control_masked", "control_unmasked")}
    sandbox.woo.reset(**STORE)
    sandbox.hubspot.reset(**STORE)
    # no refresh-token rotation (HubSpot does not rotate; with an AIRFLOW_CONN_* connection every task process
    # would start from the first refresh token again); a short access-token lifetime makes tasks refresh often
    sandbox.hubspot.configure(rotate_refresh_tokens=False, access_token_ttl_seconds=60)
    state = sandbox.hubspot.state()
    state["auth"] = {"refresh_tokens": [planted["refresh_token"]], "access_tokens": {}}
    sandbox.hubspot.restore(state)
    sandbox.woo.set_faults({"kind": "drop", "method": "GET", "path": r"/wp-json/wc/v3/orders$", "count": 1})
    sandbox.hubspot.set_faults({"kind": "status", "status": 503, "method": "POST", "path": r"/batch/upsert$",
                                "count": 1})
    api_port = free_port()
    env = _environment(home, work, sandbox, api_port, planted)
    outputs = []
    api_log = work / "api-server.log"
    with api_log.open("wb") as output:
        api = subprocess.Popen([_airflow(), "api-server", "--host", "127.0.0.1", "--port", str(api_port)], env=env,
                               stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    outputs.append(api_log)
    try:
        wait_for_api_server(f"http://127.0.0.1:{api_port}", {"api-server": api}, file_tail(api_log))
        started = time.monotonic()
        after_id = _last_run_id(home / "airflow.db")
        logical = datetime.now(UTC).replace(microsecond=0).isoformat()
        runs = {}
        for dag_id in (*DAG_IDS, CONTROL_DAG_ID):  # all at once, as in production
            if runs:  # the first `dags test` writes the bundle's DAGs to the metadata DB; two at once collide
                _wait_for_serialized_dags(home / "airflow.db", runs)
            out = work / f"{dag_id}.out"
            outputs.append(out)
            with out.open("wb") as output:
                conf = [] if dag_id == CONTROL_DAG_ID else ["-c", json.dumps({"full_resync": True})]
                runs[dag_id] = subprocess.Popen(
                    [_airflow(), "dags", "test", dag_id, logical, "--use-executor", *conf],
                    env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            states = _wait_for_runs(home / "airflow.db", runs, after_id)
        finally:
            for process in runs.values():
                stop_process_groups([process], 10.0)
        print(f"both DAG runs by the LocalExecutor took {time.monotonic() - started:.1f} s")
    finally:
        stop_process_groups([api], 10.0)
        sandbox.woo.clear_faults()
        sandbox.hubspot.clear_faults()
    auth = sandbox.hubspot.state()["auth"]
    issued = {f"access_token_{n}": t for n, t in enumerate(auth["access_tokens"])}
    issued.update({f"refresh_token_{n}": t for n, t in enumerate(auth["refresh_tokens"])})
    faults = (sandbox.woo.stats(), sandbox.hubspot.stats())
    sandbox.hubspot.reset(empty=True)  # default settings and the well-known refresh token again
    sandbox.woo.reset(empty=True)
    yield {"home": home, "work": work, "outputs": outputs, "planted": planted, "issued": issued,
           "states": states, "faults": faults}


def _secret_values(run: dict[str, Any]) -> dict[str, str]:
    planted = {k: v for k, v in run["planted"].items() if k != "control_unmasked"}
    return {"hubspot client secret": CLIENT_SECRET, "woocommerce consumer secret": WOO_SECRET,
            "woocommerce consumer key": WOO_KEY, **planted, **run["issued"]}


def _texts(run: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Everything to grep, by place: ``[(where, text), ...]``."""
    home, work = run["home"], run["work"]
    places: dict[str, list[tuple[str, str]]] = {"log files": [], "process output": [], "xcom": [],
                                                "rendered fields": [], "staging": [], "gx": []}
    for path in sorted((home / "logs").rglob("*")):
        if path.is_file():
            places["log files"].append((str(path), path.read_text(errors="replace")))
    for path in run["outputs"]:
        places["process output"].append((str(path), path.read_text(errors="replace")))
    with sqlite3.connect(home / "airflow.db") as db:
        for row in db.execute("select dag_id, run_id, task_id, key, value from xcom"):
            places["xcom"].append((f"xcom {row[:4]}", str(row[4])))
        for row in db.execute("select dag_id, run_id, task_id, rendered_fields, k8s_pod_yaml "
                              "from rendered_task_instance_fields"):
            places["rendered fields"].append((f"rtif {row[:3]}", f"{row[3]} {row[4]}"))
    with sqlite3.connect(work / "staging.db") as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            for row in db.execute(f'select * from "{table}"'):  # noqa: S608 (names from sqlite_master)
                places["staging"].append((f"staging {table}", " ".join(str(v) for v in row)))
    for path in sorted((work / "great_expectations").rglob("*")):
        if path.is_file() and path.suffix in (".json", ".html", ".yml", ".yaml"):
            places["gx"].append((str(path), path.read_text(errors="replace")))
    return places


def _hits(places: dict[str, list[tuple[str, str]]], values: dict[str, str]) -> list[str]:
    found = []
    for place, texts in places.items():
        for where, text in texts:
            for name, value in values.items():
                if value and value in text:
                    found.append(f"{name} in {place}: {where}")
            if _UNMASKED_SIGNATURE.search(text):
                found.append(f"unmasked oauth_signature in {place}: {where}")
    return found


@pytest.mark.timeout(720)  # two full DAG runs by a real executor, plus an API server: minutes on a busy machine
@pytest.mark.usefixtures("airflow_db")
def test_no_secret_anywhere_after_full_runs_with_a_failing_call(full_run: dict[str, Any]) -> None:
    places = _texts(full_run)
    log_files = [where for where, _ in places["log files"]]
    assert full_run["issued"], "the sandbox issued no OAuth token: the run did not use OAuth"
    assert all(state == "success" for state in full_run["states"].values()), (full_run["states"], [
        text[-3000:] for _, text in places["process output"][1:]])
    assert full_run["planted"]["refresh_token"] in full_run["issued"].values()  # the sandbox knew it
    # not vacuous: every place was read and holds what a real run leaves there
    counts = {place: len(texts) for place, texts in places.items()}
    assert all(counts.values()), counts
    for dag_id, task_id in (("woocommerce_to_hubspot", "load_contacts"), ("hubspot_to_woocommerce", "extract_deals")):
        assert any(f"dag_id={dag_id}" in p and f"task_id={task_id}" in p for p in log_files), log_files[:20]
    woo_stats, hubspot_stats = full_run["faults"]
    assert woo_stats["statuses"].get("dropped") == 1 and hubspot_stats["statuses"].get("503") == 1
    all_logs = "\n".join(text for _, text in places["log files"])
    assert "failed: status=" in all_logs  # the failed calls were logged
    control_log = "\n".join(text for where, text in places["log files"] if f"dag_id={CONTROL_DAG_ID}" in where)
    assert "control: registered=***" in control_log  # what woohub.core.secrets.mask registers is masked
    assert f"control: not registered={full_run['planted']['control_unmasked']}" in control_log  # grep sees logs
    assert _hits({"control": [("control", f"token={full_run['planted']['refresh_token']}")]},
                 {"planted refresh token": full_run["planted"]["refresh_token"]}) == \
        ["planted refresh token in control: control"]
    assert _hits({"control": [("control", "GET /orders?oauth_signature=abc%3D")]}, {}) != []

    hits = _hits(places, _secret_values(full_run))
    # Airflow 3.3.2's LocalExecutor also echoes every task log line to its own stdout (local_executor.py passes
    # subprocess_logs_to_stdout=True) through the core console handler, whose masker (airflow._shared) is not
    # the one the supervisor registers masks in (airflow.sdk._shared): the echo is NOT masked, not even for a
    # connection password Airflow masks in the file. Only the control task logs a secret; the sync tasks never
    # log one, so nothing of theirs is there. (If this line fails, Airflow masks the echo now: drop it.)
    echo = f"control_masked in process output: {full_run['work'] / (CONTROL_DAG_ID + '.out')}"
    assert echo in hits
    assert [hit for hit in hits if hit != echo] == []


def test_the_masker_hides_what_woohub_registers() -> None:
    """What the hooks call (:func:`woohub.core.secrets.mask`) reaches Airflow's masker, raw and URL-encoded."""
    from airflow.sdk._shared.secrets_masker import redact

    from woohub.core.secrets import mask, mask_connection, redact_text

    token = _distinct("access") + "+/="
    mask(token)

    class Connection:
        password, login = _distinct("password"), _distinct("login")
        extra_dejson = {"refresh_token": _distinct("refresh"), "timeout": 30, "client_id": "public-id"}

    mask_connection(Connection, login_is_secret=True)
    basic = base64.b64encode(f"{Connection.login}:{Connection.password}".encode()).decode()
    text = (f"a={token} b={requests.utils.quote(token, safe='')} c={Connection.password} d={Connection.login} "
            f"e={Connection.extra_dejson['refresh_token']} f=public-id g=Basic {basic}")
    assert redact(text) == "a=*** b=*** c=*** d=*** e=*** f=public-id g=Basic ***"
    url = "http://shop/wp-json/wc/v3/orders?per_page=100&consumer_key=ck_1&oauth_signature=a%2Bb&page=2"
    assert redact_text(url) == "http://shop/wp-json/wc/v3/orders?per_page=100&consumer_key=***&oauth_signature=***&page=2"
    assert redact_text("Authorization: Bearer abcdefghijkl") == "Authorization: Bearer ***"
