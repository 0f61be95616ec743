"""Flatten staged HubSpot payloads into the one-row-per-record frames the ``hubspot_*`` GX suites check.

As :mod:`woohub.woocommerce.checks`: every frame has a ``source_id`` column (the record's ``id``, or
``#<position>`` without one) that failures are mapped back to, and a payload missing keys never raises
here; its missing values become nulls that fail the suite instead. HubSpot returns every property value as
a string and an empty one as ``null`` (or ``""`` after a write that cleared it): both are "empty" here.

No personal data reaches a frame: GX keeps failing values in its validation results and shows them in Data
Docs, and the quarantine reasons quote them. A contact's email is checked through its *shape*
(:func:`email_shape`: every run of characters other than ``@``, ``.`` and white space becomes one ``x``),
which passes the email pattern exactly when the address does, and shows as ``'x@x'`` when it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import pandas as pd

from woohub.core import personal_data

DEALS, CONTACTS, LINE_ITEMS = "hubspot.deals", "hubspot.contacts", "hubspot.line_items"
STREAMS = (DEALS, CONTACTS, LINE_ITEMS)


def validation_frame(stream: str, payloads: list[dict], *,
                     known_line_item_ids: Collection[str] | None = None) -> pd.DataFrame:
    """One row per payload of ``stream`` (``hubspot.deals`` | ``hubspot.contacts`` | ``hubspot.line_items``)
    with the columns its suite names. Deals only: ``known_line_item_ids`` are the line item ids staged
    (a deal naming another one is counted in ``unknown_line_item_count``); ``None`` = not checked."""
    builders: dict[str, Callable[[list[dict]], dict[str, Any]]] = {
        DEALS: lambda records: _deal_columns(records, known_line_item_ids),
        CONTACTS: _contact_columns,
        LINE_ITEMS: _line_item_columns,
    }
    if stream not in builders:
        raise ValueError(f"unknown stream {stream!r}; expected one of {', '.join(STREAMS)}")
    records = [payload if isinstance(payload, dict) else {} for payload in payloads]
    columns = {"source_id": [_source_id(record, position) for position, record in enumerate(records)]}
    columns |= builders[stream](records)
    return pd.DataFrame({name: _as_series(values) for name, values in columns.items()})


def _as_series(values: Any) -> pd.Series:
    """Counts stay integer series; text columns become object columns (nulls stay ``None``)."""
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    return pd.Series(values, dtype=object)


def _source_id(record: dict, position: int) -> str:
    """The record's HubSpot id, or ``#<position>`` for a payload without one."""
    record_id = record.get("id")
    return f"#{position}" if record_id is None or record_id == "" else str(record_id)


def _value(record: dict, name: str) -> str | None:
    """The property ``name`` as text; ``None`` when it is missing, null or empty."""
    properties = record.get("properties")
    value = properties.get(name) if isinstance(properties, dict) else None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value)


def _ids(records: list[dict]) -> list[Any]:
    return [None if record.get("id") in (None, "") else str(record["id"]) for record in records]


def _column(records: list[dict], name: str) -> list[str | None]:
    return [_value(record, name) for record in records]


def email_shape(email: str | None) -> str | None:
    """``email`` without its content (:func:`woohub.core.personal_data.email_shape`); ``None`` for an empty
    one (a contact without email is a warning, not an invalid address)."""
    if email is None or not email.strip():
        return None
    return personal_data.email_shape(email)


def _deal_columns(records: list[dict], known_line_item_ids: Collection[str] | None) -> dict[str, Any]:
    """Columns of the deals suite."""
    known = None if known_line_item_ids is None else {str(i) for i in known_line_item_ids}
    unknown = []
    for record in records:
        associations = record.get("associations") if isinstance(record.get("associations"), dict) else {}
        named = associations.get("line_items") if isinstance(associations.get("line_items"), list) else []
        unknown.append(0 if known is None else sum(str(i) not in known for i in named))
    return {
        "id": _ids(records),
        "amount": _column(records, "amount"),
        "deal_currency_code": _column(records, "deal_currency_code"),
        "pipeline": _column(records, "pipeline"),
        "dealstage": _column(records, "dealstage"),
        "hs_lastmodifieddate": _column(records, "hs_lastmodifieddate"),
        "unknown_line_item_count": pd.Series(unknown, dtype="int64"),
    }


def _contact_columns(records: list[dict]) -> dict[str, list[Any]]:
    """Columns of the contacts suite: no email, only its shape."""
    return {
        "id": _ids(records),
        "email_shape": [email_shape(value) for value in _column(records, "email")],
        "lastmodifieddate": _column(records, "lastmodifieddate"),
    }


def _line_item_columns(records: list[dict]) -> dict[str, list[Any]]:
    """Columns of the line items suite."""
    return {
        "id": _ids(records),
        "quantity": _column(records, "quantity"),
        "price": _column(records, "price"),
        "hs_product_id": _column(records, "hs_product_id"),
        "hs_lastmodifieddate": _column(records, "hs_lastmodifieddate"),
    }


__all__ = ["CONTACTS", "DEALS", "LINE_ITEMS", "STREAMS", "email_shape", "validation_frame"]
