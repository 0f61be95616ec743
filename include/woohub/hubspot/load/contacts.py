"""Load WooCommerce customers and guest buyers into HubSpot contacts without ever creating a duplicate.

Every changed row is first resolved to an existing HubSpot contact, in this order:

1. its own id map entry (so a customer's email change updates the same contact);
2. for a registered customer, the id map entry of the guest with the same email (guest -> customer);
3. a batch read of contacts by email (HubSpot matches emails case-insensitively), which adopts contacts
   created outside the sync and contacts whose create failed ambiguously in an earlier run.

Resolved rows are updated by HubSpot id. Rows that share a contact (or, unresolved, an email) are written
once: a customer row wins, the guests of that email map onto the same contact. Unresolved customers are
upserted by ``woo_customer_id``; unresolved guests are batch-created (an ``AMBIGUOUS_WRITE`` goes to the dead
letter and step 3 finds the contact next run if it was in fact created). An update whose email belongs to
another contact changes nothing and is dead-lettered as ``EMAIL_CONFLICT``, naming both contacts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from woohub.core.ledger import id_map_rows
from woohub.http.outcomes import RecordOutcome
from woohub.hubspot.load.frames import frame_records, wire_properties
from woohub.hubspot.load.idmap import known_id
from woohub.hubspot.load.properties import require_unique_property
from woohub.hubspot.load.results import LoadLedger, LoadOptions, LoadResult
from woohub.hubspot.load.writes import PlannedWrite, failure_of, upsert_plans
from woohub.staging.repository import content_hash

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from woohub.hubspot.hook import HubSpotHook

OBJECT_TYPE, ID_MAP_TYPE, ID_PROPERTY = "contacts", "contact", "woo_customer_id"
EMAIL_CONFLICT, CONTACT_EXISTS, CONTACT_NOT_FOUND = "EMAIL_CONFLICT", "CONTACT_EXISTS", "CONTACT_NOT_FOUND"
CUSTOMER_PREFIX, GUEST_PREFIX = "customer:", "guest:"
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


@dataclass(frozen=True)
class ContactRow:
    """A contact row: the planned write, its lowercased email and whether it is a registered customer."""

    plan: PlannedWrite
    email: str | None
    customer_id: str | None

    @property
    def key(self) -> str:
        return self.plan.source_key


@dataclass
class ContactWrite:
    """One write to one HubSpot contact: the row written, the contact's id (``None``: create it) and the
    guest rows of the same person that map onto the same contact without a write of their own."""

    primary: ContactRow
    hubspot_id: str | None
    aliases: list[ContactRow] = field(default_factory=list)


def load_contacts(hook: HubSpotHook, engine: Engine, frame: pd.DataFrame, run_id: str,
    options: LoadOptions | None = None,
) -> LoadResult:
    """Create or update the contacts of ``frame`` (columns ``source_key``, ``email``, ``properties``, and
    optionally ``modified_at``, the customer's modification time); see the module docstring for how
    duplicates are avoided and :class:`TwoWayGuard` for how a change made in HubSpot is never overwritten.
    Unchanged rows cost no call."""
    ledger = LoadLedger.start(hook, ID_MAP_TYPE, options)
    modified_at = (dict(zip(frame["source_key"], frame["modified_at"], strict=True))
                   if "modified_at" in frame else {})
    rows = [contact_row(r) for r in frame_records(frame, ["email", "properties"])]
    guest_keys = [GUEST_PREFIX + r.email for r in rows if r.customer_id and r.email]
    known = id_map_rows(engine, ID_MAP_TYPE, [r.key for r in rows] + guest_keys, ignore_hashes=ledger.options.rewrite)
    changed = [r for r in rows if not is_unchanged(r, known)]
    ledger.unchanged(len(rows) - len(changed))
    if changed:
        require_unique_property(hook, OBJECT_TYPE, ID_PROPERTY)
        targets = resolve_contacts(hook, ledger, changed, known)
        writes = group_writes(ledger, [r for r in changed if r.key in targets], targets)
        guard = TwoWayGuard.start(hook, engine, run_id, modified_at or {})
        guard.remember_written(writes)
        updates = guard.apply(ledger, [w for w in writes if w.hubspot_id])
        update_contacts(hook, ledger, updates)
        create_customers(hook, ledger, [w for w in writes if not w.hubspot_id and w.primary.customer_id])
        create_guests(hook, ledger, [w for w in writes if not w.hubspot_id and not w.primary.customer_id])
        result = ledger.finish(engine, run_id)
        guard.save_bases(set(ledger.succeeded))
        return result
    return ledger.finish(engine, run_id)


def contact_row(record: dict[str, Any]) -> ContactRow:
    """A :class:`ContactRow` from a frame record; a customer's properties get ``woo_customer_id`` and a
    guest's get ``email`` from the source key when the mapping left them out."""
    key, properties = record["source_key"], dict(record["properties"])
    customer_id = key.removeprefix(CUSTOMER_PREFIX) if key.startswith(CUSTOMER_PREFIX) else None
    if customer_id is not None and not properties.get(ID_PROPERTY):
        properties[ID_PROPERTY] = customer_id
    if key.startswith(GUEST_PREFIX) and not properties.get("email"):
        properties["email"] = key.removeprefix(GUEST_PREFIX)
    email = record["email"] or properties.get("email")
    return ContactRow(
        PlannedWrite(key, properties, content_hash(properties)),
        email.strip().lower() if email else None,
        customer_id,
    )


def is_unchanged(row: ContactRow, known: dict[str, dict]) -> bool:
    """Whether the id map holds this row's contact with the same hash."""
    entry = known.get(row.key)
    return known_id(entry) is not None and entry["content_hash"] == row.plan.content_hash


def resolve_contacts(
    hook: HubSpotHook, ledger: LoadLedger, rows: list[ContactRow], known: dict[str, dict]
) -> dict[str, str | None]:
    """``source_key -> HubSpot contact id`` (``None``: no contact yet) for the rows that may be written;
    a customer whose email belongs to another customer's contact is booked as ``EMAIL_CONFLICT``."""
    targets: dict[str, str | None] = {}
    to_look_up: list[ContactRow] = []
    for row in rows:
        guest = known.get(GUEST_PREFIX + row.email) if row.customer_id and row.email else None
        target = known_id(known.get(row.key)) or known_id(guest)
        if target or not row.email:
            targets[row.key] = target
        else:
            to_look_up.append(row)
    found = contacts_by_email(hook, sorted({r.email for r in to_look_up if r.email}))
    for row in to_look_up:
        contact = found.get(row.email or "")
        owner = contact.get(ID_PROPERTY) if contact else None
        if contact and row.customer_id and owner and owner != row.plan.properties[ID_PROPERTY]:
            ledger.failed(
                row.key,
                EMAIL_CONFLICT,
                f"email {row.email!r} belongs to HubSpot contact "
                f"{contact['id']} of WooCommerce customer {owner}; nothing was written",
            )
            continue
        targets[row.key] = contact["id"] if contact else None
    return targets


def contacts_by_email(hook: HubSpotHook, emails: list[str]) -> dict[str, dict[str, str]]:
    """``lowercased email -> {id, woo_customer_id}`` of the HubSpot contacts with these emails."""
    if not emails:
        return {}
    found = hook.batch_read(OBJECT_TYPE, emails, properties=["email", ID_PROPERTY], id_property="email")
    return {
        str(c["properties"]["email"]).lower(): {
            "id": str(c["id"]),
            ID_PROPERTY: c["properties"].get(ID_PROPERTY),
        }
        for c in found
        if c.get("properties", {}).get("email")
    }


def group_writes(
    ledger: LoadLedger, rows: list[ContactRow], targets: dict[str, str | None]
) -> list[ContactWrite]:
    """One :class:`ContactWrite` per contact: rows with the same target id, or unresolved rows with an
    email of such a group or with the same email, are one group; a customer row is written, guest rows
    become aliases; a second customer in a group is booked as ``EMAIL_CONFLICT``."""
    groups: dict[str, list[ContactRow]] = {}
    group_of_email: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: targets[r.key] is None):  # resolved rows first
        target = targets[row.key]
        group = (
            f"id:{target}" if target else group_of_email.get(row.email or "", f"new:{row.email or row.key}")
        )
        groups.setdefault(group, []).append(row)
        group_of_email.setdefault(row.email or row.key, group)
    writes = []
    for members in groups.values():
        primary, *rest = sorted(members, key=lambda r: (r.customer_id is None, r.key))
        for other in (r for r in rest if r.customer_id):
            ledger.failed(
                other.key,
                EMAIL_CONFLICT,
                f"{other.key} and {primary.key} resolve to the same "
                f"HubSpot contact (email {other.email!r}); only {primary.key} was written",
            )
        hubspot_id = next((targets[m.key] for m in members if targets[m.key]), None)
        writes.append(ContactWrite(primary, hubspot_id, [r for r in rest if not r.customer_id]))
    return writes


