"""Quarantine: records that failed validation (or mapping), one row per record with its reasons, kept until
the record passes. A quarantined record is validated again when its source changes (a new staged version
is a candidate of the next run) and when a run is triggered with ``recheck_quarantine``; it is released the
moment it passes, and stays listed until then."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, and_, select, update

from woohub.staging.repository import chunks, upsert, utcnow
from woohub.staging.schema import quarantine


def quarantine_records(engine: Engine, run_id: str, object_type: str, reasons: Mapping[str, list[str]],
                       hashes: Mapping[str, str] | None = None) -> None:
    """Quarantine ``source_key -> [reason, ...]`` of ``object_type`` (a staged stream or a mapped object),
    found by ``run_id``; ``hashes`` names the staged version that failed."""
    if not reasons:
        return
    now = utcnow()
    existing = _open_first_times(engine, object_type, list(reasons))
    rows = [{"object_type": object_type, "source_key": key, "reasons": json.dumps(sorted(set(why))),
             "content_hash": (hashes or {}).get(key), "first_quarantined_at": existing.get(key, now),
             "quarantined_at": now, "run_id": run_id, "released_at": None, "released_run_id": None}
            for key, why in reasons.items()]
    with engine.begin() as connection:
        upsert(connection, quarantine, rows)


def _open_first_times(engine: Engine, object_type: str, keys: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    with engine.connect() as connection:
        for batch in chunks(keys):
            query = select(quarantine.c.source_key, quarantine.c.first_quarantined_at).where(and_(
                quarantine.c.object_type == object_type, quarantine.c.source_key.in_(batch),
                quarantine.c.released_at.is_(None)))
            found.update({row.source_key: row.first_quarantined_at for row in connection.execute(query)})
    return found


def release(engine: Engine, run_id: str, object_type: str, source_keys: Iterable[str]) -> int:
    """Records of ``source_keys`` that passed in ``run_id`` leave quarantine; returns how many did."""
    now = utcnow()
    released = 0
    with engine.begin() as connection:
        for batch in chunks(sorted(set(source_keys))):
            released += connection.execute(update(quarantine).where(and_(
                quarantine.c.object_type == object_type, quarantine.c.source_key.in_(batch),
                quarantine.c.released_at.is_(None))).values(released_at=now, released_run_id=run_id)).rowcount
    return released


def quarantined(engine: Engine, run_id: str | None = None, object_type: str | None = None, *,
                include_released: bool = False) -> list[dict[str, Any]]:
    """Quarantined records (open ones unless ``include_released``), optionally those ``run_id`` found."""
    query = select(quarantine)
    if not include_released:
        query = query.where(quarantine.c.released_at.is_(None))
    if run_id is not None:
        query = query.where(quarantine.c.run_id == run_id)
    if object_type is not None:
        query = query.where(quarantine.c.object_type == object_type)
    with engine.connect() as connection:
        return [{**row._mapping, "reasons": json.loads(row.reasons)} for row in connection.execute(query)]


def open_versions(engine: Engine, object_type: str) -> dict[str, str | None]:
    """``source_key -> content_hash`` of the open quarantine of ``object_type`` (which version failed)."""
    query = select(quarantine.c.source_key, quarantine.c.content_hash).where(and_(
        quarantine.c.object_type == object_type, quarantine.c.released_at.is_(None)))
    with engine.connect() as connection:
        return {row.source_key: row.content_hash for row in connection.execute(query)}
