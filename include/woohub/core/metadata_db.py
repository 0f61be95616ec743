"""Airflow's metadata database, for woohub code that runs inside Airflow's own processes (the API server's
plugin routes, the scheduler's listener, the CLI); Airflow 3 tasks have no access to it.

Every such read or write goes through :func:`own_session`: a session of its own, never the calling thread's
scoped session (what ``airflow.utils.session.create_session()`` hands out). That thread-local session may
still sit in a transaction other code began, e.g. a result not read to its end. On SQLite, which Airflow
runs in WAL mode, such a transaction keeps seeing the database as it was when it began (the report page
showed a finished run as ``running``), and a commit on it would also commit the other code's pending work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def own_session() -> Iterator[Any]:
    """A fresh (non-scoped) SQLAlchemy session on Airflow's metadata database, committed on success, rolled
    back on error, closed either way."""
    from airflow.utils.session import create_session

    with create_session(scoped=False) as session:
        yield session


__all__ = ["own_session"]
