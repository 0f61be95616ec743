"""Id map conventions of the load layer on top of :mod:`woohub.staging.repository`.

* ``content_hash`` ``"archived"`` marks a record the load archived in HubSpot (a re-run skips it);
* a ``hubspot_id`` of ``None`` marks an entry whose HubSpot record vanished (the next run re-resolves it);
* link entries remember which HubSpot record another one was last associated with, so a changed link can
  be undone: object type ``deal_contact`` maps a deal's source key to its contact's HubSpot id, and
  ``line_item_deal`` a line item's source key to its deal's HubSpot id (to find the items an edited order
  no longer has).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, and_, select

from woohub.staging.schema import id_map

ARCHIVED = "archived"
DEAL_CONTACT = "deal_contact"
LINE_ITEM_DEAL = "line_item_deal"
_CHUNK = 500


def known_id(entry: dict | None) -> str | None:
    """The HubSpot id of an id map entry of a live record, else ``None``."""
    if not entry or entry.get("content_hash") == ARCHIVED:
        return None
    return entry.get("hubspot_id")


def keys_linked_to(engine: Engine, object_type: str, hubspot_ids: Sequence[str]) -> dict[str, str]:
    """``source_key -> hubspot_id`` of the ``object_type`` entries whose HubSpot id is one of ``hubspot_ids``."""
    ids = sorted({str(i) for i in hubspot_ids})
    found: dict[str, str] = {}
    with engine.connect() as connection:
        for start in range(0, len(ids), _CHUNK):
            query = select(id_map.c.source_key, id_map.c.hubspot_id).where(
                and_(
                    id_map.c.object_type == object_type, id_map.c.hubspot_id.in_(ids[start : start + _CHUNK])
                )
            )
            found.update({row.source_key: row.hubspot_id for row in connection.execute(query)})
    return found
