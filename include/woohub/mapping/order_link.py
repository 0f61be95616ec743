"""How an order made from a HubSpot deal names that deal, for every part that makes or reads such an order
(the HubSpot -> WooCommerce mapping and loader, and WooCommerce -> HubSpot, which updates that deal)."""

from __future__ import annotations

#: the prefix of every order reference, the order's ``transaction_id``: what WooCommerce's ``search=`` finds
#: (it does not search meta values; recordings 172-179), a substring match
REFERENCE_PREFIX = "hubspot-deal-"
#: the order meta naming the deal (exact, unlike the reference search)
DEAL_META_KEY = "hubspot_deal_id"
#: the order's ``created_via`` (WooCommerce stores it as sent, recording 180)
CREATED_VIA = "hubspot"


def order_reference(deal_id: str) -> str:
    """The searchable reference of the deal's order (its ``transaction_id``): ``hubspot-deal-<id>``."""
    return f"{REFERENCE_PREFIX}{deal_id}"
