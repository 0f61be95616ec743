"""Erasure of one person from staging on request (``python -m woohub personal-data erase --email X``).

:func:`erase_person` finds every staging row that holds the person's email (case-insensitively, in any
text column: JSON payloads, quarantine reasons, dead-letter messages, conflict and difference values,
id-map keys such as ``guest:<email>``, snapshot emails) and the rows linked to the person without the email
in them: the staged orders of the person's WooCommerce customer ids (``customer_id``), the staged HubSpot
deals associated with the person's HubSpot contact ids, and id-map, quarantine, dead-letter and
reconciliation rows keyed by those ids (``customer:<id>``, the contact id). What it does with them:

* deleted: the staged payloads (``stg_*``: the person's customer/contact records, their orders and deals),
  id-map rows, quarantine rows, dead letters, conflicts, reconciliation snapshot rows and differences,
  order intents. The staged order is deleted rather than redacted: a redacted payload with a new content
  hash would look like a change and could be written back over the real record in the other system.
* redacted (the email replaced by ``[erased]``, the row kept): ``review_action`` and ``alert_sent``, the
  record of what a person did and which alerts went out.
* kept: ``staged_run_record`` (run id, stream, record id, hash), ``run_stats``, ``reconciliation_run``,
  ``sync_state``, ``webhook_event`` (record ids only), ``personal_data_erasure`` itself.

The erasure is one transaction. Every erasure is logged in ``personal_data_erasure`` (when, who, the
SHA-256 of the lower-cased email, the counts per table) and in the log (the hash only, never the email);
``dry_run`` counts what would go and writes nothing (no log row either).

Erasure in staging only: the shop and the CRM are the owner's to erase. A record still in the shop or the
CRM is staged again by the next run that sees it change (or by a full resync), and its contact or deal is
then found again by its natural keys (email, ``woo_customer_id``, the order id property), so no duplicate
is created.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.sql.sqltypes import String, Text

from woohub.staging.repository import utcnow
from woohub.staging.schema import (
    dead_letter,
    id_map,
    metadata,
    personal_data_erasure,
    quarantine,
    reconciliation_difference,
    reconciliation_snapshot,
    stg_hubspot_contacts,
    stg_hubspot_deals,
    stg_woocommerce_customers,
    stg_woocommerce_orders,
    sync_conflict,
)

log = logging.getLogger(__name__)

ERASED = "[erased]"
#: tables whose matching rows are redacted (email replaced), not deleted
REDACTED_TABLES = frozenset({"review_action", "alert_sent"})
#: tables never touched: no personal data in them (ids, counts), or the erasure log itself
KEPT_TABLES = frozenset({"staged_run_record", "run_stats", "reconciliation_run", "sync_state", "webhook_event",
                         "rate_limit_budget", "rate_limit_call", "personal_data_erasure", "alembic_version"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def email_sha256(email: str) -> str:
    """The SHA-256 (hex) of the trimmed, lower-cased email: what the erasure log keeps."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def default_actor() -> str:
    """The OS user running the command."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "unknown"


def erase_person(engine: Engine, email: str, *, actor: str, dry_run: bool = False) -> dict[str, int]:
    """Erase the person with ``email`` from staging as the module docstring describes; ``table -> rows
    erased`` (deleted or redacted; with ``dry_run``: would be), tables without a row left out."""
    wanted = email.strip().lower()
    if not _EMAIL.match(wanted):
        raise ValueError("erase_person needs an email address")
    digest = email_sha256(wanted)
    with engine.begin() as connection:
        rows = _rows_to_erase(connection, wanted)
        counts = {name: len(keys) for name, keys in rows.items() if keys}
        if not dry_run:
            for name, keys in rows.items():
                _erase_rows(connection, metadata.tables[name], keys, wanted)
            connection.execute(insert(personal_data_erasure).values(
                erased_at=utcnow(), actor=actor, email_sha256=digest, counts=json.dumps(counts, sort_keys=True)))
    log.info("%s personal data of email sha256=%s from staging for %s: %s",
             "would erase" if dry_run else "erased", digest, actor, counts or "nothing found")
    return counts


def erasures(engine: Engine) -> list[dict[str, Any]]:
    """The erasure log, oldest first: id, erased_at, actor, email_sha256, counts (a dict)."""
    with engine.connect() as connection:
        found = connection.execute(select(personal_data_erasure).order_by(personal_data_erasure.c.id)).mappings()
        return [{**row, "counts": json.loads(row["counts"])} for row in found]


# -- finding the rows ------------------------------------------------------------------------------------

PrimaryKey = tuple[Any, ...]


def _text_columns(table: Table) -> list[Any]:
    return [c for c in table.columns if isinstance(c.type, String | Text)]


def _pk(table: Table, row: Mapping[str, Any]) -> PrimaryKey:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _rows_to_erase(connection: Connection, email: str) -> dict[str, set[PrimaryKey]]:
    rows: dict[str, set[PrimaryKey]] = {}
    for table in metadata.sorted_tables:
        if table.name in KEPT_TABLES:
            continue
        columns = _text_columns(table)
        if not columns:
            continue
        condition = or_(*(func.lower(c).contains(email, autoescape=True) for c in columns))
        found = connection.execute(select(*table.primary_key.columns).where(condition)).mappings()
        rows[table.name] = {_pk(table, row) for row in found}
    customer_ids = _ids(rows, stg_woocommerce_customers)
    customer_ids |= {key.removeprefix("customer:") for (object_type, key) in rows.get("id_map", set())
                     if object_type == "contact" and key.startswith("customer:")}
    contact_ids = _ids(rows, stg_hubspot_contacts)
    contact_ids |= _hubspot_contacts_of(connection, rows.get("id_map", set()), customer_ids)
    contact_ids |= {record_id for (_run, system, object_type, record_id) in rows.get(reconciliation_snapshot.name, set())
                    if system == "hubspot" and object_type == "contact"}
    _add_linked(connection, rows, customer_ids, contact_ids)
    return rows


def _ids(rows: Mapping[str, set[PrimaryKey]], table: Table) -> set[str]:
    return {str(key[0]) for key in rows.get(table.name, set())}


def _hubspot_contacts_of(connection: Connection, id_map_keys: Iterable[PrimaryKey],
                         customer_ids: set[str]) -> set[str]:
    keys = {key for (object_type, key) in id_map_keys if object_type == "contact"}
    keys |= {f"customer:{i}" for i in customer_ids}
    if not keys:
        return set()
    found = connection.execute(select(id_map.c.hubspot_id).where(
        id_map.c.object_type == "contact", id_map.c.woocommerce_key.in_(sorted(keys)), id_map.c.hubspot_id.is_not(None)))
    return {str(i) for i in found.scalars()}


def _json_rows(connection: Connection, table: Table, hint: str) -> Iterable[tuple[str, Any]]:
    """``(source_id, parsed payload)`` of a staged table's rows whose payload mentions ``hint``."""
    found = connection.execute(select(table.c.source_id, table.c.payload).where(table.c.payload.contains(hint)))
    for source_id, payload in found:
        try:
            yield str(source_id), json.loads(payload)
        except ValueError:
            continue


