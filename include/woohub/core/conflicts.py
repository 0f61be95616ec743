"""Two-way field decisions, direction-neutral: which side a field's value goes to, and the conflicts.

Both directions hold the same field space (HubSpot contact property names: ``email``, ``firstname``, ...;
values normalised ``str`` or ``None``). For one linked pair, :func:`decide` compares per field the
WooCommerce value, the HubSpot value and the **base** (the value both held after the last sync, kept in
``id_map.synced_fields``):

1. both sides equal: nothing to do.
2. only HubSpot changed since the base: the HubSpot value goes to WooCommerce.
3. only WooCommerce changed: the WooCommerce value goes to HubSpot.
4. both changed (or there is no base yet and they differ): a **conflict**. The field's ``owner`` wins when
   the policy names one (policy ``owner``); otherwise the later modification time (policy ``latest``);
   when the times are equal or one is unknown, WooCommerce, the system of record (policy
   ``system_of_record``). The winner's value goes to the other side and the conflict is recorded
   (:func:`record_conflicts`).

**Empty values.** A side whose value is empty (``None``) may clear the other side only when the field's
policy allows it (``empty_clears_hubspot`` / ``empty_clears_woocommerce``, both false by default). An empty
value that may not clear is no change at all for the decision: it is not written, it is no conflict, the
other side keeps its value; a non-empty value of the other side still fills the empty side. So a person
clearing a phone in HubSpot does not clear the customer's phone in WooCommerce, and a HubSpot phone fills
a customer that has none.

Each :class:`Decision` also gives the field's new **base** (:attr:`Decision.base`, collected by
:func:`new_base`): the value both sides hold once the decision is applied, or, when an empty value was
kept from clearing the other side, the old base (both sides then differ on purpose, and the next run must
see the same state again, not a change of the side that kept its value).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from woohub.staging.repository import chunks, content_hash, utcnow
from woohub.staging.schema import id_map, sync_conflict

Side = Literal["woocommerce", "hubspot"]
WOOCOMMERCE: Side = "woocommerce"
HUBSPOT: Side = "hubspot"
OWNERS: tuple[str, ...] = (WOOCOMMERCE, HUBSPOT)

#: ``sync_conflict.policy`` values
POLICY_OWNER = "owner"
POLICY_LATEST = "latest"
#: equal or unknown modification times: WooCommerce, the system of record, wins
POLICY_SYSTEM_OF_RECORD = "system_of_record"
#: an email another customer has: nothing was written (``email_conflict``)
POLICY_EMAIL_TAKEN = "email_taken"


@dataclass(frozen=True)
class FieldPolicy:
    """How conflicts of one two-way field are decided: ``owner`` (``"woocommerce"``, ``"hubspot"`` or
    ``None`` = the later modification wins) and whether an empty value of one side may clear the other."""

    owner: Side | None = None
    empty_clears_hubspot: bool = False
    empty_clears_woocommerce: bool = False


DEFAULT_POLICY = FieldPolicy()


@dataclass(frozen=True)
class Conflict:
    """A field both sides changed since the last sync, and who won under which policy."""

    field: str
    woocommerce_value: str | None
    hubspot_value: str | None
    woocommerce_modified_at: datetime | None
    hubspot_modified_at: datetime | None
    winner: Side
    policy: str


@dataclass(frozen=True)
class Decision:
    """What to do with one field: write ``value`` to ``target`` (``None``: write nothing); ``conflict``
    when both sides had changed; ``base`` the field's base after the decision (see the module docstring)."""

    field: str
    target: Side | None
    value: str | None
    base: str | None
    conflict: Conflict | None = None


def decide(woocommerce: Mapping[str, str | None], hubspot: Mapping[str, str | None],
           base: Mapping[str, str | None] | None, *, woocommerce_modified_at: datetime | None,
           hubspot_modified_at: datetime | None, policies: Mapping[str, FieldPolicy]) -> list[Decision]:
    """One :class:`Decision` per field (the fields of ``policies``, then any other field of either side,
    which gets :data:`DEFAULT_POLICY`), in that order; see the module docstring for the rules.

    ``base`` ``None`` means the pair was never synced (every difference is a conflict); a field missing
    from a given ``base`` had no value (``None``) at the last sync. Modification times may be naive UTC
    or aware."""
    fields = list(policies) + sorted((set(woocommerce) | set(hubspot)) - set(policies))
    times = (modification_time(woocommerce_modified_at), modification_time(hubspot_modified_at))
    return [_decide_field(name, woocommerce.get(name), hubspot.get(name), base, times,
                          policies.get(name, DEFAULT_POLICY)) for name in fields]


