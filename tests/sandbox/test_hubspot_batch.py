"""HubSpot sandbox: batch read/create/update/upsert/archive, limits, 207 multi-status and upsert ``new``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

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
    assert [(r["new"], r["properties"]["woo_order_id"]) for r in again] == [(False, "1001"), (True, "1002")]
    assert again[0]["id"] == created["id"] and again[0]["properties"]["amount"] == "10"
    not_unique = hs.post("/crm/v3/objects/deals/batch/upsert", {"inputs": [
        {"id": "x", "idProperty": "dealname", "properties": {}}]})
    assert_error(not_unique, 400, "VALIDATION_ERROR")
    partial = hs.post("/crm/v3/objects/deals/batch/upsert", {"inputs": [
        {"id": "1003", "idProperty": "woo_order_id", "properties": {"dealname": "ok"}},
        {"id": "1004", "idProperty": "woo_order_id", "properties": {"bogus": "x"}}]})
    assert partial.status_code == 207 and partial.json()["numErrors"] == 1


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
