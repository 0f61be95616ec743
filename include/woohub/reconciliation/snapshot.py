"""The reconciliation's full read: both systems, page by page, into ``reconciliation_snapshot``.

One row per record and side (``system`` ``woocommerce`` | ``hubspot``), ``object_type`` the id-map type
(``deal``, ``contact``, ``product``, ``line_item``). ``fields`` holds the same names on both sides, so a
comparison is a comparison of two JSON objects:

* **WooCommerce side**: what the WooCommerce -> HubSpot sync *would write* for the record, computed with the
  sync's own mapping functions (``map_contacts``, ``map_deals``, ``map_products``, ``map_line_items``) page by
  page, keyed as the sync's id map keys it (``record_id`` = ``match_key``): the order id for deals,
  ``customer:<id>`` / ``guest:<lower-cased billing email>`` for contacts (guests from orders with
  ``customer_id`` 0, the newest order per email, none for an email a customer has), the product or variation
  id for products, the line id for line items (the tax line item: the order's first tax line id). A record
  the sync cannot write gets no row: a contact whose email is missing or malformed, an order whose status
  has no deal stage (the sync quarantines both).
* **HubSpot side**: the mapped properties as HubSpot holds them, normalised by
  :func:`normalise_hubspot_value` into the form the mapping emits ("47" -> "47.00" in a USD deal, epoch or
  ISO dates -> ``2026-11-28T07:05:48.000Z``, emails lower-cased, "" -> null); ``match_key`` the WooCommerce
  key read from the ``woo_*`` properties (null when there is none: a record made in HubSpot).

Pseudo-fields (names start with ``@``, no HubSpot property can) carry the links:

* deals ``@contact``: the contact's WooCommerce key (``customer:<id>`` / ``guest:<email>``). WooCommerce: the
  order's buyer as the sync links it (a guest order whose email is a customer's -> that customer), null
  when the sync writes no contact for it. HubSpot: the ``match_key`` of the associated contact; several
  contacts: their keys sorted and joined with a newline; a contact without a key: ``hubspot:<id>``.
* line items ``@deal``: the order id (HubSpot: the associated deal's ``woo_order_id``, ``hubspot:<id>`` for
  a deal without one); ``@product``: the product or variation id the line links to (HubSpot: the
  ``woo_product_id`` of the product ``hs_product_id`` names, archived products included). ``hs_product_id``
  itself is not a field (it is a HubSpot id).

``archived`` = 1 for a trashed order or product (a variation of a trashed product too) and for an archived
HubSpot record. The sync keeps a trashed order's deal live (stage closedlost) and archives a trashed product
in HubSpot only once it had synced it. ``payload`` is the raw record (WooCommerce: the order, customer or
product a heal stages again; null for line items, whose order is the deal row's payload; HubSpot: the record
as listed). ``modified_at``: ``date_modified_gmt`` / ``hs_lastmodifieddate`` (``lastmodifieddate`` for
contacts), naive UTC.

Memory holds one page per side: links are resolved with small queries of the rows already written
(customers are read before orders; HubSpot contacts and products before deals, deals before line items).
Rows are upserted a few hundred per INSERT (SQLite and PostgreSQL), so a retried task leaves the same rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, delete, func, select

from woohub.core.conflicts import modification_time
from woohub.hubspot import full_read as hubspot_read
from woohub.hubspot.hook import HubSpotHook
from woohub.hubspot.load.contacts import contact_row
from woohub.mapping.transforms import email as email_transform
from woohub.mapping.transforms import minor_units
from woohub.mapping.woocommerce_to_hubspot import (
    MappingConfig,
    load_mapping,
    map_contacts,
    map_deals,
    map_line_items,
    map_products,
)
from woohub.mapping.woocommerce_to_hubspot.config import ObjectMapping, PropertySpec
from woohub.reconciliation import CONTACT, DEAL, HUBSPOT, LINE_ITEM, PRODUCT, WOOCOMMERCE
from woohub.staging.repository import chunks, upsert
from woohub.staging.schema import reconciliation_snapshot as snapshot
from woohub.woocommerce import full_read as woo_read
from woohub.woocommerce.hook import WooCommerceHook

log = logging.getLogger(__name__)

OBJECT_TYPES = (DEAL, CONTACT, PRODUCT, LINE_ITEM)
CONTACT_LINK, DEAL_LINK, PRODUCT_LINK = "@contact", "@deal", "@product"
CUSTOMER_PREFIX, GUEST_PREFIX, HUBSPOT_PREFIX = "customer:", "guest:", "hubspot:"
#: several associated records in one link field are joined with this
LINK_SEPARATOR = "\n"
#: line items' computed amounts, exact decimal text in the order currency's decimals (see the mapping)
CURRENCY_AMOUNT_SOURCES = frozenset({"@unit_price", "@unit_discount"})
#: HubSpot object type -> (id-map type, mapping section, the ``woo_*`` property holding the WooCommerce key)
HUBSPOT_OBJECTS = {"contacts": (CONTACT, "contacts", "woo_customer_id"),
                   "products": (PRODUCT, "products", "woo_product_id"),
                   "deals": (DEAL, "deals", "woo_order_id"),
                   "line_items": (LINE_ITEM, "line_items", "woo_line_item_id")}
#: the order HubSpot objects are read in: each link points at rows read before it
HUBSPOT_ORDER = ("contacts", "products", "deals", "line_items")
_ASSOCIATIONS = {"deals": "contacts", "line_items": "deals"}
_TRASH = "trash"


# ------------------------------------------------------------------------------------------- run start


def start_snapshot(engine: Engine, run_id: str) -> None:
    """Delete the snapshot rows of every other run (the table holds one night at a time)."""
    with engine.begin() as connection:
        deleted = connection.execute(delete(snapshot).where(snapshot.c.run_id != run_id)).rowcount
    log.info("reconciliation snapshot %s: removed %d row(s) of older runs", run_id, deleted or 0)


def _clear(engine: Engine, run_id: str, system: str) -> None:
    """Forget what an earlier attempt of this run wrote for ``system`` (a retried task starts clean)."""
    with engine.begin() as connection:
        connection.execute(delete(snapshot).where(and_(snapshot.c.run_id == run_id, snapshot.c.system == system)))


def row_counts(engine: Engine, run_id: str, system: str) -> dict[str, int]:
    """Rows per object type of one side of a run's snapshot (every object type, 0 when it has none)."""
    query = (select(snapshot.c.object_type, func.count()).where(
        and_(snapshot.c.run_id == run_id, snapshot.c.system == system)).group_by(snapshot.c.object_type))
    with engine.connect() as connection:
        found = {str(t): int(n) for t, n in connection.execute(query)}
    return {t: found.get(t, 0) for t in OBJECT_TYPES}


