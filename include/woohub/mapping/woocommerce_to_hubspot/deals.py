"""WooCommerce orders -> HubSpot deals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from woohub.mapping.frame import extract, map_properties
from woohub.mapping.order_link import DEAL_META_KEY
from woohub.mapping.transforms import as_optional_str, woo_id
from woohub.mapping.woocommerce_to_hubspot.config import MappingConfig, StageMappingError
from woohub.mapping.woocommerce_to_hubspot.contacts import order_contact_keys

DEAL_COLUMNS = ["source_key", "contact_source_key", "properties", "hubspot_deal_id"]


def map_deals(orders: Sequence[Mapping[str, Any]], config: MappingConfig) -> pd.DataFrame:
    """Map WooCommerce orders to HubSpot deals.

    Returns columns ``source_key`` (the order id as text), ``contact_source_key`` (``customer:<id>``, or
    ``guest:<email>`` for a guest order, ``None`` for a guest without an email) and ``properties``.
    ``pipeline`` and ``dealstage`` come from ``deals.pipeline`` and its stage table by order status.
    ``hubspot_deal_id`` is the deal an order was made from (its meta ``hubspot_deal_id``), else ``None``:
    such an order updates that deal rather than creating one.
    Raises ``StageMappingError`` when an order's status has no stage in the table."""
    settings = config.deals
    frame = extract(orders, settings.mapping.paths() | {"id", "status", "customer_id", "billing.email"})
    frame["@pipeline"] = settings.pipeline
    frame["@dealstage"] = deal_stages(frame["status"], settings.stage_table, settings.pipeline, frame["id"])
    return pd.DataFrame(
        {
            "source_key": woo_id(frame["id"]),
            "contact_source_key": order_contact_keys(frame["customer_id"], frame["billing.email"]),
            "properties": map_properties(frame, settings.mapping),
            "hubspot_deal_id": [deal_id_of(order) for order in orders],
        },
        columns=DEAL_COLUMNS,
    )


def deal_stages(
    statuses: pd.Series, table: Mapping[str, str], pipeline: str, order_ids: pd.Series
) -> pd.Series:
    """The deal stage id of each order status; raises ``StageMappingError`` naming every status that the
    table lacks and a few orders that have it."""
    stages = as_optional_str(statuses.map(dict(table)))
    unmapped = stages.isna().to_numpy()
    if unmapped.any():
        missing = sorted({str(s) for s in statuses[unmapped]})
        examples = ", ".join(str(i) for i in order_ids[unmapped].head(5))
        raise StageMappingError(
            f"deals.stages.{pipeline}: no deal stage for WooCommerce order status "
            f"{', '.join(repr(s) for s in missing)} (orders {examples})",
            missing_statuses=missing,
        )
    return stages


def deal_id_of(order: Mapping[str, Any]) -> str | None:
    """The HubSpot deal id an order was made from (meta ``hubspot_deal_id``), or ``None``."""
    for meta in order.get("meta_data") or []:
        if isinstance(meta, Mapping) and meta.get("key") == DEAL_META_KEY and str(meta.get("value") or "").isdigit():
            return str(meta["value"])
    return None
