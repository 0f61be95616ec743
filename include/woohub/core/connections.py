"""Writing to an Airflow connection, and choosing the connection a read-only task uses.

What the package stores back (a rotated HubSpot refresh token, the tokens of an OAuth install, a generated
webhook secret) goes into the connection it came from, never anywhere else. :func:`update_connection_extra`
merges keys into a connection's ``extra`` where that connection lives and says where it stored them:

1. **The metadata database**, directly, when this process can reach it (the API server, the scheduler, the
   CLI, ``dag.test``): :data:`METADATA_DB`.
2. **Airflow's public REST API** otherwise: an Airflow 3 task has no metadata-DB access, so when the
   connection :data:`API_CONN_ID` (``woohub_airflow_api``; env ``WOOHUB_AIRFLOW_API_CONN_ID``) exists, the
   task logs in (``POST <host>/auth/token`` with its login and password, as the UI's login form does; the
   Simple and FAB auth managers both answer a JWT) and sends ``PATCH /api/v2/connections/{conn_id}
   ?update_mask=extra`` with the stored extra (as the API shows it, secrets redacted) and the keys merged in
   (the API server restores the redacted values). ``host`` is the API server's
   base URL (``http://airflow-apiserver:8080``); the user needs edit rights on connections (role ``op``).
   Returns ``"Airflow REST API at <base URL>"``.

It returns ``None`` when neither works (the caller warns and keeps the value in memory). A connection
defined by an ``AIRFLOW_CONN_*`` environment variable cannot be written by a process; the REST path also
needs the connection to be stored in the metadata DB (a secrets backend's connection is not).

:func:`read_only_connection` picks the connection of a DAG that only reads a system (the reconciliation,
the health check): the read-only one (``woocommerce_readonly``) when it is defined, else the default with a
warning naming the setting. No function puts a secret into a log line or an exception.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

METADATA_DB = "metadata database"
API_CONN_ID = os.getenv("WOOHUB_AIRFLOW_API_CONN_ID", "woohub_airflow_api")
#: the read-only WooCommerce connection (keys with permission "read") of the DAGs that only read the shop
WOOCOMMERCE_READONLY_CONN_ID = os.getenv("WOOHUB_WOOCOMMERCE_READONLY_CONN_ID", "woocommerce_readonly")
_TIMEOUT = (10.0, 30.0)


class ConnectionWriteError(Exception):
    """The REST API refused a write (the message names the status, never a secret)."""


def defined_by_environment(conn_id: str) -> bool:
    """Whether ``conn_id`` comes from an ``AIRFLOW_CONN_<ID>`` environment variable (which wins over the DB)."""
    return f"AIRFLOW_CONN_{conn_id.upper()}" in os.environ


def update_connection_extra(conn_id: str, updates: Mapping[str, Any]) -> str | None:
    """Merge ``updates`` into the extra of connection ``conn_id``; where it was stored, or ``None``."""
    if defined_by_environment(conn_id):
        return None
    if _update_metadata_db(conn_id, updates):
        return METADATA_DB
    api = _connection_or_none(API_CONN_ID)
    if api is None:
        return None
    try:
        return update_via_rest_api(conn_id, updates, api)
    except ConnectionWriteError as error:
        log.warning("could not store keys %s of connection %r through the Airflow REST API: %s",
                    sorted(updates), conn_id, error)
        return None


def _update_metadata_db(conn_id: str, updates: Mapping[str, Any]) -> bool:
    """The metadata-DB row of ``conn_id``, when this process can reach the DB (API server, scheduler, CLI;
    not an Airflow 3 task worker)."""
    try:
        # The ORM model, not airflow.sdk.Connection: only the ORM row can be written back.
        from airflow.models.connection import Connection as ConnectionRow

        from woohub.core.metadata_db import own_session

        with own_session() as session:
            stored = session.query(ConnectionRow).filter(ConnectionRow.conn_id == conn_id).one_or_none()
            if stored is None:
                return False
            stored.set_extra(json.dumps({**stored.extra_dejson, **updates}))
        return True
    except Exception:  # no DB access (Task SDK worker, uninitialised DB)
        return False


def api_base_url(api_connection: Any) -> str:
    """The API server's base URL from the connection (``host`` a full URL, or ``schema://host:port``)."""
    host = str(api_connection.host or "").rstrip("/")
    if not host:
        raise ConnectionWriteError(f"connection {API_CONN_ID!r} needs the API server's base URL in host")
    if "://" in host:
        return host if not api_connection.port or host.count(":") > 1 else f"{host}:{api_connection.port}"
    port = f":{api_connection.port}" if api_connection.port else ""
    return f"{api_connection.schema or 'http'}://{host}{port}"


