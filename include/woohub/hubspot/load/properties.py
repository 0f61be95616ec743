"""The custom ``woo_*`` properties the load relies on: create them once, and check them before writing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from woohub.http.errors import FatalHTTPError
from woohub.hubspot.load.results import MissingPropertyError

if TYPE_CHECKING:
    from woohub.hubspot.hook import HubSpotHook

PropertyDefinitions = Mapping[str, Sequence[Mapping[str, Any]]] | Sequence[Mapping[str, Any]]

#: keys of a mapping YAML definition that are not part of HubSpot's PropertyCreate body
_NOT_SENT = frozenset({"objectType", "object_type"})


def definitions_by_object_type(definitions: PropertyDefinitions) -> dict[str, list[dict[str, Any]]]:
    """``object_type -> [definition, ...]`` from that mapping itself or from a flat list of definitions
    that name their ``objectType``."""
    if isinstance(definitions, Mapping):
        return {str(t): [dict(d) for d in defs] for t, defs in definitions.items()}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for definition in definitions:
        object_type = definition.get("objectType") or definition.get("object_type")
        if not object_type:
            raise ValueError(f"property definition {definition.get('name')!r} does not name its objectType")
        grouped.setdefault(str(object_type), []).append(dict(definition))
    return grouped


def ensure_custom_properties(hook: HubSpotHook, definitions: PropertyDefinitions, *,
                             dry_run: bool = False) -> list[str]:
    """Create every defined property that HubSpot does not have yet; return the names created (with
    ``dry_run``: the names that would be created, creating nothing).

    Idempotent and cheap: one list call per object type finds what exists (no 404 per missing property in
    the logs), then one create per missing property. A definition's ``objectType`` key is not sent.

    :raises MissingPropertyError: when a property that must hold unique values exists without them (HubSpot
        cannot change ``hasUniqueValue`` after creation, so a person has to rename or delete it)
    """
    created: list[str] = []
    for object_type, object_definitions in definitions_by_object_type(definitions).items():
        existing = {p["name"]: p for p in hook.request("GET", f"/crm/v3/properties/{object_type}").json()["results"]}
        for definition in object_definitions:
            body = {k: v for k, v in definition.items() if k not in _NOT_SENT}
            have = existing.get(body["name"])
            if have is None:
                if dry_run:
                    created.append(str(body["name"]))
                elif hook.create_property(object_type, body):
                    created.append(str(body["name"]))
            elif body.get("hasUniqueValue") and not have.get("hasUniqueValue"):
                raise MissingPropertyError(
                    f"HubSpot {object_type} property {body['name']!r} exists without unique values; the sync "
                    "upserts by it, so it must be created with hasUniqueValue (rename or delete the old one)")
    return created


#: attribute of a hook holding the ``(object_type, name)`` pairs :func:`require_unique_property` confirmed
_CONFIRMED = "_woohub_unique_properties_confirmed"


def require_unique_property(hook: HubSpotHook, object_type: str, name: str) -> None:
    """Check that ``name`` exists on ``object_type`` with unique values, as upserts by it need (one read
    per hook: a load that runs chunk by chunk checks once; a property cannot lose ``hasUniqueValue``).

    :raises MissingPropertyError: when it is missing or not unique
    """
    confirmed: set[tuple[str, str]] = hook.__dict__.setdefault(_CONFIRMED, set())
    if (object_type, name) in confirmed:
        return
    try:
        definition = hook.request("GET", f"/crm/v3/properties/{object_type}/{name}").json()
    except FatalHTTPError as error:
        if error.status == 404:
            raise MissingPropertyError(
                f"HubSpot has no {object_type} property {name!r}; run ensure_custom_properties before loading"
            ) from None
        raise
    if not definition.get("hasUniqueValue"):
        raise MissingPropertyError(
            f"HubSpot {object_type} property {name!r} exists but does not have "
            f"unique values, so records cannot be upserted by it"
        )
    confirmed.add((object_type, name))
