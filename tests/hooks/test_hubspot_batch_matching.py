"""HubSpotHook batch answers matched to their inputs by identity only: one request each (requests_mock at
the network edge), answered with HubSpot-shaped bodies whose results come back in reverse order."""

from __future__ import annotations

import pytest

from tests.hooks.conftest import MakeConnection
from tests.hooks.policies import FAST_RETRIES
from woohub.hubspot import HubSpotHook

BASE = "https://api.hubapi.test"


@pytest.fixture
def hook(make_connection: MakeConnection) -> HubSpotHook:
    conn_id = make_connection("hs_matching", host="api.hubapi.test", schema="https", password="pat-secret-token",
                              extra={"rate_limits_enabled": False})
    return HubSpotHook(conn_id, retry_policy=FAST_RETRIES)


def _record(record_id: str, properties: dict[str, str | None], **extra: object) -> dict[str, object]:
    """A ``SimplePublicObject`` as HubSpot returns it."""
    return {"id": record_id, "properties": properties, "createdAt": "2026-11-02T10:00:00.000Z",
            "updatedAt": "2026-11-02T10:00:00.000Z", "archived": False, **extra}


def _batch(results: list[dict[str, object]], errors: list[dict[str, object]] | None = None) -> dict[str, object]:
    body: dict[str, object] = {"status": "COMPLETE", "results": results, "startedAt": "2026-11-02T10:00:00.000Z",
                               "completedAt": "2026-11-02T10:00:00.100Z"}
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    return body


def test_upsert_results_in_reverse_order_are_matched_by_the_stored_id_property_value(hook, requests_mock) -> None:
    records = [{"woo_sku": "A-1", "price": "1"}, {"woo_sku": "0042", "price": "2"}, {"woo_sku": "c-3", "price": "3"},
               {"woo_sku": "never-answered", "price": "4"}]
    # HubSpot answers the upserts in its own order and returns values as it stores them (a number property
    # without leading zeros, a normalised case); the fourth input is mentioned nowhere
    body = _batch([_record("903", {"woo_sku": "C-3", "price": "3"}, new=True),
                   _record("902", {"woo_sku": "42", "price": "2"}, new=False),
                   _record("901", {"woo_sku": "A-1", "price": "1"}, new=True)])
    requests_mock.post(f"{BASE}/crm/v3/objects/products/batch/upsert", json=body)
    outcomes = hook.batch_upsert("products", "woo_sku", records)
    assert [(o.key, o.ok, o.id, o.created, o.error_code) for o in outcomes] == [
        ("A-1", True, "901", True, None), ("0042", True, "902", False, None), ("c-3", True, "903", True, None),
        ("never-answered", False, None, None, "UNREPORTED")]


def test_create_results_and_errors_in_reverse_order_are_matched_by_object_write_trace_id(hook, requests_mock) -> None:
    def answer(request, context):
        traces = [i["objectWriteTraceId"] for i in request.json()["inputs"]]
        context.status_code = 207
        return _batch([_record(str(700 + n), {"email": f"u{n}@x.io"}, objectWriteTraceId=trace)
                       for n, trace in reversed(list(enumerate(traces))) if n != 1],
                      [{"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid",
                        "context": {"objectWriteTraceId": [traces[1]]}, "errors": [], "links": {}}])
    requests_mock.post(f"{BASE}/crm/v3/objects/contacts/batch/create", json=answer)
    outcomes = hook.batch_create("contacts", [{"email": f"u{n}@x.io"} for n in range(4)], key_property="email")
    sent = requests_mock.last_request.json()["inputs"]
    assert [i["objectWriteTraceId"] for i in sent] == [f"u{n}@x.io" for n in range(4)]  # the caller's keys
    assert [(o.key, o.ok, o.id, o.error_code) for o in outcomes] == [
        ("u0@x.io", True, "700", None), ("u1@x.io", False, None, "VALIDATION_ERROR"),
        ("u2@x.io", True, "702", None), ("u3@x.io", True, "703", None)]


def test_create_results_without_their_trace_id_are_not_guessed_by_position(hook, requests_mock) -> None:
    requests_mock.post(f"{BASE}/crm/v3/objects/contacts/batch/create", status_code=201,
                       json=_batch([_record("1", {"email": "a@x.io"}), _record("2", {"email": "b@x.io"})]))
    outcomes = hook.batch_create("contacts", [{"email": "a@x.io"}, {"email": "b@x.io"}])
    assert [o.error_code for o in outcomes] == ["UNREPORTED", "UNREPORTED"]