# ------------------------------------------------------------------------------------------ WooCommerce


def snapshot_woocommerce(engine: Engine, hook: WooCommerceHook, run_id: str, *,
                         mapping: MappingConfig | None = None,
                         store_currency: str | None = None) -> dict[str, int]:
    """Read every customer, order (trash included), product and variation and write the WooCommerce rows
    of ``run_id``; rows per object type. ``store_currency``: the currency the product prices are formatted
    in, as the sync passes it to ``map_products`` (it passes none today: 2 decimals)."""
    mapping = mapping or load_mapping()
    writer = _Writer(engine, run_id, WOOCOMMERCE)
    _clear(engine, run_id, WOOCOMMERCE)
    for page in woo_read.iter_customer_pages(hook):
        writer.write(_customer_rows(writer, page, mapping))
    skipped = 0
    for page in woo_read.iter_order_pages(hook):
        skipped += _write_order_page(writer, page, mapping)
    for product_page in woo_read.iter_product_pages(hook):
        writer.write(_product_rows(writer, product_page, mapping, store_currency))
    if skipped:
        log.warning("%d order(s) have a status without a deal stage (the sync quarantines them): no rows", skipped)
    counts = row_counts(engine, run_id, WOOCOMMERCE)
    log.info("reconciliation snapshot %s: WooCommerce rows %s", run_id, counts)
    return counts


