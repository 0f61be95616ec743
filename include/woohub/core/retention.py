"""Retention: personal data leaves staging, and old GX validation results leave the file context, once they
are older than ``WOOHUB_RETENTION_DAYS`` (default 30). The nightly ``reconciliation`` DAG runs both (task
``purge_retention``); ``python -m woohub retention purge`` runs them by hand.

What :func:`purge_staging` deletes, and what it keeps:

- staged payloads (every table of ``STAGED_TABLES``) extracted before the cutoff whose newest version was
  synced (``synced_hash = content_hash``). Kept: a row still waiting to be synced, a row with an open
  quarantine entry, and a row an unresolved dead letter will re-process (its ``source_ref``). A purged
  record that changes later is simply staged again; the ledger's hashes keep it from being written twice.
  Streams whose rows are lookups and never marked synced (``hubspot.line_items``, ``hubspot.products``)
  are therefore kept whole.
- ``staged_run_record`` rows (which records an old run staged) extracted before the cutoff.
- quarantine rows *released* before the cutoff. An open quarantine row is kept however old it is: it still
  waits for a person (the report page lists it) and is rechecked by the runs.
- ``reconciliation_difference`` rows (they hold both systems' field values: emails, names, phones) detected
  before the cutoff, except those still ``heal_queued``; ``reconciliation_run`` keeps each night's counts.
- ``webhook_event`` rows (record ids only) a run already staged (state ``staged``) received before the
  cutoff; pending ones are kept for the next run.
- kept untouched: ``run_stats`` and ``reconciliation_run`` (the counts the reports show), ``id_map``, ``sync_state``, ``dead_letter``.

:func:`prune_validation_results` deletes validation result files under ``uncommitted/validations`` and their
Data Docs pages under ``uncommitted/data_docs/local_site/validations`` by modification time; expectations,
checkpoints and validation definitions are never touched. The Data Docs index keeps listing a pruned page
until the next :func:`woohub.core.quality.build_data_docs` (every checkpoint run rebuilds it).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, and_, delete, exists, func, literal, select

from woohub.staging.repository import utcnow
from woohub.staging.schema import (
    STAGED_TABLES,
    dead_letter,
    quarantine,
    reconciliation_difference,
    staged_run_record,
    webhook_event,
)

RETENTION_DAYS_ENV = "WOOHUB_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
#: dead-letter states that no longer need their staged record (resolved by a sync, dismissed by a person)
DONE_STATES = ("resolved", "dismissed")
_VALIDATIONS = Path("uncommitted/validations")
_DOCS_VALIDATIONS = Path("uncommitted/data_docs/local_site/validations")


def retention_days() -> int:
    """How many days personal data and validation results are kept (``WOOHUB_RETENTION_DAYS``, default 30;
    at least 1)."""
    days = int(os.getenv(RETENTION_DAYS_ENV, str(DEFAULT_RETENTION_DAYS)))
    if days < 1:
        raise ValueError(f"{RETENTION_DAYS_ENV} must be at least 1 day, not {days}")
    return days


def cutoff(older_than_days: int, now: datetime | None = None) -> datetime:
    """The naive-UTC moment before which things are purged: ``now`` (default: the current time) minus the
    days."""
    if older_than_days < 1:
        raise ValueError(f"retention must be at least 1 day, not {older_than_days}")
    moment = now or utcnow()
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment - timedelta(days=older_than_days)


def _purgeable_staged(stream: str, table: Table, before: datetime) -> Any:
    """Old, synced rows of a staged table that no open quarantine row or unresolved dead letter needs."""
    in_quarantine = exists().where(and_(quarantine.c.object_type == stream,
                                        quarantine.c.source_key == table.c.source_id,
                                        quarantine.c.released_at.is_(None)))
    in_dead_letter = exists().where(and_(dead_letter.c.source_ref == literal(f"{stream}:") + table.c.source_id,
                                         dead_letter.c.state.not_in(DONE_STATES)))
    return and_(table.c.extracted_at < before, table.c.synced_hash.is_not(None),
                table.c.synced_hash == table.c.content_hash, ~in_quarantine, ~in_dead_letter)


def _purge_conditions(before: datetime) -> dict[str, tuple[Table, Any]]:
    """``table name -> (table, the SQL condition of its rows to purge)``."""
    conditions = {table.name: (table, _purgeable_staged(stream, table, before))
                  for stream, table in STAGED_TABLES.items()}
    conditions[staged_run_record.name] = (staged_run_record, staged_run_record.c.extracted_at < before)
    conditions[quarantine.name] = (quarantine, and_(quarantine.c.released_at.is_not(None),
                                                    quarantine.c.released_at < before))
    conditions[reconciliation_difference.name] = (reconciliation_difference, and_(
        reconciliation_difference.c.detected_at < before, reconciliation_difference.c.action != "heal_queued"))
    conditions[webhook_event.name] = (webhook_event, and_(webhook_event.c.state == "staged",
                                                          webhook_event.c.received_at < before))
    return conditions


def purge_staging(engine: Engine, *, older_than_days: int, now: datetime | None = None,
                  dry_run: bool = False) -> dict[str, int]:
    """Delete what the module docstring lists from staging, in one transaction; ``table -> rows deleted``
    (with ``dry_run``: the rows that would be, nothing deleted)."""
    before = cutoff(older_than_days, now)
    counts: dict[str, int] = {}
    with engine.begin() as connection:
        for name, (table, condition) in _purge_conditions(before).items():
            if dry_run:
                counts[name] = int(connection.execute(
                    select(func.count()).select_from(table).where(condition)).scalar_one())
            else:
                counts[name] = int(connection.execute(delete(table).where(condition)).rowcount)
    return counts


def _older_files(directory: Path, pattern: str, before: float) -> list[Path]:
    """Files under ``directory`` matching ``pattern`` last modified before ``before`` (a POSIX time)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob(pattern) if p.is_file() and p.stat().st_mtime < before)


def _remove_empty_directories(directory: Path) -> None:
    """Remove the empty folders below ``directory`` (deepest first), never ``directory`` itself."""
    if not directory.is_dir():
        return
    for folder in sorted((p for p in directory.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                         reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def prune_validation_results(gx_root: str | os.PathLike[str] | None = None, *, older_than_days: int,
                             now: datetime | None = None, dry_run: bool = False) -> int:
    """Delete the GX validation results (``*.json`` under ``uncommitted/validations``) last modified before
    the cutoff, with their Data Docs pages, and Data Docs validation pages that old whose result is gone.
    Returns how many validation results were (with ``dry_run``: would be) deleted."""
    from woohub.core.quality import resolve_gx_root  # imported here: it pulls in the hooks (seconds)

    root = resolve_gx_root(gx_root)
    before = cutoff(older_than_days, now).replace(tzinfo=UTC).timestamp()
    results_dir, docs_dir = root / _VALIDATIONS, root / _DOCS_VALIDATIONS
    results = _older_files(results_dir, "*.json", before)
    if dry_run:
        return len(results)
    pages = {docs_dir / p.relative_to(results_dir).with_suffix(".html") for p in results}
    pages.update(_older_files(docs_dir, "*.html", before))
    for path in [*results, *sorted(pages)]:
        path.unlink(missing_ok=True)
    _remove_empty_directories(results_dir)
    _remove_empty_directories(docs_dir)
    return len(results)


__all__ = ["DEFAULT_RETENTION_DAYS", "RETENTION_DAYS_ENV", "cutoff", "prune_validation_results", "purge_staging",
           "retention_days"]
