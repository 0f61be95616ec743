"""HubSpot batch calls: chunking to the endpoint's limit and turning 200/201/207 answers into one
:class:`RecordOutcome` per input.

A result is matched to its input by a key function (the upsert's unique value, the create's
``objectWriteTraceId``, the record id); errors are matched through the input keys they name in
``errors[].context``. Inputs that neither a result nor an error names get an ``UNREPORTED`` failure, so
the caller always gets exactly one outcome per input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from woohub.http.errors import AmbiguousWriteError, AuthenticationError, DailyLimitError, FatalHTTPError
from woohub.http.outcomes import RecordOutcome

if TYPE_CHECKING:
    from woohub.hubspot.hook import HubSpotHook

KeyOf = Callable[[Mapping[str, Any]], str | None]


def upsert_input(id_property: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """An upsert input from a property dict that holds the ``id_property`` value."""
    if record.get(id_property) in (None, ""):
        raise ValueError(f"every upsert record needs a value for {id_property!r}")
    return {"id": str(record[id_property]), "idProperty": id_property, "properties": dict(record)}


def create_input(record: Mapping[str, Any], key_property: str | None, trace_id: str) -> dict[str, Any]:
    """A create input (plain properties, or ``properties`` plus ``associations``) with a trace id."""
    data = dict(record) if isinstance(record.get("properties"), Mapping) else {"properties": dict(record)}
    trace = str(data["properties"][key_property]) if key_property else trace_id
    return {**data, "objectWriteTraceId": trace}


def update_input(record: Mapping[str, Any], id_property: str | None) -> dict[str, Any]:
    """An update input ``{"id", "properties"}`` (plus ``idProperty`` when ids are unique values)."""
    data = {"id": str(record["id"]), "properties": dict(record["properties"])}
    return {**data, "idProperty": id_property} if id_property else data


def upsert_key(id_property: str) -> KeyOf:
    """The upsert result's unique value (its id when upserting by ``hs_object_id``)."""
    def key_of(result: Mapping[str, Any]) -> str | None:
        value = (result.get("properties") or {}).get(id_property)
        return str(value) if value is not None else None
    return key_of


def create_key(inputs: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> KeyOf:
    """The caller's key of a create result, through its ``objectWriteTraceId`` when echoed."""
    by_trace = {str(i["objectWriteTraceId"]): key for i, key in zip(inputs, keys, strict=True)}
    return lambda result: by_trace.get(str(result.get("objectWriteTraceId")))


def update_key(id_property: str | None) -> KeyOf:
    """The id (or ``id_property`` value) of an update/archive result."""
    if id_property:
        return upsert_key(id_property)
    return lambda result: str(result["id"]) if result.get("id") is not None else None


def association_key(result: Mapping[str, Any]) -> str | None:
    """``"<from id>-<to id>"`` of an associations v4 batch-create result."""
    if "fromObjectId" in result:
        return f"{result['fromObjectId']}-{result['toObjectId']}"
    return None


def run_chunks(hook: HubSpotHook, path: str, inputs: Sequence[Mapping[str, Any]], keys: Sequence[str],
               key_of: KeyOf, *, idempotent: bool, chunk_size: int = 100) -> list[RecordOutcome]:
    """POST ``inputs`` in chunks; one outcome per input, in input order. A chunk the API rejects as a whole
    (or that failed ambiguously) gives each of its inputs a failure; auth and daily-limit errors raise."""
    created = None if "archive" in path or "associations" in path else "create" in path
    aliases = {str(i.get("objectWriteTraceId")): k for i, k in zip(inputs, keys, strict=True)
               if "objectWriteTraceId" in i}
    outcomes: list[RecordOutcome] = []
    for start in range(0, len(inputs), chunk_size):
        chunk, chunk_keys = list(inputs[start:start + chunk_size]), list(keys[start:start + chunk_size])
        try:
            response = hook.request("POST", path, json={"inputs": chunk}, idempotent=idempotent)
        except (AuthenticationError, DailyLimitError):
            raise
        except FatalHTTPError as error:
            code = "AMBIGUOUS_WRITE" if isinstance(error, AmbiguousWriteError) else (error.category or
                                                                                     f"HTTP_{error.status}")
            outcomes.extend(RecordOutcome.failure(k, code, error.message) for k in chunk_keys)
            continue
        body = response.json() if response.content else {}
        outcomes.extend(chunk_outcomes(chunk_keys, body, key_of, aliases, created))
    return outcomes


def chunk_outcomes(keys: list[str], body: Mapping[str, Any], key_of: KeyOf, aliases: Mapping[str, str],
                   created: bool | None) -> list[RecordOutcome]:
    """One outcome per key from a batch response body (empty body: every input succeeded)."""
    if not body:
        return [RecordOutcome(key=k, ok=True, created=created) for k in keys]
    by_key = _errors_by_key(body.get("errors") or [], set(keys), aliases)
    unmatched: list[Mapping[str, Any]] = []
    for result in body.get("results") or []:
        key = key_of(result)
        if key in by_key or key not in keys:
            unmatched.append(result)
        else:
            by_key[key] = _success(key, result, created)
    waiting = [k for k in keys if k not in by_key]
    for key, result in zip(waiting, unmatched, strict=False):  # results that do not name their input
        by_key[key] = _success(key, result, created)
    return [by_key.get(k) or RecordOutcome.failure(k, "UNREPORTED", "the response did not mention this input")
            for k in keys]


def _success(key: str, result: Mapping[str, Any], created: bool | None) -> RecordOutcome:
    new = result.get("new")
    record_id = result.get("id") or result.get("fromObjectId")
    return RecordOutcome(key=key, ok=True, id=str(record_id) if record_id is not None else None,
                         created=bool(new) if new is not None else created)


def _errors_by_key(errors: Sequence[Mapping[str, Any]], keys: set[str],
                   aliases: Mapping[str, str]) -> dict[str, RecordOutcome]:
    """Failures for the inputs each error's ``context`` names (by key or trace id)."""
    failed: dict[str, RecordOutcome] = {}
    for error in errors:
        code = str(error.get("category") or error.get("subCategory") or "ERROR")
        message = str(error.get("message") or "")
        for values in (error.get("context") or {}).values():
            for value in values if isinstance(values, list) else [values]:
                key = aliases.get(str(value), str(value))
                if key in keys:
                    failed[key] = RecordOutcome.failure(key, code, message)
    return failed
