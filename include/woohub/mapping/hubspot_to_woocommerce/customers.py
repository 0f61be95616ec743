"""HubSpot contacts -> WooCommerce customers: the two-way field values of both systems in ONE field space
(HubSpot contact property names), and the customer update and create payloads.

Both sides are compared through the WooCommerce -> HubSpot mapping: a WooCommerce customer's values are
what ``woohub.mapping.woocommerce_to_hubspot.map_contacts`` makes of it (:func:`customer_fields`), a
HubSpot contact's are its properties (:func:`contact_fields`), and both are normalised by the field's
``transform`` (``customers.fields`` in the YAML): nothing is mapped twice, so what one direction writes
reads as equal in the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from woohub.mapping.hubspot_to_woocommerce.config import H2WMapping
from woohub.mapping.hubspot_to_woocommerce.config import mapping_or_packaged as _mapping
from woohub.mapping.woocommerce_to_hubspot.config import MappingConfig

#: the contact property that names the linked WooCommerce customer
CUSTOMER_ID_PROPERTY = "woo_customer_id"
ACCOUNT_EMAIL_PATH = "email"
BILLING_EMAIL_PATH = "billing.email"


def normalise(value: Any, transform: str) -> str | None:
    """One value as the field's ``transform`` normalises it for comparison: text, stripped (``lower`` and
    ``email`` lower-cased, ``upper`` upper-cased); empty -> ``None``."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    if transform in ("lower", "email"):
        text = text.lower()
    elif transform == "upper":
        text = text.upper()
    return text or None


def two_way_fields(mapping: H2WMapping | None = None) -> tuple[str, ...]:
    """The two-way contact fields (``two_way`` in the YAML), in YAML order."""
    return tuple(_mapping(mapping).two_way)


def contact_fields(contact: Mapping[str, Any], mapping: H2WMapping | None = None) -> dict[str, str | None]:
    """The two-way field values of a HubSpot contact (its ``properties``, or a record holding them, or the
    contact properties ``map_contacts`` computed for a customer), normalised; a missing property is ``None``."""
    rules = _mapping(mapping)
    properties = _properties(contact)
    return {name: normalise(properties.get(name), rules.customers.fields[name].transform) for name in rules.two_way}


def customer_fields(customer: Mapping[str, Any], mapping: H2WMapping | MappingConfig | None = None,
                    mapping_w2h: MappingConfig | None = None) -> dict[str, str | None]:
    """The two-way field values of a WooCommerce customer (a REST payload), in the field space of
    :func:`contact_fields`: the contact properties the WooCommerce -> HubSpot mapping makes of it.

    ``mapping`` is this direction's mapping; the WooCommerce -> HubSpot one (``mapping_w2h``, default the
    packaged one) may also be given in its place."""
    if isinstance(mapping, MappingConfig):
        mapping, mapping_w2h = None, mapping
    return customers_fields([customer], mapping, mapping_w2h)[_customer_key(customer, 0)]


def customers_fields(customers: Iterable[Mapping[str, Any]], mapping: H2WMapping | None = None,
                     mapping_w2h: MappingConfig | None = None) -> dict[str, dict[str, str | None]]:
    """:func:`customer_fields` of many customers in one mapping pass, keyed by customer id as text (a
    customer without an id by its position)."""
    from woohub.mapping.woocommerce_to_hubspot import load_mapping as load_w2h
    from woohub.mapping.woocommerce_to_hubspot import map_contacts

    records = [dict(c) for c in customers]
    frame = map_contacts(records, [], mapping_w2h or load_w2h())
    rules = _mapping(mapping)
    return {_customer_key(c, i): contact_fields(props, rules)
            for i, (c, props) in enumerate(zip(records, frame["properties"], strict=True))}


