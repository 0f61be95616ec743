"""Writing a connection's extra back from a process without metadata-DB access (an Airflow 3 task): through
Airflow's REST API, logged in with the ``woohub_airflow_api`` connection, against a real ``airflow api-server``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security._api_server import ApiServer, api_server

TARGET = "hs_writeback_target"
OPERATOR, VIEWER = "operator", "watcher"
STORED_EXTRA = {"auth_type": "oauth2", "client_id": "sandbox-client-id", "refresh_token": "first-refresh-token",
                "webhook_secret": "kept-secret-value", "ten_second_limit": 100}


@pytest.fixture(scope="module")
def server(airflow_db: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with api_server(tmp_path_factory.mktemp("writeback-api"), {OPERATOR: "op", VIEWER: "viewer"}) as running:
        yield running


@pytest.fixture
def target() -> Iterator[str]:
    """The connection row to write, in the metadata database the API server reads."""
    from airflow.models.connection import Connection as ConnectionRow
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(ConnectionRow).filter(ConnectionRow.conn_id == TARGET).delete()
        session.add(ConnectionRow(conn_id=TARGET, conn_type="http", host="127.0.0.1", password="client-secret",
                                  extra=json.dumps(STORED_EXTRA)))
    yield TARGET
    with create_session() as session:
        session.query(ConnectionRow).filter(ConnectionRow.conn_id == TARGET).delete()


def stored_extra(conn_id: str) -> dict:
    from airflow.models.connection import Connection as ConnectionRow
    from airflow.utils.session import create_session

    with create_session() as session:
        return dict(session.query(ConnectionRow).filter(ConnectionRow.conn_id == conn_id).one().extra_dejson)


def api_connection(server: ApiServer, user: str) -> str:
    return json.dumps({"conn_type": "http", "host": server.url, "login": user, "password": server.passwords[user]})


def test_a_process_without_the_metadata_db_writes_back_through_the_rest_api(server: ApiServer, target: str,
                                                                          tmp_path: Path) -> None:
    # A worker's view: the metadata database out of reach, the API connection from the environment.
    from airflow.configuration import conf

    env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/missing/airflow.db",
           "AIRFLOW__CORE__FERNET_KEY": conf.get("core", "fernet_key"),
           "AIRFLOW_CONN_WOOHUB_AIRFLOW_API": api_connection(server, OPERATOR)}
    code = ("from woohub.core.connections import update_connection_extra\n"
            f"print(update_connection_extra({target!r}, {{'refresh_token': 'rotated-refresh-token'}}))")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == f"Airflow REST API at {server.url}", result.stderr[-3000:]
    assert stored_extra(target) == {**STORED_EXTRA, "refresh_token": "rotated-refresh-token"}, \
        "the other keys, the redacted secret among them, must stay as they were"
    assert "rotated-refresh-token" not in result.stdout + result.stderr
    assert server.passwords[OPERATOR] not in result.stdout + result.stderr


def test_a_user_without_edit_rights_on_connections_is_refused_and_nothing_changes(server: ApiServer,
                                                                                   target: str) -> None:
    from airflow.models.connection import Connection

    from woohub.core.connections import ConnectionWriteError, update_via_rest_api

    viewer = Connection.from_json(api_connection(server, VIEWER), conn_id="woohub_airflow_api")
    with pytest.raises(ConnectionWriteError, match="403") as refused:
        update_via_rest_api(target, {"refresh_token": "never-stored"}, viewer)
    assert server.passwords[VIEWER] not in str(refused.value)
    assert stored_extra(target) == STORED_EXTRA