def test_update_and_read_results_in_reverse_order_are_matched_by_id(hook, requests_mock) -> None:
    requests_mock.post(f"{BASE}/crm/v3/objects/deals/batch/update", json=_batch(
        [_record("12", {"amount": "20"}), _record("11", {"amount": "10"})],
        [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some DEAL objects",
          "context": {"ids": ["13"]}, "errors": [], "links": {}}]), status_code=207)
    outcomes = hook.batch_update("deals", [{"id": i, "properties": {"amount": "1"}} for i in ("11", "12", "13")])
    assert [(o.key, o.ok, o.id, o.error_code) for o in outcomes] == [
        ("11", True, "11", None), ("12", True, "12", None), ("13", False, None, "OBJECT_NOT_FOUND")]
    requests_mock.post(f"{BASE}/crm/v3/objects/contacts/batch/read", json=_batch(
        [_record("33", {"email": "c@x.io"}), _record("31", {"email": "a@x.io"})]))
    found = hook.batch_read("contacts", ["A@X.io", "b@x.io", "c@x.io"], properties=["firstname"],
                            id_property="email")
    assert [r["id"] for r in found] == ["31", "33"]  # in the order asked for; the missing one left out
    assert requests_mock.last_request.json()["properties"] == ["firstname", "email"]  # to match by it


def test_association_results_in_reverse_order_are_matched_by_from_and_to_ids(hook, requests_mock) -> None:
    pair = {"fromObjectTypeId": "0-3", "toObjectTypeId": "0-1", "labels": []}
    requests_mock.post(f"{BASE}/crm/v4/associations/deals/contacts/batch/create", status_code=207, json=_batch(
        [{**pair, "fromObjectId": 5, "toObjectId": 9}, {**pair, "fromObjectId": 4, "toObjectId": 8}],
        [{"status": "error", "category": "VALIDATION_ERROR", "message": "No contact with id 77 exists.",
          "subCategory": "crm.associations.INVALID_OBJECT_IDS", "context": {"toObjectId": ["77"]},
          "errors": [], "links": {}}]))
    outcomes = hook.batch_associate("deals", "contacts", [("4", "8"), ("5", "9"), ("6", "77"), ("77", "10")],
                                    association_type_id=3)
    assert [(o.key, o.ok, o.error_code) for o in outcomes] == [
        ("4-8", True, None), ("5-9", True, None), ("6-77", False, "VALIDATION_ERROR"),
        ("77-10", False, "UNREPORTED")]  # the error names contact 77, not deal 77


def test_a_whole_batch_rejection_is_split_and_an_ambiguous_part_is_not_resent(hook, requests_mock) -> None:
    def answer(request, context):
        inputs = request.json()["inputs"]
        emails = [i["properties"]["email"] for i in inputs]
        if "bad@x.io" in emails:
            context.status_code = 400
            return {"status": "error", "category": "VALIDATION_ERROR", "correlationId": "c0ffee00-0000-4000-8000-0",
                    "message": "Property values were not valid: bad@x.io"}
        if "e3@x.io" in emails:  # the call with this input dies on the server: it may have been applied
            context.status_code = 502
            return {"status": "error", "category": "BAD_GATEWAY", "message": "bad gateway"}
        context.status_code = 201
        return _batch([_record(e.split("@")[0][1:], {"email": e}, objectWriteTraceId=i["objectWriteTraceId"])
                       for e, i in zip(emails, inputs, strict=True)][::-1])
    requests_mock.post(f"{BASE}/crm/v3/objects/contacts/batch/create", json=answer)
    emails = [f"e{n}@x.io" for n in range(8)]
    emails[6] = "bad@x.io"
    outcomes = {o.key: o for o in hook.batch_create("contacts", [{"email": e} for e in emails],
                                                    key_property="email")}
    sent = [[i["properties"]["email"] for i in r.json()["inputs"]] for r in requests_mock.request_history]
    # whole (rejected), left half (502: ambiguous, never re-sent), right half (rejected), its halves
    assert sent == [emails, emails[:4], emails[4:], emails[4:6], emails[6:7], emails[7:]]
    assert {k: o.error_code for k, o in outcomes.items() if not o.ok} == {
        **{e: "AMBIGUOUS_WRITE" for e in emails[:4]}, "bad@x.io": "VALIDATION_ERROR"}
    assert outcomes["bad@x.io"].error_message == "Property values were not valid: bad@x.io"
    assert [outcomes[e].id for e in ("e4@x.io", "e5@x.io", "e7@x.io")] == ["4", "5", "7"]


def test_a_rejection_caused_by_two_inputs_together_fails_no_input_that_is_good_alone(hook, requests_mock) -> None:
    def answer(request, context):
        ids = [i["id"] for i in request.json()["inputs"]]
        if len(ids) != len(set(ids)):
            context.status_code = 400
            return {"status": "error", "category": "VALIDATION_ERROR", "correlationId": "c0ffee00-0000-4000-8000-1",
                    "message": f"Duplicate IDs found in batch input: {sorted(set(ids))}. IDs must be unique"}
        return _batch([_record(i, {"amount": "1"}) for i in reversed(ids)])
    requests_mock.post(f"{BASE}/crm/v3/objects/deals/batch/update", json=answer)
    outcomes = hook.batch_update("deals", [{"id": i, "properties": {"amount": "1"}} for i in ("1", "2", "1", "3")])
    sent = [[i["id"] for i in r.json()["inputs"]] for r in requests_mock.request_history]
    assert sent == [["1", "2", "1", "3"], ["1", "2"], ["1"], ["3"]]  # "3" is tried alone before it is failed
    assert [(o.key, o.ok) for o in outcomes] == [("1", True), ("2", True), ("1", True), ("3", True)]