def _customer_rows(writer: _Writer, customers: list[dict[str, Any]], mapping: MappingConfig) -> list[dict]:
    """Contact rows of registered customers (``customer:<id>``), as the contacts loader builds them."""
    frame = map_contacts(customers, [], mapping)
    by_key = {f"{CUSTOMER_PREFIX}{c.get('id')}": c for c in customers}
    rows = []
    for key, email, properties, error in frame[["source_key", "email", "properties", "error"]].itertuples(
            index=False):
        if error is not None:
            continue
        contact = contact_row({"source_key": key, "email": email, "properties": properties})
        customer = by_key.get(key, {})
        rows.append(writer.row(CONTACT, key, key, contact.plan.properties, payload=customer, email=contact.email,
                               modified_at=customer.get("date_modified_gmt")))
    return rows


def _write_order_page(writer: _Writer, orders: list[dict[str, Any]], mapping: MappingConfig) -> int:
    """Guest contacts, deals and line items of one page of orders; the number of orders left out (a status
    without a deal stage)."""
    stages = mapping.deals.stage_table
    usable = [o for o in orders if o.get("status") in stages]
    guests = [o for o in usable if not _number(o.get("customer_id"))]
    customers_by_email = writer.customer_keys_by_email(_guest_emails(guests))
    writer.write(_guest_rows(writer, guests, mapping, customers_by_email))
    writer.write(_deal_rows(writer, usable, mapping, customers_by_email))
    writer.write(_line_item_rows(writer, usable, mapping))
    return len(orders) - len(usable)


def _guest_emails(guest_orders: list[dict[str, Any]]) -> list[str]:
    values = email_transform(pd.Series([(o.get("billing") or {}).get("email") for o in guest_orders], dtype=object))
    return sorted({v for v in values if isinstance(v, str)})


def _guest_rows(writer: _Writer, guest_orders: list[dict[str, Any]], mapping: MappingConfig,
                customers_by_email: Mapping[str, str]) -> list[dict]:
    """Contact rows of guest buyers (``guest:<email>``): per email the newest order (then the highest id)
    over every page read so far; none for an email a customer has (the sync folds those into the customer)."""
    if not guest_orders:
        return []
    frame = map_contacts([], guest_orders, mapping)
    frame = frame[frame["error"].isna() & ~frame["email"].isin(list(customers_by_email))]
    if frame.empty:
        return []
    newest = _newest_order_per_email(guest_orders)
    existing = writer.existing(CONTACT, list(frame["source_key"]))
    rows = []
    for key, email, properties in frame[["source_key", "email", "properties"]].itertuples(index=False):
        order = newest[email]
        before = existing.get(key)
        if before is not None and _guest_rank(before["modified_at"], before["payload_id"]) >= _guest_rank(
                modification_time(order.get("date_modified_gmt")), _number(order.get("id"))):
            continue
        contact = contact_row({"source_key": key, "email": email, "properties": properties})
        rows.append(writer.row(CONTACT, key, key, contact.plan.properties, payload=order, email=contact.email,
                               modified_at=order.get("date_modified_gmt")))
    return rows