def update_contacts(hook: HubSpotHook, ledger: LoadLedger, writes: list[ContactWrite]) -> None:
    """Batch update contacts by HubSpot id; email conflicts and vanished contacts are booked as failures."""
    if not writes:
        return
    records = [{"id": w.hubspot_id, "properties": wire_properties(w.primary.plan.properties)} for w in writes]
    outcomes = {o.key: o for o in hook.batch_update(OBJECT_TYPE, records)}
    for write in writes:
        outcome = outcomes.get(str(write.hubspot_id))
        if outcome is not None and outcome.ok:
            book_success(ledger, write, str(write.hubspot_id), created=False)
            continue
        code, message = failure_of(outcome)
        existing = _EXISTING_ID.search(message)
        if existing:
            code, message = (
                EMAIL_CONFLICT,
                (
                    f"email {write.primary.email!r} already belongs to HubSpot contact "
                    f"{existing.group(1)}; contact {write.hubspot_id} was left unchanged"
                ),
            )
        elif code == "OBJECT_NOT_FOUND":
            code = CONTACT_NOT_FOUND  # forget the stale id: the next run resolves the row again
            for row in (write.primary, *write.aliases):
                ledger.remember(row.key, None, None)
        book_failure(ledger, write, code, message)


def create_customers(hook: HubSpotHook, ledger: LoadLedger, writes: list[ContactWrite]) -> None:
    """Upsert contacts for new customers by ``woo_customer_id`` (safe to retry under faults)."""
    outcomes = upsert_plans(hook, OBJECT_TYPE, ID_PROPERTY, [w.primary.plan for w in writes])
    for write in writes:
        book_created(ledger, write, outcomes.get(write.primary.key))


