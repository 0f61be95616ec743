"""The ``woocommerce_to_hubspot`` DAG on the data of real shops, run by Airflow (``dag.test()``) against the
sandbox APIs and checked on HubSpot's side through its API: catalogues with optional and inherited SKUs,
taxed stores (prices entered with and without tax), orders in currencies the portal lacks, and a
zero-decimal currency.

The mapping behaviour comes from the store's own data as WooCommerce reports it (a variation without its own
SKU shows its parent's, WooCommerce 11.0.1 recordings 225-250), never from the mapping code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import Sandbox
from tests.e2e.test_woocommerce_to_hubspot import hubspot_records, run_dag, staging_rows, woo, woo_all

# The shop data, not the staging engine, is under test here: SQLite only (the happy paths run on both).
pytestmark = [pytest.mark.usefixtures("airflow_db", "gx_root"),
              pytest.mark.parametrize("staging_url", ["sqlite"], indirect=True)]

SIZES = [{"name": "Size", "options": ["S", "M", "L"], "visible": True, "variation": True}]
COLOURS = [{"name": "Colour", "options": ["Red", "Blue"], "visible": True, "variation": True}]
LINE_ITEM_PROPERTIES = ["woo_line_item_id", "woo_order_id", "woo_line_item_type", "hs_product_id", "amount",
                        "price", "quantity", "discount", "hs_line_item_currency_code"]
DEAL_PROPERTIES = ["woo_order_id", "amount", "deal_currency_code"]


def first_slot() -> datetime:
    """The logical date of a scheduled run whose interval ended a quarter of an hour ago."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)


def all_orders(sandbox: Sandbox) -> list[dict[str, Any]]:
    return woo_all(sandbox, "orders") + woo_all(sandbox, "orders", status="trash")


def deals_by_order(sandbox: Sandbox) -> dict[str, list[dict[str, Any]]]:
    """HubSpot deals per WooCommerce order id (deals created in HubSpot, without one, left out)."""
    deals: dict[str, list[dict[str, Any]]] = {}
    for deal in hubspot_records(sandbox, "deals", DEAL_PROPERTIES):
        order_id = deal["properties"].get("woo_order_id")
        if order_id:
            deals.setdefault(order_id, []).append(deal)
    return deals


