"""WooCommerce order lines (product lines, and optionally shipping and fee lines) -> HubSpot line items.

Unit price choice: ``price`` = ``subtotal / quantity`` (the pre-coupon unit price, exact from WooCommerce's
2-decimal strings) and ``discount`` = ``(subtotal - total) / quantity`` per unit when a coupon reduced the
line, so HubSpot's amount ``quantity x (price - discount)`` equals WooCommerce's line total. WooCommerce's
own ``line_items[].price`` is a float of the already discounted unit price and is not used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from woohub.mapping.frame import extract, map_properties
from woohub.mapping.transforms import to_cents, woo_id
from woohub.mapping.woocommerce_to_hubspot.config import MappingConfig

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


def map_line_items(orders: Sequence[Mapping[str, Any]], config: MappingConfig) -> pd.DataFrame:
    """Map the lines of WooCommerce orders to HubSpot line items.

    Returns columns ``source_key`` (the line id as text: WooCommerce numbers product, shipping and fee
    lines from one store-wide sequence), ``deal_source_key`` (the order id), ``product_source_key``
    (the variation id when set, else the product id; ``None`` for product id 0 and for shipping/fee
    lines) and ``properties``. Rows: all product lines, then shipping lines, then fee lines (each as
    configured), in order of the input."""
    settings = config.line_items
    paths = settings.mapping.paths()
    line_paths = {p for p in paths if not p.startswith(ORDER_PREFIX)} | LINE_KEYS
    order_paths = {p.removeprefix(ORDER_PREFIX) for p in paths if p.startswith(ORDER_PREFIX)} | {"id"}
    kinds = [("line_items", "product")]
    kinds += [("shipping_lines", "shipping")] if settings.include_shipping_lines else []
    kinds += [("fee_lines", "fee")] if settings.include_fee_lines else []
    parts = [order_lines(orders, key, kind, line_paths, order_paths) for key, kind in kinds]
    frame = pd.concat(parts, ignore_index=True)
    _add_unit_amounts(frame)
    return pd.DataFrame(
        {
            "source_key": woo_id(frame["id"]),
            "deal_source_key": woo_id(frame[f"{ORDER_PREFIX}id"]),
            "product_source_key": product_keys(frame["product_id"], frame["variation_id"]),
            "properties": map_properties(frame, settings.mapping),
        },
        columns=LINE_ITEM_COLUMNS,
    )


def order_lines(
    orders: Sequence[Mapping[str, Any]], key: str, kind: str, line_paths: set[str], order_paths: set[str]
) -> pd.DataFrame:
    """One row per entry of ``order[key]`` with the line's ``line_paths``, the order's ``order_paths``
    (prefixed "order.") and ``@line_type`` = ``kind``. Shipping and fee lines are given a product
    line's shape: quantity 1, subtotal = total, no product; shipping's name is its method title."""
    counts = np.fromiter((len(o.get(key) or ()) for o in orders), dtype=np.int64, count=len(orders))
    lines = [line for o in orders for line in (o.get(key) or ())]
    frame = extract(lines, line_paths)
    parents = extract(orders, order_paths)
    for path in order_paths:
        frame[f"{ORDER_PREFIX}{path}"] = pd.Series(np.repeat(parents[path].to_numpy(), counts), dtype=object)
    if kind != "product":
        frame["quantity"], frame["subtotal"] = 1, frame["total"]
        frame["product_id"], frame["variation_id"] = 0, 0
        if kind == "shipping":
            frame["name"] = frame["method_title"]
    frame["@line_type"] = kind
    return frame


def product_keys(product_id: pd.Series, variation_id: pd.Series) -> pd.Series:
    """``str(variation_id)`` when set, else ``str(product_id)``; ``None`` when the product id is 0
    (WooCommerce accepted an unknown product)."""
    product, variation = woo_id(product_id), woo_id(variation_id)
    return variation.where(variation.notna() & product.notna(), product)


def _add_unit_amounts(frame: pd.DataFrame) -> None:
    """Add ``@unit_price`` (subtotal / quantity) and ``@unit_discount`` ((subtotal - total) / quantity,
    only when positive), in currency units rounded to the cent; NaN when the quantity is not positive."""
    quantity = pd.to_numeric(frame["quantity"], errors="coerce").astype("float64").to_numpy()
    quantity = np.where(quantity > 0, quantity, np.nan)
    subtotal = to_cents(frame["subtotal"]).to_numpy()
    total = to_cents(frame["total"]).to_numpy()
    frame["@unit_price"] = np.rint(subtotal / quantity) / 100.0
    discount = np.rint((subtotal - total) / quantity) / 100.0
    frame["@unit_discount"] = np.where(discount > 0, discount, np.nan)