def update_via_rest_api(conn_id: str, updates: Mapping[str, Any], api_connection: Any) -> str:
    """Merge ``updates`` into ``conn_id``'s extra through the API server ``api_connection`` points at (see the
    module docstring); :class:`ConnectionWriteError` when it refuses."""
    import requests

    base = api_base_url(api_connection)
    http = requests.Session()
    try:
        login = http.post(f"{base}/auth/token", timeout=_TIMEOUT,
                          json={"username": api_connection.login or "", "password": api_connection.password or ""})
        if login.status_code not in (200, 201) or "access_token" not in _json(login):
            raise ConnectionWriteError(f"the login as {api_connection.login!r} at {base}/auth/token answered "
                                       f"{login.status_code}")
        http.headers["Authorization"] = f"Bearer {_json(login)['access_token']}"
        url = f"{base}/api/v2/connections/{quote(conn_id, safe='')}"
        current = http.get(url, timeout=_TIMEOUT)
        if current.status_code != 200:
            raise ConnectionWriteError(f"GET /api/v2/connections/{conn_id} answered {current.status_code} "
                                       f"{_detail(current)}")
        # The API server keeps only the extra keys it is sent, restoring the ones still redacted ("***"):
        # send the stored (redacted) extra with the updates merged in.
        stored = _json(current)
        try:
            extra = json.loads(stored.get("extra") or "{}")
        except ValueError:
            extra = {}
        body = {"connection_id": conn_id, "conn_type": stored.get("conn_type") or "generic",
                "extra": json.dumps({**(extra if isinstance(extra, dict) else {}), **updates})}
        patched = http.patch(url, params={"update_mask": "extra"}, json=body, timeout=_TIMEOUT)
        if patched.status_code != 200:
            raise ConnectionWriteError(f"PATCH /api/v2/connections/{conn_id} answered {patched.status_code} "
                                       f"{_detail(patched)}")
    except requests.RequestException as error:
        raise ConnectionWriteError(f"the Airflow REST API at {base} did not answer: {type(error).__name__}") from None
    finally:
        http.close()
    return f"Airflow REST API at {base}"


def read_only_connection(read_only_conn_id: str, fallback_conn_id: str, *, setting: str) -> str:
    """``read_only_conn_id`` when that connection is defined, else ``fallback_conn_id`` with a warning that
    names ``setting`` (the environment variable choosing the read-only connection)."""
    if _connection_or_none(read_only_conn_id) is not None:
        log.info("reading through the read-only connection %r", read_only_conn_id)
        return read_only_conn_id
    log.warning("no read-only connection %r: this DAG only reads, but it uses %r, whose keys may write. Define "
                "%r with read-only keys (or name another one in %s)", read_only_conn_id, fallback_conn_id,
                read_only_conn_id, setting)
    return fallback_conn_id


def woocommerce_read_connection(fallback_conn_id: str) -> str:
    """The WooCommerce connection of a DAG that only reads the shop (see :func:`read_only_connection`)."""
    return read_only_connection(WOOCOMMERCE_READONLY_CONN_ID, fallback_conn_id,
                                setting="WOOHUB_WOOCOMMERCE_READONLY_CONN_ID")


def _connection_or_none(conn_id: str) -> Any:
    """The connection ``conn_id`` wherever Airflow finds it (a task asks the API server), or ``None``."""
    try:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)
    except Exception:  # AirflowNotFoundException, or no Airflow context at all
        return None


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(response: Any) -> str:
    detail = _json(response).get("detail")
    return str(detail)[:200] if detail else ""


__all__ = ["API_CONN_ID", "METADATA_DB", "WOOCOMMERCE_READONLY_CONN_ID", "ConnectionWriteError",
           "defined_by_environment", "read_only_connection", "update_connection_extra", "update_via_rest_api",
           "woocommerce_read_connection"]