def create_guests(hook: HubSpotHook, ledger: LoadLedger, writes: list[ContactWrite]) -> None:
    """Batch-create contacts for new guests, keyed by their email."""
    if not writes:
        return
    records = [wire_properties(w.primary.plan.properties) for w in writes]
    outcomes = {o.key: o for o in hook.batch_create(OBJECT_TYPE, records, key_property="email")}
    for write, record in zip(writes, records, strict=True):
        book_created(ledger, write, outcomes.get(record["email"]))


def book_created(ledger: LoadLedger, write: ContactWrite, outcome: RecordOutcome | None) -> None:
    """Book a create (or upsert) outcome; an email taken in the meantime is ``CONTACT_EXISTS`` (the next
    run's email lookup adopts that contact)."""
    if outcome is not None and outcome.ok and outcome.id:
        book_success(ledger, write, outcome.id, created=outcome.created is not False)
        return
    code, message = failure_of(outcome)
    if _EXISTING_ID.search(message):
        code = CONTACT_EXISTS
    book_failure(ledger, write, code, message)


def book_success(ledger: LoadLedger, write: ContactWrite, hubspot_id: str, *, created: bool) -> None:
    """The contact was written: its row and its aliases now map to ``hubspot_id``."""
    ledger.written(write.primary.key, hubspot_id, write.primary.plan.content_hash, created)
    for alias in write.aliases:
        ledger.written(alias.key, hubspot_id, alias.plan.content_hash, False)


def book_failure(ledger: LoadLedger, write: ContactWrite, code: str, message: str) -> None:
    """The contact was not written: its row and its aliases are dead-lettered."""
    ledger.failed(write.primary.key, code, message)
    for alias in write.aliases:
        ledger.failed(alias.key, code, f"written together with {write.primary.key}: {message}")


