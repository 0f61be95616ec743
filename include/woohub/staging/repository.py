"""Reads and writes of the staging tables. Every write is an upsert on the table's key, so a retried or
re-run task leaves the same rows behind."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from woohub.staging.schema import STAGED_TABLES, dead_letter, id_map, quarantine, run_stats, sync_state

_CHUNK = 500


def utcnow() -> datetime:
    """Now as naive UTC, the form every staging timestamp uses."""
    return datetime.now(UTC).replace(tzinfo=None)


def content_hash(value: Any) -> str:
    """A stable SHA-256 of a JSON-able value (keys sorted), used to tell changed records from unchanged."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def upsert(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` into ``table``, replacing the non-key columns of rows whose primary key exists."""
    if not rows:
        return
    dialect = connection.dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"staging upsert supports sqlite and postgresql, not {dialect}")
    keys = [c.name for c in table.primary_key.columns]
    for start in range(0, len(rows), _CHUNK):
        chunk = list(rows[start : start + _CHUNK])
        statement = insert(table).values(chunk)
        updates = {name: statement.excluded[name] for name in chunk[0] if name not in keys}
        statement = (statement.on_conflict_do_update(index_elements=keys, set_=updates) if updates
                     else statement.on_conflict_do_nothing(index_elements=keys))
        connection.execute(statement)


# -- staged extracts ------------------------------------------------------------------------------------


def stage_records(engine: Engine, stream: str, records: Iterable[Mapping[str, Any]], run_id: str,
                  modified_field: str | None = "date_modified_gmt") -> int:
    """Upsert raw WooCommerce payloads of ``stream`` (orders, customers, products) for ``run_id``."""
    table = STAGED_TABLES[stream]
    now = utcnow()
    rows = []
    for record in records:
        modified = record.get(modified_field) if modified_field else None
        rows.append({
            "source_id": str(record["id"]),
            "payload": json.dumps(record, separators=(",", ":"), ensure_ascii=False),
            "content_hash": content_hash(record),
            "source_modified_at": datetime.fromisoformat(modified) if modified else None,
            "extracted_run_id": run_id,
            "extracted_at": now,
        })
    with engine.begin() as connection:
        upsert(connection, table, rows)
    return len(rows)


def staged_payloads(engine: Engine, stream: str, *, run_id: str | None = None,
                    source_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Staged payloads of ``stream``: those extracted by ``run_id``, or those with ``source_ids``, or all."""
    table = STAGED_TABLES[stream]
    query = select(table.c.payload)
    if run_id is not None:
        query = query.where(table.c.extracted_run_id == run_id)
    ids = None if source_ids is None else [str(i) for i in source_ids]
    with engine.connect() as connection:
        if ids is None:
            return [json.loads(row.payload) for row in connection.execute(query.order_by(table.c.source_id))]
        payloads = []
        for start in range(0, len(ids), _CHUNK):
            chunk_query = query.where(table.c.source_id.in_(ids[start : start + _CHUNK]))
            payloads += [json.loads(row.payload) for row in connection.execute(chunk_query)]
        return payloads


def staged_hashes(engine: Engine, stream: str) -> dict[str, str]:
    """``source_id -> content_hash`` of every staged record of ``stream`` (for full-scan change detection)."""
    table = STAGED_TABLES[stream]
    with engine.connect() as connection:
        return {row.source_id: row.content_hash
                for row in connection.execute(select(table.c.source_id, table.c.content_hash))}


# -- sync state -----------------------------------------------------------------------------------------


def get_high_water_mark(engine: Engine, stream: str) -> datetime | None:
    with engine.connect() as connection:
        return connection.execute(
            select(sync_state.c.high_water_mark).where(sync_state.c.stream == stream)
        ).scalar_one_or_none()


def set_high_water_mark(engine: Engine, stream: str, mark: datetime, run_id: str) -> None:
    """Move the stream's mark to ``mark`` unless it already stands later (a backfill never moves it back)."""
    current = get_high_water_mark(engine, stream)
    if current is not None and current >= mark:
        return
    with engine.begin() as connection:
        upsert(connection, sync_state, [{"stream": stream, "high_water_mark": mark, "updated_at": utcnow(),
                                         "updated_run_id": run_id}])


# -- id map ---------------------------------------------------------------------------------------------


def id_map_rows(engine: Engine, object_type: str, source_keys: Iterable[str] | None = None) -> dict[str, dict]:
    """``source_key -> {hubspot_id, content_hash}`` for ``object_type`` (all keys when none are given)."""
    query = select(id_map.c.source_key, id_map.c.hubspot_id, id_map.c.content_hash).where(
        id_map.c.object_type == object_type)
    keys = None if source_keys is None else list(source_keys)
    result: dict[str, dict] = {}
    with engine.connect() as connection:
        chunks = [None] if keys is None else [keys[i : i + _CHUNK] for i in range(0, len(keys), _CHUNK)]
        for chunk in chunks:
            chunk_query = query if chunk is None else query.where(id_map.c.source_key.in_(chunk))
            for row in connection.execute(chunk_query):
                result[row.source_key] = {"hubspot_id": row.hubspot_id, "content_hash": row.content_hash}
    return result


def save_id_map(engine: Engine, object_type: str, entries: Sequence[Mapping[str, Any]], run_id: str) -> None:
    """Record ``{source_key, hubspot_id, content_hash}`` entries written by ``run_id``."""
    now = utcnow()
    rows = [{"object_type": object_type, "source_key": e["source_key"], "hubspot_id": e["hubspot_id"],
             "content_hash": e.get("content_hash"), "synced_at": now, "synced_run_id": run_id} for e in entries]
    with engine.begin() as connection:
        upsert(connection, id_map, rows)


# -- dead letters ---------------------------------------------------------------------------------------

RETRY_BASE = timedelta(minutes=5)
RETRY_CAP = timedelta(hours=24)


def next_retry_delay(attempts: int) -> timedelta:
    """Exponential backoff for dead letters: 5 min, 10, 20, ... capped at a day."""
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_CAP)


