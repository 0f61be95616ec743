"""What HubSpot -> WooCommerce writes back to HubSpot: the outcome on each deal it handled
(``woo_order_id``, ``woo_sync_status``, ``woo_sync_message``), and the WooCommerce line ids on the deal's
line items, so that WooCommerce -> HubSpot later updates those line items instead of adding a second set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from woohub.http.outcomes import RecordOutcome

if TYPE_CHECKING:
    from woohub.hubspot.hook import HubSpotHook

SYNCED, REJECTED = "synced", "rejected"
#: HubSpot keeps a text property's value up to 65,536 characters; a sync message stays far below
MESSAGE_LIMIT = 2000


def deal_outcome_properties(status: str, message: str = "", order_id: str | None = None) -> dict[str, str]:
    """The deal properties that tell the sales team what became of a deal."""
    properties = {"woo_sync_status": status, "woo_sync_message": message[:MESSAGE_LIMIT]}
    if order_id is not None:
        properties["woo_order_id"] = str(order_id)
    return properties


def needs_write_back(current: Mapping[str, object], wanted: Mapping[str, str]) -> bool:
    """Whether the deal's current properties differ from ``wanted`` (an empty message equals none), so that
    a deal rejected for the same reason run after run is written once."""
    return any(str(current.get(name) or "") != str(value or "") for name, value in wanted.items())


def write_back_deals(hook: HubSpotHook, updates: Mapping[str, Mapping[str, str]]) -> dict[str, RecordOutcome]:
    """Batch-update ``deal id -> properties``; ``deal id -> outcome``."""
    if not updates:
        return {}
    records = [{"id": deal_id, "properties": dict(properties)} for deal_id, properties in updates.items()]
    return {o.key: o for o in hook.batch_update("deals", records)}


def adopt_line_items(hook: HubSpotHook, woo_line_ids: Mapping[str, str],
                     order_ids: Mapping[str, str]) -> dict[str, RecordOutcome]:
    """Set ``woo_line_item_id`` (and ``woo_order_id``) on HubSpot line items: ``line item id -> WooCommerce
    line id``, ``line item id -> order id``; ``line item id -> outcome``."""
    if not woo_line_ids:
        return {}
    records = [{"id": item_id, "properties": {"woo_line_item_id": str(line_id),
                                               "woo_order_id": str(order_ids[item_id])}}
               for item_id, line_id in woo_line_ids.items()]
    return {o.key: o for o in hook.batch_update("line_items", records)}