def _decide_field(name: str, woo: str | None, hub: str | None, base: Mapping[str, str | None] | None,
                  times: tuple[datetime | None, datetime | None], policy: FieldPolicy) -> Decision:
    """The three-way decision of one field."""
    if woo == hub:
        return Decision(name, None, None, woo)
    old = base.get(name) if base is not None else None
    woo_changed = base is None or woo != old
    hub_changed = base is None or hub != old
    if woo is None and not policy.empty_clears_hubspot:
        woo_changed = False  # an empty WooCommerce value never clears HubSpot
    if hub is None and not policy.empty_clears_woocommerce:
        hub_changed = False  # an empty HubSpot value never clears WooCommerce
    if hub_changed and not woo_changed:
        return Decision(name, WOOCOMMERCE, hub, hub)
    if woo_changed and not hub_changed:
        return Decision(name, HUBSPOT, woo, woo)
    if not woo_changed:  # the only change is an empty value that may not clear: each side keeps its value
        return Decision(name, None, None, old)
    winner, rule = _winner(policy, *times)
    conflict = Conflict(name, woo, hub, times[0], times[1], winner, rule)
    if winner == WOOCOMMERCE:
        return Decision(name, HUBSPOT, woo, woo, conflict)
    return Decision(name, WOOCOMMERCE, hub, hub, conflict)


def _winner(policy: FieldPolicy, woocommerce_at: datetime | None,
            hubspot_at: datetime | None) -> tuple[Side, str]:
    """The side that wins a conflict, and the rule that chose it."""
    if policy.owner is not None:
        return policy.owner, POLICY_OWNER
    if woocommerce_at is None or hubspot_at is None or woocommerce_at == hubspot_at:
        return WOOCOMMERCE, POLICY_SYSTEM_OF_RECORD
    return (HUBSPOT if hubspot_at > woocommerce_at else WOOCOMMERCE), POLICY_LATEST


def new_base(decisions: Iterable[Decision]) -> dict[str, str | None]:
    """``field -> base`` after the decisions are applied, for :func:`save_base_values`."""
    return {d.field: d.base for d in decisions}


def applied_base(decisions: Iterable[Decision], base: Mapping[str, Any] | None, written_side: Side) -> dict[str, Any]:
    """The base values once the writes to ``written_side`` are made: a field decided for the other side
    keeps its old base until the other direction has written it (else that direction would take its own
    stale value for the change)."""
    old = base or {}
    return {d.field: (d.base if d.target in (None, written_side) else old.get(d.field)) for d in decisions}


def writes_to(decisions: Iterable[Decision], side: Side) -> dict[str, str | None]:
    """``field -> value`` of the decisions that write to ``side``."""
    return {d.field: d.value for d in decisions if d.target == side}


def email_conflict(conflict: Mapping[str, Any], *, woocommerce_email: str | None = None,
                   hubspot_modified_at: datetime | None = None) -> Conflict:
    """The ``sync_conflict`` record of an email update left unsent because another customer has the email
    (a ``conflicts`` entry of ``woohub.woocommerce.load.CustomerLoadResult``): WooCommerce keeps its value."""
    return Conflict(field="email", woocommerce_value=woocommerce_email, hubspot_value=conflict.get("email"),
                    woocommerce_modified_at=None, hubspot_modified_at=modification_time(hubspot_modified_at),
                    winner=WOOCOMMERCE, policy=POLICY_EMAIL_TAKEN)


def policies_from_mapping(mapping: Any = None) -> dict[str, FieldPolicy]:
    """``field -> FieldPolicy`` of a mapping's ``two_way`` section (the HubSpot -> WooCommerce mapping,
    ``woohub.mapping.hubspot_to_woocommerce``; the packaged one when ``None``)."""
    if mapping is None:
        from woohub.mapping.hubspot_to_woocommerce import load_mapping

        mapping = load_mapping()
    return dict(mapping.two_way)


def modification_time(value: Any) -> datetime | None:
    """A record's modification time as naive UTC: a datetime (aware ones converted), ISO text (HubSpot's
    ``...Z``, WooCommerce's ``*_gmt``) or epoch milliseconds; ``None`` when empty or unknown."""
    if value is None or value == "" or value != value:  # NaN / NaT are unequal to themselves
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        text = str(value)
        value = (datetime.fromtimestamp(int(text) / 1000, UTC) if text.isdigit()
                 else datetime.fromisoformat(text.replace("Z", "+00:00")))
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


# -- sync_conflict ----------------------------------------------------------------------------------------


