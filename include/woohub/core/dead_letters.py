"""Dead letters: records a load could not write, with the error, what to re-process, and when to retry.

Life of a letter (``state``):

- ``open``: retried by a later run once ``next_retry_at`` has come (5 min, doubling, at most a day). A run
  *claims* the due letters it will retry (:func:`claim_due`); a claim is exclusive, so an overlapping run
  (a backfill next to the schedule) never retries the same letter, and it expires after ``CLAIM_TTL`` so a
  run that died does not hold it forever. :func:`release_claims` gives back what a run claimed but did not
  get to.
- ``exhausted``: failed ``max_attempts`` times (``WOOHUB_DEAD_LETTER_MAX_ATTEMPTS``, default 8). No longer
  retried, still listed, alerted once (:func:`take_unalerted_exhausted`); :func:`requeue` (a DAG param and
  ``python -m woohub dead-letters requeue``) opens it again with fresh attempts.
- ``resolved``: a later write succeeded.

:func:`record_failures` writes the failure and the staged record to re-process in one transaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update

from woohub.staging.repository import chunks, upsert, utcnow
from woohub.staging.schema import dead_letter

OPEN, EXHAUSTED, RESOLVED = "open", "exhausted", "resolved"
RETRY_BASE = timedelta(minutes=5)
RETRY_CAP = timedelta(hours=24)
DEFAULT_MAX_ATTEMPTS = 8
CLAIM_TTL = timedelta(hours=6)


def max_attempts() -> int:
    """How many failed writes make a letter ``exhausted`` (``WOOHUB_DEAD_LETTER_MAX_ATTEMPTS``, default 8)."""
    return max(1, int(os.getenv("WOOHUB_DEAD_LETTER_MAX_ATTEMPTS", str(DEFAULT_MAX_ATTEMPTS))))


def next_retry_delay(attempts: int) -> timedelta:
    """Exponential backoff for dead letters: 5 min, 10, 20, ... capped at a day."""
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_CAP)


def record_failures(engine: Engine, object_type: str, failures: Sequence[Mapping[str, str | None]],
                    run_id: str, *, attempts_cap: int | None = None) -> None:
    """Add or bump dead letters ``{source_key, error_code, error_message[, source_ref]}`` in one
    transaction: attempts count up, the retry is scheduled (or the letter is exhausted), any claim ends."""
    if not failures:
        return
    cap = attempts_cap or max_attempts()
    now = utcnow()
    keys = [str(f["source_key"]) for f in failures]
    with engine.begin() as connection:
        existing: dict[str, Any] = {}
        for batch in chunks(keys):
            query = select(dead_letter).where(and_(dead_letter.c.object_type == object_type,
                                                   dead_letter.c.source_key.in_(batch)))
            existing.update({row.source_key: row for row in connection.execute(query)})
        rows = []
        for failure in failures:
            before = existing.get(str(failure["source_key"]))
            fresh = before is None or before.state == RESOLVED
            attempts = 1 if fresh else before.attempts + 1
            rows.append({
                "object_type": object_type, "source_key": str(failure["source_key"]),
                "error_code": str(failure["error_code"])[:120],
                "error_message": str(failure["error_message"] or "")[:4000],
                "attempts": attempts, "first_failed_at": now if fresh else before.first_failed_at,
                "last_failed_at": now, "next_retry_at": now + next_retry_delay(attempts), "last_run_id": run_id,
                "resolved_at": None, "source_ref": failure.get("source_ref") or (None if fresh else before.source_ref),
                "retry_run_id": None, "claimed_at": None, "state": EXHAUSTED if attempts >= cap else OPEN,
                "alerted_at": None if fresh else before.alerted_at,
            })
        upsert(connection, dead_letter, rows)


def resolve_dead_letters(engine: Engine, object_type: str, source_keys: Iterable[str]) -> None:
    """Letters of ``source_keys`` whose record has now been written are resolved (claims end)."""
    now = utcnow()
    with engine.begin() as connection:
        for batch in chunks(sorted(set(source_keys))):
            connection.execute(
                update(dead_letter)
                .where(and_(dead_letter.c.object_type == object_type, dead_letter.c.source_key.in_(batch),
                            dead_letter.c.state != RESOLVED))
                .values(state=RESOLVED, resolved_at=now, retry_run_id=None, claimed_at=None))


def claim_due(engine: Engine, run_id: str, *, now: datetime | None = None) -> int:
    """Claim for ``run_id`` the open letters whose retry is due and that no live claim holds; returns how
    many. The ``WHERE`` re-checks the claim inside the update, so two runs never claim one letter."""
    now = now or utcnow()
    with engine.begin() as connection:
        return connection.execute(
            update(dead_letter)
            .where(and_(dead_letter.c.state == OPEN, dead_letter.c.next_retry_at <= now,
                        or_(dead_letter.c.retry_run_id.is_(None), dead_letter.c.retry_run_id == run_id,
                            dead_letter.c.claimed_at < now - CLAIM_TTL)))
            .values(retry_run_id=run_id, claimed_at=now)
        ).rowcount


def release_claims(engine: Engine, run_id: str) -> int:
    """Give back the claims ``run_id`` still holds (letters it did not get to retry)."""
    with engine.begin() as connection:
        return connection.execute(
            update(dead_letter).where(dead_letter.c.retry_run_id == run_id)
            .values(retry_run_id=None, claimed_at=None)).rowcount


def retry_refs(engine: Engine, run_id: str) -> dict[str, set[str]]:
    """``stream -> source ids`` to re-process in ``run_id``, from the letters it claimed."""
    query = select(dead_letter.c.source_ref).where(dead_letter.c.retry_run_id == run_id)
    refs: dict[str, set[str]] = {}
    with engine.connect() as connection:
        for (ref,) in connection.execute(query):
            if ref and ":" in ref:
                stream, source_id = ref.rsplit(":", 1)
                refs.setdefault(stream, set()).add(source_id)
    return refs


def dead_letters(engine: Engine, object_type: str | None = None, *,
                 states: Sequence[str] = (OPEN, EXHAUSTED)) -> list[dict[str, Any]]:
    """The letters in ``states`` (default: everything not resolved), oldest failure first."""
    query = select(dead_letter).where(dead_letter.c.state.in_(list(states)))
    if object_type is not None:
        query = query.where(dead_letter.c.object_type == object_type)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query.order_by(dead_letter.c.first_failed_at))]


def requeue(engine: Engine, *, object_type: str | None = None, source_keys: Iterable[str] | None = None,
            states: Sequence[str] = (EXHAUSTED,)) -> int:
    """Open the matching letters again with fresh attempts, due now; returns how many."""
    condition = dead_letter.c.state.in_(list(states))
    if object_type is not None:
        condition = and_(condition, dead_letter.c.object_type == object_type)
    keys = None if source_keys is None else sorted(set(source_keys))
    now = utcnow()
    values = {"state": OPEN, "attempts": 0, "next_retry_at": now, "retry_run_id": None, "claimed_at": None,
              "alerted_at": None}
    with engine.begin() as connection:
        if keys is None:
            return connection.execute(update(dead_letter).where(condition).values(**values)).rowcount
        return sum(connection.execute(update(dead_letter).where(
            and_(condition, dead_letter.c.source_key.in_(batch))).values(**values)).rowcount
            for batch in chunks(keys))


def take_unalerted_exhausted(engine: Engine) -> list[dict[str, Any]]:
    """The exhausted letters nobody was alerted about yet, marked alerted in the same transaction (so each
    exhaustion alerts once, even with runs overlapping)."""
    now = utcnow()
    with engine.begin() as connection:
        rows = [dict(row._mapping) for row in connection.execute(select(dead_letter).where(and_(
            dead_letter.c.state == EXHAUSTED, dead_letter.c.alerted_at.is_(None))))]
        taken = []
        for row in rows:
            if connection.execute(update(dead_letter).where(and_(
                    dead_letter.c.object_type == row["object_type"], dead_letter.c.source_key == row["source_key"],
                    dead_letter.c.alerted_at.is_(None))).values(alerted_at=now)).rowcount:
                taken.append(row)
    return taken