def customer_update_payload(customer_id: int | str, fields_to_write: Mapping[str, str | None],
                            mapping: H2WMapping | None = None) -> dict[str, Any]:
    """The update of one customer (``PUT /customers/<id>`` body, or a ``customers/batch`` ``update`` item):
    ``id`` and only the paths of ``fields_to_write`` (``customers.fields``: the value's paths, with
    ``update_shipping`` the shipping ones, and the paths each field clears). Partial ``billing``/``shipping``
    objects are enough: WooCommerce merges them (recording 187). An empty value is written as ``""``,
    except to the account email, which WooCommerce cannot clear (only ``billing.email`` is cleared)."""
    rules = _mapping(mapping).customers
    payload: dict[str, Any] = {"id": int(customer_id)}
    for name, value in fields_to_write.items():
        if name not in rules.fields:
            raise ValueError(f"{name!r} is not one of customers.fields ({', '.join(rules.fields)})")
        text = normalise(value, rules.fields[name].transform)
        paths, clear = rules.update_paths(name)
        for path in paths:
            if text is None and path == ACCOUNT_EMAIL_PATH:
                continue
            _set(payload, path, text or "")
        for path in clear:
            if path not in paths:
                _set(payload, path, "")
    return payload


def customer_create_payload(contact: Mapping[str, Any], mapping: H2WMapping | None = None) -> dict[str, Any]:
    """The ``POST /customers`` body for a contact: account ``email``, ``first_name``, ``last_name``,
    ``billing`` (with email and phone) and ``shipping`` from every field of ``customers.fields`` (the email
    goes to the account and billing whatever ``email_targets`` says: a new customer needs both). Empty
    values are left out; WooCommerce makes the username. Raises ``ValueError`` for a contact without email
    (WooCommerce needs one)."""
    rules = _mapping(mapping).customers
    properties = _properties(contact)
    payload: dict[str, Any] = {}
    for name, spec in rules.fields.items():
        value = normalise(properties.get(name), spec.transform)
        paths = (ACCOUNT_EMAIL_PATH, BILLING_EMAIL_PATH) if name == "email" else spec.paths + spec.shipping
        for path in paths if value is not None else ():
            _set(payload, path, value)
    if not payload.get("email"):
        raise ValueError(f"contact {contact.get('id', '?')} has no email; WooCommerce needs one for a customer")
    return payload


def contact_addresses(contact: Mapping[str, Any] | None,
                      mapping: H2WMapping | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """``(billing, shipping)`` of an order for a contact: billing from the fields' ``billing.*`` paths and
    the contact email as ``billing.email``, shipping from their shipping paths; empty values left out."""
    if contact is None:
        return {}, {}
    rules = _mapping(mapping).customers
    properties = _properties(contact)
    blocks: dict[str, dict[str, str]] = {"billing": {}, "shipping": {}}
    for name, spec in rules.fields.items():
        value = normalise(properties.get(name), spec.transform)
        paths = (BILLING_EMAIL_PATH,) if name == "email" else spec.paths + spec.shipping
        for path in paths if value is not None else ():
            block, _, key = path.partition(".")
            if block in blocks and key:
                blocks[block][key] = value  # type: ignore[assignment]
    return blocks["billing"], blocks["shipping"]


def linked_customer_id(contact: Mapping[str, Any]) -> int | None:
    """The WooCommerce customer id the contact names (``woo_customer_id``), ``None`` when none or not an id."""
    text = str(_properties(contact).get(CUSTOMER_ID_PROPERTY) or "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _set(payload: dict[str, Any], path: str, value: str) -> None:
    """Set a dotted ``path`` (``billing.phone``) in ``payload``."""
    head, _, tail = path.partition(".")
    if tail:
        payload.setdefault(head, {})[tail] = value
    else:
        payload[head] = value


def _properties(contact: Mapping[str, Any]) -> Mapping[str, Any]:
    """A HubSpot record's ``properties``, or ``contact`` itself when it is the properties."""
    inner = contact.get("properties")
    return inner if isinstance(inner, Mapping) else contact


def _customer_key(customer: Mapping[str, Any], position: int) -> str:
    customer_id = customer.get("id")
    return str(customer_id) if customer_id not in (None, "") else f"#{position}"
