"""A rotated HubSpot refresh token is written back to a connection stored in the Airflow metadata DB.

This needs a process that reads connections from the DB (Airflow's server context). An Airflow 3 task
worker has no DB access; there the hook keeps the token in memory and warns (see the OAuth tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from airflow import settings
from airflow.models.connection import Connection as ConnectionRow
from airflow.sdk.execution_time import task_runner
from airflow.sdk.execution_time.cache import SecretCache
from airflow.secrets.metastore import MetastoreBackend
from airflow.utils.session import create_session
from sqlalchemy import inspect

from tests.conftest import Sandbox
from woohub.hubspot import HubSpotHook

CONN_ID = "hs_db_oauth"


@pytest.fixture
def db_connection(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An OAuth HubSpot connection row in the metadata DB; creates (and later drops) only the tables it needs
    when the test DB has no schema yet."""
    existing = set(inspect(settings.engine).get_table_names())
    table = ConnectionRow.__table__
    needed = [t for t in [*(fk.column.table for fk in table.foreign_keys), table] if t.name not in existing]
    table.metadata.create_all(settings.engine, tables=needed)
    extra = {"auth_type": "oauth2", "client_id": "sandbox-client-id", "refresh_token": "sandbox-refresh-token"}
    with create_session() as session:
        session.add(ConnectionRow(conn_id=CONN_ID, conn_type="hubspot", host=sandbox.hubspot_url,
                                  password="sandbox-client-secret", extra=json.dumps(extra)))
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")  # look connections up in the metadata DB too
    # Airflow picks the secrets backends per lookup from the process's state: a task-runner comms object or a
    # connection cache left by an earlier test in this process would route the lookup away from the DB.
    monkeypatch.delattr(task_runner, "SUPERVISOR_COMMS", raising=False)
    monkeypatch.setattr(SecretCache, "_cache", None)
    try:
        yield CONN_ID
    finally:
        with create_session() as session:
            session.query(ConnectionRow).filter(ConnectionRow.conn_id == CONN_ID).delete()
        table.metadata.drop_all(settings.engine, tables=needed)


def test_rotated_refresh_token_is_saved_to_the_db_connection(sandbox: Sandbox, db_connection: str) -> None:
    sandbox.hubspot.reset(empty=True)
    sandbox.hubspot.configure(rotate_refresh_tokens=True)
    assert MetastoreBackend().get_connection(db_connection) is not None  # the row is readable where the hook looks
    list(HubSpotHook(db_connection).iter_objects("contacts"))
    with create_session() as session:
        saved = session.query(ConnectionRow).filter(ConnectionRow.conn_id == db_connection).one().extra_dejson
    assert saved["refresh_token"].startswith("sandbox-rt-") and saved["client_id"] == "sandbox-client-id"
    again = HubSpotHook(db_connection)  # a later run starts from the saved token and can still refresh
    assert list(again.iter_objects("contacts")) == []
