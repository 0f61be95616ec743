"""Batch writes shared by the loaders: planned writes, the unchanged filter, upserts by a unique property,
associations, and settling their outcomes in the ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from woohub.http.outcomes import RecordOutcome
from woohub.hubspot.load.frames import wire_properties

ASSOCIATION_CHUNK = 1000

if TYPE_CHECKING:
    from woohub.hubspot.hook import HubSpotHook
    from woohub.hubspot.load.results import LoadLedger


@dataclass(frozen=True)
class PlannedWrite:
    """One record to write: its source key, the properties to send and the hash that says what was sent."""

    source_key: str
    properties: dict[str, Any]
    content_hash: str


def split_unchanged(
    plans: Sequence[PlannedWrite], known: Mapping[str, dict]
) -> tuple[list[PlannedWrite], list[PlannedWrite]]:
    """(changed, unchanged): a plan is unchanged when the id map holds a HubSpot id and the same hash."""
    changed, unchanged = [], []
    for plan in plans:
        entry = known.get(plan.source_key) or {}
        same = entry.get("hubspot_id") is not None and entry.get("content_hash") == plan.content_hash
        (unchanged if same else changed).append(plan)
    return changed, unchanged


def upsert_plans(
    hook: HubSpotHook, object_type: str, id_property: str, plans: Sequence[PlannedWrite]
) -> dict[str, RecordOutcome]:
    """Batch upsert ``plans`` by ``id_property`` (the source key when the properties lack it);
    ``source_key -> outcome``."""
    records, source_key_of = [], {}
    for plan in plans:
        properties = wire_properties(plan.properties)
        if not properties.get(id_property):
            properties[id_property] = plan.source_key
        source_key_of[properties[id_property]] = plan.source_key
        records.append(properties)
    if not records:
        return {}
    outcomes = hook.batch_upsert(object_type, id_property, records)
    return {source_key_of[o.key]: o for o in outcomes}


def associate_pairs(
    hook: HubSpotHook,
    from_type: str,
    to_type: str,
    association_type_id: int,
    pairs: Mapping[str, tuple[str, str]],
) -> dict[str, RecordOutcome]:
    """Create the default association ``from_id -> to_id`` for each ``source_key -> (from_id, to_id)``
    (idempotent in HubSpot); ``source_key -> outcome``."""
    if not pairs:
        return {}
    source_key_of = {f"{a}-{b}": key for key, (a, b) in pairs.items()}
    outcomes = hook.batch_associate(
        from_type, to_type, list(pairs.values()), association_type_id=association_type_id
    )
    return {source_key_of[o.key]: o for o in outcomes}


def failure_of(outcome: RecordOutcome | None) -> tuple[str, str]:
    """(error code, message) of a failed outcome; ``UNREPORTED`` when there is none."""
    if outcome is None:
        return "UNREPORTED", "no outcome for this record"
    return outcome.error_code or "ERROR", outcome.error_message or ""


def settle(
    ledger: LoadLedger, plan: PlannedWrite, written: RecordOutcome | None, linked: RecordOutcome | None = None
) -> None:
    """Book one planned write: its record write outcome and, when it was associated, the association's.

    A record that was written but not associated keeps its id with no hash, so the next run writes and
    associates it again.
    """
    if written is None or not written.ok or written.id is None:
        ledger.failed(plan.source_key, *failure_of(written))
    elif linked is not None and not linked.ok:
        ledger.remember(plan.source_key, written.id, None)
        ledger.failed(
            plan.source_key,
            f"ASSOCIATION_{linked.error_code or 'ERROR'}",
            f"written as {written.id} but not associated: {linked.error_message or ''}",
        )
    else:
        ledger.written(plan.source_key, written.id, plan.content_hash, written.created)


def unlink_pairs(hook: HubSpotHook, from_type: str, to_type: str, pairs: Sequence[tuple[str, str]]) -> None:
    """Remove the associations ``from_id -> to_id`` (v4 batch archive, chunks of 1,000; safe to repeat).

    :raises FatalHTTPError: when HubSpot rejects a chunk
    """
    inputs = [{"from": {"id": str(a)}, "to": [{"id": str(b)}]} for a, b in pairs]
    for start in range(0, len(inputs), ASSOCIATION_CHUNK):
        hook.request(
            "POST",
            f"/crm/v4/associations/{from_type}/{to_type}/batch/archive",
            json={"inputs": inputs[start : start + ASSOCIATION_CHUNK]},
            idempotent=True,
        )
