"""HubSpot sandbox: properties API (incl. unique values) and deal pipelines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox._hubspot import HubSpot, assert_error, assert_schema, empty_portal


@pytest.fixture
def hs(sandbox: Any) -> Iterator[HubSpot]:
    yield from empty_portal(sandbox)


def _unique(name: str, group: str = "productinformation") -> dict:
    return {"groupName": group, "name": name, "label": name, "type": "string", "fieldType": "text",
            "hasUniqueValue": True}


def test_default_properties_per_object(hs: HubSpot) -> None:
    expected = {
        "contacts": {"email", "firstname", "lastname", "phone", "address", "city", "state", "zip", "country",
                     "company", "lifecyclestage", "createdate", "lastmodifieddate", "hs_object_id"},
        "deals": {"dealname", "amount", "closedate", "pipeline", "dealstage", "deal_currency_code",
                  "hs_lastmodifieddate", "createdate"},
        "products": {"name", "price", "hs_sku", "description", "hs_cost_of_goods_sold", "hs_lastmodifieddate"},
        "line_items": {"name", "quantity", "price", "amount", "hs_product_id", "hs_sku",
                       "hs_line_item_currency_code", "discount"},
    }
    for object_type, names in expected.items():
        results = hs.get(f"/crm/v3/properties/{object_type}").json()["results"]
        for prop in results:
            assert_schema(prop, "Property")
        assert names <= {p["name"] for p in results}, object_type
    closedate = hs.get("/crm/v3/properties/deals/closedate").json()
    assert closedate["type"] == "datetime"
    stage = hs.get("/crm/v3/properties/0-3/dealstage").json()
    assert "closedwon" in [o["value"] for o in stage["options"]]
    assert_error(hs.get("/crm/v3/properties/deals/nope"), 404, "OBJECT_NOT_FOUND")


def test_create_property_and_use_it(hs: HubSpot) -> None:
    body = {"groupName": "contactinformation", "name": "woo_customer_id", "label": "Woo customer", "type": "number",
            "fieldType": "number"}
    created = hs.post("/crm/v3/properties/contacts", body)
    assert created.status_code == 201 and created.json()["hubspotDefined"] is False
    assert_error(hs.post("/crm/v3/properties/contacts", body), 409, "OBJECT_ALREADY_EXISTS")
    contact = hs.create("contacts", {"email": "p@example.com", "woo_customer_id": "0042"})
    assert contact["properties"]["woo_customer_id"] == "42"
    missing = {k: v for k, v in body.items() if k != "fieldType"}
    assert_error(hs.post("/crm/v3/properties/contacts", {**missing, "name": "x2"}), 400, "VALIDATION_ERROR")
    assert_error(hs.post("/crm/v3/properties/contacts", {**body, "name": "x3", "groupName": "nogroup"}), 400,
                 "VALIDATION_ERROR")


def test_enumeration_options_are_enforced_and_patchable(hs: HubSpot) -> None:
    body = {"groupName": "dealinformation", "name": "woo_status", "label": "Woo status", "type": "enumeration",
            "fieldType": "select", "options": [{"label": "Processing", "value": "processing", "hidden": False}]}
    assert hs.post("/crm/v3/properties/deals", body).status_code == 201
    hs.create("deals", {"dealname": "a", "dealstage": "closedwon", "woo_status": "processing"})
    bad = hs.post("/crm/v3/objects/deals", {"properties": {"dealname": "b", "woo_status": "refunded"}})
    assert assert_error(bad, 400, "VALIDATION_ERROR")["errors"][0]["code"] == "INVALID_OPTION"
    options = body["options"] + [{"label": "Refunded", "value": "refunded", "hidden": False}]
    patched = hs.patch("/crm/v3/properties/deals/woo_status", {"options": options, "label": "Order status"})
    assert patched.status_code == 200 and patched.json()["label"] == "Order status"
    hs.create("deals", {"dealname": "b", "dealstage": "closedwon", "woo_status": "refunded"})
    assert_error(hs.patch("/crm/v3/properties/deals/dealname", {"label": "x"}), 400, "VALIDATION_ERROR")


def test_unique_values_are_enforced_and_usable_as_id_property(hs: HubSpot) -> None:
    assert hs.post("/crm/v3/properties/products", _unique("woo_product_id")).status_code == 201
    first = hs.create("products", {"name": "A", "woo_product_id": "17"})
    dup = hs.post("/crm/v3/objects/products", {"properties": {"name": "B", "woo_product_id": "17"}})
    body = assert_error(dup, 400, "VALIDATION_ERROR")
    assert body["errors"][0]["code"] == "INVALID_UNIQUE_VALUE"
    other = hs.create("products", {"name": "C", "woo_product_id": "18"})
    assert hs.patch(f"/crm/v3/objects/products/{other['id']}",
                    {"properties": {"woo_product_id": "17"}}).status_code == 400
    got = hs.get("/crm/v3/objects/products/17", params={"idProperty": "woo_product_id"})
    assert got.status_code == 200 and got.json()["id"] == first["id"]
    patched = hs.patch("/crm/v3/objects/products/17", {"properties": {"price": 3}},
                       params={"idProperty": "woo_product_id"})
    assert patched.json()["properties"]["price"] == "3"
    assert_error(hs.patch("/crm/v3/properties/products/woo_product_id", {"hasUniqueValue": False}), 400,
                 "VALIDATION_ERROR")


def test_at_most_ten_unique_properties(hs: HubSpot) -> None:
    for n in range(10):
        assert hs.post("/crm/v3/properties/line_items",
                       _unique(f"u{n}", "lineiteminformation")).status_code == 201
    assert_error(hs.post("/crm/v3/properties/line_items", _unique("u10", "lineiteminformation")), 400,
                 "VALIDATION_ERROR")


def test_delete_and_batch_property_endpoints(hs: HubSpot) -> None:
    batch = hs.post("/crm/v3/properties/deals/batch/create", {"inputs": [
        _unique("woo_order_id", "dealinformation"),
        {"groupName": "dealinformation", "name": "woo_order_number", "label": "n", "type": "string",
         "fieldType": "text"}]})
    assert batch.status_code == 201 and len(batch.json()["results"]) == 2
    read = hs.post("/crm/v3/properties/deals/batch/read",
                   {"inputs": [{"name": "woo_order_id"}, {"name": "nope"}], "archived": False})
    assert read.status_code == 207 and read.json()["results"][0]["hasUniqueValue"] is True
    assert hs.delete("/crm/v3/properties/deals/woo_order_number").status_code == 204
    assert hs.get("/crm/v3/properties/deals/woo_order_number").status_code == 404
    assert hs.post("/crm/v3/objects/deals", {"properties": {"woo_order_number": "1"}}).status_code == 400
    assert hs.delete("/crm/v3/properties/deals/dealname").status_code == 400


def test_default_pipeline(hs: HubSpot) -> None:
    results = hs.get("/crm/v3/pipelines/deals").json()["results"]
    assert [p["id"] for p in results] == ["default"]
    pipeline = hs.get("/crm/v3/pipelines/deals/default").json()
    assert_schema(pipeline, "Pipeline")
    stages = pipeline["stages"]
    for stage in stages:
        assert_schema(stage, "PipelineStage")
    assert [s["id"] for s in stages] == ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                                         "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"]
    assert [s["displayOrder"] for s in stages] == list(range(7))
    assert stages[5]["metadata"] == {"probability": "1.0", "isClosed": "true"}
    assert stages[0]["metadata"] == {"probability": "0.2", "isClosed": "false"}
    assert pipeline["createdAt"].startswith("1970-01-01T00:00:00")
    assert hs.get("/crm/v3/pipelines/0-3/default/stages").json()["results"] == stages
    assert_error(hs.get("/crm/v3/pipelines/deals/nope"), 404, "OBJECT_NOT_FOUND")
