"""Reads and writes of the staged payload tables and the sync marks. Every write is an upsert on the table's
key, so a retried or re-run task leaves the same rows behind. The ledger, dead letters, quarantine and run
stats live in :mod:`woohub.core` on top of :func:`upsert`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from woohub.staging.schema import STAGED_TABLES, staged_run_record, sync_state

CHUNK = 500


def utcnow() -> datetime:
    """Now as naive UTC, the form every staging timestamp uses."""
    return datetime.now(UTC).replace(tzinfo=None)


def content_hash(value: Any) -> str:
    """A stable SHA-256 of a JSON-able value (keys sorted), used to tell changed records from unchanged."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    """``values`` in lists of at most ``size`` (SQL ``IN`` lists and multi-row inserts stay small)."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _insert_for(connection: Connection) -> Any:
    dialect = connection.dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"staging upsert supports sqlite and postgresql, not {dialect}")
    return insert


def upsert(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *,
           only_if: Any = None) -> None:
    """Insert ``rows`` into ``table``, replacing the non-key columns of rows whose primary key exists
    (when ``only_if(table, excluded)`` is given, only where that SQL condition holds)."""
    if not rows:
        return
    insert = _insert_for(connection)
    keys = [c.name for c in table.primary_key.columns]
    for chunk in chunks(rows):
        statement = insert(table).values(chunk)
        updates = {name: statement.excluded[name] for name in chunk[0] if name not in keys}
        if not updates:
            statement = statement.on_conflict_do_nothing(index_elements=keys)
        else:
            where = only_if(table, statement.excluded) if only_if is not None else None
            statement = statement.on_conflict_do_update(index_elements=keys, set_=updates, where=where)
        connection.execute(statement)


# -- staged extracts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StagedRecord:
    """One staged payload as a run reads it: the hash says which version it is (for :func:`mark_synced`)."""

    source_id: str
    payload: dict[str, Any]
    content_hash: str


def _newer_or_same(table: Table, excluded: Any) -> Any:
    """Keep the newest version: a slower run never replaces a payload with an older one."""
    return or_(table.c.source_modified_at.is_(None), excluded.source_modified_at.is_(None),
               excluded.source_modified_at >= table.c.source_modified_at)


def stage_records(engine: Engine, stream: str, records: Iterable[Mapping[str, Any]], run_id: str,
                  modified_field: str | None = "date_modified_gmt") -> int:
    """Stage raw payloads of ``stream`` (e.g. ``woocommerce.orders``) for ``run_id``: the payload table keeps
    the newest version of each record, and ``staged_run_record`` remembers that this run extracted it."""
    table = STAGED_TABLES[stream]
    now = utcnow()
    rows, members = [], []
    for record in records:
        modified = record.get(modified_field) if modified_field else None
        digest = content_hash(record)
        rows.append({
            "source_id": str(record["id"]),
            "payload": json.dumps(record, separators=(",", ":"), ensure_ascii=False),
            "content_hash": digest,
            "source_modified_at": _naive_utc(datetime.fromisoformat(modified)) if modified else None,
            "extracted_run_id": run_id,
            "extracted_at": now,
        })
        members.append({"run_id": run_id, "stream": stream, "source_id": str(record["id"]),
                        "content_hash": digest, "extracted_at": now})
    with engine.begin() as connection:
        upsert(connection, table, rows, only_if=_newer_or_same)
        upsert(connection, staged_run_record, members)
    return len(rows)


