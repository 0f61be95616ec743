"""The full read of a HubSpot portal for the nightly reconciliation: every deal, contact, product and line item
through the CRM v3 list endpoint ``GET /crm/v3/objects/{type}`` (``limit`` 100, ``after`` cursor), page by
page, once with ``archived=false`` and once with ``archived=true`` (which lists only archived records).

Not the search API: a search stops at 10,000 results and never returns archived records. The list endpoint
takes ``properties`` (a requested property without a value comes back ``null``) and ``associations`` (the
associated ids per object type, under ``associations.<type>.results``; the key for line items is
``"line items"``). A record's association list that carries ``paging.next`` is read in full through the v4
associations API. Every call goes through the hook, so it stays inside its (shared) rate-limit budget.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from woohub.hubspot.hook import HubSpotHook

PAGE_SIZE = 100
#: the last-modified property of each object type (contacts differ)
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate",
                     "products": "hs_lastmodifieddate", "line_items": "hs_lastmodifieddate"}
_ASSOCIATION_PAGE = 500

Page = list[dict[str, Any]]


def iter_object_pages(hook: HubSpotHook, object_type: str, properties: Sequence[str], *,
                      associations: Sequence[str] | None = None, archived: bool = False) -> Iterator[Page]:
    """Pages of up to 100 records of ``object_type`` (``archived``: only the archived ones), each record with
    ``properties`` (plus the last-modified property and ``hs_object_id``) and the ``associations`` asked for."""
    wanted = list(dict.fromkeys([*properties, MODIFIED_PROPERTY.get(object_type, "hs_lastmodifieddate"),
                                 "hs_object_id"]))
    records = hook.iter_objects(object_type, properties=wanted, associations=associations, archived=archived,
                                page_size=PAGE_SIZE)
    while page := list(islice(records, PAGE_SIZE)):
        yield page


def iter_all_pages(hook: HubSpotHook, object_type: str, properties: Sequence[str], *,
                   associations: Sequence[str] | None = None) -> Iterator[tuple[bool, Page]]:
    """``(archived, page)`` for every record: the live records, then the archived ones."""
    for archived in (False, True):
        for page in iter_object_pages(hook, object_type, properties, associations=associations,
                                      archived=archived):
            yield archived, page


def associated_ids(hook: HubSpotHook, object_type: str, record: dict[str, Any], to_type: str) -> list[str]:
    """The ids of the ``to_type`` records associated with ``record`` (as read with ``associations=to_type``),
    each once, in HubSpot's order; a list HubSpot pages is read in full through the v4 API."""
    found = _association_block(record, to_type)
    if not found:
        return []
    if (found.get("paging") or {}).get("next"):
        return _v4_associated_ids(hook, object_type, str(record["id"]), to_type)
    return list(dict.fromkeys(str(item["id"]) for item in found.get("results") or [] if item.get("id")))


def _association_block(record: dict[str, Any], to_type: str) -> dict[str, Any] | None:
    """``record["associations"][<key>]`` under any spelling HubSpot uses for ``to_type`` ("line items",
    "line_items", "deals", ...)."""
    associations = record.get("associations") or {}
    for key in (to_type, to_type.replace("_", " "), to_type.rstrip("s"), to_type.replace("_", "")):
        if key in associations:
            return associations[key]
    return None


def _v4_associated_ids(hook: HubSpotHook, object_type: str, record_id: str, to_type: str) -> list[str]:
    """Every associated id through ``GET /crm/v4/objects/{type}/{id}/associations/{toType}`` (paged)."""
    ids: list[str] = []
    params: dict[str, Any] = {"limit": _ASSOCIATION_PAGE}
    while True:
        body = hook.request("GET", f"/crm/v4/objects/{object_type}/{record_id}/associations/{to_type}",
                            params=params).json()
        ids.extend(str(item["toObjectId"]) for item in body.get("results") or [])
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return list(dict.fromkeys(ids))
        params["after"] = after


def property_types(hook: HubSpotHook, object_type: str) -> dict[str, str]:
    """``property name -> HubSpot type`` (``number``, ``datetime``, ``date``, ``string``, ...) of the
    portal's ``object_type`` properties (one call)."""
    body = hook.request("GET", f"/crm/v3/properties/{object_type}").json()
    return {str(p["name"]): str(p.get("type") or "") for p in body.get("results") or [] if p.get("name")}
