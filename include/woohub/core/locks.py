"""Exclusive sections across processes and machines, held in the staging database's own terms.

Two runs may load the same object type at once (a backfill next to the schedule). Each load reads the
newest staged version, compares it with the ledger and writes; doing that under one lock per object type
means the later load sees what the earlier one wrote, so one record ends as one HubSpot record with the
newest content and nothing is written twice.

- PostgreSQL: a session-level advisory lock (``pg_advisory_lock``) on a connection held for the section;
  the server releases it when the holder's session ends, so a killed worker never leaves it behind.
- SQLite (a file on one machine): ``flock`` on a lock file beside the database; the kernel releases it
  when the holder dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock``."""
    return int.from_bytes(hashlib.sha256(f"woohub:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(engine: Engine, name: str, *, poll_seconds: float = 0.5) -> Iterator[None]:
    """Hold the lock ``name`` for the ``with`` block, waiting (and saying so in the log) while another
    process holds it."""
    if engine.dialect.name == "postgresql":
        with _postgres_lock(engine, name, poll_seconds):
            yield
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield  # one process owns an in-memory database: nothing to exclude
        return
    with _file_lock(Path(f"{database}.{name}.lock"), name, poll_seconds):
        yield


@contextmanager
def _postgres_lock(engine: Engine, name: str, poll_seconds: float) -> Iterator[None]:
    key = _lock_key(name)
    with engine.connect() as connection:
        started, warned = time.monotonic(), False
        while not connection.execute(text("select pg_try_advisory_lock(:key)"), {"key": key}).scalar():
            connection.rollback()
            warned = _log_wait(name, started, warned)
            time.sleep(poll_seconds)
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("select pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()


@contextmanager
def _file_lock(path: Path, name: str, poll_seconds: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        started, warned = time.monotonic(), False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                warned = _log_wait(name, started, warned)
                time.sleep(poll_seconds)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _log_wait(name: str, started: float, warned: bool) -> bool:
    if not warned:
        log.info("waiting for lock %s (another run holds it)", name)
        return True
    waited = time.monotonic() - started
    if int(waited) and int(waited) % 60 == 0:
        log.info("still waiting for lock %s after %.0f s", name, waited)
    return True