def line_items_of(deal: dict[str, Any], line_items: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The line items associated with ``deal`` (``line_items``: every line item by HubSpot id)."""
    associated = (deal.get("associations") or {}).get("line items", {}).get("results", [])
    return [line_items[str(a["id"])] for a in associated if str(a["id"]) in line_items]


def open_quarantine(staging_url: str, object_type: str) -> dict[str, list[str]]:
    """Source key -> reasons of the records of ``object_type`` in quarantine now."""
    rows = staging_rows(staging_url, "select source_key, reasons from quarantine where released_at is null "
                                     f"and object_type = '{object_type}'")
    return {row.source_key: json.loads(row.reasons) for row in rows}


def guest(email: str, **address: str) -> dict[str, str]:
    return {"first_name": "Shop", "last_name": "Tester", "email": email, "address_1": "1 Test Street",
            "city": "Los Angeles", "state": "CA", "postcode": "90001", "country": "US", **address}


# -- 1. optional and inherited SKUs ------------------------------------------------------------------------


def create_variable(sandbox: Sandbox, name: str, sku: str | None, attributes: list[dict[str, Any]],
                    variations: list[tuple[str, str | None, str]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A variable product (``sku`` None: without one) and its variations ``(option, own sku, price)``."""
    body: dict[str, Any] = {"name": name, "type": "variable", "attributes": attributes}
    if sku:
        body["sku"] = sku
    parent = woo(sandbox, "POST", "/products", json=body)
    created = []
    for option, own_sku, price in variations:
        variation: dict[str, Any] = {"regular_price": price,
                                     "attributes": [{"name": attributes[0]["name"], "option": option}]}
        if own_sku:
            variation["sku"] = own_sku
        created.append(woo(sandbox, "POST", f"/products/{parent['id']}/variations", json=variation))
    return parent, created


def own_sku_of(record: dict[str, Any], parents: dict[int, dict[str, Any]]) -> str | None:
    """A record's own SKU as the store shows it: WooCommerce refuses to give a variation its parent's SKU
    (recording 227), so a variation showing its parent's SKU has none of its own."""
    sku = (record.get("sku") or "").strip() or None
    if record.get("type") == "variation" and sku is not None:
        parent = parents.get(record["parent_id"])
        if parent is not None and (parent.get("sku") or "").strip() == sku:
            return None
    return sku


def test_products_without_sku_and_inheriting_variations_load_once_and_line_items_point_at_them(
        sandbox: Sandbox, staging_url: str) -> None:
    sandbox.woo.reset(seed=11, customers=8, products=8, orders=10)
    sandbox.hubspot.reset(seed=11, customers=8, products=8, orders=10)
    plain = woo(sandbox, "POST", "/products", json={"name": "Shop Beeswax Candle", "regular_price": "12.00"})
    tee, tee_sizes = create_variable(sandbox, "Shop Tee", "SHOP-TEE", SIZES,
                                     [("S", "SHOP-TEE-S", "20.00"), ("M", None, "22.00"), ("L", None, "24.00")])
    mug, mug_colours = create_variable(sandbox, "Shop Mug", None, COLOURS,
                                       [("Red", "SHOP-MUG-RED", "9.00"), ("Blue", None, "9.50")])
    # what WooCommerce shows (recordings 225-250): the SKU-less variations of the tee show the tee's SKU
    assert plain["sku"] == "" and mug["sku"] == ""
    assert [v["sku"] for v in tee_sizes] == ["SHOP-TEE-S", "SHOP-TEE", "SHOP-TEE"]
    assert [v["sku"] for v in mug_colours] == ["SHOP-MUG-RED", ""]
    small, medium, large = tee_sizes
    red, blue = mug_colours
    orders = [
        woo(sandbox, "POST", "/orders", json={"status": "processing", "billing": guest("sku.one@example.org"),
                                               "line_items": [
                                                   {"product_id": plain["id"], "quantity": 2},
                                                   {"product_id": tee["id"], "variation_id": small["id"], "quantity": 1},
                                                   {"product_id": tee["id"], "variation_id": medium["id"], "quantity": 1}]}),
        woo(sandbox, "POST", "/orders", json={"status": "completed", "billing": guest("sku.two@example.org"),
                                               "line_items": [
                                                   {"product_id": tee["id"], "variation_id": large["id"], "quantity": 3},
                                                   {"product_id": mug["id"], "variation_id": red["id"], "quantity": 1},
                                                   {"product_id": mug["id"], "variation_id": blue["id"], "quantity": 2}]}),
    ]
    # the order lines of variations without their own SKU carry the parent's too
    assert [line["sku"] for line in orders[0]["line_items"]] == ["", "SHOP-TEE-S", "SHOP-TEE"]

    run = run_dag(first_slot(), scheduled=True)  # no high-water mark yet: the initial full load
    assert run.state == "success"

    parents = {p["id"]: p for p in woo_all(sandbox, "products")}
    variations = [v for p in parents.values() if p["type"] == "variable"
                  for v in woo_all(sandbox, f"products/{p['id']}/variations")]
    store = [p for p in parents.values() if p["status"] != "trash"] + variations
    quarantined = open_quarantine(staging_url, "woocommerce.products")
    mine = [plain, tee, mug, *tee_sizes, *mug_colours]
    assert not {str(p["id"]) for p in mine} & set(quarantined), f"SKU-less products quarantined: {quarantined}"

    hub_products: dict[str, list[dict[str, Any]]] = {}
    for product in hubspot_records(sandbox, "products", ["woo_product_id", "hs_sku", "name"]):
        if product["properties"].get("woo_product_id"):
            hub_products.setdefault(product["properties"]["woo_product_id"], []).append(product)
    expected = {str(p["id"]) for p in store} - set(quarantined)
    assert expected <= set(hub_products), f"not in HubSpot: {sorted(expected - set(hub_products))}"
    assert {key: len(found) for key, found in hub_products.items() if len(found) != 1} == {}, "duplicate products"
    skus = {str(p["id"]): (own_sku_of(p, parents), hub_products[str(p["id"])][0]["properties"].get("hs_sku") or None)
            for p in store if str(p["id"]) in hub_products}
    assert {key: pair for key, pair in skus.items() if pair[0] != pair[1]} == {}, "(own SKU, hs_sku) differ"
    assert {p["id"]: skus[str(p["id"])][1] for p in mine} == {
        plain["id"]: None, tee["id"]: "SHOP-TEE", mug["id"]: None, small["id"]: "SHOP-TEE-S", medium["id"]: None,
        large["id"]: None, red["id"]: "SHOP-MUG-RED", blue["id"]: None}
    assert any(own_sku_of(v, parents) is None and v["sku"] for v in variations if v not in mine), \
        "the seeded store should hold inheriting variations too"

    hubspot_id = {key: found[0]["id"] for key, found in hub_products.items()}
    line_items = {li["properties"]["woo_line_item_id"]: li
                  for li in hubspot_records(sandbox, "line_items", LINE_ITEM_PROPERTIES)
                  if li["properties"].get("woo_line_item_id")}
    deals = deals_by_order(sandbox)
    synced = [o for o in all_orders(sandbox) if str(o["id"]) in deals]
    assert {o["id"] for o in orders} <= {o["id"] for o in synced}
    by_hubspot_id = {li["id"]: li for li in line_items.values()}
    wrong = {}
    for order in synced:
        deal_items = {li["id"] for li in line_items_of(deals[str(order["id"])][0], by_hubspot_id)}
        for line in order["line_items"]:
            item = line_items.get(str(line["id"]))
            assert item is not None and item["id"] in deal_items, f"line {line['id']} of order {order['id']}"
            product_key = str(line["variation_id"] or line["product_id"])
            expected_product = hubspot_id.get(product_key) if line["product_id"] else None
            if item["properties"].get("hs_product_id") != expected_product:
                wrong[line["id"]] = (product_key, expected_product, item["properties"].get("hs_product_id"))
    assert wrong == {}, "line id: (WooCommerce product, expected hs_product_id, actual)"
    for line in orders[0]["line_items"] + orders[1]["line_items"]:
        assert line_items[str(line["id"])]["properties"].get("hs_product_id"), f"line {line['id']} unlinked"


# -- 2. taxed stores -----------------------------------------------------------------------------------------


@pytest.fixture(params=["exclusive", "inclusive"])
def tax_setting(request: pytest.FixtureRequest) -> str:
    """Prices entered without tax ("exclusive") or with tax ("inclusive")."""
    return str(request.param)


@pytest.fixture
def taxed_store(sandbox: Sandbox, tax_setting: str) -> Iterator[Sandbox]:
    """A seeded store with taxes on, prices entered as ``tax_setting`` says, and a portal with the store's
    currencies enabled."""
    sandbox.woo.configure(seed_taxes=tax_setting)
    try:
        sandbox.woo.reset(seed=12, customers=10, products=10, orders=24)
        sandbox.hubspot.reset(seed=12, customers=10, products=10, orders=24)
        sandbox.hubspot.configure(enabled_currencies=["USD", "EUR", "GBP"])
        yield sandbox
    finally:
        sandbox.woo.configure(seed_taxes="off")
        sandbox.hubspot.configure(enabled_currencies=["USD"])


def test_line_items_of_taxed_orders_add_up_to_the_deal_amount_and_the_order_total(
        taxed_store: Sandbox, tax_setting: str, staging_url: str) -> None:
    sandbox = taxed_store
    simple = [p for p in woo_all(sandbox, "products") if p["type"] == "simple" and p["status"] == "publish"]
    standard = next(p for p in simple if p["tax_class"] == "")
    reduced = next(p for p in simple if p["tax_class"] == "reduced-rate")
    extra = [  # what the seed may not have: a coupon on an odd quantity in California, a taxable fee
        woo(sandbox, "POST", "/orders", json={
            "status": "processing", "billing": guest("tax.ca@example.org"), "shipping": guest("tax.ca@example.org"),
            "line_items": [{"product_id": standard["id"], "quantity": 3}, {"product_id": reduced["id"], "quantity": 1}],
            "shipping_lines": [{"method_id": "flat_rate", "method_title": "Flat rate", "total": "5.00"}],
            "fee_lines": [{"name": "Gift wrap", "total": "2.50"}], "coupon_lines": [{"code": "WELCOME10"}]}),
        woo(sandbox, "POST", "/orders", json={
            "status": "completed", "billing": guest("tax.ny@example.org", city="New York", state="NY",
                                                    postcode="10001"),
            "line_items": [{"product_id": reduced["id"], "quantity": 2}, {"product_id": standard["id"], "quantity": 1}],
            "shipping_lines": [{"method_id": "flat_rate", "method_title": "Flat rate", "total": "7.50"}]}),
    ]
    assert all(Decimal(o["total_tax"]) > 0 for o in extra), [o["total_tax"] for o in extra]

    run = run_dag(first_slot(), scheduled=True)
    assert run.state == "success"

    orders = all_orders(sandbox)
    assert {o["prices_include_tax"] for o in orders} == {tax_setting == "inclusive"}
    quarantined = open_quarantine(staging_url, "woocommerce.orders")
    taxed = [o for o in orders if o["tax_lines"]]
    assert len(taxed) >= 4, "the taxed store should have several taxed orders"
    assert not {str(o["id"]) for o in taxed} & set(quarantined), f"taxed orders quarantined: {quarantined}"
    deals = deals_by_order(sandbox)
    assert set(deals) == {str(o["id"]) for o in orders} - set(quarantined)
    line_items = {li["id"]: li for li in hubspot_records(sandbox, "line_items", LINE_ITEM_PROPERTIES)}
    problems: list[str] = []
    for order in orders:
        if str(order["id"]) not in deals:
            continue
        (deal,) = deals[str(order["id"])]
        items = line_items_of(deal, line_items)
        amounts = sum((Decimal(li["properties"]["amount"]) for li in items), Decimal(0))
        if not Decimal(deal["properties"]["amount"]) == amounts == Decimal(order["total"]):
            parts = ", ".join(f"{li['properties']['woo_line_item_type']} {li['properties']['amount']}" for li in items)
            problems.append(f"order {order['id']}: total {order['total']}, deal {deal['properties']['amount']}, "
                            f"line items {amounts} ({parts})")
        tax_amounts = [Decimal(li["properties"]["amount"]) for li in items
                       if li["properties"]["woo_line_item_type"] == "tax"]
        if tax_amounts != ([Decimal(order["total_tax"])] if order["tax_lines"] else []):
            problems.append(f"order {order['id']}: total_tax {order['total_tax']}, tax line items {tax_amounts}")
    assert {str(o["id"]) for o in extra} <= set(deals)
    assert any(li["properties"].get("discount") for li in line_items.values()), "no coupon line was checked"
    assert not problems, "deals that do not add up:\n" + "\n".join(problems)


# -- 3. currencies the portal lacks --------------------------------------------------------------------------


def order_in(sandbox: Sandbox, currency: str, email: str) -> dict[str, Any]:
    """A real order in a currency other than the store's (WooCommerce accepts any, recording 036)."""
    product = next(p for p in woo_all(sandbox, "products") if p["type"] == "simple" and p["status"] == "publish")
    return woo(sandbox, "POST", "/orders", json={"currency": currency, "status": "processing",
                                                 "billing": guest(email, country="DE", state="", postcode="10115",
                                                                  city="Berlin"),
                                                 "line_items": [{"product_id": product["id"], "quantity": 2}]})


def test_orders_in_currencies_the_portal_lacks_are_quarantined_until_the_portal_enables_them(
        sandbox: Sandbox, staging_url: str) -> None:
    sandbox.woo.reset(seed=11, customers=10, products=10, orders=24)
    sandbox.hubspot.reset(seed=11, customers=10, products=10, orders=24)  # the portal: USD only
    currencies = {o["currency"] for o in all_orders(sandbox)}
    for currency in {"EUR", "GBP"} - currencies:
        order_in(sandbox, currency, f"{currency.lower()}.buyer@example.org")
    orders = all_orders(sandbox)
    foreign = {str(o["id"]): o["currency"] for o in orders if o["currency"] != "USD"}
    assert set(foreign.values()) == {"EUR", "GBP"}

    run = run_dag(first_slot(), scheduled=True)
    assert run.state == "success", "orders in other currencies must not fail the run"
    quarantined = open_quarantine(staging_url, "woocommerce.orders")
    assert set(foreign) <= set(quarantined)
    unnamed = {key: reasons for key, reasons in quarantined.items()
               if key in foreign and not any(foreign[key] in reason for reason in reasons)}
    assert unnamed == {}, "quarantine reasons that do not name the currency"
    deals = deals_by_order(sandbox)
    assert not set(foreign) & set(deals), "an order in a currency the portal lacks reached HubSpot"
    assert set(deals) == {str(o["id"]) for o in orders} - set(quarantined)
    stray = {li["properties"].get("woo_order_id") for li in hubspot_records(sandbox, "line_items", ["woo_order_id"])}
    assert not set(foreign) & stray, "line items of a quarantined order reached HubSpot"

    sandbox.hubspot.configure(enabled_currencies=["USD", "EUR"])
    recheck = run_dag(first_slot() + timedelta(minutes=15), {"recheck_quarantine": True})
    assert recheck.state == "success"
    deals = deals_by_order(sandbox)
    euro = {key for key, currency in foreign.items() if currency == "EUR"}
    pound = set(foreign) - euro
    assert euro <= set(deals), "the EUR orders were not loaded after the portal enabled EUR"
    by_id = {str(o["id"]): o for o in orders}
    for key in euro:
        (deal,) = deals[key]
        assert deal["properties"]["deal_currency_code"] == "EUR"
        assert Decimal(deal["properties"]["amount"]) == Decimal(by_id[key]["total"])
    released = staging_rows(staging_url, "select source_key, released_run_id from quarantine where object_type = "
                                         "'woocommerce.orders' and released_at is not null")
    assert {r.source_key for r in released} >= euro
    assert {r.released_run_id for r in released if r.source_key in euro} == {recheck.run_id}
    still = open_quarantine(staging_url, "woocommerce.orders")
    assert pound <= set(still) and not euro & set(still)
    assert all(any("GBP" in reason for reason in still[key]) for key in pound)
    assert not pound & set(deals), "a GBP order reached a portal without GBP"


# -- 4. a zero-decimal currency ------------------------------------------------------------------------------


@pytest.fixture
def yen_shop(sandbox: Sandbox) -> Iterator[Sandbox]:
    """An empty store that sells in yen with 0 decimals, and a portal with JPY enabled."""
    sandbox.woo.reset(empty=True)
    sandbox.hubspot.reset(empty=True)
    try:
        sandbox.hubspot.configure(enabled_currencies=["USD", "JPY"])
        woo(sandbox, "PUT", "/settings/general/woocommerce_price_num_decimals", json={"value": "0"})
        yield sandbox
    finally:
        sandbox.hubspot.configure(enabled_currencies=["USD"])
        sandbox.woo.reset(empty=True)  # back to the default settings (2 decimals)


def test_an_order_in_a_zero_decimal_currency_loads_with_a_whole_amount_equal_to_its_total(
        yen_shop: Sandbox, staging_url: str) -> None:
    sandbox = yen_shop
    matcha = woo(sandbox, "POST", "/products", json={"name": "Matcha Set", "sku": "JP-MATCHA", "regular_price": "1980"})
    candy = woo(sandbox, "POST", "/products", json={"name": "Yuzu Candy", "sku": "JP-YUZU", "regular_price": "333"})
    woo(sandbox, "POST", "/coupons", json={"code": "WELCOME10", "discount_type": "percent", "amount": "10"})
    order = woo(sandbox, "POST", "/orders", json={
        "currency": "JPY", "status": "processing", "set_paid": True,
        "billing": guest("yen.buyer@example.org", country="JP", state="JP13", postcode="100-0001", city="Tokyo"),
        "line_items": [{"product_id": matcha["id"], "quantity": 1}, {"product_id": candy["id"], "quantity": 3}],
        "shipping_lines": [{"method_id": "flat_rate", "method_title": "Flat rate", "total": "500"}],
        "coupon_lines": [{"code": "WELCOME10"}]})
    assert order["currency"] == "JPY" and "." not in order["total"] and Decimal(order["total"]) > 0, order["total"]

    run = run_dag(first_slot(), scheduled=True)
    assert run.state == "success"
    assert open_quarantine(staging_url, "woocommerce.orders") == {}
    (deal,) = deals_by_order(sandbox)[str(order["id"])]
    amount = deal["properties"]["amount"]
    assert deal["properties"]["deal_currency_code"] == "JPY"
    assert "." not in amount and Decimal(amount) == Decimal(order["total"]), (amount, order["total"])
    items = line_items_of(deal, {li["id"]: li for li in hubspot_records(sandbox, "line_items", LINE_ITEM_PROPERTIES)})
    assert {li["properties"]["hs_line_item_currency_code"] for li in items} == {"JPY"}
    assert all("." not in li["properties"]["amount"] for li in items), [li["properties"] for li in items]
    assert sum(Decimal(li["properties"]["amount"]) for li in items) == Decimal(order["total"])
