"""Open the staging database from the Airflow connection ``woohub_staging`` and bring its schema up to date.

Connection forms (JSON env form shown):

- SQLite (embedded default): ``{"conn_type": "sqlite", "host": "/path/to/staging.db"}``
- PostgreSQL: ``{"conn_type": "postgres", "host": "...", "port": 5432, "schema": "<database>",
  "login": "...", "password": "..."}``
- Any SQLAlchemy URL: ``extra`` ``{"sqlalchemy_url": "postgresql+psycopg://..."}``
"""

from __future__ import annotations

import functools
import os
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL

DEFAULT_CONN_ID = "woohub_staging"
_MIGRATIONS = Path(__file__).with_name("migrations")


def url_from_connection(conn: Any) -> URL | str:
    """The SQLAlchemy URL for an Airflow connection (``conn_type`` sqlite or postgres, or ``sqlalchemy_url``)."""
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    if conn.conn_type == "sqlite":
        return URL.create("sqlite", database=conn.host or conn.schema)
    if conn.conn_type in {"postgres", "postgresql"}:
        return URL.create(
            "postgresql+psycopg", username=conn.login, password=conn.password, host=conn.host,
            port=conn.port or 5432, database=conn.schema or "postgres",
        )
    raise ValueError(
        f"staging connection {conn.conn_id!r} has conn_type {conn.conn_type!r}; use sqlite or postgres, "
        "or set extra.sqlalchemy_url"
    )


_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    """In a forked child (LocalExecutor and Celery workers, multiprocessing) the parent's pooled connections
    must not be used: drop them from the pools without closing the parent's sockets."""
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


def engine_for_url(url: str) -> Engine:
    """One engine per URL per process (safe across ``fork``); SQLite gets WAL and a busy timeout so parallel
    tasks can write."""
    engine = _engine_for_url(url)
    _ENGINES.add(engine)
    return engine


@functools.cache
def _engine_for_url(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def staging_engine(conn_id: str = DEFAULT_CONN_ID) -> Engine:
    """The engine for the staging connection, schema migrated to the newest revision."""
    from airflow.sdk import BaseHook

    url = url_from_connection(BaseHook.get_connection(conn_id))
    url_text = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    if url_text.startswith("sqlite:///"):
        Path(url_text.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = engine_for_url(url_text)
    migrate(engine)
    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply the staging migrations up to ``revision`` (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
