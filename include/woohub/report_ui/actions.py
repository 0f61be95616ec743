"""What the report page's buttons do, each recorded in ``review_action`` with who did it.

- **Requeue a quarantined record** (staged streams only, e.g. ``woocommerce.orders``): the open quarantine row
  forgets which version failed (``content_hash`` NULL), so the next run of its DAG counts the staged record
  among its candidates again (:func:`woohub.core.runs.candidate_ids` leaves out only a record quarantined in
  exactly its current version) and validates it again: it is released if it passes now (a changed suite or
  catalogue), quarantined again if not. It stays listed until then. Mapping quarantines
  (``woocommerce_to_hubspot.contacts``, ``hubspot_to_woocommerce.deals``) are checked again by every run and
  have no requeue.
- **Dismiss a quarantined record**: it leaves quarantine (``released_at``), and the version that failed is
  settled without a write (``synced_hash`` = that version), so the next run does not quarantine it again; a
  new version from the source is validated as usual.
- **Requeue a dead letter**: :func:`woohub.core.dead_letters.requeue` (open or exhausted: fresh attempts, due
  now).
- **Dismiss a dead letter**: state ``dismissed``: no longer retried nor listed; a later failure of the record
  opens it again, a later successful write resolves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Engine, and_, insert, select, update

from woohub.core import dead_letters
from woohub.report_ui.queries import dead_letter_dag, is_staged_stream, quarantine_dag
from woohub.staging.repository import utcnow
from woohub.staging.schema import STAGED_TABLES, dead_letter, quarantine, review_action

Action = Literal["requeue", "dismiss"]
Target = Literal["quarantine", "dead_letter"]
ACTIONS: tuple[Action, ...] = ("requeue", "dismiss")
TARGETS: tuple[Target, ...] = ("quarantine", "dead_letter")
DISMISSED = "dismissed"


class ReviewError(Exception):
    """The action cannot be done; ``status`` is the HTTP status that says why (404 gone, 409 not possible)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ReviewResult:
    """One recorded action: its ``review_action`` id and what it did."""

    review_action_id: int
    detail: str


def target_dag(engine: Engine, target: Target, object_type: str, source_key: str) -> str | None:
    """The DAG whose runs process the record (the permission to act on it is checked against that DAG)."""
    if target == "quarantine":
        return quarantine_dag(object_type)
    with engine.connect() as connection:
        source_ref = connection.execute(select(dead_letter.c.source_ref).where(and_(
            dead_letter.c.object_type == object_type, dead_letter.c.source_key == source_key))).scalar()
    return dead_letter_dag(object_type, source_ref)


def review(engine: Engine, action: Action, target: Target, object_type: str, source_key: str, *,
           actor: str) -> ReviewResult:
    """Do ``action`` on the open quarantine row or unresolved dead letter ``object_type``/``source_key`` and
    record it with ``actor``; :class:`ReviewError` when it is gone or the action does not apply."""
    if action not in ACTIONS or target not in TARGETS:
        raise ReviewError(404, f"no action {action!r} on {target!r}")
    if not actor:
        raise ReviewError(403, "an action needs a named user")
    if target == "dead_letter" and action == "requeue":
        return _requeue_dead_letter(engine, object_type, source_key, actor)
    with engine.begin() as connection:
        if target == "quarantine":
            detail = (_requeue_quarantined if action == "requeue" else _dismiss_quarantined)(
                connection, object_type, source_key)
        else:
            detail = _dismiss_dead_letter(connection, object_type, source_key)
        return ReviewResult(_record(connection, action, target, object_type, source_key, actor, detail), detail)


def _open_quarantine_row(connection: Connection, object_type: str, source_key: str) -> Any:
    row = connection.execute(select(quarantine).where(and_(
        quarantine.c.object_type == object_type, quarantine.c.source_key == source_key,
        quarantine.c.released_at.is_(None)))).first()
    if row is None:
        raise ReviewError(404, f"{object_type} {source_key} is not in open quarantine")
    return row


def _requeue_quarantined(connection: Connection, object_type: str, source_key: str) -> str:
    _open_quarantine_row(connection, object_type, source_key)
    if not is_staged_stream(object_type):
        raise ReviewError(409, f"{object_type} records are checked again by every run of "
                               f"{quarantine_dag(object_type) or 'their DAG'}; there is nothing to requeue")
    connection.execute(update(quarantine).where(and_(
        quarantine.c.object_type == object_type, quarantine.c.source_key == source_key,
        quarantine.c.released_at.is_(None))).values(content_hash=None))
    return f"validated again by the next run of {quarantine_dag(object_type)}"


def _dismiss_quarantined(connection: Connection, object_type: str, source_key: str) -> str:
    row = _open_quarantine_row(connection, object_type, source_key)
    reference = f"dismissed:{utcnow():%Y-%m-%dT%H:%M:%S}"
    connection.execute(update(quarantine).where(and_(
        quarantine.c.object_type == object_type, quarantine.c.source_key == source_key,
        quarantine.c.released_at.is_(None))).values(released_at=utcnow(), released_run_id=reference))
    table = STAGED_TABLES.get(object_type)
    if table is None or row.content_hash is None:
        return "released from quarantine"
    settled = connection.execute(update(table).where(and_(
        table.c.source_id == source_key, table.c.content_hash == row.content_hash))
        .values(synced_hash=row.content_hash)).rowcount
    return ("released; the failed version is skipped, a new version is validated as usual" if settled
            else "released; its newer staged version is validated by the next run")


def _requeue_dead_letter(engine: Engine, object_type: str, source_key: str, actor: str) -> ReviewResult:
    requeued = dead_letters.requeue(engine, object_type=object_type, source_keys=[source_key],
                                    states=(dead_letters.OPEN, dead_letters.EXHAUSTED))
    if not requeued:
        raise ReviewError(404, f"no open or exhausted dead letter {object_type} {source_key}")
    detail = "fresh attempts, retried by the next run"
    with engine.begin() as connection:
        return ReviewResult(_record(connection, "requeue", "dead_letter", object_type, source_key, actor, detail),
                            detail)


def _dismiss_dead_letter(connection: Connection, object_type: str, source_key: str) -> str:
    dismissed = connection.execute(update(dead_letter).where(and_(
        dead_letter.c.object_type == object_type, dead_letter.c.source_key == source_key,
        dead_letter.c.state.in_([dead_letters.OPEN, dead_letters.EXHAUSTED])))
        .values(state=DISMISSED, retry_run_id=None, claimed_at=None)).rowcount
    if not dismissed:
        raise ReviewError(404, f"no open or exhausted dead letter {object_type} {source_key}")
    return "no longer retried"


def _record(connection: Connection, action: Action, target: Target, object_type: str, source_key: str,
            actor: str, detail: str) -> int:
    result = connection.execute(insert(review_action).values(
        acted_at=utcnow(), actor=actor[:250], action=action, target=target, object_type=object_type[:64],
        source_key=source_key[:320], detail=detail))
    return int(result.inserted_primary_key[0])
