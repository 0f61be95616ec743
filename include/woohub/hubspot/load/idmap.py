"""Id map conventions of the load layer on top of :mod:`woohub.core.ledger`.

* ``content_hash`` ``"archived"`` marks a record the load archived in HubSpot (a re-run skips it);
* a ``hubspot_id`` of ``None`` marks an entry whose HubSpot record vanished (the next run re-resolves it);
* link entries remember which HubSpot record another one was last associated with, so a changed link can
  be undone: object type ``deal_contact`` maps a deal's source key to its contact's HubSpot id, and
  ``line_item_deal`` a line item's source key to its deal's HubSpot id (to find the items an edited order
  no longer has).
"""

from __future__ import annotations

from woohub.core.ledger import ARCHIVED, keys_linked_to

__all__ = ["ARCHIVED", "DEAL_CONTACT", "LINE_ITEM_DEAL", "keys_linked_to", "known_id"]

DEAL_CONTACT = "deal_contact"
LINE_ITEM_DEAL = "line_item_deal"


def known_id(entry: dict | None) -> str | None:
    """The HubSpot id of an id map entry of a live record, else ``None``."""
    if not entry or entry.get("content_hash") == ARCHIVED:
        return None
    return entry.get("hubspot_id")