def _newest_order_per_email(guest_orders: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The order each guest email's contact is mapped from (``map_contacts``: newest, then highest id)."""
    newest: dict[str, dict[str, Any]] = {}
    for order in guest_orders:
        address = str((order.get("billing") or {}).get("email") or "").strip().lower()
        rank = _guest_rank(modification_time(order.get("date_modified_gmt")), _number(order.get("id")))
        if address and (address not in newest or rank > _guest_rank(
                modification_time(newest[address].get("date_modified_gmt")), _number(newest[address].get("id")))):
            newest[address] = order
    return newest


def _guest_rank(modified: datetime | None, order_id: int | None) -> tuple[bool, datetime, int]:
    return modified is not None, modified or datetime.min, order_id or 0


def _deal_rows(writer: _Writer, orders: list[dict[str, Any]], mapping: MappingConfig,
               customers_by_email: Mapping[str, str]) -> list[dict]:
    """Deal rows: the mapped order, ``@contact`` its buyer's contact key as the deal loader links it."""
    if not orders:
        return []
    frame = map_deals(orders, mapping)
    keys = [_alias(k, customers_by_email) for k in frame["contact_source_key"]]
    known = set(writer.match_keys(CONTACT, {k for k in keys if k}))
    by_id = {str(o.get("id")): o for o in orders}
    rows = []
    for key, contact, properties in zip(frame["source_key"], keys, frame["properties"], strict=True):
        if key is None:
            continue
        order = by_id.get(key, {})
        fields = {**properties, CONTACT_LINK: contact if contact in known else None}
        rows.append(writer.row(DEAL, key, key, fields, payload=order, archived=order.get("status") == _TRASH,
                               modified_at=order.get("date_modified_gmt")))
    return rows


def _alias(contact_key: Any, customers_by_email: Mapping[str, str]) -> str | None:
    """A guest key whose email a customer has becomes that customer's key (as the sync's deal frames do)."""
    if not isinstance(contact_key, str):
        return None
    if contact_key.startswith(GUEST_PREFIX):
        return customers_by_email.get(contact_key.removeprefix(GUEST_PREFIX), contact_key)
    return contact_key


def _line_item_rows(writer: _Writer, orders: list[dict[str, Any]], mapping: MappingConfig) -> list[dict]:
    """Line item rows (product, shipping, fee and the tax line), ``@deal`` the order, ``@product`` the
    product or variation the line links to."""
    if not orders:
        return []
    frame = map_line_items(orders, mapping)
    modified = {str(o.get("id")): o.get("date_modified_gmt") for o in orders}
    rows = []
    for key, deal, product, properties in frame[["source_key", "deal_source_key", "product_source_key",
                                                  "properties"]].itertuples(index=False):
        if key is None:
            continue
        fields = {**properties, DEAL_LINK: deal, PRODUCT_LINK: _text_or_none(product)}
        rows.append(writer.row(LINE_ITEM, key, key, fields, modified_at=modified.get(str(deal))))
    return rows


def _product_rows(writer: _Writer, page: woo_read.ProductPage, mapping: MappingConfig,
                  store_currency: str | None) -> list[dict]:
    """Product rows of a page of products and its variations, mapped as one family chunk."""
    frame = map_products(page.products, page.variations, mapping, store_currency=store_currency)
    by_id = {str(r.get("id")): r for r in [*page.products, *page.variations]}
    rows = []
    for key, action, properties in frame[["source_key", "action", "properties"]].itertuples(index=False):
        record = by_id.get(key, {})
        rows.append(writer.row(PRODUCT, key, key, properties, payload=record, archived=action == "archive",
                               modified_at=record.get("date_modified_gmt")))
    return rows


# -------------------------------------------------------------------------------------------- HubSpot


def snapshot_hubspot(engine: Engine, hook: HubSpotHook, run_id: str, *, mapping: MappingConfig | None = None,
                     store_currency: str | None = None) -> dict[str, int]:
    """Read every contact, product, deal and line item, live and archived, through the list endpoint, and write
    the HubSpot rows of ``run_id``; rows per object type. ``store_currency`` as in :func:`snapshot_woocommerce`
    (the decimals of product prices)."""
    mapping = mapping or load_mapping()
    writer = _Writer(engine, run_id, HUBSPOT)
    _clear(engine, run_id, HUBSPOT)
    for object_type in HUBSPOT_ORDER:
        reader = _HubSpotObject(object_type, getattr(mapping, HUBSPOT_OBJECTS[object_type][1]).mapping,
                                hubspot_read.property_types(hook, object_type), store_currency)
        association = _ASSOCIATIONS.get(object_type)
        for archived, page in hubspot_read.iter_all_pages(hook, object_type, reader.properties(),
                                                          associations=[association] if association else None):
            writer.write(reader.rows(writer, hook, page, archived=archived))
    counts = row_counts(engine, run_id, HUBSPOT)
    log.info("reconciliation snapshot %s: HubSpot rows %s", run_id, counts)
    return counts


class _HubSpotObject:
    """How one HubSpot object type becomes snapshot rows."""

    def __init__(self, object_type: str, mapping: ObjectMapping, types: Mapping[str, str],
                 store_currency: str | None) -> None:
        self.object_type = object_type
        self.id_map_type, _, self.key_property = HUBSPOT_OBJECTS[object_type]
        self.specs = mapping.properties
        self.types = types
        self.currency_property = currency_property(mapping)
        self.store_currency = store_currency

    def properties(self) -> list[str]:
        extra = {"contacts": ["email", "woo_customer_id"], "line_items": ["hs_product_id"]}.get(self.object_type, [])
        return list(dict.fromkeys([*(s.name for s in self.specs), self.key_property, *extra]))

    def rows(self, writer: _Writer, hook: HubSpotHook, page: list[dict[str, Any]], *, archived: bool) -> list[dict]:
        links = self._links(writer, hook, page)
        rows = []
        for record in page:
            props = record.get("properties") or {}
            currency = props.get(self.currency_property) if self.currency_property else self.store_currency
            fields = {spec.name: normalise_hubspot_value(spec.name, props.get(spec.name), spec,
                                                         hubspot_type=self.types.get(spec.name),
                                                         currency=_text_or_none(currency))
                      for spec in self.specs}
            fields.update(links.get(str(record["id"]), {}))
            email = _text_or_none(props.get("email"))
            modified = props.get(hubspot_read.MODIFIED_PROPERTY[self.object_type]) or record.get("updatedAt")
            rows.append(writer.row(self.id_map_type, str(record["id"]), self.match_key(props), fields,
                                   payload=record, email=email.strip().lower() if email else None,
                                   archived=archived or bool(record.get("archived")), modified_at=modified))
        return rows

    def match_key(self, props: Mapping[str, Any]) -> str | None:
        """The WooCommerce key the record carries in its ``woo_*`` property (contacts: the customer id, else the
        email as a guest's key); ``None`` for a record without one."""
        key = _text_or_none(props.get(self.key_property))
        if self.object_type != "contacts":
            return key.strip() if key else None
        if key:
            return f"{CUSTOMER_PREFIX}{key.strip()}"
        email = _text_or_none(props.get("email"))
        return f"{GUEST_PREFIX}{email.strip().lower()}" if email and email.strip() else None

    def _links(self, writer: _Writer, hook: HubSpotHook, page: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The pseudo-fields of a page: deals' ``@contact``; line items' ``@deal`` and ``@product``."""
        if self.object_type == "deals":
            contacts = {str(r["id"]): hubspot_read.associated_ids(hook, "deals", r, "contacts") for r in page}
            keys = writer.match_keys(CONTACT, {i for ids in contacts.values() for i in ids})
            return {rid: {CONTACT_LINK: _link(ids, keys)} for rid, ids in contacts.items()}
        if self.object_type == "line_items":
            deals = {str(r["id"]): hubspot_read.associated_ids(hook, "line_items", r, "deals") for r in page}
            products = {str(r["id"]): _ids((r.get("properties") or {}).get("hs_product_id")) for r in page}
            deal_keys = writer.match_keys(DEAL, {i for ids in deals.values() for i in ids})
            product_keys = writer.match_keys(PRODUCT, {i for ids in products.values() for i in ids})
            return {rid: {DEAL_LINK: _link(deals[rid], deal_keys), PRODUCT_LINK: _link(products[rid], product_keys)}
                    for rid in deals}
        return {}


def _ids(value: Any) -> list[str]:
    """A HubSpot id property (``hs_product_id``) as a list of at most one id."""
    text = _text_or_none(value)
    return [text.strip()] if text and text.strip() else []


def _link(hubspot_ids: Sequence[str], match_keys: Mapping[str, str | None]) -> str | None:
    """The WooCommerce keys of linked HubSpot records (``hubspot:<id>`` for one without a key or not read),
    sorted and joined with :data:`LINK_SEPARATOR`; ``None`` when nothing is linked."""
    keys = sorted({match_keys.get(i) or f"{HUBSPOT_PREFIX}{i}" for i in hubspot_ids})
    return LINK_SEPARATOR.join(keys) if keys else None


def currency_property(mapping: ObjectMapping) -> str | None:
    """The HubSpot property of an object that holds its row's currency: the one mapped straight from a
    ``currency`` path (deals: ``deal_currency_code`` from ``currency``; line items: ``hs_line_item_currency_code``
    from ``order.currency``); ``None`` when the object has none (products: the store currency)."""
    for spec in mapping.properties:
        if len(spec.sources) == 1 and spec.sources[0].split(".")[-1] == "currency":
            return spec.name
    return None


# ----------------------------------------------------------------------------------------- normalising


def normalise_hubspot_value(prop: str, value: Any, spec: PropertySpec | None, *, hubspot_type: str | None = None,
                            currency: str | None = None) -> str | None:
    """A HubSpot property value in the form the WooCommerce -> HubSpot mapping emits, so that equal values
    compare equal: "" and ``None`` -> ``None``; emails stripped and lower-cased; numbers (``hubspot_type``
    ``number``, else a ``money``/``int_str`` transform) with the decimals the mapping writes (money and the
    line items' unit amounts: at least ``currency``'s ISO 4217 decimals, 2 without a currency: "47" ->
    "47.00", "19.9" -> "19.90", "1.875" stays; whole numbers: "3.0" -> "3"), never rounded, so a value with
    more decimals still differs; datetimes (epoch ms or ISO 8601) -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC;
    dates -> ``YYYY-MM-DD``; booleans lower-cased. Anything else, and a value that does not parse as its
    type, is returned as it is."""
    if value is None:
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if not text.strip():
        return None
    kind = hubspot_type or _inferred_type(spec)
    if prop == "email" or (spec is not None and spec.transform == "email"):
        return text.strip().lower()
    if kind == "number":
        return _number_text(text, spec, currency)
    if kind == "datetime":
        return _datetime_text(text)
    if kind == "date":
        return _date_text(text)
    if kind == "bool":
        return text.strip().lower()
    return text


def _inferred_type(spec: PropertySpec | None) -> str | None:
    """The HubSpot type a spec's output has when the portal's type is not known."""
    if spec is None:
        return None
    if spec.hubspot_type:
        return spec.hubspot_type
    return {"money": "number", "int_str": "number", "gmt_to_hubspot_datetime": "datetime",
            "gmt_to_hubspot_date": "date"}.get(spec.transform)


def _number_text(text: str, spec: PropertySpec | None, currency: str | None) -> str:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    places = 0
    if spec is not None and (spec.transform == "money" or CURRENCY_AMOUNT_SOURCES & set(spec.sources)):
        places = minor_units(currency)
    minimum = Decimal(1).scaleb(-places)
    try:
        shown = number.quantize(minimum) if number == number.quantize(minimum) else number.normalize()
    except InvalidOperation:
        shown = number.normalize()
    return f"{shown.copy_abs() if shown == 0 else shown:f}"


def _moment(text: str) -> datetime | None:
    value = text.strip()
    try:
        if value.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _datetime_text(text: str) -> str:
    moment = _moment(text)
    return text if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _date_text(text: str) -> str:
    moment = _moment(text)
    return text if moment is None else moment.strftime("%Y-%m-%d")


# ---------------------------------------------------------------------------------------------- rows


class _Writer:
    """Builds and upserts the rows of one side of one run, and answers the small lookups that resolve links
    against the rows already written."""

    def __init__(self, engine: Engine, run_id: str, system: str) -> None:
        self.engine, self.run_id, self.system = engine, run_id, system

    def row(self, object_type: str, record_id: str, match_key: str | None, fields: Mapping[str, Any], *,
            payload: Any = None, email: str | None = None, archived: bool = False, modified_at: Any = None) -> dict:
        return {"run_id": self.run_id, "system": self.system, "object_type": object_type,
                "record_id": str(record_id), "match_key": match_key, "email": email, "archived": int(bool(archived)),
                "fields": dumps({k: _text_or_none(v) for k, v in fields.items()}),
                "payload": None if payload is None else dumps(payload), "modified_at": _naive_utc(modified_at)}

    def write(self, rows: Iterable[dict]) -> None:
        """Upsert ``rows`` (a repeated key: the last one wins; a few hundred rows per INSERT)."""
        unique = {(r["object_type"], r["record_id"]): r for r in rows}
        if unique:
            with self.engine.begin() as connection:
                upsert(connection, snapshot, list(unique.values()))

    def _where(self, object_type: str) -> Any:
        return and_(snapshot.c.run_id == self.run_id, snapshot.c.system == self.system,
                    snapshot.c.object_type == object_type)

    def existing(self, object_type: str, record_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``record_id -> {modified_at, payload_id}`` of the rows written so far among ``record_ids``."""
        found: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as connection:
            for batch in chunks(sorted(set(record_ids))):
                query = select(snapshot.c.record_id, snapshot.c.modified_at, snapshot.c.payload).where(
                    and_(self._where(object_type), snapshot.c.record_id.in_(batch)))
                for record_id, modified_at, payload in connection.execute(query):
                    payload_id = json.loads(payload).get("id") if payload else None
                    found[record_id] = {"modified_at": modified_at, "payload_id": _number(payload_id)}
        return found

    def match_keys(self, object_type: str, record_ids: Iterable[str]) -> dict[str, str | None]:
        """``record_id -> match_key`` of the rows written so far among ``record_ids``."""
        found: dict[str, str | None] = {}
        with self.engine.connect() as connection:
            for batch in chunks(sorted(set(record_ids))):
                query = select(snapshot.c.record_id, snapshot.c.match_key).where(
                    and_(self._where(object_type), snapshot.c.record_id.in_(batch)))
                found.update({record_id: key for record_id, key in connection.execute(query)})
        return found

    def customer_keys_by_email(self, emails: Sequence[str]) -> dict[str, str]:
        """``email -> customer:<id>`` of the customer contact rows with these emails (the highest id wins, as
        later customers do in the sync's frames)."""
        found: dict[str, str] = {}
        with self.engine.connect() as connection:
            for batch in chunks(sorted(set(emails))):
                query = select(snapshot.c.email, snapshot.c.record_id).where(
                    and_(self._where(CONTACT), snapshot.c.record_id.like(f"{CUSTOMER_PREFIX}%"),
                         snapshot.c.email.in_(batch)))
                for email, record_id in connection.execute(query):
                    if email not in found or _customer_number(record_id) > _customer_number(found[email]):
                        found[email] = record_id
        return found


def dumps(value: Any) -> str:
    """JSON text with sorted keys (equal objects give equal text)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _customer_number(key: str) -> int:
    return _number(key.removeprefix(CUSTOMER_PREFIX)) or 0


def _number(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _text_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    return text if text != "" else None


def _naive_utc(value: Any) -> datetime | None:
    try:
        return modification_time(value)
    except (TypeError, ValueError, OverflowError):
        return None