def _add_linked(connection: Connection, rows: dict[str, set[PrimaryKey]], customer_ids: set[str],
                contact_ids: set[str]) -> None:
    """The rows tied to the person by id, not by email: their orders, deals, and what is keyed by them."""
    orders = rows.setdefault(stg_woocommerce_orders.name, set())
    if customer_ids:
        for source_id, order in _json_rows(connection, stg_woocommerce_orders, "customer_id"):
            if str(order.get("customer_id") or "") in customer_ids:
                orders.add((source_id,))
    deals = rows.setdefault(stg_hubspot_deals.name, set())
    if contact_ids:
        for source_id, deal in _json_rows(connection, stg_hubspot_deals, "contacts"):
            linked = {str(i) for i in ((deal.get("associations") or {}).get("contacts") or [])}
            if linked & contact_ids:
                deals.add((source_id,))
    person_keys = {f"customer:{i}" for i in customer_ids}
    staged = {stg_woocommerce_customers.name: "woocommerce.customers", stg_woocommerce_orders.name:
              "woocommerce.orders", stg_hubspot_contacts.name: "hubspot.contacts",
              stg_hubspot_deals.name: "hubspot.deals"}
    refs = {f"{stream}:{key[0]}" for name, stream in staged.items() for key in rows.get(name, set())}
    by_stream = {(stream, str(key[0])) for name, stream in staged.items() for key in rows.get(name, set())}
    if person_keys:
        found = connection.execute(select(id_map.c.object_type, id_map.c.woocommerce_key).where(
            id_map.c.object_type == "contact", id_map.c.woocommerce_key.in_(sorted(person_keys))))
        rows.setdefault(id_map.name, set()).update(tuple(r) for r in found)
    letters = connection.execute(select(dead_letter.c.object_type, dead_letter.c.source_key, dead_letter.c.source_ref))
    rows.setdefault(dead_letter.name, set()).update(
        (t, k) for t, k, ref in letters if k in person_keys or ref in refs
        or (t == "contact" and k in contact_ids))
    held = connection.execute(select(quarantine.c.object_type, quarantine.c.source_key))
    rows.setdefault(quarantine.name, set()).update(
        (t, k) for t, k in held if (t, k) in by_stream or k in person_keys)
    snapshot = reconciliation_snapshot.c
    found = connection.execute(select(snapshot.run_id, snapshot.system, snapshot.object_type, snapshot.record_id)
                               .where(or_(and_(snapshot.object_type == "contact",
                                               or_(snapshot.record_id.in_(sorted(person_keys | contact_ids)),
                                                   snapshot.match_key.in_(sorted(person_keys)))),
                                          and_(snapshot.system == "woocommerce", snapshot.object_type == "deal",
                                               snapshot.record_id.in_(sorted(k[0] for k in orders))),
                                          and_(snapshot.system == "hubspot", snapshot.object_type == "deal",
                                               snapshot.record_id.in_(sorted(k[0] for k in deals))))))
    rows.setdefault(reconciliation_snapshot.name, set()).update(tuple(r) for r in found)
    order_ids = {str(k[0]) for k in orders}
    for table in (reconciliation_difference, sync_conflict):
        woo_key = table.c.woocommerce_id if table is reconciliation_difference else table.c.woocommerce_key
        found = connection.execute(select(table.c.id).where(or_(
            woo_key.in_(sorted(person_keys)),
            and_(table.c.object_type == "contact", table.c.hubspot_id.in_(sorted(contact_ids))),
            and_(table.c.object_type == "deal", woo_key.in_(sorted(order_ids))))))
        rows.setdefault(table.name, set()).update(tuple(r) for r in found)


# -- erasing ---------------------------------------------------------------------------------------------

def _key_condition(table: Table, key: PrimaryKey) -> Any:
    return and_(*(column == value for column, value in zip(table.primary_key.columns, key, strict=True)))


def _erase_rows(connection: Connection, table: Table, keys: set[PrimaryKey], email: str) -> None:
    if table.name not in REDACTED_TABLES:
        for key in keys:
            connection.execute(delete(table).where(_key_condition(table, key)))
        return
    pattern = re.compile(re.escape(email), re.IGNORECASE)
    columns = _text_columns(table)
    for key in keys:
        row = connection.execute(select(*columns).where(_key_condition(table, key))).mappings().one()
        changes = {name: pattern.sub(ERASED, value) for name, value in row.items()
                   if isinstance(value, str) and pattern.search(value)}
        if changes:
            connection.execute(update(table).where(_key_condition(table, key)).values(**changes))


__all__ = ["ERASED", "KEPT_TABLES", "REDACTED_TABLES", "default_actor", "email_sha256", "erase_person", "erasures"]
