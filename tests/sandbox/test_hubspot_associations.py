"""HubSpot sandbox: associations v4, single and batch, both directions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox._hubspot import HubSpot, assert_error, assert_schema, empty_portal


@pytest.fixture
def hs(sandbox: Any) -> Iterator[HubSpot]:
    yield from empty_portal(sandbox)


@pytest.fixture
def trio(hs: HubSpot) -> dict[str, Any]:
    return {"contact": hs.create("contacts", {"email": "a@example.com"})["id"],
            "deal": hs.create("deals", {"dealname": "D", "dealstage": "closedwon"})["id"],
            "item": hs.create("line_items", {"name": "I", "quantity": 1, "price": 1})["id"]}


def _types(hs: HubSpot, from_type: str, rid: str, to_type: str) -> dict[str, list[int]]:
    response = hs.get(f"/crm/v4/objects/{from_type}/{rid}/associations/{to_type}")
    assert response.status_code == 200
    out = {}
    for item in response.json()["results"]:
        assert_schema(item, "MultiAssociatedObjectWithLabel")
        for spec in item["associationTypes"]:
            assert_schema(spec, "AssociationSpecWithLabel")
        out[str(item["toObjectId"])] = [t["typeId"] for t in item["associationTypes"]]
    return out


def test_default_association_is_stored_both_ways(hs: HubSpot, trio: dict) -> None:
    response = hs.put(f"/crm/v4/objects/deals/{trio['deal']}/associations/default/contacts/{trio['contact']}")
    assert response.status_code == 200
    for result in response.json()["results"]:
        assert_schema(result, "PublicDefaultAssociation")
    assert _types(hs, "deals", trio["deal"], "contacts") == {trio["contact"]: [3]}
    assert _types(hs, "contacts", trio["contact"], "deals") == {trio["deal"]: [4]}
    hs.put(f"/crm/v4/objects/0-8/{trio['item']}/associations/default/0-3/{trio['deal']}")
    assert _types(hs, "deals", trio["deal"], "line_items") == {trio["item"]: [19]}
    assert _types(hs, "line_items", trio["item"], "deals") == {trio["deal"]: [20]}


def test_labeled_put_validates_type_and_delete_removes(hs: HubSpot, trio: dict) -> None:
    url = f"/crm/v4/objects/line_items/{trio['item']}/associations/deals/{trio['deal']}"
    created = hs.put(url, [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}])
    assert created.status_code == 201
    assert_schema(created.json(), "LabelsBetweenObjectPair")
    assert_error(hs.put(url, [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 19}]), 400,
                 "VALIDATION_ERROR")
    assert_error(hs.put(f"/crm/v4/objects/products/1/associations/default/line_items/{trio['item']}"), 400,
                 "VALIDATION_ERROR")  # there is no product<->line item association
    assert_error(hs.put(f"/crm/v4/objects/deals/{trio['deal']}/associations/default/contacts/999999"), 400,
                 "VALIDATION_ERROR")
    assert hs.delete(url).status_code == 204
    assert _types(hs, "deals", trio["deal"], "line_items") == {}


def test_batch_create_read_archive(hs: HubSpot, trio: dict) -> None:
    other = hs.create("contacts", {"email": "b@example.com"})["id"]
    spec = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]
    created = hs.post("/crm/v4/associations/deals/contacts/batch/create", {"inputs": [
        {"from": {"id": trio["deal"]}, "to": {"id": trio["contact"]}, "types": spec},
        {"from": {"id": trio["deal"]}, "to": {"id": other}, "types": spec},
        {"from": {"id": trio["deal"]}, "to": {"id": "999999"}, "types": spec}]})
    assert created.status_code == 207
    assert created.json()["numErrors"] == 1 and len(created.json()["results"]) == 2
    assert created.json()["errors"][0]["context"] == {"toObjectId": ["999999"]}  # names the side that is missing
    read = hs.post("/crm/v4/associations/contacts/deals/batch/read", {"inputs": [
        {"id": trio["contact"]}, {"id": other}, {"id": "999999"}]})
    assert read.status_code == 207
    body = read.json()
    for result in body["results"]:
        assert_schema(result, "PublicAssociationMultiWithLabel")
    assert sorted((r["from"]["id"], [str(t["toObjectId"]) for t in r["to"]]) for r in body["results"]) == sorted([
        (trio["contact"], [trio["deal"]]), (other, [trio["deal"]])])  # in no particular order, as at HubSpot
    assert body["errors"][0]["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
    archived = hs.post("/crm/v4/associations/deals/contacts/batch/archive",
                       {"inputs": [{"from": {"id": trio["deal"]}, "to": [{"id": other}]}]})
    assert archived.status_code == 204
    assert _types(hs, "deals", trio["deal"], "contacts") == {trio["contact"]: [3]}


def test_batch_default_and_limits(hs: HubSpot, trio: dict) -> None:
    response = hs.post("/crm/v4/associations/line_items/deals/batch/associate/default",
                       {"inputs": [{"from": {"id": trio["item"]}, "to": {"id": trio["deal"]}}]})
    assert response.status_code == 200
    assert_schema(response.json(), "BatchResponse")
    assert _types(hs, "deals", trio["deal"], "line_items") == {trio["item"]: [19]}
    too_many_reads = {"inputs": [{"id": trio["deal"]}] * 1001}
    assert_error(hs.post("/crm/v4/associations/deals/contacts/batch/read", too_many_reads), 400, "VALIDATION_ERROR")
    assert hs.post("/crm/v4/associations/deals/contacts/batch/read",
                   {"inputs": [{"id": trio["deal"]}] * 1000}).status_code in (200, 207)
    pair = {"from": {"id": trio["deal"]}, "to": {"id": trio["contact"]},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}
    assert_error(hs.post("/crm/v4/associations/deals/contacts/batch/create", {"inputs": [pair] * 2001}), 400,
                 "VALIDATION_ERROR")


def test_archiving_a_record_drops_its_associations(hs: HubSpot, trio: dict) -> None:
    hs.put(f"/crm/v4/objects/deals/{trio['deal']}/associations/default/contacts/{trio['contact']}")
    hs.delete(f"/crm/v3/objects/contacts/{trio['contact']}")
    assert _types(hs, "deals", trio["deal"], "contacts") == {}