def _naive_utc(moment: datetime) -> datetime:
    """Staging keeps naive UTC: an aware time (HubSpot's ``...Z``) is converted, not stored by the database
    session's time zone."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def run_source_ids(engine: Engine, stream: str, run_id: str) -> set[str]:
    """The ids of the records ``run_id`` staged for ``stream``."""
    query = select(staged_run_record.c.source_id).where(
        and_(staged_run_record.c.run_id == run_id, staged_run_record.c.stream == stream))
    with engine.connect() as connection:
        return {row.source_id for row in connection.execute(query)}


def unsynced_versions(engine: Engine, stream: str) -> dict[str, str]:
    """``source_id -> content_hash`` of the staged records whose newest version has not been synced yet
    (staged by any run, loaded by none)."""
    table = STAGED_TABLES[stream]
    query = select(table.c.source_id, table.c.content_hash).where(
        or_(table.c.synced_hash.is_(None), table.c.synced_hash != table.c.content_hash))
    with engine.connect() as connection:
        return {row.source_id: row.content_hash for row in connection.execute(query)}


def validated_source_ids(engine: Engine, stream: str, source_ids: Iterable[str]) -> set[str]:
    """Those of ``source_ids`` whose newest staged version passed validation."""
    table = STAGED_TABLES[stream]
    found: set[str] = set()
    with engine.connect() as connection:
        for batch in chunks(sorted({str(i) for i in source_ids})):
            query = select(table.c.source_id).where(and_(
                table.c.source_id.in_(batch), table.c.validated_hash == table.c.content_hash))
            found.update(row.source_id for row in connection.execute(query))
    return found


def mark_validated(engine: Engine, stream: str, versions: Mapping[str, str]) -> int:
    """Record that these versions (``source_id -> content_hash``) passed validation."""
    return _set_version_column(engine, stream, versions, "validated_hash")


def staged_records(engine: Engine, stream: str, source_ids: Iterable[str] | None = None) -> list[StagedRecord]:
    """The newest staged version of the ``source_ids`` of ``stream`` (all records when ``None``), by id."""
    return [record for batch in iter_staged_records(engine, stream, source_ids) for record in batch]


def iter_staged_records(engine: Engine, stream: str, source_ids: Iterable[str] | None = None,
                        batch_size: int = CHUNK) -> Iterator[list[StagedRecord]]:
    """:func:`staged_records` in batches of ``batch_size``, ordered by source id (memory stays flat)."""
    table = STAGED_TABLES[stream]
    query = select(table.c.source_id, table.c.payload, table.c.content_hash)
    with engine.connect() as connection:
        if source_ids is None:
            ids = [row.source_id for row in connection.execute(select(table.c.source_id))]
        else:
            ids = list({str(i) for i in source_ids})
        ids.sort(key=_id_order)
        for batch in chunks(ids, batch_size):
            rows = connection.execute(query.where(table.c.source_id.in_(batch)))
            found = {row.source_id: StagedRecord(row.source_id, json.loads(row.payload), row.content_hash)
                     for row in rows}
            yield [found[i] for i in batch if i in found]


def source_id_order(source_id: str) -> tuple[int, int | str]:
    """Sort key of source ids: numeric ids by value, then the others as text."""
    return (0, int(source_id)) if source_id.isdigit() else (1, source_id)


_id_order = source_id_order


def staged_payloads(engine: Engine, stream: str, *, run_id: str | None = None,
                    source_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Staged payloads of ``stream``: those ``run_id`` staged, or those with ``source_ids``, or all."""
    if run_id is not None:
        ids = run_source_ids(engine, stream, run_id)
        source_ids = ids if source_ids is None else ids & {str(i) for i in source_ids}
    return [record.payload for record in staged_records(engine, stream, source_ids)]


def staged_hashes(engine: Engine, stream: str) -> dict[str, str]:
    """``source_id -> content_hash`` of every staged record of ``stream``."""
    table = STAGED_TABLES[stream]
    with engine.connect() as connection:
        return {row.source_id: row.content_hash
                for row in connection.execute(select(table.c.source_id, table.c.content_hash))}


def mark_synced(engine: Engine, stream: str, versions: Mapping[str, str]) -> int:
    """Record that the sync of these versions (``source_id -> content_hash``) completed. A row staged anew
    since (another hash) stays unsynced: its newer version still has to be written."""
    return _set_version_column(engine, stream, versions, "synced_hash")


def _set_version_column(engine: Engine, stream: str, versions: Mapping[str, str], column: str) -> int:
    """Set ``column`` to the version's hash where the staged row still holds that version."""
    table = STAGED_TABLES[stream]
    done = 0
    with engine.begin() as connection:
        by_hash: dict[str, list[str]] = {}
        for source_id, digest in versions.items():
            by_hash.setdefault(digest, []).append(source_id)
        for digest, ids in by_hash.items():
            for batch in chunks(ids):
                done += connection.execute(update(table).where(and_(
                    table.c.source_id.in_(batch), table.c.content_hash == digest)).values({column: digest})
                ).rowcount
    return done


# -- sync marks -----------------------------------------------------------------------------------------


def get_high_water_mark(engine: Engine, stream: str) -> datetime | None:
    with engine.connect() as connection:
        return connection.execute(
            select(sync_state.c.high_water_mark).where(sync_state.c.stream == stream)
        ).scalar_one_or_none()


def set_high_water_mark(engine: Engine, stream: str, mark: datetime, run_id: str) -> None:
    """Move the stream's mark to ``mark`` unless it already stands later (a mark never moves back)."""
    with engine.begin() as connection:
        upsert(connection, sync_state,
               [{"stream": stream, "high_water_mark": mark, "updated_at": utcnow(), "updated_run_id": run_id}],
               only_if=lambda table, excluded: or_(table.c.high_water_mark.is_(None),
                                                   table.c.high_water_mark < excluded.high_water_mark))
