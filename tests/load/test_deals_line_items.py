"""load_deals and load_line_items against the sandbox: records, associations, product links, unchanged
re-runs, edited orders, changed buyers and per-record failures."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tests.load.builders import (
    associations,
    customer,
    deal,
    guest,
    line_item,
    product_frame,
    records,
    write_calls,
)


def load_store(hook: Any, engine: Any, run_id: str, *, orders: int = 40) -> dict[str, Any]:
    """Products 1-10, customers 1-5, a guest, ``orders`` deals and two line items per order."""
    from woohub.hubspot.load import load_contacts, load_deals, load_line_items, load_products

    contacts = [customer(i, f"c{i}@shop.test") for i in range(1, 6)] + [guest("g@mail.test")]
    deals = [deal(o, f"customer:{o % 5 + 1}" if o % 4 else "guest:g@mail.test") for o in range(1, orders + 1)]
    items = [
        line_item(o * 10 + n, o, (o + n) % 12 + 1 if n else None)
        for o in range(1, orders + 1)
        for n in (0, 1)
    ]
    return {
        "products": load_products(hook, engine, product_frame(range(1, 11)), run_id),
        "contacts": load_contacts(hook, engine, pd.DataFrame(contacts), run_id),
        "deals": load_deals(hook, engine, pd.DataFrame(deals), run_id),
        "line_items": load_line_items(hook, engine, pd.DataFrame(items), run_id),
    }


def test_orders_load_with_associations_and_rerun_writes_nothing(
    portal: Any, hubspot: Any, engine: Any
) -> None:
    first = load_store(portal, engine, "run-1")
    assert first["deals"].created == 40 and first["deals"].api_calls == 3  # check, upsert, associate
    assert first["line_items"].created == 80 and first["line_items"].api_calls == 3
    # items n=0 have no product; n=1 products 11 and 12 are not in the catalogue
    unlinked = first["line_items"].unlinked_line_items
    assert len(unlinked) == 40 + sum(1 for o in range(1, 41) if (o + 1) % 12 + 1 > 10)

    deals = {r["properties"]["woo_order_id"]: r for r in records(hubspot, "deals")}
    contacts = {r["properties"]["email"]: r["id"] for r in records(hubspot, "contacts")}
    assert len(deals) == 40 and deals["7"]["properties"]["dealstage"] == "closedwon"
    assert associations(hubspot, "deals", "contacts") == {
        (deals[str(o)]["id"], contacts[f"c{o % 5 + 1}@shop.test" if o % 4 else "g@mail.test"], 3)
        for o in range(1, 41)
    }
    items = {r["properties"]["woo_line_item_id"]: r for r in records(hubspot, "line_items")}
    products = {r["properties"]["woo_product_id"]: r["id"] for r in records(hubspot, "products")}
    assert len(items) == 80 and items["71"]["properties"]["hs_product_id"] == str(products["9"])
    assert "hs_product_id" not in items["70"]["properties"]
    assert associations(hubspot, "deals", "line_items") == {
        (deals[key[:-1]]["id"], item["id"], 19) for key, item in items.items()
    }

    portal.api_calls.clear()
    again = load_store(portal, engine, "run-2")
    assert all(r.created == r.updated == r.failed == 0 for r in again.values())
    assert portal.api_calls == {} and write_calls(portal) == 0


def test_edited_order_and_changed_buyer(portal: Any, hubspot: Any, engine: Any) -> None:
    from woohub.hubspot.load import load_deals, load_line_items

    load_store(portal, engine, "run-1", orders=4)
    before = {r["properties"]["woo_line_item_id"]: r["id"] for r in records(hubspot, "line_items")}
    deal_ids = {r["properties"]["woo_order_id"]: r["id"] for r in records(hubspot, "deals")}
    contacts = {r["properties"]["email"]: r["id"] for r in records(hubspot, "contacts")}

    moved = load_deals(portal, engine, pd.DataFrame([deal(1, "customer:5", amount="25")]), "run-2")
    assert moved.updated == 1
    linked = {c for d, c, _ in associations(hubspot, "deals", "contacts") if d == deal_ids["1"]}
    assert linked == {contacts["c5@shop.test"]}

    edited = [line_item(10, 1, None, quantity=3), line_item(12, 1, 2)]  # item 11 removed, 12 added
    result = load_line_items(portal, engine, pd.DataFrame(edited), "run-2")
    assert (result.updated, result.created, result.archived) == (1, 1, 1)
    items = {r["properties"]["woo_line_item_id"]: r for r in records(hubspot, "line_items")}
    assert (
        "11" not in items
        and items["10"]["id"] == before["10"]
        and items["10"]["properties"]["quantity"] == "3"
    )
    assert {i for d, i, _ in associations(hubspot, "deals", "line_items") if d == deal_ids["1"]} == {
        items["10"]["id"],
        items["12"]["id"],
    }

    portal.api_calls.clear()
    assert load_line_items(portal, engine, pd.DataFrame(edited), "run-3").unchanged == 2
    assert write_calls(portal) == 0


def test_unknown_dealstage_fails_only_that_deal_until_fixed(portal: Any, hubspot: Any, engine: Any) -> None:
    from woohub.core.dead_letters import dead_letters
    from woohub.hubspot.load import load_contacts, load_deals, load_line_items

    load_contacts(portal, engine, pd.DataFrame([customer(1, "c1@shop.test")]), "run-1")
    bad = [deal(1, "customer:1"), deal(2, "customer:1", stage="no_such_stage"), deal(3, None)]
    result = load_deals(portal, engine, pd.DataFrame(bad), "run-1")
    assert (result.created, result.failed) == (2, 1) and result.failures[0]["source_key"] == "2"
    items = load_line_items(
        portal, engine, pd.DataFrame([line_item(20, 2, None), line_item(10, 1, None)]), "run-1"
    )
    assert (items.created, items.failed) == (1, 1) and items.failures[0]["error_code"] == "DEAL_NOT_LOADED"
    assert {(d["object_type"], d["source_key"]) for d in dead_letters(engine)} == {
        ("deal", "2"),
        ("line_item", "20"),
    }

    fixed = load_deals(
        portal, engine, pd.DataFrame([deal(1, "customer:1"), deal(2, "customer:1"), deal(3, None)]), "run-2"
    )
    assert (fixed.created, fixed.unchanged) == (1, 2)
    load_line_items(portal, engine, pd.DataFrame([line_item(20, 2, None), line_item(10, 1, None)]), "run-2")
    assert dead_letters(engine) == []
    assert len(records(hubspot, "deals")) == 3 and len(records(hubspot, "line_items")) == 2
