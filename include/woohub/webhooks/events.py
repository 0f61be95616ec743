"""The ``webhook_event`` table: what the webhook routes accepted and the sync runs take.

- :func:`record_events` inserts each event once (``(source, delivery_id)`` is unique, so a replayed delivery
  is a duplicate and changes nothing) and says whether to emit the Asset event that wakes the sync: only when
  no other pending event of that source is already signalled and not yet claimed by a run. A burst of a
  thousand orders therefore emits one Asset event (plus at most one more per run that claims), not a thousand.
- :func:`claim_pending` (a run's plan) takes every pending event of the given streams, up to the newest id at
  that moment, for the run: the events a failed run claimed are pending still and taken again.
- :func:`mark_staged` (the run's extract, after the records are staged) closes them. A record staged but not
  yet synced is a candidate of every later run (``woohub.core.runs``), so nothing is lost after that point.

The table holds record ids, never payloads: the run reads each record from its API, so a late or reordered
delivery cannot stage an old version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from woohub.staging import repository
from woohub.staging.schema import webhook_event

PENDING, STAGED = "pending", "staged"


@dataclass(frozen=True)
class WebhookEvent:
    """One change a webhook reported: ``stream``'s record ``record_id`` (``parent_id``: a variation's product)."""

    source: str
    delivery_id: str
    topic: str
    stream: str
    record_id: str
    parent_id: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class Recorded:
    """What :func:`record_events` did: ``new`` events stored, ``duplicates`` seen before, and whether the
    caller emits the Asset event (``signal``)."""

    new: int
    duplicates: int
    signal: bool


@dataclass
class Claim:
    """The pending events a run took: ``upto`` is the newest event id taken (``None``: none pending);
    ``ids`` maps a stream to its record ids (each once, in arrival order); ``parents`` maps a stream to
    ``record id -> parent id`` where the webhook named one."""

    upto: int | None = None
    ids: dict[str, list[str]] = field(default_factory=dict)
    parents: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.upto is None


def record_events(engine: Engine, events: Sequence[WebhookEvent], *, now: datetime | None = None) -> Recorded:
    """Store ``events`` (one source per call) once each; see the module docstring for ``signal``."""
    if not events:
        return Recorded(0, 0, False)
    received = now or repository.utcnow()
    sources = {event.source for event in events}
    if len(sources) != 1:
        raise ValueError(f"record_events takes one source per call, got {sorted(sources)}")
    source = sources.pop()
    new_ids: list[int] = []
    duplicates = 0
    for event in events:
        try:
            with engine.begin() as connection:
                new_ids.append(int(connection.execute(insert(webhook_event).values(
                    source=event.source, delivery_id=event.delivery_id[:120], topic=event.topic[:64],
                    stream=event.stream, record_id=str(event.record_id),
                    parent_id=None if event.parent_id in (None, "", "0", 0) else str(event.parent_id),
                    occurred_at=event.occurred_at, received_at=received, signalled=0, state=PENDING,
                ).returning(webhook_event.c.id)).scalar_one()))
        except IntegrityError:
            duplicates += 1
    if not new_ids:
        return Recorded(0, duplicates, False)
    with engine.begin() as connection:
        waiting = connection.execute(select(func.count()).select_from(webhook_event).where(
            webhook_event.c.source == source, webhook_event.c.state == PENDING, webhook_event.c.signalled == 1,
            webhook_event.c.claimed_run_id.is_(None), webhook_event.c.id.not_in(new_ids))).scalar_one()
        signal = not waiting
        if signal:
            connection.execute(update(webhook_event).where(webhook_event.c.id.in_(new_ids)).values(signalled=1))
    return Recorded(len(new_ids), duplicates, signal)


def claim_pending(engine: Engine, streams: Iterable[str], run_id: str) -> Claim:
    """Take every pending event of ``streams`` for ``run_id`` (see the module docstring)."""
    wanted = list(streams)
    with engine.begin() as connection:
        upto = connection.execute(select(func.max(webhook_event.c.id)).where(
            webhook_event.c.stream.in_(wanted), webhook_event.c.state == PENDING)).scalar_one()
        if upto is None:
            return Claim()
        mine = and_(webhook_event.c.stream.in_(wanted), webhook_event.c.state == PENDING,
                    webhook_event.c.id <= upto)
        connection.execute(update(webhook_event).where(mine).values(claimed_run_id=run_id))
        rows = connection.execute(select(webhook_event.c.stream, webhook_event.c.record_id,
                                         webhook_event.c.parent_id).where(mine).order_by(webhook_event.c.id)).all()
    claim = Claim(upto=int(upto))
    for stream, record_id, parent_id in rows:
        ids = claim.ids.setdefault(stream, [])
        if record_id not in ids:
            ids.append(record_id)
        if parent_id:
            claim.parents.setdefault(stream, {})[record_id] = parent_id
    return claim


def mark_staged(engine: Engine, stream: str, upto: int | None, run_id: str, *,
                now: datetime | None = None) -> int:
    """Close the pending events of ``stream`` up to ``upto`` that ``run_id`` claimed; how many."""
    if upto is None:
        return 0
    with engine.begin() as connection:
        return int(connection.execute(update(webhook_event).where(
            webhook_event.c.stream == stream, webhook_event.c.state == PENDING, webhook_event.c.id <= upto,
            webhook_event.c.claimed_run_id == run_id,
        ).values(state=STAGED, staged_at=now or repository.utcnow())).rowcount)


def pending_count(engine: Engine, source: str | None = None) -> int:
    """Events not staged yet (of ``source``, or all)."""
    condition = webhook_event.c.state == PENDING
    if source:
        condition = and_(condition, webhook_event.c.source == source)
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(webhook_event).where(condition)).scalar_one())


__all__ = ["PENDING", "STAGED", "Claim", "Recorded", "WebhookEvent", "claim_pending", "mark_staged",
           "pending_count", "record_events"]