@dataclass
class TwoWayGuard:
    """Keeps WooCommerce -> HubSpot from overwriting what the sales team changed in HubSpot.

    For a customer's contact that both directions synced before (``id_map.synced_fields`` holds the values
    both sides agreed on), the two-way fields are compared three ways with the contact as it is now
    (one batch read per 100 updates): a field only HubSpot changed is left out of the write (HubSpot ->
    WooCommerce brings it to the shop); a field changed on both sides is decided by the ownership policy
    (:mod:`woohub.core.conflicts`) and recorded in ``sync_conflict``; a write that would change nothing is
    not sent. After the load, the agreed values become the new base.
    """

    hook: HubSpotHook
    engine: Engine
    run_id: str
    modified_at: dict[str, Any]
    mapping: Any = None
    bases: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_bases: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def start(cls, hook: HubSpotHook, engine: Engine, run_id: str, modified_at: dict[str, Any]) -> TwoWayGuard:
        from woohub.mapping.hubspot_to_woocommerce import load_mapping

        return cls(hook, engine, run_id, modified_at, load_mapping())

    def apply(self, ledger: LoadLedger, writes: list[ContactWrite]) -> list[ContactWrite]:
        """The updates to send, with HubSpot's own changes left out; updates left with nothing to change
        are booked as written without a call."""
        from woohub.core import conflicts

        customers = [w for w in writes if w.primary.customer_id]
        self.bases = conflicts.base_values(self.engine, ID_MAP_TYPE, [w.primary.key for w in customers])
        guarded = [w for w in customers if w.primary.key in self.bases]
        if not guarded:
            return writes
        names = sorted({name for w in guarded for name in w.primary.plan.properties} | {"lastmodifieddate"})
        current = {str(c["id"]): c.get("properties") or {}
                   for c in self.hook.batch_read(OBJECT_TYPE, [str(w.hubspot_id) for w in guarded], properties=names)}
        policies = conflicts.policies_from_mapping(self.mapping)
        kept: dict[int, ContactWrite | None] = {}
        for write in guarded:
            now = current.get(str(write.hubspot_id))
            if now is not None:
                kept[id(write)] = self._guarded(ledger, write, now, policies)
        return [kept.get(id(w), w) for w in writes if kept.get(id(w), w) is not None]

    def remember_written(self, writes: list[ContactWrite]) -> None:
        """The base of each customer's contact once ``writes`` are made as planned (:meth:`apply` narrows
        it for the updates it guards)."""
        from woohub.mapping.hubspot_to_woocommerce import contact_fields

        for write in writes:
            if write.primary.customer_id:
                fields = contact_fields(write.primary.plan.properties, self.mapping)
                self.new_bases[write.primary.key] = {k: v for k, v in fields.items() if v is not None}

    def _guarded(self, ledger: LoadLedger, write: ContactWrite, now: dict[str, Any],
                 policies: Any) -> ContactWrite | None:
        from woohub.core import conflicts
        from woohub.mapping.hubspot_to_woocommerce import contact_fields

        key, base = write.primary.key, self.bases[write.primary.key]
        woo = contact_fields(write.primary.plan.properties, self.mapping)
        hub = contact_fields(now, self.mapping)
        decisions = conflicts.decide(woo, hub, base, woocommerce_modified_at=conflicts.modification_time(self.modified_at.get(key)),
                                     hubspot_modified_at=conflicts.modification_time(now.get("lastmodifieddate")), policies=policies)
        found = [d.conflict for d in decisions if d.conflict is not None]
        if found:
            conflicts.record_conflicts(self.engine, run_id=self.run_id, dag_id="woocommerce_to_hubspot",
                                       object_type=ID_MAP_TYPE, woocommerce_key=key, hubspot_id=str(write.hubspot_id),
                                       conflicts=found)
        keep_hubspot = {d.field for d in decisions if d.target != "hubspot" and woo.get(d.field) != hub.get(d.field)}
        properties = {k: v for k, v in write.primary.plan.properties.items() if k not in keep_hubspot}
        self.new_bases[key] = conflicts.applied_base(decisions, base, "hubspot")
        if all(str(now.get(k) or "") == str(v or "") for k, v in wire_properties(properties).items()):
            for row in (write.primary, *write.aliases):  # nothing to change in HubSpot: no call
                ledger.confirmed(row.key, str(write.hubspot_id), row.plan.content_hash)
            return None
        plan = PlannedWrite(write.primary.plan.source_key, properties, write.primary.plan.content_hash)
        primary = ContactRow(plan, write.primary.email, write.primary.customer_id)
        return ContactWrite(primary, write.hubspot_id, write.aliases)

    def save_bases(self, succeeded: set[str]) -> None:
        """Record the agreed values of the contacts written (or found already equal)."""
        from woohub.core import conflicts

        written = {k: v for k, v in self.new_bases.items() if k in succeeded}
        if written:
            conflicts.save_base_values(self.engine, ID_MAP_TYPE, written)

