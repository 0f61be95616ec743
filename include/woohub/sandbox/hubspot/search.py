"""CRM search: filter groups (OR of ANDs), HubSpot's operator typing, one sort, offset paging, its limits."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from woohub.sandbox.hubspot import schema
from woohub.sandbox.hubspot.errors import validation
from woohub.sandbox.hubspot.store import Portal
from woohub.sandbox.hubspot.values import to_ms, to_number

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_LIMIT, MAX_RESULTS = 200, 10_000
OPERATORS = {"LT", "LTE", "GT", "GTE", "EQ", "NEQ", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
             "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
_TOKENS = re.compile(r"[\s@.,;:!?_()\[\]/\\\-+]+")

Props = dict[str, str]
Predicate = Callable[[int, Props], bool]


def _typed(type_: str) -> Callable[[Any], Any]:
    """How values of a property type compare: numbers as numbers, dates as epoch ms, strings case-folded."""
    if type_ == "number":
        return to_number
    if type_ in ("datetime", "date"):
        return to_ms
    if type_ == "enumeration":
        return lambda v: None if v is None else str(v)
    return lambda v: None if v is None else str(v).lower()


def _tokens(text: str) -> set[str]:
    lowered = text.lower()
    return {lowered, *(tok for tok in _TOKENS.split(lowered) if tok)}


def _compile(portal: Portal, t: str, spec: Any) -> Predicate:
    if not isinstance(spec, dict) or "propertyName" not in spec or "operator" not in spec:
        raise validation("Each filter needs propertyName and operator.")
    name, op = str(spec["propertyName"]), str(spec["operator"])
    if op not in OPERATORS:
        raise validation(f"Invalid operator {op!r}; one of {sorted(OPERATORS)}.")
    if name.startswith("associations."):
        to_type = schema.object_type(name.split(".", 1)[1])
        if to_type is None:
            raise validation(f"Unknown object type in {name}.")
        wanted = {str(v) for v in spec.get("values") or [spec.get("value")] if v is not None}

        def assoc_ids(rid: int) -> set[str]:
            return {str(i) for i in portal.associated(t, rid, to_type)}

        if op in ("EQ", "IN"):
            return lambda rid, props: bool(assoc_ids(rid) & wanted)
        if op in ("NEQ", "NOT_IN"):
            return lambda rid, props: not assoc_ids(rid) & wanted
        if op == "HAS_PROPERTY":
            return lambda rid, props: bool(assoc_ids(rid))
        if op == "NOT_HAS_PROPERTY":
            return lambda rid, props: not assoc_ids(rid)
        raise validation(f"Operator {op} is not supported for {name}.")
    definition = portal.properties[t].get(name)
    if definition is None and name not in ("hs_object_id",):
        raise validation(f"There was a problem with the request: property {name!r} does not exist.",
                         errors=[{"message": f"Property {name!r} does not exist", "code": "PROPERTY_DOESNT_EXIST",
                                  "context": {"propertyName": [name]}}])
    type_ = definition["type"] if definition else "number"
    conv = _typed(type_)

    def value_of(props: Props) -> Any:
        raw = props.get(name)
        return None if raw in (None, "") else conv(raw)

    if op == "HAS_PROPERTY":
        return lambda rid, props: props.get(name) not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return lambda rid, props: props.get(name) in (None, "")
    if op in ("IN", "NOT_IN"):
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise validation(f"Operator {op} needs values[].")
        if type_ in ("string",):
            # HubSpot compares the stored value lower-cased with the values as given: IN needs lower case
            wanted_set = {str(v) for v in values}
        else:
            wanted_set = {conv(v) for v in values}
        if op == "IN":
            return lambda rid, props: value_of(props) in wanted_set
        return lambda rid, props: value_of(props) not in wanted_set
    if "value" not in spec or spec["value"] is None:
        raise validation(f"Operator {op} needs a value.")
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(spec["value"]).lower()

        def contains(props: Props) -> bool:
            raw = props.get(name)
            if raw in (None, ""):
                return False
            tokens = _tokens(raw)
            if "*" in pattern:
                return any(fnmatch.fnmatchcase(tok, pattern) for tok in tokens)
            return pattern in tokens

        if op == "CONTAINS_TOKEN":
            return lambda rid, props: contains(props)
        return lambda rid, props: not contains(props)
    low = conv(spec["value"])
    if low is None:
        raise validation(f"{spec['value']!r} is not a valid value for {name} ({type_}).")
    if op == "EQ":
        return lambda rid, props: value_of(props) == low
    if op == "NEQ":
        return lambda rid, props: value_of(props) != low
    if op == "BETWEEN":
        high = conv(spec.get("highValue"))
        if high is None:
            raise validation("Operator BETWEEN needs value and highValue.")
        return lambda rid, props: (v := value_of(props)) is not None and low <= v <= high
    compare: dict[str, Callable[[Any], bool]] = {
        "LT": lambda v: v < low, "LTE": lambda v: v <= low, "GT": lambda v: v > low, "GTE": lambda v: v >= low}
    check = compare[op]
    return lambda rid, props: (v := value_of(props)) is not None and check(v)


def _int(value: Any, what: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(str(value))
    except ValueError:
        raise validation(f"{what} must be an integer, not {value!r}.") from None


def search(portal: Portal, t: str, body: dict[str, Any], now: int) -> tuple[list[tuple[int, Props]], int, int | None]:
    """(page of (id, indexed properties), total, next offset) for a ``PublicObjectSearchRequest``."""
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list):
        raise validation("filterGroups must be a list.")
    if len(groups) > MAX_GROUPS:
        raise validation(f"Too many filter groups: {len(groups)}. The maximum is {MAX_GROUPS}.")
    total_filters = 0
    compiled: list[list[Predicate]] = []
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation("Each filter group needs filters[].")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation(f"Too many filters in a group: {len(filters)}. The maximum is {MAX_FILTERS_PER_GROUP}.")
        total_filters += len(filters)
        compiled.append([_compile(portal, t, f) for f in filters])
    if total_filters > MAX_FILTERS:
        raise validation(f"Too many filters: {total_filters}. The maximum is {MAX_FILTERS} in all groups.")
    limit = _int(body.get("limit"), "limit", 10)
    if limit < 1 or limit > MAX_LIMIT:
        raise validation(f"limit must be between 1 and {MAX_LIMIT}; got {limit}.")
    after = _int(body.get("after"), "after", 0)
    if after < 0:
        raise validation("after must not be negative.")
    if after + limit > MAX_RESULTS:
        raise validation(f"The search API returns at most {MAX_RESULTS} results per query; after + limit "
                         f"({after} + {limit}) goes past it. Narrow the filters instead.")
    sorts = body.get("sorts") or []
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise validation("Only one sort is allowed per search.")
    query = str(body.get("query") or "").strip().lower()
    query_props = schema.QUERY_PROPERTIES[t]

    def matches(rid: int, props: Props) -> bool:
        if compiled and not any(all(p(rid, props) for p in group) for group in compiled):
            return False
        if query:
            return any(query in (props.get(n) or "").lower() for n in query_props)
        return True

    found = [(rid, props) for rid, props in portal.searchable(t, now) if matches(rid, props)]
    if sorts:
        sort = sorts[0]
        if isinstance(sort, str):
            name, descending = sort.lstrip("-"), sort.startswith("-")
        elif isinstance(sort, dict) and "propertyName" in sort:
            name, descending = str(sort["propertyName"]), str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
        else:
            raise validation("A sort is a property name or {propertyName, direction}.")
        definition = portal.properties[t].get(name)
        conv = _typed(definition["type"] if definition else "string")
        present = [(conv(p[name]), rid, p) for rid, p in found if p.get(name) not in (None, "")]
        missing = [(rid, p) for rid, p in found if p.get(name) in (None, "")]
        present.sort(key=lambda item: (item[0], item[1]) if not descending else (item[0], -item[1]),
                     reverse=descending)
        found = [(rid, p) for _, rid, p in present] + missing
    total = len(found)
    page = found[after:after + limit]
    end = after + limit
    nxt = end if end < min(total, MAX_RESULTS) else None
    return page, total, nxt


