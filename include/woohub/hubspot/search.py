"""HubSpot CRM search paging, and walking past the 10,000-result cap by re-anchoring the sort key.

Search pages with an offset ``after`` and refuses offsets of 10,000 or more. :func:`search_all` sorts
ascending on one property, and when a query hits the cap it starts a new query filtered ``GTE`` the last
value seen, skipping the records already yielded at exactly that value (the id tie-break). When 10,000
records share one value, it walks that value by ``hs_object_id`` instead and then continues ``GT`` it.
Each record of a dataset that does not change during the walk is yielded exactly once.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from woohub.hubspot.hook import HubSpotHook

SEARCH_CAP = 10_000
MAX_SEARCH_PAGE = 200
_ID_PROPERTY = "hs_object_id"
_CONTACT_TYPES = frozenset({"contacts", "contact", "0-1"})


def modified_property(object_type: str) -> str:
    """The last-modified property: ``lastmodifieddate`` on contacts, ``hs_lastmodifieddate`` elsewhere."""
    return "lastmodifieddate" if object_type in _CONTACT_TYPES else "hs_lastmodifieddate"


def epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of a timezone-aware datetime (what search filters on dates expect)."""
    if moment.tzinfo is None:
        raise ValueError("pass a timezone-aware datetime; naive datetimes are ambiguous")
    return int(moment.timestamp() * 1000)


def sort_value(record: Mapping[str, Any], prop: str) -> int | str:
    """A record's value of ``prop`` in the form search filters take: integers for ids, numbers and
    datetimes (epoch ms), the raw string otherwise."""
    raw = (record.get("properties") or {}).get(prop)
    if raw is None and prop == _ID_PROPERTY:
        raw = record.get("id")
    text = str(raw if raw is not None else "")
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        return epoch_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text


def search_body(filter_groups: Sequence[Mapping[str, Any]] | None, sorts: Sequence[Any] | None,
                properties: Sequence[str] | None, limit: int, query: str | None) -> dict[str, Any]:
    """A search request body (``limit`` capped at 200)."""
    body: dict[str, Any] = {"filterGroups": [dict(g) for g in filter_groups or []],
                            "limit": max(1, min(limit, MAX_SEARCH_PAGE))}
    if sorts:
        body["sorts"] = list(sorts)
    if properties:
        body["properties"] = list(properties)
    if query:
        body["query"] = query
    return body


def paged_search(hook: HubSpotHook, object_type: str, body: dict[str, Any]) -> Generator[dict[str, Any], None, bool]:
    """Yield every record of one search query; return ``True`` if it stopped at the 10,000 cap with
    matching records left over (``total`` beyond the offset reached)."""
    body = dict(body)
    while True:
        page = hook.request("POST", f"/crm/v3/objects/{object_type}/search", json=body, idempotent=True).json()
        results = page.get("results", [])
        yield from results
        reached = int(body.get("after", 0)) + len(results)
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if after is None or int(after) + body["limit"] > SEARCH_CAP:
            return after is not None or reached >= SEARCH_CAP and int(page.get("total", 0)) > reached
        body["after"] = str(after)


def _anchored(filter_groups: Sequence[Mapping[str, Any]] | None, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The filter groups with ``extra`` filters ANDed into each (groups are ORed)."""
    if not extra:
        return [dict(g) for g in filter_groups or []]
    groups = filter_groups or [{"filters": []}]
    return [{**g, "filters": [*g.get("filters", []), *extra]} for g in groups]


def search_all(hook: HubSpotHook, object_type: str, filter_groups: Sequence[Mapping[str, Any]] | None,
               properties: Sequence[str] | None, sort_property: str) -> Iterator[dict[str, Any]]:
    """See the module docstring."""
    props = list(dict.fromkeys([*(properties or []), sort_property])) if properties else None
    sorts = [{"propertyName": sort_property, "direction": "ASCENDING"}]
    unique = sort_property == _ID_PROPERTY
    anchor: list[dict[str, Any]] = []
    seen_at_last: set[str] = set()
    last: int | str | None = None
    while True:
        body = search_body(_anchored(filter_groups, anchor), sorts, props, MAX_SEARCH_PAGE, None)
        window_start = last
        window = yield from _unseen(paged_search(hook, object_type, body), sort_property, last, seen_at_last)
        if not window.capped or window.last is None:
            return
        last, seen_at_last = window.last, window.seen_at_last
        if unique:
            anchor = [{"propertyName": sort_property, "operator": "GT", "value": str(last)}]
        elif last == window_start:  # a full window of one value: walk it by id, then move past it
            yield from _walk_one_value(hook, object_type, filter_groups, props, sort_property, last, seen_at_last)
            anchor = [{"propertyName": sort_property, "operator": "GT", "value": str(last)}]
        else:
            anchor = [{"propertyName": sort_property, "operator": "GTE", "value": str(last)}]


class _WindowEnd:
    """How one capped-or-not search window ended: the last sort value and the ids seen at it."""

    def __init__(self, capped: bool, last: int | str | None, seen_at_last: set[str]) -> None:
        self.capped, self.last, self.seen_at_last = capped, last, seen_at_last


def _unseen(records: Generator[dict[str, Any], None, bool], prop: str, last: int | str | None,
            seen_at_last: set[str]) -> Generator[dict[str, Any], None, _WindowEnd]:
    """Yield records not yet yielded (same value as ``last`` and id in ``seen_at_last``), tracking the
    last sort value and the ids seen at it."""
    seen = set(seen_at_last)
    while True:
        try:
            record = next(records)
        except StopIteration as stop:
            return _WindowEnd(bool(stop.value), last, seen)
        value = sort_value(record, prop)
        if value == last and record["id"] in seen:
            continue
        if value != last:
            last, seen = value, set()
        seen.add(record["id"])
        yield record


def _walk_one_value(hook: HubSpotHook, object_type: str, filter_groups: Sequence[Mapping[str, Any]] | None,
                    props: list[str] | None, prop: str, value: int | str | None,
                    already: set[str]) -> Iterator[dict[str, Any]]:
    """Every not-yet-yielded record whose ``prop`` equals ``value``, walked by ``hs_object_id``."""
    groups = _anchored(filter_groups, [{"propertyName": prop, "operator": "EQ", "value": str(value)}])
    for record in search_all(hook, object_type, groups, props, _ID_PROPERTY):
        if record["id"] not in already:
            yield record
