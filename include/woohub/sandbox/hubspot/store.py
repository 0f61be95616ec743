"""The portal's records, property definitions, unique-value indexes, associations and pipelines.

Not thread-safe on its own: :class:`~woohub.sandbox.hubspot.api.HubSpotApi` holds a lock around every call.
Record ids come from one counter shared by all object types (as HubSpot's are unique per portal in practice),
so an id of the wrong type is an unknown id, as it would be for real.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from woohub.sandbox.hubspot import schema
from woohub.sandbox.hubspot.errors import ApiError, PropertyProblem, property_errors, validation
from woohub.sandbox.hubspot.values import coerce, iso, number_text, to_number

Record = dict[str, Any]  # {"id": int, "properties": {..}, "createdAt": ms, "updatedAt": ms, "archived", "archivedAt"}

MAX_UNIQUE_PROPERTIES = 10


class Portal:
    def __init__(self) -> None:
        self.search_delay_ms = 0
        self.currencies: list[str] = ["USD"]  # the enabled currencies (a setting of the API, not state)
        # told of every create / update / archive: (kind, type, record, changed properties); webhooks.py
        self.listener: Callable[[str, str, Record, dict[str, str | None]], None] | None = None
        self.clear()

    # -- state --------------------------------------------------------------------------------------

    def clear(self) -> None:
        self.next_id = 1001
        self.records: dict[str, dict[int, Record]] = {t: {} for t in schema.OBJECT_TYPES}
        self.active: dict[str, list[int]] = {t: [] for t in schema.OBJECT_TYPES}
        self.archived: dict[str, list[int]] = {t: [] for t in schema.OBJECT_TYPES}
        self.properties: dict[str, dict[str, dict[str, Any]]] = {
            t: schema.default_properties(t) for t in schema.OBJECT_TYPES}
        self.groups: dict[str, list[dict[str, Any]]] = {
            t: [{"name": n, "label": label, "displayOrder": -1, "archived": False}
                for n, label in schema.DEFAULT_GROUPS[t]] for t in schema.OBJECT_TYPES}
        self.pipelines: list[dict[str, Any]] = [schema.default_pipeline()]
        self.unique: dict[str, dict[str, dict[str, int]]] = {t: {} for t in schema.OBJECT_TYPES}
        # (type, id) -> to type -> to id -> association type ids
        self.assoc: dict[tuple[str, int], dict[str, dict[int, set[int]]]] = {}
        # type -> id -> [(visible from ms, properties or None when archived)]: the search index's view
        self.index: dict[str, dict[int, list[tuple[int, dict[str, str] | None]]]] = {
            t: {} for t in schema.OBJECT_TYPES}
        self._rebuild_unique()

    def snapshot(self) -> dict[str, Any]:
        edges = [[ft, fid, tt, tid, sorted(types)] for (ft, fid), targets in self.assoc.items()
                 for tt, ids in targets.items() for tid, types in ids.items()]
        return {"next_id": self.next_id,
                "records": {t: list(recs.values()) for t, recs in self.records.items()},
                "properties": self.properties, "groups": self.groups, "pipelines": self.pipelines,
                "associations": edges}

    def restore(self, data: dict[str, Any]) -> None:
        self.clear()
        self.next_id = int(data["next_id"])
        self.properties = copy.deepcopy(data["properties"])
        self.groups = copy.deepcopy(data["groups"])
        self.pipelines = copy.deepcopy(data["pipelines"])
        for t, recs in data["records"].items():
            for rec in recs:
                rec = copy.deepcopy(rec)
                self.records[t][rec["id"]] = rec
                (self.archived if rec["archived"] else self.active)[t].append(rec["id"])
                self.index[t][rec["id"]] = [(0, None if rec["archived"] else dict(rec["properties"]))]
            self.active[t].sort()
            self.archived[t].sort()
        for ft, fid, tt, tid, types in data["associations"]:
            self.assoc.setdefault((ft, fid), {}).setdefault(tt, {})[tid] = set(types)
        self._rebuild_unique()

    def unique_properties(self, t: str) -> list[str]:
        names = [n for n, d in self.properties[t].items() if d.get("hasUniqueValue") and not d.get("archived")]
        return (["email"] if t == "contacts" else []) + names

    def _key(self, t: str, name: str, value: str) -> str:
        return value.lower() if (t, name) == ("contacts", "email") else value

    def _rebuild_unique(self) -> None:
        for t in schema.OBJECT_TYPES:
            self.unique[t] = {name: {} for name in self.unique_properties(t)}
            for rid in self.active[t]:
                props = self.records[t][rid]["properties"]
                for name, index in self.unique[t].items():
                    if props.get(name):
                        index.setdefault(self._key(t, name, props[name]), rid)

    # -- lookups ------------------------------------------------------------------------------------

    def get(self, t: str, rid: Any, *, archived: bool = False) -> Record | None:
        try:
            rec = self.records[t].get(int(rid))
        except (TypeError, ValueError):
            return None
        if rec is None or rec["archived"] != archived:
            return None
        return rec

    def find(self, t: str, id_property: str | None, value: Any, *, archived: bool = False) -> Record | None:
        """A record by id, or by a unique property's value when ``id_property`` is given."""
        if not id_property or id_property == "hs_object_id":
            return self.get(t, value, archived=archived)
        if id_property not in self.unique[t]:
            raise validation(f"{id_property} is not a unique property. Use a property with hasUniqueValue "
                             f"set to true as idProperty.", sub_category="INVALID_ID_PROPERTY")
        if archived:
            key = self._key(t, id_property, str(value))
            for rid in self.archived[t]:
                rec = self.records[t][rid]
                if self._key(t, id_property, rec["properties"].get(id_property) or "") == key:
                    return rec
            return None
        rid = self.unique[t][id_property].get(self._key(t, id_property, str(value)))
        return None if rid is None else self.records[t][rid]

    def page(self, t: str, after: int, limit: int, *, archived: bool = False) -> tuple[list[Record], int | None]:
        ids = (self.archived if archived else self.active)[t]
        start = bisect.bisect_left(ids, after)
        chunk = ids[start:start + limit]
        nxt = ids[start + limit] if start + limit < len(ids) else None
        return [self.records[t][i] for i in chunk], nxt

    def stages(self, pipeline_id: str) -> list[str] | None:
        for pipeline in self.pipelines:
            if pipeline["id"] == pipeline_id:
                return [s["id"] for s in pipeline["stages"] if not s.get("archived")]
        return None

    # -- writes -------------------------------------------------------------------------------------

    def validate(self, t: str, raw: Any, current: dict[str, str] | None = None) -> dict[str, str | None]:
        """The coerced values of a write's ``properties``; raises HubSpot's VALIDATION_ERROR."""
        if not isinstance(raw, dict):
            raise validation("Invalid input JSON: properties must be an object of property names to values.")
        problems: list[PropertyProblem] = []
        result: dict[str, str | None] = {}
        definitions = self.properties[t]
        for name, value in raw.items():
            definition = definitions.get(name)
            if definition is None or definition.get("archived"):
                problems.append(PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
                continue
            if definition["modificationMetadata"].get("readOnlyValue"):
                problems.append(PropertyProblem(name, "READ_ONLY_VALUE",
                                                f'"{name}" is a read only property; its value cannot be set.'))
                continue
            allowed = None
            if t == "deals" and name == "pipeline":
                allowed = [p["id"] for p in self.pipelines if not p.get("archived")]
            elif t == "deals" and name == "dealstage":
                pipeline = raw.get("pipeline") or (current or {}).get("pipeline") or "default"
                allowed = self.stages(str(pipeline)) or []
            elif name in schema.CURRENCY_PROPERTIES.get(t, ()):
                allowed = list(self.currencies)
            try:
                result[name] = coerce(definition, value, allowed=allowed)
            except PropertyProblem as problem:
                problems.append(problem)
        if problems:
            raise property_errors(problems, schema.PORTAL_ID)
        return result

    def _check_unique(self, t: str, values: dict[str, str | None], own_id: int | None) -> None:
        for name, index in self.unique[t].items():
            value = values.get(name)
            if not value:
                continue
            other = index.get(self._key(t, name, value))
            if other is None or other == own_id:
                continue
            if name == "email":
                raise ApiError(409, "CONFLICT", f"Contact already exists. Existing ID: {other}")
            raise property_errors([PropertyProblem(
                name, "INVALID_UNIQUE_VALUE",
                f'{other} already has that value. The value "{value}" of the unique property "{name}" '
                f"is in use by the {schema.OBJECT_TYPES[t][1]} {other}.")], schema.PORTAL_ID)

    def _derive(self, t: str, rid: int, props: dict[str, str], now: int) -> None:
        props["hs_object_id"] = str(rid)
        props[schema.LAST_MODIFIED[t]] = iso(now)
        if t == "deals":
            props.setdefault("pipeline", "default")
            stage = props.get("dealstage")
            if stage:
                props["hs_is_closed"] = "true" if stage in ("closedwon", "closedlost") else "false"
        if t == "contacts":
            email = props.get("email")
            if email and "@" in email:
                props["hs_email_domain"] = email.rsplit("@", 1)[1].lower()
            else:
                props.pop("hs_email_domain", None)
        if t == "line_items":
            # HubSpot's net price: quantity x (unit price - unit discount), or less hs_discount_percentage
            quantity, price = to_number(props.get("quantity") or "1"), to_number(props.get("price") or "")
            discount = to_number(props.get("discount") or "0") or Decimal(0)
            percentage = to_number(props.get("hs_discount_percentage") or "0") or Decimal(0)
            if price is not None and quantity is not None:
                unit = (price - discount) if discount else price * (1 - percentage / 100)
                props["amount"] = number_text(quantity * unit + Decimal(0))
            else:
                props.pop("amount", None)

    def _index(self, t: str, rid: int, props: dict[str, str] | None, now: int) -> None:
        versions = self.index[t].setdefault(rid, [])
        versions.append((now + self.search_delay_ms, None if props is None else dict(props)))
        # keep only what a search can still see: the newest visible version and anything newer
        while len(versions) > 1 and versions[1][0] <= now:
            versions.pop(0)

    def check_associations(self, t: str, raw: Any) -> list[tuple[str, int, list[int]]]:
        """Validate ``associations`` of a create body: ``[{to: {id}, types: [{associationCategory, ...}]}]``."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise validation("associations must be a list")
        result = []
        for item in raw:
            try:
                to_id = item["to"]["id"]
                types = [int(spec["associationTypeId"]) for spec in item["types"]]
                categories = [spec.get("associationCategory", "HUBSPOT_DEFINED") for spec in item["types"]]
            except (KeyError, TypeError, ValueError):
                raise validation("Invalid association input: each needs to.id and types[] with "
                                 "associationCategory and associationTypeId.") from None
            if not types:
                raise validation("Invalid association input: types must not be empty.")
            to_types = set()
            for type_id, category in zip(types, categories, strict=True):
                pair = schema.ASSOCIATION_BY_ID.get(type_id)
                if pair is None or pair[0] != t or category != "HUBSPOT_DEFINED":
                    raise validation(f"{category} {type_id} is not a valid association type from "
                                     f"{schema.OBJECT_TYPES[t][1]}.", sub_category="INVALID_ASSOCIATION_TYPE")
                to_types.add(pair[1])
            to_type = to_types.pop()
            target = self.get(to_type, to_id)
            if target is None:
                raise validation(f"One or more associations are invalid: {schema.OBJECT_TYPES[to_type][1]} "
                                 f"{to_id} does not exist.", context={"toObjectId": [str(to_id)]},
                                 sub_category="crm.associations.INVALID_OBJECT_IDS")
            result.append((to_type, target["id"], types))
        return result

    def create(self, t: str, raw_props: Any, now: int, associations: Any = None) -> Record:
        values = self.validate(t, raw_props)
        self._check_unique(t, values, None)
        links = self.check_associations(t, associations)
        rid = self.next_id
        self.next_id += 1
        props = {k: v for k, v in values.items() if v is not None}
        props.setdefault("createdate", iso(now))
        self._derive(t, rid, props, now)
        rec: Record = {"id": rid, "properties": props, "createdAt": now, "updatedAt": now,
                       "archived": False, "archivedAt": None}
        self.records[t][rid] = rec
        self.active[t].append(rid)
        self._add_unique(t, rec)
        for to_type, to_id, types in links:
            self.associate(t, rid, to_type, to_id, types)
        self._index(t, rid, props, now)
        if self.listener is not None:
            self.listener("creation", t, rec, {k: v for k, v in values.items() if v is not None})
        return rec

    def _add_unique(self, t: str, rec: Record) -> None:
        for name, index in self.unique[t].items():
            if rec["properties"].get(name):
                index[self._key(t, name, rec["properties"][name])] = rec["id"]

    def _drop_unique(self, t: str, rec: Record) -> None:
        for name, index in self.unique[t].items():
            value = rec["properties"].get(name)
            if value and index.get(self._key(t, name, value)) == rec["id"]:
                del index[self._key(t, name, value)]

    def update(self, t: str, rec: Record, raw_props: Any, now: int) -> Record:
        values = self.validate(t, raw_props, rec["properties"])
        self._check_unique(t, values, rec["id"])
        self._drop_unique(t, rec)
        props = rec["properties"]
        changed = {name: value for name, value in values.items() if props.get(name) != value}
        for name, value in values.items():
            if value is None:
                props.pop(name, None)
            else:
                props[name] = value
        self._derive(t, rec["id"], props, now)
        rec["updatedAt"] = now
        self._add_unique(t, rec)
        self._index(t, rec["id"], props, now)
        if self.listener is not None and changed:
            self.listener("propertyChange", t, rec, changed)
        return rec

    def archive(self, t: str, rec: Record, now: int) -> None:
        if rec["archived"]:
            return
        self._drop_unique(t, rec)
        rec["archived"], rec["archivedAt"] = True, now
        ids = self.active[t]
        ids.pop(bisect.bisect_left(ids, rec["id"]))
        bisect.insort(self.archived[t], rec["id"])
        for to_type, targets in list(self.assoc.get((t, rec["id"]), {}).items()):
            for to_id in list(targets):
                self.unassociate(t, rec["id"], to_type, to_id)
        self._index(t, rec["id"], None, now)
        if self.listener is not None:
            self.listener("deletion", t, rec, {})

    # -- associations -------------------------------------------------------------------------------

    def associate(self, ft: str, fid: int, tt: str, tid: int, types: list[int], *, replace: bool = False) -> None:
        forward = self.assoc.setdefault((ft, fid), {}).setdefault(tt, {})
        backward = self.assoc.setdefault((tt, tid), {}).setdefault(ft, {})
        if replace:
            forward[tid], backward[fid] = set(), set()
        for type_id in types:
            forward.setdefault(tid, set()).add(type_id)
            reverse = schema.ASSOCIATION_TYPES.get((tt, ft))
            if reverse is not None:
                backward.setdefault(fid, set()).add(reverse)

    def unassociate(self, ft: str, fid: int, tt: str, tid: int) -> bool:
        found = False
        for (a, aid, b, bid) in ((ft, fid, tt, tid), (tt, tid, ft, fid)):
            targets = self.assoc.get((a, aid), {}).get(b, {})
            if bid in targets:
                del targets[bid]
                found = True
        return found

    def associated(self, t: str, rid: int, to_type: str) -> dict[int, set[int]]:
        return dict(sorted(self.assoc.get((t, rid), {}).get(to_type, {}).items()))

    def searchable(self, t: str, now: int) -> Iterator[tuple[int, dict[str, str]]]:
        """The search index's view: (id, properties) of records visible to search at ``now``."""
        for rid, versions in self.index[t].items():
            props = None
            seen = False
            for visible_from, version in versions:
                if visible_from <= now:
                    props, seen = version, True
                else:
                    break
            if seen and props is not None:
                yield rid, props

    # -- output -------------------------------------------------------------------------------------

    def render(self, t: str, rec: Record, names: list[str] | None, *, props: dict[str, str] | None = None,
               history: list[str] | None = None) -> dict[str, Any]:
        """``SimplePublicObject``: requested properties (defaults when None), empty -> null, undefined omitted."""
        values = rec["properties"] if props is None else props
        definitions = self.properties[t]
        wanted = schema.DEFAULT_RETURNED[t] if not names else names
        properties = {n: values.get(n) for n in wanted if n in definitions and not definitions[n].get("archived")}
        out: dict[str, Any] = {"id": str(rec["id"]), "properties": properties, "createdAt": iso(rec["createdAt"]),
                               "updatedAt": iso(rec["updatedAt"]), "archived": rec["archived"]}
        if rec["archived"]:
            out["archivedAt"] = iso(rec["archivedAt"])
        if history:
            out["propertiesWithHistory"] = {
                n: [{"value": values[n], "timestamp": iso(rec["updatedAt"]), "sourceType": "API",
                     "sourceId": "sandbox"}] if values.get(n) is not None else []
                for n in history if n in definitions}
        return out