def record_failures(engine: Engine, object_type: str, failures: Sequence[Mapping[str, str]], run_id: str) -> None:
    """Add or bump dead letters ``{source_key, error_code, error_message}``; attempts count up each time."""
    if not failures:
        return
    now = utcnow()
    existing = {row["source_key"]: row for row in dead_letters(engine, object_type, include_resolved=True)}
    rows = []
    for failure in failures:
        before = existing.get(failure["source_key"])
        attempts = 1 if before is None or before["resolved_at"] is not None else before["attempts"] + 1
        rows.append({
            "object_type": object_type, "source_key": failure["source_key"],
            "error_code": failure["error_code"][:120], "error_message": failure["error_message"][:4000],
            "attempts": attempts, "first_failed_at": now if attempts == 1 else before["first_failed_at"],
            "last_failed_at": now, "next_retry_at": now + next_retry_delay(attempts), "last_run_id": run_id,
            "resolved_at": None,
        })
    with engine.begin() as connection:
        upsert(connection, dead_letter, rows)


def resolve_dead_letters(engine: Engine, object_type: str, source_keys: Iterable[str]) -> None:
    keys = list(source_keys)
    now = utcnow()
    with engine.begin() as connection:
        for start in range(0, len(keys), _CHUNK):
            connection.execute(
                update(dead_letter)
                .where(and_(dead_letter.c.object_type == object_type,
                            dead_letter.c.source_key.in_(keys[start : start + _CHUNK]),
                            dead_letter.c.resolved_at.is_(None)))
                .values(resolved_at=now)
            )


def set_dead_letter_refs(engine: Engine, object_type: str, refs: Mapping[str, str]) -> None:
    """Remember, per failed ``source_key``, the staged record (``"<stream>:<source_id>"``) to re-process."""
    with engine.begin() as connection:
        for key, ref in refs.items():
            connection.execute(update(dead_letter).where(and_(
                dead_letter.c.object_type == object_type, dead_letter.c.source_key == key)).values(source_ref=ref))


def claim_due_dead_letters(engine: Engine, run_id: str) -> int:
    """Mark unresolved dead letters whose retry time has come as retried by ``run_id``; returns how many."""
    with engine.begin() as connection:
        return connection.execute(
            update(dead_letter)
            .where(and_(dead_letter.c.resolved_at.is_(None), dead_letter.c.next_retry_at <= utcnow()))
            .values(retry_run_id=run_id)
        ).rowcount


def retry_refs(engine: Engine, run_id: str) -> dict[str, set[str]]:
    """``stream -> source ids`` to re-process in ``run_id``, from the dead letters it claimed."""
    query = select(dead_letter.c.source_ref).where(dead_letter.c.retry_run_id == run_id)
    refs: dict[str, set[str]] = {}
    with engine.connect() as connection:
        for (ref,) in connection.execute(query):
            if ref and ":" in ref:
                stream, source_id = ref.split(":", 1)
                refs.setdefault(stream, set()).add(source_id)
    return refs


def dead_letters(engine: Engine, object_type: str | None = None, *, due_only: bool = False,
                 include_resolved: bool = False) -> list[dict[str, Any]]:
    query = select(dead_letter)
    if object_type is not None:
        query = query.where(dead_letter.c.object_type == object_type)
    if not include_resolved:
        query = query.where(dead_letter.c.resolved_at.is_(None))
    if due_only:
        query = query.where(dead_letter.c.next_retry_at <= utcnow())
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


# -- quarantine and run counts --------------------------------------------------------------------------


def quarantine_records(engine: Engine, run_id: str, object_type: str, reasons: Mapping[str, list[str]]) -> None:
    """Store ``source_key -> [reason, ...]`` as this run's quarantined records of ``object_type``."""
    now = utcnow()
    rows = [{"run_id": run_id, "object_type": object_type, "source_key": key,
             "reasons": json.dumps(sorted(set(why))), "quarantined_at": now} for key, why in reasons.items()]
    with engine.begin() as connection:
        upsert(connection, quarantine, rows)


def quarantined(engine: Engine, run_id: str | None = None, object_type: str | None = None) -> list[dict[str, Any]]:
    query = select(quarantine)
    if run_id is not None:
        query = query.where(quarantine.c.run_id == run_id)
    if object_type is not None:
        query = query.where(quarantine.c.object_type == object_type)
    with engine.connect() as connection:
        return [{**row._mapping, "reasons": json.loads(row.reasons)} for row in connection.execute(query)]


def record_counts(engine: Engine, run_id: str, object_type: str, **counts: int) -> None:
    """Set (not add) the named counters of ``run_id``/``object_type``, so a retried task does not double count."""
    with engine.begin() as connection:
        upsert(connection, run_stats, [{"run_id": run_id, "object_type": object_type, **counts,
                                        "updated_at": utcnow()}])


def run_counts(engine: Engine, run_id: str) -> dict[str, dict[str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(select(run_stats).where(run_stats.c.run_id == run_id))
        return {row.object_type: {k: v for k, v in row._mapping.items()
                                  if k not in {"run_id", "object_type", "updated_at"}} for row in rows}
