"""A signed WooCommerce delivery through a real ``airflow api-server`` (the project's plugin mounted at
``/woohub``) becomes an Asset event in Airflow and a queued run request (``asset_dag_run_queue``) for
``woocommerce_to_hubspot``, read back through Airflow's public REST API; its replay changes nothing.

The server runs in an Airflow of its own (home, SQLite metadata database, a dags folder with the project's
``woocommerce_to_hubspot.py`` only): the DAG must be in the metadata database, unpaused, before an asset
event can queue a run for it, as after the DAG processor parsed it and someone unpaused it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select

from tests.conftest import PROJECT_ROOT
from tests.helpers import free_port
from tests.report_ui.conftest import AirflowApi
from woohub.testing.airflow_processes import file_tail, stop_process_groups, wait_for_api_server
from woohub.webhooks import WOOCOMMERCE_CHANGES, signatures

DAG_ID = "woocommerce_to_hubspot"
SECRET = "woo-webhook-secret-" + secrets.token_hex(4)
USER = "operator"
BODY_MARKER = "erin.private@example.org"
#: the metadata database (before the API server starts)
INIT = "from airflow.utils.db import initdb; initdb()"
#: what the DAG processor and an operator do before webhooks can wake the DAG (while the API server boots):
#: the bundle's DAGs parsed into the metadata database, the DAG unpaused
PARSE = '''
from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
from airflow.models.dag import DagModel
from airflow.utils.session import create_session
from sqlalchemy import update

manager = DagBundlesManager()
with create_session() as session:
    manager.sync_bundles_to_db(session=session)
bundle = manager.get_bundle("dags-folder")
bundle.initialize()
bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
assert "woocommerce_to_hubspot" in bag.dags, bag.import_errors
assert bag.dags["woocommerce_to_hubspot"].timetable.asset_condition is not None, "not scheduled on an asset"
sync_bag_to_db(bag, bundle.name, bundle.version)
with create_session() as session:
    session.execute(update(DagModel).where(DagModel.dag_id == "woocommerce_to_hubspot").values(is_paused=False))
'''


@pytest.fixture(scope="module")
def airflow_with_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowApi, Path]]:
    """An API server of an Airflow of its own with the DAG unpaused; yields it and the staging file."""
    work = tmp_path_factory.mktemp("webhook-airflow")
    (work / "dags").mkdir()
    shutil.copy(PROJECT_ROOT / "dags" / f"{DAG_ID}.py", work / "dags")
    password_file = work / "passwords.json"
    passwords = {USER: secrets.token_urlsafe(12)}
    password_file.write_text(json.dumps(passwords))
    port = free_port()
    woo_connection = json.loads(os.environ["AIRFLOW_CONN_WOOCOMMERCE_DEFAULT"])
    woo_connection["extra"] = {"webhook_secret": SECRET}
    env = {**os.environ,
           "AIRFLOW_HOME": str(work / "home"),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work / 'home' / 'airflow.db'}",
           "AIRFLOW__CORE__DAGS_FOLDER": str(work / "dags"),
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW_CONN_WOOHUB_STAGING": json.dumps({"conn_type": "sqlite", "host": str(work / "staging.db")}),
           "AIRFLOW_CONN_WOOCOMMERCE_DEFAULT": json.dumps(woo_connection),
           "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
           "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
           "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}"}
    init = subprocess.run([sys.executable, "-c", INIT], env=env, cwd=work, capture_output=True, text=True,
                          timeout=240, check=False)
    assert init.returncode == 0, (init.stdout + init.stderr)[-5000:]
    log = work / "api-server.log"
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("wb") as output:
        process = subprocess.Popen([airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        parse = subprocess.run([sys.executable, "-c", PARSE], env=env, cwd=work, capture_output=True, text=True,
                               timeout=240, check=False)
        assert parse.returncode == 0, (parse.stdout + parse.stderr)[-5000:]
        url = f"http://127.0.0.1:{port}"
        wait_for_api_server(url, {"api-server": process}, file_tail(log), 90.0)
        yield AirflowApi(url, passwords, log), work / "staging.db"
    finally:
        stop_process_groups([process])
        shutil.rmtree(work / "home", ignore_errors=True)


def test_a_signed_delivery_queues_a_run_of_woocommerce_to_hubspot(
        airflow_with_plugin: tuple[AirflowApi, Path]) -> None:
    api, staging_file = airflow_with_plugin
    body = json.dumps({"id": 4711, "status": "processing", "billing": {"email": BODY_MARKER}}).encode()
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
               "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "created", "X-WC-Webhook-ID": "3",
               "X-WC-Webhook-Delivery-ID": "5b7e1c0d9a", "X-WC-Webhook-Source": "https://shop.example/",
               "X-WC-Webhook-Signature": signatures.woocommerce_signature(body, SECRET)}
    endpoint = f"{api.url}/woohub/webhooks/woocommerce"
    assert requests.post(endpoint, data=b"webhook_id=3", timeout=30).status_code == 200, "the ping"
    unsigned = requests.post(endpoint, data=body, headers={**headers, "X-WC-Webhook-Signature": ""}, timeout=30)
    assert unsigned.status_code == 401, unsigned.text
    delivered = requests.post(endpoint, data=body, headers=headers, timeout=30)
    assert delivered.status_code == 200, delivered.text + api.log.read_text()[-3000:]
    assert delivered.json() == {"recorded": 1, "duplicates": 0, "ignored": 0, "signalled": True}
    replayed = requests.post(endpoint, data=body, headers=headers, timeout=30)
    assert replayed.json() == {"recorded": 0, "duplicates": 1, "ignored": 0, "signalled": False}

    auth = {"Authorization": f"Bearer {api.token(USER)}"}
    events = requests.get(f"{api.url}/api/v2/assets/events", headers=auth, timeout=30)
    assert events.status_code == 200, events.text
    ours = [e for e in events.json()["asset_events"] if e["uri"] == WOOCOMMERCE_CHANGES]
    assert len(ours) == 1, events.json()
    assert ours[0]["extra"] == {"source": "woohub woocommerce webhook", "new_events": 1}
    queued = requests.get(f"{api.url}/api/v2/dags/{DAG_ID}/assets/queuedEvents", headers=auth, timeout=30)
    assert queued.status_code == 200, queued.text
    assert [(q["dag_id"], q["asset_id"]) for q in queued.json()["queued_events"]] == [(DAG_ID, ours[0]["asset_id"])]

    from woohub.staging.schema import webhook_event

    engine = create_engine(f"sqlite:///{staging_file}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(webhook_event.c.stream, webhook_event.c.record_id,
                                             webhook_event.c.signalled)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("woocommerce.orders", "4711", 1)]
    server_log = api.log.read_text()
    assert "refused a woocommerce delivery with 401" in server_log
    assert BODY_MARKER not in server_log and SECRET not in server_log
