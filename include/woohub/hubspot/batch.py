"""HubSpot batch calls: chunking to the endpoint's limit, splitting chunks HubSpot rejects as a whole, and
turning 200/201/207 answers into one :class:`RecordOutcome` per input.

HubSpot returns ``results`` and ``errors`` in no particular order, so nothing here relies on position: a
result is matched to its input by identity (:class:`Identity`: the create's echoed ``objectWriteTraceId``,
the upsert's ``idProperty`` value, the record id, the association's from/to ids), compared first as sent
and then the way HubSpot may store it (trimmed, lower-cased, numbers in canonical form). Errors are matched
through the inputs they name in ``errors[].context``. An input that neither a result nor an error names gets
an ``UNREPORTED`` failure, so the caller always gets exactly one outcome per input.

Whole-request rejections: HubSpot answers some batches with a 400 (``VALIDATION_ERROR``: an invalid or
unknown property, an enumeration value that is not an option, duplicate ids) or a 409 (``CONFLICT``: a
unique value already taken) for the whole batch when one input is bad, and then applies nothing. Such a
chunk is split (:func:`settle_rejected`): the first half is sent; if it is accepted the rejection lies in the
second half, which is split again without being sent; if it is rejected the search goes on in it and the
second half waits (as it does when the first half fails otherwise). The bad input, once alone, is failed
with HubSpot's answer to it alone (sent once more if it was only inferred: a rejection can depend on the
batch, e.g. the same id twice), so it carries its own code and message; then the waiting halves go out
together in one call (split the same way if that is rejected too). One bad input in 100 costs about
log2(100) + 2 extra calls. A chunk in which no part is accepted through two searches is rejected for
the request, not for an input (e.g. an ``idProperty`` that is not unique): its inputs all get that error,
instead of costing a call per input.
Only 400 and 409 are split: after any other failure (an ``AMBIGUOUS_WRITE`` above all) nothing is re-sent.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

from woohub.http.errors import AmbiguousWriteError, AuthenticationError, DailyLimitError, FatalHTTPError
from woohub.http.outcomes import RecordOutcome

if TYPE_CHECKING:
    from woohub.hubspot.hook import HubSpotHook

log = logging.getLogger(__name__)

KeyOf = Callable[[Mapping[str, Any]], str | None]
Pair = tuple[Mapping[str, Any], str]  # (input, the caller's key)
Sent = Literal["answered", "failed"]

#: statuses with which HubSpot rejects a whole batch without applying any of it
WHOLE_REJECTION_STATUSES = frozenset({400, 409})
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")


def stored_form(value: Any) -> str:
    """``value`` the way HubSpot stores and returns it, for matching: a trimmed, lower-cased string, numbers
    without leading zeros, trailing fractional zeros or exponent (``"1.50"`` -> ``"1.5"``)."""
    text = str(value).strip().lower()
    if not _NUMBER.match(text):
        return text
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


@dataclass(frozen=True)
class Identity:
    """How one batch endpoint's results and errors name their inputs.

    :param of_result: the input key a result names (``None``: it names none)
    :param aliases: other names of keys in error contexts (create: ``objectWriteTraceId -> key``)
    :param sides: for association keys, ``key -> (from id, to id)``, so an error naming one object
        (``context.fromObjectId``/``toObjectId``) fails the pairs with that object on that side
    """

    of_result: KeyOf
    aliases: Mapping[str, str] = field(default_factory=dict)
    sides: Callable[[str], tuple[str, str]] | None = None


def upsert_input(id_property: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """An upsert input from a property dict that holds the ``id_property`` value."""
    if record.get(id_property) in (None, ""):
        raise ValueError(f"every upsert record needs a value for {id_property!r}")
    return {"id": str(record[id_property]), "idProperty": id_property, "properties": dict(record)}


def create_inputs(records: Sequence[Mapping[str, Any]], key_property: str | None,
                  run_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Create inputs (plain properties, or ``properties`` plus ``associations``) and their keys. Every input
    carries an ``objectWriteTraceId``: the caller's key (the ``key_property`` value, else
    ``<run_id>-<position>`` with the position as key), made unique within the call when keys repeat."""
    inputs, keys, seen = [], [], set()
    for n, record in enumerate(records):
        data = dict(record) if isinstance(record.get("properties"), Mapping) else {"properties": dict(record)}
        key = str(data["properties"][key_property]) if key_property else str(n)
        trace = key if key_property else f"{run_id}-{n}"
        if trace in seen:
            trace = f"{trace}#{n}"
        seen.add(trace)
        inputs.append({**data, "objectWriteTraceId": trace})
        keys.append(key)
    return inputs, keys


