"""HubSpot sandbox: CRM search filters, typing, sorting, offset paging, its limits and the index delay."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox._hubspot import HubSpot, assert_error, assert_record, assert_schema, empty_portal


@pytest.fixture
def hs(sandbox: Any) -> Iterator[HubSpot]:
    yield from empty_portal(sandbox)


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert_schema(body, "CollectionResponseWithTotal")
    return [r["id"] for r in body["results"]]


@pytest.fixture
def people(hs: HubSpot) -> list[dict[str, Any]]:
    rows = [
        {"email": "anna.schmidt@example.com", "firstname": "Anna", "lastname": "Schmidt", "city": "Berlin",
         "lifecyclestage": "customer", "createdate": "2024-01-01T00:00:00Z"},
        {"email": "bob.jones@shop.test", "firstname": "Bob", "lastname": "Jones", "city": "london",
         "lifecyclestage": "lead", "createdate": "2024-02-01T00:00:00Z"},
        {"email": "chloe@example.com", "firstname": "Chloé", "lastname": "Martin", "lifecyclestage": "lead",
         "createdate": "2024-03-01T00:00:00Z"},
    ]
    return [hs.create("contacts", row) for row in rows]


def _filter(name: str, op: str, **kw: Any) -> dict[str, Any]:
    return {"filterGroups": [{"filters": [{"propertyName": name, "operator": op, **kw}]}]}


def test_eq_is_case_insensitive_for_strings_and_results_are_records(hs: HubSpot, people: list) -> None:
    response = hs.search("contacts", _filter("email", "EQ", value="ANNA.SCHMIDT@EXAMPLE.COM"))
    assert _ids(response) == [people[0]["id"]]
    record = response.json()["results"][0]
    assert_record(record)
    assert {"email", "hs_object_id", "createdate", "lastmodifieddate"} <= set(record["properties"])
    assert response.json()["total"] == 1


def test_operators(hs: HubSpot, people: list) -> None:
    a, b, c = (p["id"] for p in people)
    assert _ids(hs.search("contacts", _filter("email", "NEQ", value="bob.jones@shop.test"))) == [a, c]
    assert _ids(hs.search("contacts", _filter("city", "HAS_PROPERTY"))) == [a, b]
    assert _ids(hs.search("contacts", _filter("city", "NOT_HAS_PROPERTY"))) == [c]
    assert _ids(hs.search("contacts", _filter("email", "CONTAINS_TOKEN", value="example"))) == [a, c]
    assert _ids(hs.search("contacts", _filter("email", "CONTAINS_TOKEN", value="*@shop.test"))) == [b]
    assert _ids(hs.search("contacts", _filter("email", "NOT_CONTAINS_TOKEN", value="example"))) == [b]
    assert _ids(hs.search("contacts", _filter("lastname", "IN", values=["jones", "martin"]))) == [b, c]
    # IN on strings needs lower-case values (HubSpot lower-cases the stored value, not yours)
    assert _ids(hs.search("contacts", _filter("lastname", "IN", values=["Jones"]))) == []
    assert _ids(hs.search("contacts", _filter("lastname", "NOT_IN", values=["jones"]))) == [a, c]
    # enumerations compare case-sensitively
    assert _ids(hs.search("contacts", _filter("lifecyclestage", "EQ", value="lead"))) == [b, c]
    assert _ids(hs.search("contacts", _filter("lifecyclestage", "EQ", value="LEAD"))) == []


def test_datetimes_compare_as_epoch_ms_whether_ms_or_iso(hs: HubSpot, people: list) -> None:
    a, b, c = (p["id"] for p in people)
    feb = "1706745600000"  # 2024-02-01T00:00:00Z
    assert _ids(hs.search("contacts", _filter("createdate", "GTE", value=feb))) == [b, c]
    assert _ids(hs.search("contacts", _filter("createdate", "GT", value="2024-02-01T00:00:00.000Z"))) == [c]
    assert _ids(hs.search("contacts", _filter("createdate", "LT", value=feb))) == [a]
    assert _ids(hs.search("contacts", _filter("createdate", "LTE", value=feb))) == [a, b]
    between = _filter("createdate", "BETWEEN", value="2023-12-31T00:00:00Z", highValue=feb)
    assert _ids(hs.search("contacts", between)) == [a, b]


def test_numbers_compare_numerically(hs: HubSpot) -> None:
    ids = [hs.create("products", {"name": n, "price": p})["id"] for n, p in (("a", "9"), ("b", "10"), ("c", "100"))]
    assert _ids(hs.search("products", _filter("price", "GT", value="9.5"))) == ids[1:]
    assert _ids(hs.search("products", _filter("price", "EQ", value="10.0"))) == [ids[1]]
    sorted_desc = hs.search("products", {"sorts": [{"propertyName": "price", "direction": "DESCENDING"}]})
    assert _ids(sorted_desc) == ids[::-1]


def test_groups_are_ored_filters_anded(hs: HubSpot, people: list) -> None:
    a, b, c = (p["id"] for p in people)
    body = {"filterGroups": [
        {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"},
                     {"propertyName": "city", "operator": "HAS_PROPERTY"}]},
        {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "anna"}]}]}
    assert _ids(hs.search("contacts", body)) == [a, b]


def test_sorts_and_default_order(hs: HubSpot, people: list) -> None:
    a, b, c = (p["id"] for p in people)
    assert _ids(hs.search("contacts", {})) == [a, b, c]  # creation order
    desc = {"sorts": [{"propertyName": "createdate", "direction": "DESCENDING"}]}
    assert _ids(hs.search("contacts", desc)) == [c, b, a]
    assert _ids(hs.search("contacts", {"sorts": ["lastname"]})) == [b, c, a]  # plain-string form
    assert_error(hs.search("contacts", {"sorts": ["lastname", "firstname"]}), 400, "VALIDATION_ERROR")


def test_query_free_text_and_properties(hs: HubSpot, people: list) -> None:
    response = hs.search("contacts", {"query": "schmidt", "properties": ["city"]})
    assert _ids(response) == [people[0]["id"]]
    assert response.json()["results"][0]["properties"]["city"] == "Berlin"


def test_offset_paging_and_limits(hs: HubSpot) -> None:
    ids = [r["id"] for r in hs.batch_create("products", [{"name": f"P{i}"} for i in range(25)])]
    first = hs.search("products", {"limit": 10}).json()
    assert first["total"] == 25 and first["paging"]["next"]["after"] == "10"
    third = hs.search("products", {"limit": 10, "after": "20"}).json()
    assert [r["id"] for r in third["results"]] == ids[20:] and "paging" not in third
    assert len(hs.search("products", {}).json()["results"]) == 10  # default limit
    assert_error(hs.search("products", {"limit": 201}), 400, "VALIDATION_ERROR")
    assert hs.search("products", {"limit": 200}).status_code == 200
    assert_error(hs.search("products", {"limit": 100, "after": "9950"}), 400, "VALIDATION_ERROR")
    assert hs.search("products", {"limit": 100, "after": "9900"}).status_code == 200


def test_filter_count_and_body_size_limits(hs: HubSpot) -> None:
    f = {"propertyName": "name", "operator": "HAS_PROPERTY"}
    assert hs.search("products", {"filterGroups": [{"filters": [f] * 6}] * 3}).status_code == 200  # 18 total
    assert_error(hs.search("products", {"filterGroups": [{"filters": [f]}] * 6}), 400, "VALIDATION_ERROR")
    assert_error(hs.search("products", {"filterGroups": [{"filters": [f] * 7}]}), 400, "VALIDATION_ERROR")
    nineteen = {"filterGroups": [{"filters": [f] * 6}] * 3 + [{"filters": [f]}]}
    assert_error(hs.search("products", nineteen), 400, "VALIDATION_ERROR")
    big = _filter("name", "EQ", value="x" * 3000)
    assert_error(hs.search("products", big), 400, "VALIDATION_ERROR")
    assert_error(hs.search("products", _filter("no_such_property", "EQ", value="1")), 400, "VALIDATION_ERROR")


def test_archived_never_searchable(hs: HubSpot, people: list) -> None:
    hs.delete(f"/crm/v3/objects/contacts/{people[1]['id']}")
    assert _ids(hs.search("contacts", {})) == [people[0]["id"], people[2]["id"]]


def test_associations_pseudo_property(hs: HubSpot, people: list) -> None:
    deal = hs.create("deals", {"dealname": "D", "dealstage": "closedwon"})
    hs.create("deals", {"dealname": "Other", "dealstage": "closedwon"})
    hs.put(f"/crm/v4/objects/deals/{deal['id']}/associations/default/contacts/{people[0]['id']}")
    body = _filter("associations.contact", "EQ", value=people[0]["id"])
    assert _ids(hs.search("deals", body)) == [deal["id"]]


def test_index_delay(sandbox: Any, hs: HubSpot) -> None:
    sandbox.hubspot.configure(search_index_delay_seconds=0.6)
    created = hs.create("contacts", {"email": "late@example.com", "firstname": "Late"})
    assert _ids(hs.search("contacts", {})) == []  # not indexed yet
    assert hs.get(f"/crm/v3/objects/contacts/{created['id']}").status_code == 200  # but readable
    time.sleep(0.7)
    assert _ids(hs.search("contacts", {})) == [created["id"]]
    hs.patch(f"/crm/v3/objects/contacts/{created['id']}", {"properties": {"firstname": "Later"}})
    stale = hs.search("contacts", _filter("firstname", "EQ", value="later"))
    assert _ids(stale) == []  # the index still has the old value
    time.sleep(0.7)
    assert _ids(hs.search("contacts", _filter("firstname", "EQ", value="later"))) == [created["id"]]


def test_search_list_and_batch_read_over_10k_records(sandbox: Any, hs: HubSpot) -> None:
    state = sandbox.hubspot.state()
    portal = state["portal"]
    base = 1_700_000_000_000
    records = []
    for i in range(10_500):
        rid = 5000 + i
        stamp = base + i * 1000
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp / 1000)) + ".000Z"
        records.append({"id": rid, "createdAt": stamp, "updatedAt": stamp, "archived": False, "archivedAt": None,
                        "properties": {"email": f"c{i}@example.com", "firstname": f"N{i % 7}", "hs_object_id": str(rid),
                                       "createdate": iso, "lastmodifieddate": iso}})
    portal["records"]["contacts"] = records
    portal["next_id"] = 20_000
    sandbox.hubspot.restore(state)
    sandbox.hubspot.configure(search_index_delay_seconds=0, ten_second_limit=100_000, search_per_second=100_000)
    body = _filter("lastmodifieddate", "GTE", value=str(base + 500_000))
    body.update(sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], limit=200)
    response = hs.search("contacts", body)
    assert response.json()["total"] == 10_000 and response.json()["results"][0]["id"] == "5500"
    page = hs.get("/crm/v3/objects/contacts", params={"limit": 100, "after": "9000"})
    assert page.json()["results"][0]["id"] == "9000"
    batch = hs.post("/crm/v3/objects/contacts/batch/read",
                    {"inputs": [{"id": str(5000 + i)} for i in range(100)], "properties": []})
    assert len(batch.json()["results"]) == 100
    found = hs.search("contacts", _filter("email", "EQ", value="c10400@example.com"))
    assert _ids(found) == ["15400"]
    past = hs.search("contacts", {"limit": 200, "after": "9900"})
    assert past.status_code == 400
