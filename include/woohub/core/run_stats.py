"""Per-run counts (``run_stats``): one row per run and object, set (never added) so a retried task does not
double count."""

from __future__ import annotations

from sqlalchemy import Engine, select

from woohub.staging.repository import upsert, utcnow
from woohub.staging.schema import run_stats


def record_counts(engine: Engine, run_id: str, object_type: str, **counts: int) -> None:
    """Set the named counters of ``run_id``/``object_type``."""
    with engine.begin() as connection:
        upsert(connection, run_stats, [{"run_id": run_id, "object_type": object_type, **counts,
                                        "updated_at": utcnow()}])


def run_counts(engine: Engine, run_id: str) -> dict[str, dict[str, int]]:
    """``object_type -> counters`` of ``run_id``."""
    with engine.connect() as connection:
        rows = connection.execute(select(run_stats).where(run_stats.c.run_id == run_id))
        return {row.object_type: {k: v for k, v in row._mapping.items()
                                  if k not in {"run_id", "object_type", "updated_at"}} for row in rows}
