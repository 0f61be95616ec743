"""Writing to an Airflow connection: what the package stores back (a rotated HubSpot refresh token, a
generated webhook secret) goes into the connection it came from, never anywhere else.

:func:`update_connection_extra` merges keys into a connection's ``extra`` where that connection lives and
says where it stored them, or returns ``None`` when it could not (the caller warns and keeps the value in
memory). A connection defined by an ``AIRFLOW_CONN_*`` environment variable cannot be written by a process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

METADATA_DB = "metadata database"


def defined_by_environment(conn_id: str) -> bool:
    """Whether ``conn_id`` comes from an ``AIRFLOW_CONN_<ID>`` environment variable (which wins over the DB)."""
    return f"AIRFLOW_CONN_{conn_id.upper()}" in os.environ


def update_connection_extra(conn_id: str, updates: Mapping[str, Any]) -> str | None:
    """Merge ``updates`` into the extra of connection ``conn_id``; where it was stored, or ``None``."""
    if defined_by_environment(conn_id):
        return None
    if _update_metadata_db(conn_id, updates):
        return METADATA_DB
    return None


def _update_metadata_db(conn_id: str, updates: Mapping[str, Any]) -> bool:
    """The metadata-DB row of ``conn_id``, when this process can reach the DB (API server, scheduler, CLI;
    not an Airflow 3 task worker)."""
    try:
        # The ORM model, not airflow.sdk.Connection: only the ORM row can be written back.
        from airflow.models.connection import Connection as ConnectionRow
        from airflow.utils.session import create_session

        with create_session() as session:
            stored = session.query(ConnectionRow).filter(ConnectionRow.conn_id == conn_id).one_or_none()
            if stored is None:
                return False
            stored.set_extra(json.dumps({**stored.extra_dejson, **updates}))
        return True
    except Exception:  # no DB access (Task SDK worker, uninitialised DB)
        return False


__all__ = ["METADATA_DB", "defined_by_environment", "update_connection_extra"]