def conflict_key(object_type: str, woocommerce_key: str | None, hubspot_id: str | None,
                 conflict: Conflict) -> str:
    """The hash that records one conflict once: object type, both keys, field and both values (not the
    times, not the run: a conflict seen again by a later run is the same conflict)."""
    return content_hash([object_type, woocommerce_key, hubspot_id, conflict.field, conflict.woocommerce_value,
                         conflict.hubspot_value])


def record_conflicts(engine: Engine, *, run_id: str, dag_id: str, object_type: str, woocommerce_key: str | None,
                     hubspot_id: str | None, conflicts: Sequence[Conflict]) -> int:
    """Insert the conflicts of one linked pair into ``sync_conflict``, each only once however many runs
    (of either DAG) see it (:func:`conflict_key`); returns how many were new."""
    now = utcnow()
    rows = {}
    for conflict in conflicts:
        key = conflict_key(object_type, woocommerce_key, hubspot_id, conflict)
        rows[key] = {
            "conflict_key": key, "run_id": run_id, "dag_id": dag_id, "object_type": object_type,
            "woocommerce_key": woocommerce_key, "hubspot_id": hubspot_id, "field": conflict.field,
            "woocommerce_value": conflict.woocommerce_value, "hubspot_value": conflict.hubspot_value,
            "woocommerce_modified_at": modification_time(conflict.woocommerce_modified_at),
            "hubspot_modified_at": modification_time(conflict.hubspot_modified_at), "winner": conflict.winner,
            "policy": conflict.policy, "recorded_at": now,
        }
    inserted = 0
    with engine.begin() as connection:
        insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[connection.dialect.name]
        for row in rows.values():
            statement = (insert(sync_conflict).values(row).on_conflict_do_nothing(index_elements=["conflict_key"])
                         .returning(sync_conflict.c.id))
            inserted += len(connection.execute(statement).fetchall())
    return inserted


def conflict_rows(engine: Engine, run_id: str | None = None) -> list[dict[str, Any]]:
    """The recorded conflicts (those first recorded by ``run_id`` when given), oldest first."""
    query = select(sync_conflict).order_by(sync_conflict.c.id)
    if run_id is not None:
        query = query.where(sync_conflict.c.run_id == run_id)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


# -- id_map.synced_fields -------------------------------------------------------------------------------


def base_values(engine: Engine, object_type: str, woocommerce_keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``woocommerce_key -> {field: value}``: the base of each pair that has one (``id_map.synced_fields``);
    keys without an id map row or without a base are absent."""
    keys = sorted({str(k) for k in woocommerce_keys})
    found: dict[str, dict[str, Any]] = {}
    with engine.connect() as connection:
        for batch in chunks(keys):
            query = select(id_map.c.woocommerce_key, id_map.c.synced_fields).where(and_(
                id_map.c.object_type == object_type, id_map.c.woocommerce_key.in_(batch),
                id_map.c.synced_fields.is_not(None)))
            found.update({row.woocommerce_key: json.loads(row.synced_fields) for row in connection.execute(query)})
    return found


def save_base_values(engine: Engine, object_type: str, values: Mapping[str, Mapping[str, Any]], *,
                     hubspot_ids: Mapping[str, str] | None = None) -> int:
    """Merge ``woocommerce_key -> {field: value}`` into the pairs' ``id_map.synced_fields`` (a field given
    replaces its old value, the others stay; ``None`` is stored as null). Only ``synced_fields`` is
    written: the row's ids, hashes and sync marks are untouched.

    Only existing id map rows get a base, unless ``hubspot_ids`` names the HubSpot id of a key: then a
    missing row is created as that pair (its hashes empty). A key with neither is skipped, so no half
    link is made up. Returns the number of rows written."""
    keys = sorted({str(k) for k in values})
    written = 0
    with engine.begin() as connection:
        existing: dict[str, str | None] = {}
        for batch in chunks(keys):
            query = select(id_map.c.woocommerce_key, id_map.c.synced_fields).where(and_(
                id_map.c.object_type == object_type, id_map.c.woocommerce_key.in_(batch)))
            existing.update({row.woocommerce_key: row.synced_fields for row in connection.execute(query)})
        for key in keys:
            merged = {**(json.loads(existing[key]) if existing.get(key) else {}), **values[key]}
            text = json.dumps(merged, sort_keys=True, ensure_ascii=False)
            if key in existing:
                connection.execute(update(id_map).where(and_(
                    id_map.c.object_type == object_type, id_map.c.woocommerce_key == key)).values(synced_fields=text))
            elif hubspot_ids and hubspot_ids.get(key):
                connection.execute(id_map.insert().values(object_type=object_type, woocommerce_key=key,
                                                          hubspot_id=str(hubspot_ids[key]), synced_fields=text))
            else:
                continue
            written += 1
    return written