def update_input(record: Mapping[str, Any], id_property: str | None) -> dict[str, Any]:
    """An update input ``{"id", "properties"}`` (plus ``idProperty`` when ids are unique values)."""
    data = {"id": str(record["id"]), "properties": dict(record["properties"])}
    return {**data, "idProperty": id_property} if id_property else data


def upsert_key(id_property: str) -> KeyOf:
    """The ``id_property`` value in an upsert (or update by unique value) result's properties."""
    def key_of(result: Mapping[str, Any]) -> str | None:
        value = (result.get("properties") or {}).get(id_property)
        return str(value) if value is not None else None
    return key_of


def create_identity(inputs: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> Identity:
    """Create results and errors name their input by the ``objectWriteTraceId`` it carried."""
    by_trace = {str(i["objectWriteTraceId"]): key for i, key in zip(inputs, keys, strict=True)}
    return Identity(lambda result: by_trace.get(str(result.get("objectWriteTraceId"))), aliases=by_trace)


def update_key(id_property: str | None) -> KeyOf:
    """The id (or ``id_property`` value) of an update/archive result."""
    if id_property:
        return upsert_key(id_property)
    return lambda result: str(result["id"]) if result.get("id") is not None else None


def association_key(from_id: Any, to_id: Any) -> str:
    """The outcome key of the association ``from_id -> to_id``."""
    return f"{from_id}-{to_id}"


def association_identity() -> Identity:
    """Associations v4 batch-create results name ``fromObjectId``/``toObjectId``; errors one of them."""
    def of_result(result: Mapping[str, Any]) -> str | None:
        if result.get("fromObjectId") is None or result.get("toObjectId") is None:
            return None
        return association_key(result["fromObjectId"], result["toObjectId"])

    def sides(key: str) -> tuple[str, str]:
        from_id, _, to_id = key.partition("-")
        return from_id, to_id
    return Identity(of_result, sides=sides)


# -- sending ---------------------------------------------------------------------------------------------


@dataclass
class _Rejection:
    """A whole-batch 400/409: HubSpot applied none of the inputs."""

    status: int
    code: str
    message: str


class _Chunk:
    """One chunk's calls: sends parts of it and books their outcomes."""

    def __init__(self, hook: HubSpotHook, path: str, identity: Identity, *, idempotent: bool,
                 created: bool | None) -> None:
        self.hook, self.path, self.identity = hook, path, identity
        self.idempotent, self.created = idempotent, created
        self.outcomes: dict[str, RecordOutcome] = {}
        self.calls = self.accepted = self.rejected = 0

    def send(self, pairs: Sequence[Pair]) -> _Rejection | Sent:
        """POST ``pairs``; book their outcomes (``"answered"``, or ``"failed"`` when the call failed in a
        way that is not split, e.g. an ambiguous create), unless HubSpot rejected them as a whole with 400/409:
        then return that rejection."""
        keys = [key for _, key in pairs]
        self.calls += 1
        try:
            response = self.hook.request("POST", self.path, json={"inputs": [i for i, _ in pairs]},
                                         idempotent=self.idempotent)
        except (AuthenticationError, DailyLimitError):
            raise
        except FatalHTTPError as error:
            code = "AMBIGUOUS_WRITE" if isinstance(error, AmbiguousWriteError) else (error.category or
                                                                                     f"HTTP_{error.status}")
            if error.status in WHOLE_REJECTION_STATUSES and not isinstance(error, AmbiguousWriteError):
                self.rejected += 1
                return _Rejection(int(error.status), code, error.message)
            self.outcomes.update((k, RecordOutcome.failure(k, code, error.message)) for k in keys)
            return "failed"
        self.accepted += 1
        body = response.json() if response.content else {}
        self.outcomes.update((o.key, o) for o in chunk_outcomes(keys, body, self.identity, self.created))
        return "answered"

    def fail(self, pairs: Sequence[Pair], rejection: _Rejection) -> None:
        self.outcomes.update((k, RecordOutcome.failure(k, rejection.code, rejection.message)) for _, k in pairs)


def settle_rejected(chunk: _Chunk, pairs: list[Pair], rejection: _Rejection) -> None:
    """Split ``pairs``, rejected as a whole with ``rejection``, until each bad input stands alone; send the
    rest (see the module docstring). Every input of ``pairs`` ends up with an outcome in ``chunk``."""
    waiting: list[Pair] = []
    size, search_depth = len(pairs), math.ceil(math.log2(max(len(pairs), 2))) + 1
    while True:
        group: list[Pair] | None = pairs
        sent_as_is = True  # whether ``rejection`` was HubSpot's answer to exactly ``group``
        while group is not None and len(group) > 1:  # ``group`` holds a bad input, ``rejection`` names one
            half = len(group) // 2
            left, right = group[:half], group[half:]
            sent = chunk.send(left)
            if isinstance(sent, _Rejection):
                waiting.extend(right)
                group, rejection, sent_as_is = left, sent, True
            elif sent == "answered":
                group, sent_as_is = right, False
            else:  # failed for another reason: nothing is known about the right half now, it waits
                waiting.extend(right)
                group = None
        if group is not None and not sent_as_is:
            # inferred, not seen: a rejection can depend on the batch (the same id twice, one unique value
            # in two inputs), so the input alone is sent once before it is failed
            sent = chunk.send(group)
            group, rejection = (group, sent) if isinstance(sent, _Rejection) else (None, rejection)
        if group is not None:
            chunk.fail(group, rejection)
        if not waiting:
            return
        if chunk.accepted == 0 and chunk.rejected > search_depth:
            log.warning("HubSpot rejected every part of a batch of %d on %s (%s: %s); a request error, not "
                        "an input's: not splitting further", size, chunk.path, rejection.code,
                        rejection.message[:200])
            chunk.fail(waiting, rejection)
            return
        pairs, waiting = waiting, []
        sent = chunk.send(pairs)
        if not isinstance(sent, _Rejection):
            return
        rejection = sent


def run_chunks(hook: HubSpotHook, path: str, inputs: Sequence[Mapping[str, Any]], keys: Sequence[str],
               identity: Identity, *, idempotent: bool, chunk_size: int = 100) -> list[RecordOutcome]:
    """POST ``inputs`` in chunks; one outcome per input, in input order. A chunk HubSpot rejects as a whole
    with 400/409 is split until each bad input has its own error; other failures give each input of the
    chunk that failure (an ambiguous create is never re-sent); auth and daily-limit errors raise."""
    created = None if "archive" in path or "associations" in path else "create" in path
    outcomes: dict[str, RecordOutcome] = {}
    pairs = list(zip(inputs, keys, strict=True))
    for start in range(0, len(pairs), chunk_size):
        part = pairs[start:start + chunk_size]
        chunk = _Chunk(hook, path, identity, idempotent=idempotent, created=created)
        rejection = chunk.send(part)
        if isinstance(rejection, _Rejection):
            settle_rejected(chunk, part, rejection)
            failed = sum(not o.ok for _, k in part if (o := chunk.outcomes.get(k)) is not None)
            log.info("HubSpot rejected a batch of %d on %s as a whole (%s); split it in %d extra calls: "
                     "%d inputs failed, %d loaded", len(part), path, rejection.code, chunk.calls - 1, failed,
                     len(part) - failed)
        outcomes.update(chunk.outcomes)
    return [outcomes.get(k) or _unreported(k) for k in keys]


# -- matching answers to inputs --------------------------------------------------------------------------


def chunk_outcomes(keys: Sequence[str], body: Mapping[str, Any], identity: Identity,
                   created: bool | None) -> list[RecordOutcome]:
    """One outcome per key from a batch response body (empty body: every input succeeded), matched by
    identity only: results through ``identity.of_result``, errors through the inputs their context names."""
    if not body:
        return [RecordOutcome(key=k, ok=True, created=created) for k in keys]
    index = _KeyIndex(keys)
    found: dict[str, RecordOutcome] = {}
    for result in body.get("results") or []:
        name = identity.of_result(result)
        key = index.claim(name) if name is not None else None
        if key is not None:
            found[key] = _success(key, result, created)
    for error in body.get("errors") or []:
        code = str(error.get("category") or error.get("subCategory") or "ERROR")
        message = str(error.get("message") or "")
        for key in _named_by(error, index, identity):
            if key not in found:
                found[key] = RecordOutcome.failure(key, code, message)
    return [found.get(k) or _unreported(k) for k in keys]


class _KeyIndex:
    """Finds the input key a name refers to: as sent first, then in HubSpot's stored form."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.exact = set(keys)
        self.stored: dict[str, list[str]] = {}
        for key in dict.fromkeys(keys):
            self.stored.setdefault(stored_form(key), []).append(key)
        self.claimed: set[str] = set()

    def find(self, name: str) -> list[str]:
        if name in self.exact:
            return [name]
        return self.stored.get(stored_form(name), [])

    def claim(self, name: str) -> str | None:
        """The first not yet claimed key ``name`` refers to (a result names one input)."""
        for key in self.find(name):
            if key not in self.claimed:
                self.claimed.add(key)
                return key
        return None


def in_requested_order(ids: Sequence[str], results: Sequence[Mapping[str, Any]],
                       key_of: KeyOf) -> list[dict[str, Any]]:
    """Batch-read ``results`` in the order of the requested ``ids`` (each result matched by ``key_of``);
    results that name no requested id come last, none is dropped."""
    index = _KeyIndex(ids)
    by_key: dict[str, dict[str, Any]] = {}
    unnamed: list[dict[str, Any]] = []
    for result in results:
        name = key_of(result)
        key = index.claim(name) if name is not None else None
        if key is None:
            unnamed.append(dict(result))
        else:
            by_key[key] = dict(result)
    return [by_key[i] for i in dict.fromkeys(ids) if i in by_key] + unnamed


def _named_by(error: Mapping[str, Any], index: _KeyIndex, identity: Identity) -> list[str]:
    """The input keys an error's ``context`` names (by key, alias or, for associations, one side)."""
    named: list[str] = []
    for name, values in (error.get("context") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            text = identity.aliases.get(str(value), str(value))
            named.extend(index.find(text))
            if identity.sides is not None:
                named.extend(_by_side(str(name), str(value), index, identity.sides))
    return list(dict.fromkeys(named))


def _by_side(context_name: str, value: str, index: _KeyIndex,
             sides: Callable[[str], tuple[str, str]]) -> list[str]:
    lowered = context_name.lower()
    wanted = [0] if lowered.startswith("from") else [1] if lowered.startswith("to") else [0, 1]
    target = stored_form(value)
    return [key for key in index.exact if any(stored_form(sides(key)[side]) == target for side in wanted)]


def _success(key: str, result: Mapping[str, Any], created: bool | None) -> RecordOutcome:
    new = result.get("new")
    record_id = result.get("id") or result.get("fromObjectId")
    return RecordOutcome(key=key, ok=True, id=str(record_id) if record_id is not None else None,
                         created=bool(new) if new is not None else created)


def _unreported(key: str) -> RecordOutcome:
    return RecordOutcome.failure(key, "UNREPORTED", "the response did not mention this input")
