"""HubSpot sandbox: batch read/create/update/upsert/archive, limits, 207 multi-status and upsert ``new``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.sandbox._hubspot import HubSpot, assert_error, assert_record, assert_schema, empty_portal

UNIQUE = {"groupName": "dealinformation", "name": "woo_order_id", "label": "WooCommerce order ID",
          "type": "string", "fieldType": "text", "hasUniqueValue": True}


@pytest.fixture
def hs(sandbox: Any) -> Iterator[HubSpot]:
    yield from empty_portal(sandbox)


def test_batch_create_201_and_limit(hs: HubSpot) -> None:
    response = hs.post("/crm/v3/objects/products/batch/create",
                       {"inputs": [{"properties": {"name": f"P{i}", "price": i}} for i in range(100)]})
    assert response.status_code == 201
    body = response.json()
    assert_schema(body, "BatchResponse")
    assert body["status"] == "COMPLETE" and len(body["results"]) == 100
    for record in body["results"]:
        assert_record(record)
    too_many = hs.post("/crm/v3/objects/products/batch/create",
                       {"inputs": [{"properties": {"name": "x"}}] * 101})
    assert_error(too_many, 400, "VALIDATION_ERROR")


def test_batch_create_without_trace_ids_fails_whole_batch(hs: HubSpot) -> None:
    hs.create("contacts", {"email": "taken@example.com"})
    response = hs.post("/crm/v3/objects/contacts/batch/create", {"inputs": [
        {"properties": {"email": "new1@example.com"}}, {"properties": {"email": "TAKEN@example.com"}}]})
    body = assert_error(response, 409, "CONFLICT")
    assert re.search(r"Existing ID: \d+", body["message"])
    assert len(hs.get("/crm/v3/objects/contacts").json()["results"]) == 1  # nothing from the batch was written
    bad_prop = hs.post("/crm/v3/objects/contacts/batch/create", {"inputs": [
        {"properties": {"email": "new2@example.com"}}, {"properties": {"bogus": "1"}}]})
    assert_error(bad_prop, 400, "VALIDATION_ERROR")
    twice = hs.post("/crm/v3/objects/contacts/batch/create", {"inputs": [
        {"properties": {"email": "same@example.com"}}, {"properties": {"email": "Same@example.com"}}]})
    assert twice.status_code == 400


def test_batch_create_with_trace_ids_is_multi_status(hs: HubSpot) -> None:
    response = hs.post("/crm/v3/objects/contacts/batch/create", {"inputs": [
        {"properties": {"email": "ok@example.com"}, "objectWriteTraceId": "t-ok"},
        {"properties": {"bogus": "1"}, "objectWriteTraceId": "t-bad"}]})
    assert response.status_code == 207
    body = response.json()
    assert_schema(body, "BatchResponseWithErrors")
    assert body["numErrors"] == 1 and len(body["results"]) == 1
    assert body["results"][0]["objectWriteTraceId"] == "t-ok"
    error = body["errors"][0]
    assert_schema(error, "StandardError")
    assert error["category"] == "VALIDATION_ERROR"
    assert error["context"]["objectWriteTraceId"] == ["t-bad"]


def test_batch_read_by_id_and_id_property_with_207_for_missing(hs: HubSpot) -> None:
    a = hs.create("contacts", {"email": "a@example.com", "firstname": "A"})
    response = hs.post("/crm/v3/objects/contacts/batch/read", {"inputs": [{"id": a["id"]}, {"id": "999999"}],
                                                                 "properties": ["firstname"]})
    assert response.status_code == 207
    body = response.json()
    assert body["results"][0]["properties"] == {"firstname": "A"}
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"]["ids"] == ["999999"]
    by_email = hs.post("/crm/v3/objects/contacts/batch/read", {"inputs": [{"id": "A@EXAMPLE.com"}],
                                                                 "idProperty": "email", "properties": []})
    assert by_email.status_code == 200 and by_email.json()["results"][0]["id"] == a["id"]
    with_assoc = hs.post("/crm/v3/objects/contacts/batch/read", {"inputs": [{"id": a["id"]}],
                                                                   "associations": ["deals"]})
    assert_error(with_assoc, 400, "VALIDATION_ERROR")


def test_batch_update_200_207_and_duplicates(hs: HubSpot) -> None:
    ids = [r["id"] for r in hs.batch_create("products", [{"name": "A"}, {"name": "B"}])]
    ok = hs.post("/crm/v3/objects/products/batch/update",
                 {"inputs": [{"id": ids[0], "properties": {"price": "1.50"}}]})
    assert ok.status_code == 200 and ok.json()["results"][0]["properties"]["price"] == "1.5"
    partial = hs.post("/crm/v3/objects/products/batch/update", {"inputs": [
        {"id": ids[1], "properties": {"price": 2}}, {"id": "999999", "properties": {"price": 3}}]})
    assert partial.status_code == 207
    assert partial.json()["errors"][0]["context"]["ids"] == ["999999"]
    dupes = hs.post("/crm/v3/objects/products/batch/update", {"inputs": [
        {"id": ids[0], "properties": {}}, {"id": ids[0], "properties": {}}]})
    assert_error(dupes, 400, "VALIDATION_ERROR")


def test_batch_upsert_by_unique_property_reports_new(hs: HubSpot) -> None:
    assert hs.post("/crm/v3/properties/deals", UNIQUE).status_code == 201
    first = hs.post("/crm/v3/objects/deals/batch/upsert", {"inputs": [
        {"id": "1001", "idProperty": "woo_order_id", "properties": {"dealname": "Order 1001", "dealstage": "closedwon"}}]})
    assert first.status_code == 200
    created = first.json()["results"][0]
    assert_schema(created, "SimplePublicUpsertObject")
    assert created["new"] is True and created["properties"]["woo_order_id"] == "1001"
    again = hs.post("/crm/v3/objects/deals/batch/upsert", {"inputs": [
        {"id": "1001", "idProperty": "woo_order_id", "properties": {"amount": "10"}},
        {"id": "1002", "idProperty": "woo_order_id", "properties": {"dealname": "Order 1002"}}]}).json()["results"]
    by_key = {r["properties"]["woo_order_id"]: r for r in again}
    assert {k: r["new"] for k, r in by_key.items()} == {"1001": False, "1002": True}
    assert by_key["1001"]["id"] == created["id"] and by_key["1001"]["properties"]["amount"] == "10"
    not_unique = hs.post("/crm/v3/objects/deals/batch/upsert", {"inputs": [
        {"id": "x", "idProperty": "dealname", "properties": {}}]})
    assert_error(not_unique, 400, "VALIDATION_ERROR")
    one_bad = hs.post("/crm/v3/objects/deals/batch/upsert", {"inputs": [
        {"id": "1003", "idProperty": "woo_order_id", "properties": {"dealname": "ok"}},
        {"id": "1004", "idProperty": "woo_order_id", "properties": {"bogus": "x"}}]})
    body = assert_error(one_bad, 400, "VALIDATION_ERROR")  # one invalid property fails the whole batch
    assert body["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    assert hs.get("/crm/v3/objects/deals/1003", params={"idProperty": "woo_order_id"}).status_code == 404


def test_batch_upsert_contacts_by_email_is_all_or_nothing(hs: HubSpot) -> None:
    existing = hs.create("contacts", {"email": "Known@Example.com", "firstname": "Old"})
    response = hs.post("/crm/v3/objects/contacts/batch/upsert", {"inputs": [
        {"id": "known@example.com", "idProperty": "email", "properties": {"firstname": "New"}},
        {"id": "fresh@example.com", "idProperty": "email", "properties": {"firstname": "Fresh"}}]})
    assert response.status_code == 200
    results = {r["properties"]["firstname"]: r for r in response.json()["results"]}
    assert results["New"]["id"] == existing["id"] and results["New"]["new"] is False
    assert results["Fresh"]["new"] is True and results["Fresh"]["properties"]["email"] == "fresh@example.com"
    failing = hs.post("/crm/v3/objects/contacts/batch/upsert", {"inputs": [
        {"id": "third@example.com", "idProperty": "email", "properties": {"firstname": "T"}},
        {"id": "fourth@example.com", "idProperty": "email", "properties": {"bogus": "x"}}]})
    assert_error(failing, 400, "VALIDATION_ERROR")
    assert hs.get("/crm/v3/objects/contacts/third@example.com", params={"idProperty": "email"}).status_code == 404


def test_batch_archive_204(hs: HubSpot) -> None:
    ids = [r["id"] for r in hs.batch_create("line_items", [{"name": "a"}, {"name": "b"}, {"name": "c"}])]
    response = hs.post("/crm/v3/objects/line_items/batch/archive", {"inputs": [{"id": ids[0]}, {"id": ids[1]}]})
    assert response.status_code == 204 and response.content == b""
    assert [r["id"] for r in hs.get("/crm/v3/objects/line_items").json()["results"]] == [ids[2]]
    assert_error(hs.post("/crm/v3/objects/line_items/batch/archive", {"inputs": [{"id": "1"}] * 101}), 400,
                 "VALIDATION_ERROR")


def _traced(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"inputs": [{"properties": p, "objectWriteTraceId": f"t{n}"} for n, p in enumerate(rows)]}


def test_batch_answers_come_in_a_seeded_order_other_than_the_input_order(hs: HubSpot) -> None:
    assert hs.post("/crm/v3/properties/deals", UNIQUE).status_code == 201
    rows = [{"dealname": f"D{n}", "dealstage": "qualifiedtobuy", "woo_order_id": f"o{n}"} for n in range(12)]
    created = hs.post("/crm/v3/objects/deals/batch/create", _traced(rows))
    assert created.status_code == 201
    traces = [r["objectWriteTraceId"] for r in created.json()["results"]]
    assert sorted(traces) == sorted(f"t{n}" for n in range(12)) and traces != [f"t{n}" for n in range(12)]
    for record in created.json()["results"]:  # each result is the input its trace id names
        assert record["properties"]["dealname"] == f"D{record['objectWriteTraceId'][1:]}"
    ids = {r["properties"]["woo_order_id"]: r["id"] for r in created.json()["results"]}
    in_order = [ids[f"o{n}"] for n in range(12)]
    read_body = {"inputs": [{"id": i} for i in in_order], "properties": ["woo_order_id"]}
    read = hs.post("/crm/v3/objects/deals/batch/read", read_body).json()["results"]
    assert [r["id"] for r in read] != in_order and sorted(r["id"] for r in read) == sorted(in_order)
    again = hs.post("/crm/v3/objects/deals/batch/read", read_body).json()["results"]
    assert [r["id"] for r in again] == [r["id"] for r in read]  # the same request gets the same order
    updated = hs.post("/crm/v3/objects/deals/batch/update", {"inputs": [
        {"id": i, "properties": {"amount": str(n)}} for n, i in enumerate(in_order)]}).json()["results"]
    assert [r["id"] for r in updated] != in_order
    assert {r["id"]: r["properties"]["amount"] for r in updated} == {i: str(n) for n, i in enumerate(in_order)}
    upserted = hs.post("/crm/v3/objects/deals/batch/upsert", {"inputs": [
        {"id": f"o{n}", "idProperty": "woo_order_id", "properties": {"description": f"d{n}"}}
        for n in range(12)]}).json()["results"]
    assert [r["properties"]["woo_order_id"] for r in upserted] != [f"o{n}" for n in range(12)]
    assert all(r["properties"]["description"] == "d" + r["properties"]["woo_order_id"][1:] for r in upserted)
    contacts = hs.batch_create("contacts", [{"email": f"c{n}@example.com"} for n in range(12)])
    spec = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]
    pairs = [(d, c["id"]) for d, c in zip(in_order, contacts, strict=True)]
    linked = hs.post("/crm/v4/associations/deals/contacts/batch/create", {"inputs": [
        {"from": {"id": d}, "to": {"id": c}, "types": spec} for d, c in pairs]})
    assert linked.status_code == 201
    answered = [(str(r["fromObjectId"]), str(r["toObjectId"])) for r in linked.json()["results"]]
    assert answered != pairs and sorted(answered) == sorted(pairs)


def test_batch_answer_order_follows_the_sandbox_seed(sandbox: Any, hs: HubSpot) -> None:
    rows = [{"name": f"P{n}"} for n in range(15)]
    orders = []
    for seed in (1, 1, 2):
        sandbox.hubspot.reset(empty=True, seed=seed)
        sandbox.hubspot.configure(ten_second_limit=100_000)
        response = hs.post("/crm/v3/objects/products/batch/create", _traced(rows))
        orders.append([r["objectWriteTraceId"] for r in response.json()["results"]])
    assert orders[0] == orders[1] and orders[0] != orders[2]


def test_batch_create_with_trace_ids_rejects_the_whole_batch_for_a_taken_unique_value(hs: HubSpot) -> None:
    taken = hs.create("contacts", {"email": "taken@example.com"})
    rows = [{"email": f"n{n}@example.com"} for n in range(5)] + [{"email": "Taken@Example.com"}]
    body = assert_error(hs.post("/crm/v3/objects/contacts/batch/create", _traced(rows)), 409, "CONFLICT")
    assert body["message"] == f"Contact already exists. Existing ID: {taken['id']}"
    twice = hs.post("/crm/v3/objects/contacts/batch/create", _traced([{"email": "x@example.com"}] * 2))
    assert_error(twice, 400, "VALIDATION_ERROR")
    assert [r["id"] for r in hs.get("/crm/v3/objects/contacts").json()["results"]] == [taken["id"]]
    mixed = hs.post("/crm/v3/objects/contacts/batch/create", {"inputs": [  # multi-status needs every trace id
        {"properties": {"email": "m1@example.com"}, "objectWriteTraceId": "m1"},
        {"properties": {"bogus": "1"}}]})
    assert_error(mixed, 400, "VALIDATION_ERROR")


def test_batch_update_with_one_invalid_value_fails_the_whole_batch(hs: HubSpot) -> None:
    ids = [r["id"] for r in hs.batch_create("deals", [{"dealname": f"D{n}", "dealstage": "qualifiedtobuy"}
                                                       for n in range(4)])]
    inputs = [{"id": i, "properties": {"amount": "5"}} for i in ids]
    inputs[2]["properties"]["dealstage"] = "no_such_stage"
    body = assert_error(hs.post("/crm/v3/objects/deals/batch/update", {"inputs": inputs}), 400, "VALIDATION_ERROR")
    assert body["errors"][0]["code"] == "INVALID_OPTION"
    read = hs.post("/crm/v3/objects/deals/batch/read", {"inputs": [{"id": i} for i in ids],
                                                         "properties": ["amount"]}).json()["results"]
    assert [r["properties"]["amount"] for r in read] == [None] * 4  # nothing of the batch was applied


def test_enabled_currencies_are_the_currency_options_and_other_currencies_are_rejected(
        sandbox: Any, hs: HubSpot) -> None:
    options = hs.get("/crm/v3/properties/deals/deal_currency_code").json()["options"]
    assert [o["value"] for o in options] == ["USD"]  # the default: the seeded store's currency
    listed = {p["name"]: p for p in hs.get("/crm/v3/properties/line_items").json()["results"]}
    assert [o["value"] for o in listed["hs_line_item_currency_code"]["options"]] == ["USD"]
    deal = {"dealname": "EUR order", "dealstage": "closedwon", "deal_currency_code": "EUR"}
    body = assert_error(hs.post("/crm/v3/objects/deals", {"properties": deal}), 400, "VALIDATION_ERROR")
    assert body["errors"][0]["code"] == "INVALID_OPTION"
    assert body["errors"][0]["context"] == {"propertyName": ["deal_currency_code"]}
    assert "EUR was not one of the allowed options: [USD]" in body["message"]
    batch = hs.post("/crm/v3/objects/deals/batch/create", {"inputs": [
        {"properties": {"dealname": "USD order", "dealstage": "closedwon", "deal_currency_code": "USD"}},
        {"properties": deal}]})
    assert_error(batch, 400, "VALIDATION_ERROR")
    assert hs.get("/crm/v3/objects/deals").json()["results"] == []
    settings = sandbox.hubspot.configure(enabled_currencies=["USD", "EUR"])
    assert settings["enabled_currencies"] == ["USD", "EUR"]
    assert [o["value"] for o in hs.get("/crm/v3/properties/deals/deal_currency_code").json()["options"]] == [
        "USD", "EUR"]
    assert hs.post("/crm/v3/objects/deals", {"properties": deal}).status_code == 201
    snapshot = sandbox.hubspot.state()
    assert snapshot["settings"]["enabled_currencies"] == ["USD", "EUR"]
    sandbox.hubspot.reset(empty=True)
    assert hs.post("/crm/v3/objects/deals", {"properties": deal}).status_code == 400  # reset: USD only again
    sandbox.hubspot.restore(snapshot)
    assert [o["value"] for o in hs.get("/crm/v3/properties/deals/deal_currency_code").json()["options"]] == [
        "USD", "EUR"]
    for bad in ([], ["usd"], "USD", ["US Dollar"]):
        with pytest.raises(requests.HTTPError) as raised:
            sandbox.hubspot.configure(enabled_currencies=bad)
        assert raised.value.response.status_code == 400
