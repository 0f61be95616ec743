"""Flatten staged WooCommerce payloads into the one-row-per-record frames the GX suites check.

Every frame has a ``source_id`` column (the payload's ``id`` as a string, or ``#<position>`` when the
payload has no id) that the validation maps failures back to, plus the raw and derived columns the suite
of its stream names. A payload missing keys never raises here: the missing values become nulls or empty
strings that fail the suite's expectations instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from woohub.core.personal_data import email_shape

if TYPE_CHECKING:
    from woohub.mapping.woocommerce_to_hubspot.config import MappingConfig

STREAMS = ("orders", "customers", "products")


def validation_frame(stream: str, payloads: list[dict], *,
                     known_product_ids: set[int] | None = None,
                     enabled_currencies: Collection[str] | None = None,
                     mapping: MappingConfig | None = None) -> pd.DataFrame:
    """One row per payload of ``stream`` ("orders" | "customers" | "products") with the suite's columns.

    Orders only: ``known_product_ids`` are the product and variation ids a line item may reference; when
    None only ``product_id`` 0 (a product deleted from the store) counts as unknown.
    ``enabled_currencies`` are the currency codes the HubSpot portal has enabled (the options of the deal
    property ``deal_currency_code``); None = not checked. ``mapping`` (default: the packaged mapping)
    decides which line items a deal gets, for the check that they add up to the order total.
    """
    builders: dict[str, Callable[[list[dict]], dict[str, Any]]] = {
        "orders": lambda records: _order_columns(records, known_product_ids, enabled_currencies, mapping),
        "customers": _customer_columns,
        "products": _product_columns,
    }
    if stream not in builders:
        raise ValueError(f"unknown stream {stream!r}; expected one of {', '.join(STREAMS)}")
    records = [payload if isinstance(payload, dict) else {} for payload in payloads]
    columns = {"source_id": [_source_id(record, position) for position, record in enumerate(records)]}
    columns |= builders[stream](records)
    return pd.DataFrame({name: _as_series(values) for name, values in columns.items()})


def _source_id(record: dict, position: int) -> str:
    """The record's WooCommerce id as a string, or ``#<position>`` for a payload without one."""
    record_id = record.get("id")
    return f"#{position}" if record_id is None or record_id == "" else str(record_id)


def _as_series(values: Any) -> pd.Series:
    """Numeric series stay as they are; plain lists become object columns (no silent int→float casts)."""
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    return pd.Series(values, dtype=object)


def _nested(record: dict, *keys: str) -> Any:
    """``record[k1][k2]...`` or None when any level is missing or not a mapping."""
    value: Any = record
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _text(value: Any) -> str | None:
    """A raw scalar as text for regex checks (None stays None)."""
    return None if value is None else str(value)


def _amounts(values: Iterable[Any]) -> pd.Series:
    """WooCommerce money (strings like "19.99", or numbers) as floats; anything unparsable is NaN."""
    raw = pd.Series(list(values), dtype=object)
    cleaned = raw.where(raw.map(lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool)))
    return pd.to_numeric(cleaned, errors="coerce").astype(float)


def _sum_per_record(positions: list[int], raw_amounts: list[Any], size: int) -> pd.Series:
    """Per-record sums of child amounts (line items, fees): 0 without children, NaN if any is unparsable."""
    children = pd.DataFrame({"position": positions, "amount": _amounts(raw_amounts)})
    grouped = children.groupby("position")["amount"]
    sums = grouped.sum().where(grouped.count() == grouped.size())
    return sums.reindex(range(size), fill_value=0.0).astype(float)


def _children(records: list[dict], key: str) -> list[tuple[int, dict]]:
    """``(record position, child)`` for every dict in each record's ``key`` list (line_items, fee_lines)."""
    return [(position, child) for position, record in enumerate(records)
            for child in (record.get(key) if isinstance(record.get(key), list) else [])
            if isinstance(child, dict)]


