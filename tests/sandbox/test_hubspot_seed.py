"""HubSpot sandbox: seeding (determinism, overlap with the shop's people), state round trip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox._hubspot import HubSpot, empty_portal
from woohub.sandbox.people import people


@pytest.fixture
def hs(sandbox: Any) -> Iterator[HubSpot]:
    yield from empty_portal(sandbox)


def _all(hs: HubSpot, object_type: str, props: str) -> list[dict[str, Any]]:
    return hs.get(f"/crm/v3/objects/{object_type}", params={"limit": 100, "properties": props}).json()["results"]


def _contents(hs: HubSpot) -> list[tuple]:
    return [tuple(sorted((k, v) for k, v in r["properties"].items() if k not in ("createdate", "lastmodifieddate",
                                                                                 "hs_lastmodifieddate", "closedate")))
            for t, p in (("contacts", "email,firstname,lastname,city"), ("deals", "dealname,amount,dealstage"),
                         ("line_items", "name,quantity,price,amount,hs_product_id,hs_sku"))
            for r in _all(hs, t, p)]


def test_seed_is_deterministic_and_overlaps_the_shop(sandbox: Any, hs: HubSpot) -> None:
    sandbox.hubspot.reset(seed=7, customers=40)
    first = _contents(hs)
    sandbox.hubspot.reset(seed=7, customers=40)
    assert _contents(hs) == first
    sandbox.hubspot.reset(seed=8, customers=40)
    assert _contents(hs) != first
    sandbox.hubspot.reset(seed=7, customers=40)
    customers = {p.email for p in people(7, 40)}
    emails = [c["properties"]["email"] for c in _all(hs, "contacts", "email")]
    overlapping = [e for e in emails if e.lower() in customers]
    assert len(overlapping) == 8  # every 5th customer
    assert any(e != e.lower() for e in overlapping)  # some with a differently-cased email
    assert any(e == e.lower() for e in overlapping)
    assert len(emails) - len(overlapping) >= 3  # HubSpot-only contacts


def test_seeded_deals_have_contacts_and_line_items(sandbox: Any, hs: HubSpot) -> None:
    sandbox.hubspot.reset(seed=42, customers=50)
    sandbox.hubspot.configure(ten_second_limit=100_000)
    deals = hs.get("/crm/v3/objects/deals", params={"limit": 100, "associations": "contacts,line_items"}).json()
    assert len(deals["results"]) >= 2
    for deal in deals["results"]:
        props = deal["properties"]
        assert props["dealname"].split(":")[0] in ("Upsell", "Cross-sell")
        assert props["pipeline"] == "default"
        assert len(deal["associations"]["contacts"]["results"]) == 1
        items = [r["id"] for r in deal["associations"]["line items"]["results"]]
        read = hs.post("/crm/v3/objects/line_items/batch/read",
                       {"inputs": [{"id": i} for i in items], "properties": ["amount", "hs_product_id"]}).json()
        assert sum(float(r["properties"]["amount"]) for r in read["results"]) == float(props["amount"])
        assert all(r["properties"]["hs_product_id"] for r in read["results"])


def test_empty_portal_has_defaults_only(sandbox: Any, hs: HubSpot) -> None:
    for object_type in ("contacts", "deals", "products", "line_items"):
        assert hs.get(f"/crm/v3/objects/{object_type}").json()["results"] == []
    assert hs.get("/crm/v3/pipelines/deals/default").status_code == 200
    assert hs.get("/crm/v3/properties/contacts/email").status_code == 200


def test_state_round_trip(sandbox: Any, hs: HubSpot) -> None:
    sandbox.hubspot.reset(seed=3, customers=20)
    hs.post("/crm/v3/properties/deals", {"groupName": "dealinformation", "name": "woo_order_id", "label": "x",
                                         "type": "string", "fieldType": "text", "hasUniqueValue": True})
    state = sandbox.hubspot.state()
    before = _contents(hs)
    sandbox.hubspot.reset(empty=True)
    assert _contents(hs) == []
    sandbox.hubspot.restore(state)
    assert _contents(hs) == before
    assert hs.get("/crm/v3/properties/deals/woo_order_id").json()["hasUniqueValue"] is True
    assert sandbox.hubspot.state() == state
