"""WooCommerce order lines (product, shipping, fee lines and the order's tax) -> HubSpot line items.

The line items of a deal add up exactly to the order total (``line_total_differences`` checks it), in
both tax settings and with coupons:

- WooCommerce stores every line's ``subtotal``/``total`` NET of tax, also when prices are entered with
  tax (``prices_include_tax`` true: 3 x 19.99 gross is stored as 55.40 + tax 4.57; captures 230-258), and
  keeps all taxes apart (line, fee and shipping taxes, summed in ``total_tax``).
- So product, shipping and fee lines carry their net amounts and the order's tax is ONE line item of its
  own (``woo_line_item_type`` ``tax``, quantity 1, price ``total_tax``, named after its ``tax_lines``
  rates), keyed by the order's first tax line id. One line per order rather than one per rate because
  the rate rows need not add up to ``total_tax``: with "round tax at subtotal" a store shows CA Tax
  5.78 + shipping 0.41 while ``total_tax`` (and the total) uses 6.20 (capture 246). An order without
  tax_lines has no tax line item (one that lost its taxes has it archived by the loader).
- Product lines: HubSpot's amount is ``quantity x (price - discount)`` with a per-unit ``discount``.
  ``price`` = ``subtotal / quantity`` (the pre-coupon unit price) and ``discount`` =
  ``(subtotal - total) / quantity`` when a coupon (or an override) reduced the line, both exact decimals
  (HubSpot keeps up to 6 places of a unit price). When a unit amount does not divide exactly (55.40 / 3),
  the line is priced as one unit of the whole line (quantity 1, price = subtotal, discount = subtotal -
  total) so the amounts still add up; ``woo_quantity`` keeps WooCommerce's quantity either way.
  WooCommerce's own ``line_items[].price`` is a float of the discounted, net unit price and is not used.

Amounts are rounded to the order currency's ISO 4217 decimals (JPY 0, KWD 3, most 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

from woohub.mapping.frame import extract, map_properties
from woohub.mapping.transforms import minor_units, woo_id
from woohub.mapping.woocommerce_to_hubspot.config import LineItemSettings, MappingConfig

LINE_ITEM_COLUMNS = ["source_key", "deal_source_key", "product_source_key", "properties"]
ORDER_PREFIX = "order."
LINE_KEYS = {
    "id",
    "name",
    "quantity",
    "subtotal",
    "total",
    "product_id",
    "variation_id",
    "sku",
    "method_title",
}
ORDER_KEYS = {"id", "currency"}
ORDER_POSITION = "_order_position"
# HubSpot stores a line item's unit price with up to 6 decimal places.
UNIT_PRICE_PLACES = 6
TAX_LINE_NAME = "Tax"


def map_line_items(orders: Sequence[Mapping[str, Any]], config: MappingConfig) -> pd.DataFrame:
    """Map the lines of WooCommerce orders to HubSpot line items.

    Returns columns ``source_key`` (the line id as text: WooCommerce numbers product, shipping, fee and
    tax lines from one store-wide sequence; the tax line item uses the order's first tax line id),
    ``deal_source_key`` (the order id), ``product_source_key`` (the variation id when set, else the
    product id: lines link to products by id, never by SKU; ``None`` for product id 0 and for
    shipping/fee/tax lines) and ``properties``. Rows: all product lines, then shipping lines, fee lines
    and tax lines (each as configured), in order of the input."""
    settings = config.line_items
    frame = line_frame(orders, settings)
    return pd.DataFrame(
        {
            "source_key": woo_id(frame["id"]),
            "deal_source_key": woo_id(frame[f"{ORDER_PREFIX}id"]),
            "product_source_key": product_keys(frame["product_id"], frame["variation_id"]),
            "properties": map_properties(frame, settings.mapping),
        },
        columns=LINE_ITEM_COLUMNS,
    )


def line_frame(orders: Sequence[Mapping[str, Any]], settings: LineItemSettings) -> pd.DataFrame:
    """One row per HubSpot line item with the line's fields, the order's (prefixed "order.") and the
    computed ``@quantity``, ``@unit_price``, ``@unit_discount`` and ``@line_type``."""
    paths = settings.mapping.paths()
    line_paths = {p for p in paths if not p.startswith(ORDER_PREFIX)} | LINE_KEYS
    order_paths = {p.removeprefix(ORDER_PREFIX) for p in paths if p.startswith(ORDER_PREFIX)} | ORDER_KEYS
    kinds = [("line_items", "product")]
    kinds += [("shipping_lines", "shipping")] if settings.include_shipping_lines else []
    kinds += [("fee_lines", "fee")] if settings.include_fee_lines else []
    parts = [order_lines(orders, key, kind, line_paths, order_paths) for key, kind in kinds]
    if settings.include_tax_lines:
        parts.append(order_lines([_tax_order(o) for o in orders], "tax_lines", "tax", line_paths, order_paths))
    frame = pd.concat(parts, ignore_index=True)
    _add_unit_amounts(frame)
    return frame


def order_lines(
    orders: Sequence[Mapping[str, Any]], key: str, kind: str, line_paths: set[str], order_paths: set[str]
) -> pd.DataFrame:
    """One row per entry of ``order[key]`` with the line's ``line_paths``, the order's ``order_paths``
    (prefixed "order.") and ``@line_type`` = ``kind``. Shipping, fee and tax lines are given a product
    line's shape: quantity 1, subtotal = total, no product; shipping's name is its method title."""
    children = [_children(o, key) for o in orders]
    counts = np.fromiter((len(c) for c in children), dtype=np.int64, count=len(orders))
    lines = [line for lines_of_order in children for line in lines_of_order]
    frame = extract(lines, line_paths)
    parents = extract(orders, order_paths)
    for path in order_paths:
        frame[f"{ORDER_PREFIX}{path}"] = pd.Series(np.repeat(parents[path].to_numpy(), counts), dtype=object)
    frame[ORDER_POSITION] = np.repeat(np.arange(len(orders)), counts)
    if kind != "product":
        frame["quantity"], frame["subtotal"] = 1, frame["total"]
        frame["product_id"], frame["variation_id"] = 0, 0
        if kind == "shipping":
            frame["name"] = frame["method_title"]
    frame["@line_type"] = kind
    return frame


def _children(order: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The dict entries of ``order[key]`` (nothing when it is missing or not a list)."""
    value = order.get(key)
    return [line for line in value if isinstance(line, Mapping)] if isinstance(value, list) else []


def _tax_order(order: Mapping[str, Any]) -> Mapping[str, Any]:
    """``order`` with ``tax_lines`` replaced by its one tax line item: id of its first tax line, total =
    the order's ``total_tax``, name from the rates ("Tax: CA Tax 8.25%, US Reduced 5%"). No tax_lines:
    none (an order of a store without taxes, or with no tax for its address)."""
    rates = _children(order, "tax_lines")
    if not rates:
        return {**order, "tax_lines": []}
    ids = [t.get("id") for t in rates if isinstance(t.get("id"), int)]
    labels = [_rate_label(t) for t in rates]
    name = TAX_LINE_NAME + (": " + ", ".join(label for label in labels if label) if any(labels) else "")
    line = {"id": min(ids) if ids else None, "name": name, "total": order.get("total_tax"), "sku": None}
    return {**order, "tax_lines": [line]}


def _rate_label(rate: Mapping[str, Any]) -> str:
    """"CA Tax 8.25%" from a tax line's ``label`` and ``rate_percent`` (either may be missing)."""
    label = str(rate.get("label") or rate.get("rate_code") or "").strip()
    percent = rate.get("rate_percent")
    if isinstance(percent, int | float) and not isinstance(percent, bool):
        label = f"{label} {Decimal(str(percent)).normalize():f}%".strip()
    return label


def product_keys(product_id: pd.Series, variation_id: pd.Series) -> pd.Series:
    """``str(variation_id)`` when set, else ``str(product_id)``; ``None`` when the product id is 0
    (WooCommerce accepted an unknown product)."""
    product, variation = woo_id(product_id), woo_id(variation_id)
    return variation.where(variation.notna() & product.notna(), product)


def _add_unit_amounts(frame: pd.DataFrame) -> None:
    """Add ``@quantity``, ``@unit_price`` and ``@unit_discount`` (exact decimal text, see the module
    docstring) from each line's quantity, subtotal and total in the order currency's decimals."""
    rows = zip(frame["quantity"], frame["subtotal"], frame["total"], frame[f"{ORDER_PREFIX}currency"],
               strict=True)  # fmt: skip
    amounts = [unit_amounts(q, s, t, minor_units(c)) for q, s, t, c in rows]
    for position, column in enumerate(("@quantity", "@unit_price", "@unit_discount")):
        frame[column] = pd.Series([a[position] for a in amounts], index=frame.index, dtype=object)


def unit_amounts(quantity: Any, subtotal: Any, total: Any, places: int) -> tuple[Any, str | None, str | None]:
    """``(quantity, unit price, unit discount)`` for HubSpot such that ``quantity x (price - discount)``
    is exactly the line ``total`` in ``places`` decimals; discount ``None`` when nothing was taken off.
    A line whose unit amounts do not divide exactly becomes one unit of the whole line. Unusable
    numbers give ``(quantity, None, None)``."""
    count, gross, net = _decimal(quantity), _money(subtotal, places), _money(total, places)
    if count is None or count <= 0 or count != count.to_integral_value() or net is None:
        return quantity, None, None
    gross = net if gross is None or gross < net else gross
    price, discount = gross / count, (gross - net) / count
    if not (_exact(price) and _exact(discount)):
        count, price, discount = Decimal(1), gross, gross - net
    return int(count), _text(price, places), _text(discount, places) if discount > 0 else None


def line_total_differences(orders: Sequence[Mapping[str, Any]], config: MappingConfig) -> list[Decimal | None]:
    """Per order: its ``total`` minus what its HubSpot line items add up to (sum of ``quantity x (price -
    discount)``), in the currency's decimals; ``Decimal(0)`` when they agree, ``None`` when an amount is
    unusable. Parts the mapping switches off (shipping, fee or tax lines) are taken out of the total."""
    settings = config.line_items
    frame = line_frame(orders, settings)
    sums: list[Decimal | None] = [Decimal(0)] * len(orders)
    rows = zip(frame[ORDER_POSITION], frame["@quantity"], frame["@unit_price"], frame["@unit_discount"],
               strict=True)  # fmt: skip
    for index, quantity, price, discount in rows:
        current = sums[index]
        if current is not None:
            sums[index] = None if price is None else current + Decimal(quantity) * (
                Decimal(price) - Decimal(discount or 0)
            )
    return [_difference(order, total, settings) for order, total in zip(orders, sums, strict=True)]


def _difference(order: Mapping[str, Any], lines: Decimal | None, settings: LineItemSettings) -> Decimal | None:
    """``order`` total (less the switched-off parts) minus ``lines``."""
    places = minor_units(order.get("currency"))
    expected = _money(order.get("total"), places)
    if lines is None or expected is None:
        return None
    left_out: list[Any] = []
    if not settings.include_shipping_lines:
        left_out += [line.get("total") for line in _children(order, "shipping_lines")]
    if not settings.include_fee_lines:
        left_out += [line.get("total") for line in _children(order, "fee_lines")]
    if not settings.include_tax_lines and _children(order, "tax_lines"):
        left_out.append(order.get("total_tax"))
    for amount in left_out:
        value = _money(amount, places)
        if value is None:
            return None
        expected -= value
    return expected - lines


def _decimal(value: Any) -> Decimal | None:
    """A JSON number or numeric string as ``Decimal`` (``None`` for empty, bools and non-numbers)."""
    if value is None or isinstance(value, bool) or (isinstance(value, float) and not np.isfinite(value)):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _money(value: Any, places: int) -> Decimal | None:
    """A money value rounded (half to even) to ``places`` decimals."""
    number = _decimal(value)
    return None if number is None else number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def _exact(value: Decimal) -> bool:
    """``value`` has at most :data:`UNIT_PRICE_PLACES` decimals (an exact HubSpot unit amount)."""
    return value == value.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES))


def _text(value: Decimal, places: int) -> str:
    """``value`` as plain text with at least ``places`` decimals ("12.5", 2 -> "12.50"; "1.875" stays)."""
    minimum = Decimal(1).scaleb(-places)
    shown = value.quantize(minimum) if value == value.quantize(minimum) else value.normalize()
    return f"{shown:f}"