def _order_columns(records: list[dict], known_product_ids: set[int] | None,
                   enabled_currencies: Collection[str] | None, mapping: MappingConfig | None) -> dict[str, Any]:
    """Columns of the orders suite, including the derived total checks, the portal currency check and
    the guest email."""
    size = len(records)
    lines = _children(records, "line_items")
    fees = _children(records, "fee_lines")
    line_subtotals = _sum_per_record([p for p, _ in lines], [line.get("subtotal") for _, line in lines], size)
    fee_totals = _sum_per_record([p for p, _ in fees], [fee.get("total") for _, fee in fees], size)
    total_amount = _amounts(record.get("total") for record in records)
    expected_total = (line_subtotals - _amounts(r.get("discount_total") for r in records)
                      + _amounts(r.get("shipping_total") for r in records) + fee_totals
                      + _amounts(r.get("total_tax") for r in records))
    unknown_lines = [0] * size
    for position, line in lines:
        unknown_lines[position] += not _is_known_product(line, known_product_ids)
    return {
        "id": [record.get("id") for record in records],
        "status": [record.get("status") for record in records],
        "currency": [record.get("currency") for record in records],
        "currency_not_in_hubspot": _currencies_not_enabled(records, enabled_currencies),
        "customer_id": [record.get("customer_id") for record in records],
        "total": [_text(record.get("total")) for record in records],
        "total_amount": total_amount,
        "total_difference": (total_amount - expected_total).round(2),
        "line_items_difference": _line_items_differences(records, mapping),
        "guest_billing_email": [_guest_billing_email(record) for record in records],
        "date_modified_gmt": [record.get("date_modified_gmt") for record in records],
        "unknown_product_line_count": pd.Series(unknown_lines, dtype="int64"),
    }


def _currencies_not_enabled(records: list[dict], enabled: Collection[str] | None) -> list[str | None]:
    """Per order: ``None`` when its currency is enabled in the HubSpot portal (or ``enabled`` is None), else
    a text naming the currency and the enabled ones (the quarantine reason)."""
    if enabled is None:
        return [None] * len(records)
    codes = {str(code).strip().upper() for code in enabled}
    listed = ", ".join(sorted(codes)) or "none"
    result: list[str | None] = []
    for record in records:
        currency = record.get("currency")
        code = currency.strip().upper() if isinstance(currency, str) else None
        if not code or code in codes:  # a missing currency fails its own not-null check
            result.append(None)
        else:
            result.append(f"{code} is not a currency of the HubSpot portal (enabled: {listed})")
    return result


def _line_items_differences(records: list[dict], mapping: MappingConfig | None) -> pd.Series:
    """Per order: total minus the sum of the HubSpot line item amounts the mapping makes of it (0.0 when
    they add up, NaN when an amount is unusable)."""
    from woohub.mapping.woocommerce_to_hubspot import load_mapping
    from woohub.mapping.woocommerce_to_hubspot.line_items import line_total_differences

    differences = line_total_differences(records, mapping or load_mapping())
    return pd.Series([float("nan") if d is None else float(d) for d in differences], dtype=float)


def _is_known_product(line: dict, known_product_ids: set[int] | None) -> bool:
    """A line item links to a product: its variation (if any) else its product, nonzero and known."""
    reference = line.get("variation_id") or line.get("product_id")
    if not isinstance(reference, int) or isinstance(reference, bool) or reference <= 0:
        return False
    return known_product_ids is None or reference in known_product_ids


def _guest_billing_email(record: dict) -> str | None:
    """The shape of a guest order's billing email (customer_id 0; "" when absent), None for registered
    customers."""
    if record.get("customer_id") != 0:
        return None
    email = _nested(record, "billing", "email")
    return email_shape(email) if isinstance(email, str) else ""


def _customer_columns(records: list[dict]) -> dict[str, Any]:
    """Columns of the customers suite (the shape of the account ``email``, never the address: see
    :mod:`woohub.core.personal_data`; billing email may legitimately be "")."""
    return {
        "id": [record.get("id") for record in records],
        "email": [email_shape(_text(record.get("email"))) for record in records],
        "role": [record.get("role") for record in records],
    }


def _product_columns(records: list[dict]) -> dict[str, Any]:
    """Columns of the products suite, for products and variations alike.

    ``own_sku`` is the record's own SKU, null when it has none (empty, or a variation returning its
    parent's SKU), so that only SKUs two records really claim count as repeated. SKUs are optional.
    """
    from woohub.mapping.woocommerce_to_hubspot.products import own_skus

    prices = [record.get("price") for record in records]
    present_prices = [None if price in (None, "") else price for price in prices]
    return {
        "id": [record.get("id") for record in records],
        "type": [record.get("type") for record in records],
        "status": [record.get("status") for record in records],
        "own_sku": own_skus(records),
        "price": [_text(price) for price in present_prices],
        "price_amount": _amounts(present_prices),
        "stock_quantity": [None if record.get("stock_quantity") is None
                           else json.dumps(record.get("stock_quantity"), default=str) for record in records],
    }


__all__ = ["STREAMS", "validation_frame"]
