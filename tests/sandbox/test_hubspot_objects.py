"""HubSpot sandbox: single-record CRUD, list paging, archive, idProperty, property typing and errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox._hubspot import HubSpot, assert_error, assert_record, empty_portal


@pytest.fixture
def hs(sandbox: Any) -> Iterator[HubSpot]:
    yield from empty_portal(sandbox)


def test_create_returns_simple_public_object_with_strings(hs: HubSpot) -> None:
    created = hs.create("contacts", {"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace"})
    assert_record(created)
    props = created["properties"]
    assert props["email"] == "ada@example.com"
    assert props["hs_object_id"] == created["id"]
    assert props["createdate"] and props["lastmodifieddate"]
    assert created["archived"] is False


def test_get_default_and_requested_properties(hs: HubSpot) -> None:
    rid = hs.create("contacts", {"email": "b@example.com", "firstname": "B"})["id"]
    default = hs.get(f"/crm/v3/objects/contacts/{rid}").json()
    assert set(default["properties"]) == {"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
                                          "lastname"}
    assert default["properties"]["lastname"] is None  # exists, no value -> null
    wanted = hs.get(f"/crm/v3/objects/contacts/{rid}", params={"properties": "phone,city,no_such_prop"}).json()
    assert wanted["properties"] == {"phone": None, "city": None}  # undefined property omitted


def test_object_type_ids_work_in_paths(hs: HubSpot) -> None:
    deal = hs.create("0-3", {"dealname": "By type id", "dealstage": "qualifiedtobuy"})
    assert hs.get(f"/crm/v3/objects/deals/{deal['id']}").status_code == 200
    assert hs.get("/crm/v3/objects/0-3").json()["results"][0]["id"] == deal["id"]
    for type_id in ("0-1", "0-7", "0-8"):
        assert hs.get(f"/crm/v3/objects/{type_id}").status_code == 200


def test_deal_pipeline_defaults_and_stage_is_validated(hs: HubSpot) -> None:
    deal = hs.create("deals", {"dealname": "D", "dealstage": "appointmentscheduled", "amount": 12.50})
    assert deal["properties"]["pipeline"] == "default"
    assert deal["properties"]["amount"] == "12.5"
    assert "hs_lastmodifieddate" in deal["properties"]
    bad = hs.post("/crm/v3/objects/deals", {"properties": {"dealname": "X", "dealstage": "nonexistent"}})
    body = assert_error(bad, 400, "VALIDATION_ERROR")
    assert body["errors"][0]["code"] == "INVALID_OPTION"


def test_unknown_and_read_only_properties_are_rejected(hs: HubSpot) -> None:
    body = assert_error(hs.post("/crm/v3/objects/contacts", {"properties": {"email": "x@y.z", "woo_nope": "1"}}),
                        400, "VALIDATION_ERROR")
    assert body["errors"] == [{"message": 'Property "woo_nope" does not exist', "code": "PROPERTY_DOESNT_EXIST",
                               "context": {"propertyName": ["woo_nope"]}}]
    assert body["message"].startswith("Property values were not valid: ")
    body = assert_error(hs.post("/crm/v3/objects/deals", {"properties": {"hs_object_id": "5"}}), 400,
                        "VALIDATION_ERROR")
    assert body["errors"][0]["code"] == "READ_ONLY_VALUE"
    assert hs.get("/crm/v3/objects/contacts").json()["results"] == []  # nothing written


def test_number_and_datetime_values_are_normalised(hs: HubSpot) -> None:
    product = hs.create("products", {"name": "P", "price": "19.90", "hs_cost_of_goods_sold": 7})
    assert product["properties"]["price"] == "19.9"
    assert product["properties"]["hs_cost_of_goods_sold"] == "7"
    deal = hs.create("deals", {"dealname": "T", "dealstage": "closedwon", "closedate": 1704067200000})
    assert deal["properties"]["closedate"] == "2024-01-01T00:00:00.000Z"
    deal2 = hs.create("deals", {"dealname": "T2", "dealstage": "closedwon", "closedate": "2024-01-01T00:00:00Z"})
    assert deal2["properties"]["closedate"] == "2024-01-01T00:00:00.000Z"
    assert_error(hs.post("/crm/v3/objects/products", {"properties": {"price": "cheap"}}), 400, "VALIDATION_ERROR")


def test_line_item_amount_is_quantity_times_price(hs: HubSpot) -> None:
    item = hs.create("line_items", {"name": "Mug", "quantity": 3, "price": "4.5"})
    assert item["properties"]["amount"] == "13.5"
    patched = hs.patch(f"/crm/v3/objects/line_items/{item['id']}", {"properties": {"quantity": "4"}}).json()
    assert patched["properties"]["amount"] == "18"
    assert_error(hs.patch(f"/crm/v3/objects/line_items/{item['id']}", {"properties": {"amount": "1"}}), 400,
                 "VALIDATION_ERROR")


def test_duplicate_email_is_409_with_parseable_existing_id(hs: HubSpot) -> None:
    rid = hs.create("contacts", {"email": "Dup@Example.com"})["id"]
    body = assert_error(hs.post("/crm/v3/objects/contacts", {"properties": {"email": "dup@example.COM"}}), 409,
                        "CONFLICT")
    match = re.search(r"Existing ID: (\d+)", body["message"])
    assert match and match.group(1) == rid
    other = hs.create("contacts", {"email": "other@example.com"})["id"]
    assert_error(hs.patch(f"/crm/v3/objects/contacts/{other}", {"properties": {"email": "DUP@example.com"}}), 409,
                 "CONFLICT")


def test_get_and_patch_by_id_property(hs: HubSpot) -> None:
    rid = hs.create("contacts", {"email": "Mixed.Case@Example.com", "firstname": "M"})["id"]
    found = hs.get("/crm/v3/objects/contacts/mixed.case@example.com", params={"idProperty": "email"})
    assert found.status_code == 200 and found.json()["id"] == rid
    patched = hs.patch("/crm/v3/objects/contacts/MIXED.case@example.com", {"properties": {"firstname": "N"}},
                       params={"idProperty": "email"})
    assert patched.status_code == 200 and patched.json()["properties"]["firstname"] == "N"
    assert hs.get("/crm/v3/objects/contacts/nobody@example.com", params={"idProperty": "email"}).status_code == 404
    assert_error(hs.get("/crm/v3/objects/contacts/x", params={"idProperty": "firstname"}), 400, "VALIDATION_ERROR")


def test_update_clears_with_empty_string_and_bumps_last_modified(hs: HubSpot) -> None:
    created = hs.create("contacts", {"email": "c@example.com", "phone": "555"})
    patched = hs.patch(f"/crm/v3/objects/contacts/{created['id']}", {"properties": {"phone": ""}}).json()
    assert patched["properties"]["phone"] is None
    assert patched["properties"]["lastmodifieddate"] >= created["properties"]["lastmodifieddate"]
    assert patched["updatedAt"] >= created["updatedAt"]


def test_unknown_ids_and_routes_are_404(hs: HubSpot) -> None:
    missing = hs.get("/crm/v3/objects/contacts/999999")
    assert missing.status_code == 404 and missing.content == b""  # HubSpot's empty 404 on GET by id
    assert_error(hs.patch("/crm/v3/objects/contacts/999999", {"properties": {"firstname": "x"}}), 404,
                 "OBJECT_NOT_FOUND")
    assert hs.get("/crm/v3/nothing/here").status_code == 404
    assert_error(hs.get("/crm/v3/objects/widgets"), 400, "VALIDATION_ERROR")
    assert_error(hs.post("/crm/v3/objects/contacts", data="{not json", headers={"Content-Type": "application/json"}),
                 400, "VALIDATION_ERROR")


def test_list_paging_by_cursor(hs: HubSpot) -> None:
    ids = [r["id"] for r in hs.batch_create("products", [{"name": f"P{i}"} for i in range(25)])]
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 10, **({"after": after} if after else {})}
        body = hs.get("/crm/v3/objects/products", params=params).json()
        pages += 1
        seen += [r["id"] for r in body["results"]]
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
        assert "link" in body["paging"]["next"]
    assert seen == ids and pages == 3
    assert len(hs.get("/crm/v3/objects/products").json()["results"]) == 10  # default limit


def test_list_limit_above_100_is_rejected(hs: HubSpot) -> None:
    assert_error(hs.get("/crm/v3/objects/contacts", params={"limit": 101}), 400, "VALIDATION_ERROR")
    assert hs.get("/crm/v3/objects/contacts", params={"limit": 100}).status_code == 200


def test_archive_hides_records_except_with_archived_true(hs: HubSpot) -> None:
    keep = hs.create("contacts", {"email": "keep@example.com"})["id"]
    gone = hs.create("contacts", {"email": "gone@example.com"})["id"]
    assert hs.delete(f"/crm/v3/objects/contacts/{gone}").status_code == 204
    assert [r["id"] for r in hs.get("/crm/v3/objects/contacts").json()["results"]] == [keep]
    archived = hs.get("/crm/v3/objects/contacts", params={"archived": "true"}).json()["results"]
    assert [r["id"] for r in archived] == [gone]
    assert archived[0]["archived"] is True and archived[0]["archivedAt"]
    assert hs.get(f"/crm/v3/objects/contacts/{gone}").status_code == 404
    assert hs.get(f"/crm/v3/objects/contacts/{gone}", params={"archived": "true"}).json()["archived"] is True
    # the email is free again once the old contact is archived
    assert hs.post("/crm/v3/objects/contacts", {"properties": {"email": "gone@example.com"}}).status_code == 201
    assert hs.delete("/crm/v3/objects/contacts/424242").status_code == 204


def test_associations_on_create_and_in_v3_reads(hs: HubSpot) -> None:
    contact = hs.create("contacts", {"email": "buyer@example.com"})
    deal = hs.create("deals", {"dealname": "Order 1", "dealstage": "closedwon"}, associations=[
        {"to": {"id": contact["id"]}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}])
    item = hs.create("line_items", {"name": "Mug", "quantity": 1, "price": 5}, associations=[
        {"to": {"id": deal["id"]}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}]}])
    got = hs.get(f"/crm/v3/objects/deals/{deal['id']}", params={"associations": "contacts,line_items"}).json()
    assert got["associations"]["contacts"]["results"] == [{"id": contact["id"], "type": "deal_to_contact"}]
    assert got["associations"]["line items"]["results"] == [{"id": item["id"], "type": "deal_to_line_item"}]
    listed = hs.get("/crm/v3/objects/contacts", params={"associations": "deals"}).json()["results"][0]
    assert listed["associations"]["deals"]["results"][0]["id"] == deal["id"]
    bad = hs.post("/crm/v3/objects/deals", {"properties": {"dealname": "x"}, "associations": [
        {"to": {"id": "999999"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}]})
    assert_error(bad, 400, "VALIDATION_ERROR")
    wrong_type = hs.post("/crm/v3/objects/deals", {"properties": {"dealname": "x"}, "associations": [
        {"to": {"id": contact["id"]}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 4}]}]})
    assert_error(wrong_type, 400, "VALIDATION_ERROR")
