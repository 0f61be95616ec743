"""HubSpot deals -> WooCommerce orders (pure): qualification, line requests, the checks WooCommerce's REST
API does not make, the order payload and the line summaries. Products are real WooCommerce 11.0.1
payloads (recordings 134-143, 203)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.mapping.helpers import woo
from woohub.mapping.hubspot_to_woocommerce import (
    Catalog,
    H2WMapping,
    LineRequest,
    build_order,
    check_deal,
    deal_lines,
    deal_lines_summary,
    deal_skip_reason,
    order_lines_summary,
    packaged_mapping,
    stock_holder,
)
from woohub.mapping.hubspot_to_woocommerce.config import DEFAULT_MAPPING_PATH, parse_mapping

RECORDINGS = {
    17: "134-create-product-h2w-managed-stock-2.json",  # managed stock 2, 10.00, SKU h2w-managed-2
    18: "135-create-product-h2w-backorders-notify.json",  # managed stock 1, backorders notify, 12.00
    19: "136-create-product-h2w-unmanaged-instock.json",  # unmanaged, in stock, 9.99
    20: "137-create-product-h2w-outofstock-unmanaged.json",  # unmanaged, out of stock, 7.00
    21: "138-create-product-h2w-draft.json",
    22: "139-create-product-h2w-private.json",
    23: "140-create-product-h2w-variable.json",  # variable parent, SKU h2w-var
    24: "141-create-variation-h2w-red-managed-stock-1.json",  # variation, own stock 1, 30.00
    25: "142-create-variation-h2w-blue-unmanaged.json",  # variation, unmanaged, 32.00
    26: "143-create-product-h2w-stock-20.json",  # managed stock 20, 4.00
}


def products() -> list[dict[str, Any]]:
    return [woo(name) for name in RECORDINGS.values()]


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(products())


@pytest.fixture(scope="module")
def mapping() -> H2WMapping:
    return packaged_mapping()


def edited(edit: Callable[[dict[str, Any]], None]) -> H2WMapping:
    import yaml

    data = yaml.safe_load(DEFAULT_MAPPING_PATH.read_text(encoding="utf-8"))
    edit(data)
    return parse_mapping(data)


def deal(deal_id: str = "100", *, items: tuple[str, ...] = ("9",), **properties: Any) -> dict[str, Any]:
    """A staged HubSpot deal in the default pipeline, closed won, USD."""
    base = {"dealname": "Big order", "amount": None, "dealstage": "closedwon", "pipeline": "default",
            "closedate": "2026-12-01T10:00:00.000Z", "deal_currency_code": "USD", "woo_order_id": None,
            "woo_sync_status": None, "woo_sync_message": None, "hs_lastmodifieddate": "2026-12-01T10:00:00.000Z",
            "createdate": "2026-12-01T09:00:00.000Z"}
    return {"id": deal_id, "properties": {**base, **properties},
            "associations": {"line_items": list(items), "contacts": ["5"]}}


def item(item_id: str, product: str | None = "901", quantity: Any = "1", price: Any = "10.00",
         **properties: Any) -> dict[str, Any]:
    base = {"name": f"Item {item_id}", "quantity": quantity, "price": price, "amount": None, "discount": None,
            "hs_discount_percentage": None, "hs_product_id": product, "hs_sku": None,
            "hs_line_item_currency_code": None, "woo_line_item_id": None}
    return {"id": item_id, "properties": {**base, **properties}}


def hs_product(product_id: str, woo_id: int | None = None, sku: str | None = None) -> dict[str, Any]:
    return {"id": product_id, "properties": {"name": f"P{product_id}", "hs_sku": sku, "price": None,
                                             "woo_product_id": str(woo_id) if woo_id else None,
                                             "woo_parent_product_id": None}}


def lines_for(*specs: tuple[int, int, str], deal_id: str = "100") -> tuple[dict, list[LineRequest]]:
    """A deal with one line per ``(woo product id, quantity, unit price)``, linked by woo_product_id."""
    items, hub_products = {}, {}
    for position, (woo_id, quantity, price) in enumerate(specs, start=1):
        items[str(position)] = item(str(position), product=f"90{position}", quantity=str(quantity), price=price)
        hub_products[f"90{position}"] = hs_product(f"90{position}", woo_id)
    record = deal(deal_id, items=tuple(items))
    return record, deal_lines(record, items, hub_products)


def problems_of(*specs: tuple[int, int, str], catalog: Catalog, mapping: H2WMapping, amount: str | None = None,
                currency: str = "USD", store: str = "USD") -> list[str]:
    record, lines = lines_for(*specs)
    record["properties"].update(amount=amount, deal_currency_code=currency)
    return check_deal(record, lines, catalog, store_currency=store, mapping=mapping)


# -- qualification ------------------------------------------------------------------------------------------


def test_a_closed_won_deal_of_the_default_pipeline_qualifies(mapping: H2WMapping) -> None:
    assert deal_skip_reason(deal(), mapping) is None


@pytest.mark.parametrize(("properties", "reason"), [
    ({"dealstage": "appointmentscheduled"}, "stage appointmentscheduled does not qualify"),
    ({"pipeline": "partners"}, "pipeline partners does not qualify"),
    ({"woo_order_id": "17"}, "came from WooCommerce order 17 (woo_order_id)"),
    ({"woo_order_id": "17", "dealstage": "closedlost"}, "came from WooCommerce order 17 (woo_order_id)"),
    ({"dealstage": None}, "stage (none) does not qualify"),
])  # fmt: skip
def test_deals_that_do_not_qualify_say_why(mapping: H2WMapping, properties: dict, reason: str) -> None:
    assert deal_skip_reason(deal(**properties), mapping) == reason


def test_the_qualifying_stages_are_data() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["deals"]["qualify"] = {"default": ["closedwon"], "partners": ["won"]}
        data["deals"]["order_status"]["won"] = {"status": "on-hold", "set_paid": False}

    rules = edited(edit)
    assert deal_skip_reason(deal(pipeline="partners", dealstage="won"), rules) is None
    assert deal_skip_reason(deal(pipeline="partners", dealstage="closedwon"), rules) == \
        "stage closedwon does not qualify"


# -- line requests ------------------------------------------------------------------------------------------


def test_line_requests_are_ordered_by_numeric_line_item_id_and_find_their_product() -> None:
    items = {"10": item("10", product="901"), "9": item("9", product="902", hs_sku="LINE-SKU"),
             "100": item("100", product=None, hs_sku=" ONLY-SKU ")}
    hub = {"901": hs_product("901", 17, "h2w-managed-2"), "902": hs_product("902", None, "PRODUCT-SKU")}
    lines = deal_lines(deal(items=("100", "10", "9")), items, hub)
    assert [ln.line_item_id for ln in lines] == ["9", "10", "100"]
    assert [(ln.woo_product_id, ln.sku, ln.hubspot_product_id) for ln in lines] == [
        (None, "LINE-SKU", "902"), (17, "h2w-managed-2", "901"), (None, "ONLY-SKU", None)]


def test_line_request_amounts_are_decimals_from_hubspot() -> None:
    items = {
        "1": item("1", quantity="3", price="10.00", discount="1.50"),  # per-unit discount
        "2": item("2", quantity="2", price="10.00", hs_discount_percentage="10"),
        "3": item("3", quantity="2", price="10.00", discount="1", amount="17.00"),  # amount wins
        "4": item("4", quantity="2.0", price="9.99"),
    }
    lines = deal_lines(deal(items=("1", "2", "3", "4")), items, {"901": hs_product("901", 17)})
    assert [(ln.quantity, ln.unit_price, ln.unit_discount, ln.net_total) for ln in lines] == [
        (3, Decimal("10.00"), Decimal("1.50"), Decimal("25.5000")),
        (2, Decimal("10.00"), Decimal(0), Decimal("18.00")),
        (2, Decimal("10.00"), Decimal(1), Decimal("17.00")),
        (2, Decimal("9.99"), Decimal(0), Decimal("19.98")),
    ]
    assert all(ln.problem is None for ln in lines)
    assert lines[0].net_unit_price == Decimal("8.5")


@pytest.mark.parametrize(("quantity", "price", "problem"), [
    ("1.5", "10", "line item 9 (SKU S): quantity 1.5 is not a positive whole number"),
    ("0", "10", "line item 9 (SKU S): quantity 0 is not a positive whole number"),
    ("-2", "10", "line item 9 (SKU S): quantity -2 is not a positive whole number"),
    (None, "10", "line item 9 (SKU S): quantity (none) is not a positive whole number"),
    ("2", None, "line item 9 (SKU S): no price"),
])  # fmt: skip
def test_unusable_line_items_carry_their_problem(quantity: Any, price: Any, problem: str) -> None:
    items = {"9": item("9", quantity=quantity, price=price, hs_sku="S")}
    [line] = deal_lines(deal(), items, {})
    assert line.problem == problem


def test_a_line_item_the_deal_names_but_hubspot_did_not_give_is_a_problem(catalog: Catalog,
                                                                          mapping: H2WMapping) -> None:
    record = deal(items=("9", "12"))
    lines = deal_lines(record, {"9": item("9", price="4.00")}, {"901": hs_product("901", 26)})
    assert lines[1].problem == "line item 12 was not read from HubSpot"
    assert check_deal(record, lines, catalog, store_currency="USD", mapping=mapping) == [
        "line item 12 was not read from HubSpot"]


# -- checks ------------------------------------------------------------------------------------------------


def test_a_deal_the_store_can_fill_passes(catalog: Catalog, mapping: H2WMapping) -> None:
    assert problems_of((17, 2, "10.00"), (24, 1, "30.00"), (26, 5, "4.00"), catalog=catalog, mapping=mapping,
                       amount="70.00") == []


@pytest.mark.parametrize(("woo_id", "message"), [
    (21, "product 21 (SKU h2w-draft) is draft, not published"),
    (22, "product 22 (SKU h2w-private) is private, not published"),
    (23, "product 23 (SKU h2w-var) is a variable product; the line must name a variation"),
])  # fmt: skip
def test_products_that_cannot_be_ordered_are_rejected(catalog: Catalog, mapping: H2WMapping, woo_id: int,
                                                      message: str) -> None:
    price = catalog.get(woo_id)["price"] or "30.00"
    assert problems_of((woo_id, 1, price), catalog=catalog, mapping=mapping) == [message]


def test_a_variation_of_an_unpublished_product_is_rejected(mapping: H2WMapping) -> None:
    records = products()
    next(p for p in records if p["id"] == 23)["status"] = "draft"
    assert problems_of((25, 1, "32.00"), catalog=Catalog(records), mapping=mapping) == [
        "variation 25 (SKU h2w-var-blue) belongs to product 23, which is draft, not published"]


def test_a_product_that_is_not_purchasable_is_rejected(mapping: H2WMapping) -> None:
    records = products()
    no_price = {**woo(RECORDINGS[19]), "id": 30, "sku": "", "price": "", "regular_price": "", "purchasable": False}
    assert problems_of((30, 1, "9.99"), catalog=Catalog([*records, no_price]), mapping=mapping) == [
        "product 30 is not purchasable (it has no price)"]


def test_managed_stock_is_summed_across_the_lines_of_one_product(catalog: Catalog, mapping: H2WMapping) -> None:
    assert problems_of((17, 2, "10.00"), catalog=catalog, mapping=mapping) == []  # exactly the stock
    assert problems_of((17, 1, "10.00"), (26, 1, "4.00"), (17, 2, "10.00"), catalog=catalog, mapping=mapping) == [
        "SKU h2w-managed-2: 3 requested, 2 in stock"]


def test_backorders_allowed_lift_the_stock_limit(catalog: Catalog, mapping: H2WMapping) -> None:
    assert catalog.get(18)["stock_quantity"] == 1
    assert problems_of((18, 3, "12.00"), catalog=catalog, mapping=mapping) == []
    records = products()
    next(p for p in records if p["id"] == 18).update(backorders="no", backorders_allowed=False)
    assert problems_of((18, 3, "12.00"), catalog=Catalog(records), mapping=mapping) == [
        "SKU h2w-backorder-notify: 3 requested, 1 in stock"]


def test_a_variation_with_its_own_stock_counts_on_itself(catalog: Catalog, mapping: H2WMapping) -> None:
    assert problems_of((24, 2, "30.00"), catalog=catalog, mapping=mapping) == [
        "SKU h2w-var-red: 2 requested, 1 in stock"]
    assert problems_of((25, 50, "32.00"), catalog=catalog, mapping=mapping) == []  # not managed, in stock


def parent_managed_catalog() -> Catalog:
    """The variable tee managing stock 3 for both variations: the API then shows manage_stock "parent"
    on a variation (and the parent's quantity); one variation is given as false to cover both forms."""
    records = products()
    parent = next(p for p in records if p["id"] == 23)
    parent.update(manage_stock=True, stock_quantity=3, stock_status="instock")
    red = next(p for p in records if p["id"] == 24)
    red.update(manage_stock="parent", stock_quantity=3)
    next(p for p in records if p["id"] == 25).update(manage_stock=False)
    return Catalog(records)


def test_variations_without_their_own_stock_share_the_parents(mapping: H2WMapping) -> None:
    catalog = parent_managed_catalog()
    assert stock_holder(catalog.get(24), catalog)["id"] == 23
    assert stock_holder(catalog.get(25), catalog)["id"] == 23
    assert problems_of((24, 2, "30.00"), (25, 1, "32.00"), catalog=catalog, mapping=mapping) == []
    assert problems_of((24, 2, "30.00"), (25, 2, "32.00"), catalog=catalog, mapping=mapping) == [
        "SKU h2w-var: 4 requested, 3 in stock (stock shared by its variations)"]


def test_a_parent_managed_variation_without_its_parent_counts_its_shown_stock(mapping: H2WMapping) -> None:
    records = [p for p in products() if p["id"] != 23]
    next(p for p in records if p["id"] == 24).update(manage_stock="parent", stock_quantity=1)
    assert problems_of((24, 2, "30.00"), catalog=Catalog(records), mapping=mapping) == [
        "SKU h2w-var-red: 2 requested, 1 in stock"]


def test_unmanaged_out_of_stock_is_rejected(catalog: Catalog, mapping: H2WMapping) -> None:
    assert problems_of((20, 1, "7.00"), catalog=catalog, mapping=mapping) == ["SKU h2w-outofstock: out of stock"]


@pytest.mark.parametrize(("hubspot_price", "rejected"), [
    ("10.00", False), ("10.01", False), ("9.99", False), ("10.02", True), ("9.98", True), ("10.011", True),
])  # fmt: skip
def test_the_unit_price_must_be_woocommerces_within_the_tolerance(catalog: Catalog, mapping: H2WMapping,
                                                                  hubspot_price: str, rejected: bool) -> None:
    problems = problems_of((17, 1, hubspot_price), catalog=catalog, mapping=mapping)
    expected = [f"SKU h2w-managed-2: price {hubspot_price} in HubSpot, 10.00 in WooCommerce"] if rejected else []
    assert problems == expected


def test_the_price_tolerance_is_data(catalog: Catalog) -> None:
    exact = edited(lambda d: d["deals"].update(unit_price_tolerance=0))
    assert problems_of((17, 1, "10.01"), catalog=catalog, mapping=exact) == [
        "SKU h2w-managed-2: price 10.01 in HubSpot, 10.00 in WooCommerce"]
    generous = edited(lambda d: d["deals"].update(unit_price_tolerance="0.50"))
    assert problems_of((17, 1, "10.50"), catalog=catalog, mapping=generous) == []


def test_the_net_unit_price_after_discount_is_compared(catalog: Catalog, mapping: H2WMapping) -> None:
    items = {"1": item("1", quantity="2", price="12.00", discount="2.00"),
             "2": item("2", product="902", quantity="3", price="5.00", amount="12.00")}
    hub = {"901": hs_product("901", 17), "902": hs_product("902", 26)}
    record = deal(items=("1", "2"), amount="32.00")
    assert check_deal(record, deal_lines(record, items, hub), catalog, store_currency="USD", mapping=mapping) == []
    items["2"] = item("2", product="902", quantity="3", price="5.00", amount="10.00")
    record["properties"]["amount"] = None
    assert check_deal(record, deal_lines(record, items, hub), catalog, store_currency="USD", mapping=mapping) == [
        "SKU h2w-stock-20: price 3.333333 in HubSpot, 4.00 in WooCommerce"]


def test_with_hubspot_prices_nothing_is_price_checked(catalog: Catalog) -> None:
    rules = edited(lambda d: d["deals"].update(price_policy="hubspot"))
    assert problems_of((17, 2, "99.00"), catalog=catalog, mapping=rules, amount="198.00") == []
    assert problems_of((17, 2, "99.00"), catalog=catalog, mapping=rules, amount="20.00") == [
        "deal amount 20.00 does not equal its line items 198.00 (as priced in HubSpot)"]


@pytest.mark.parametrize(("amount", "rejected"), [("34.00", False), ("34.01", False), ("33.99", False),
                                                   ("34.02", True), ("100", True)])
def test_the_deal_amount_must_equal_its_lines_at_woocommerce_prices(catalog: Catalog, mapping: H2WMapping,
                                                                    amount: str, rejected: bool) -> None:
    problems = problems_of((26, 1, "4.00"), (24, 1, "30.00"), catalog=catalog, mapping=mapping, amount=amount)
    shown = f"{Decimal(amount):.2f}"
    expected = [f"deal amount {shown} does not equal its line items 34.00 (at WooCommerce prices)"]
    assert problems == (expected if rejected else [])


def test_the_amount_tolerance_is_data(catalog: Catalog) -> None:
    rules = edited(lambda d: d["deals"].update(amount_tolerance=1))
    assert problems_of((26, 1, "4.00"), catalog=catalog, mapping=rules, amount="5.00") == []
    assert problems_of((26, 1, "4.00"), catalog=catalog, mapping=rules, amount="5.01") == [
        "deal amount 5.01 does not equal its line items 4.00 (at WooCommerce prices)"]


def test_deal_and_line_currencies_must_be_the_store_currency(catalog: Catalog, mapping: H2WMapping) -> None:
    assert problems_of((26, 1, "4.00"), catalog=catalog, mapping=mapping, currency="EUR") == [
        "deal currency EUR is not the store currency USD"]
    assert problems_of((26, 1, "4.00"), catalog=catalog, mapping=mapping, currency="usd") == []
    assert problems_of((26, 1, "4.00"), catalog=catalog, mapping=mapping, currency="") == []
    assert problems_of((26, 1, "4.00"), catalog=catalog, mapping=mapping, store="EUR") == [
        "deal currency USD is not the store currency EUR"]
    items = {"9": item("9", hs_line_item_currency_code="EUR", price="4.00")}
    record = deal()
    lines = deal_lines(record, items, {"901": hs_product("901", 26)})
    assert check_deal(record, lines, catalog, store_currency="USD", mapping=mapping) == [
        "line item 9: currency EUR is not the store currency USD"]


def test_products_the_store_does_not_have_are_named(catalog: Catalog, mapping: H2WMapping) -> None:
    items = {"1": item("1", product="901"), "2": item("2", product="902"), "3": item("3", product="903")}
    hub = {"901": hs_product("901", 999, "GONE"), "902": hs_product("902", None, "NOPE"),
           "903": hs_product("903", None, None)}
    record = deal(items=("1", "2", "3"))
    assert check_deal(record, deal_lines(record, items, hub), catalog, store_currency="USD", mapping=mapping) == [
        "no WooCommerce product 999 for HubSpot product 901 (SKU GONE)",
        "no WooCommerce product for HubSpot product 902 (SKU NOPE)",
        "HubSpot product 903 names no WooCommerce product: no woo_product_id and no SKU",
    ]


def test_a_line_known_only_by_sku_finds_products_and_variations(catalog: Catalog, mapping: H2WMapping) -> None:
    items = {"1": item("1", product=None, hs_sku="h2w-var-red", price="30.00"),
             "2": item("2", product="902", price="4.00")}
    record = deal(items=("1", "2"), amount="34.00")
    lines = deal_lines(record, items, {"902": hs_product("902", None, "h2w-stock-20")})
    assert [catalog.resolve(ln)[0]["id"] for ln in lines] == [24, 26]
    assert check_deal(record, lines, catalog, store_currency="USD", mapping=mapping) == []


def test_a_variation_showing_its_parents_sku_does_not_own_it() -> None:
    records = products()
    next(p for p in records if p["id"] == 25)["sku"] = "h2w-var"  # no own SKU: the API shows the parent's
    catalog = Catalog(records)
    assert [p["id"] for p in catalog.by_sku["h2w-var"]] == [23]


def test_every_problem_of_a_deal_is_reported(catalog: Catalog, mapping: H2WMapping) -> None:
    assert problems_of((21, 1, "5.00"), (20, 1, "7.00"), (17, 3, "11.00"), catalog=catalog, mapping=mapping,
                       amount="1.00", currency="EUR") == [
        "deal currency EUR is not the store currency USD",
        "product 21 (SKU h2w-draft) is draft, not published",
        "SKU h2w-managed-2: price 11.00 in HubSpot, 10.00 in WooCommerce",
        "SKU h2w-outofstock: out of stock",
        "SKU h2w-managed-2: 3 requested, 2 in stock",
        "deal amount 1.00 does not equal its line items 42.00 (at WooCommerce prices)",
    ]


def test_a_deal_without_line_items_becomes_a_fee_or_is_rejected(catalog: Catalog, mapping: H2WMapping) -> None:
    record = deal(items=(), amount="25.00")
    assert check_deal(record, [], catalog, store_currency="USD", mapping=mapping) == []
    assert check_deal(deal(items=()), [], catalog, store_currency="USD", mapping=mapping) == [
        "deal has no line items and no amount: there is nothing to order"]
    assert check_deal(deal(items=(), amount="0"), [], catalog, store_currency="USD", mapping=mapping) == [
        "deal has no line items and its amount 0.00 is not positive"]
    strict = edited(lambda d: d["deals"].update(without_line_items="reject"))
    assert check_deal(record, [], catalog, store_currency="USD", mapping=strict) == ["deal has no line items"]


# -- the order --------------------------------------------------------------------------------------------


CONTACT = {"id": "5", "properties": {"email": " Alice@Example.com ", "firstname": "Alice", "lastname": "Hubwoo",
                                     "phone": "+1 617-555-0100", "address": "1 First St", "city": "Boston",
                                     "state": "MA", "zip": "02101", "country": "us", "company": "Acme",
                                     "woo_customer_id": None}}


def strings_only(value: Any, path: str = "") -> None:
    """Every amount in the payload is text (the API refuses numbers for money)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            strings_only(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for position, inner in enumerate(value):
            strings_only(inner, f"{path}[{position}]")
    elif isinstance(value, float):
        raise AssertionError(f"{path} is a float")


def test_the_order_payload_of_a_deal_for_a_customer(catalog: Catalog, mapping: H2WMapping) -> None:
    record, lines = lines_for((26, 1, "4.00"), (24, 1, "30.00"), deal_id="321")
    payload = build_order(record, lines, catalog, contact=CONTACT, customer_id=2, mapping=mapping,
                          store_currency="USD")
    assert payload == {
        "status": "processing", "set_paid": True, "currency": "USD", "customer_id": 2,
        "billing": {"first_name": "Alice", "last_name": "Hubwoo", "email": "alice@example.com",
                    "phone": "+1 617-555-0100", "address_1": "1 First St", "city": "Boston", "state": "MA",
                    "postcode": "02101", "country": "US", "company": "Acme"},
        "shipping": {"first_name": "Alice", "last_name": "Hubwoo", "address_1": "1 First St", "city": "Boston",
                     "state": "MA", "postcode": "02101", "country": "US", "company": "Acme"},
        "line_items": [{"product_id": 26, "quantity": 1}, {"product_id": 23, "variation_id": 24, "quantity": 1}],
        "created_via": "hubspot", "transaction_id": "hubspot-deal-321",
        "meta_data": [{"key": "hubspot_deal_id", "value": "321"}],
        "customer_note": "Order for HubSpot deal 321: Big order",
    }
    assert "fee_lines" not in payload


def test_a_guest_order_carries_the_contacts_billing_details(catalog: Catalog, mapping: H2WMapping) -> None:
    record, lines = lines_for((26, 1, "4.00"))
    payload = build_order(record, lines, catalog, contact=CONTACT, customer_id=None, mapping=mapping,
                          store_currency="USD")
    assert payload["customer_id"] == 0
    assert payload["billing"]["email"] == "alice@example.com"
    assert payload["billing"]["last_name"] == "Hubwoo"
    no_contact = build_order(record, lines, catalog, contact=None, customer_id=None, mapping=mapping,
                             store_currency="USD")
    assert (no_contact["customer_id"], no_contact["billing"], no_contact["shipping"]) == (0, {}, {})


def test_hubspot_prices_go_as_line_subtotal_and_total_text(catalog: Catalog) -> None:
    rules = edited(lambda d: d["deals"].update(price_policy="hubspot"))
    items = {"1": item("1", quantity="3", price="10.00", discount="1.50"), "2": item("2", product="902",
                                                                                     quantity="2", price="4")}
    hub = {"901": hs_product("901", 17), "902": hs_product("902", 24)}
    record = deal(items=("1", "2"))
    payload = build_order(record, deal_lines(record, items, hub), catalog, contact=None, customer_id=None,
                          mapping=rules, store_currency="USD")
    assert payload["line_items"] == [
        {"product_id": 17, "quantity": 3, "subtotal": "30.00", "total": "25.50"},
        {"product_id": 23, "variation_id": 24, "quantity": 2, "subtotal": "8.00", "total": "8.00"}]
    strings_only(payload)


def test_money_takes_the_store_currencys_decimals(catalog: Catalog) -> None:
    rules = edited(lambda d: d["deals"].update(price_policy="hubspot"))
    record, lines = lines_for((26, 2, "1500"))
    payload = build_order(record, lines, catalog, contact=None, customer_id=None, mapping=rules,
                          store_currency="JPY")
    assert payload["line_items"][0] | {} == {"product_id": 26, "quantity": 2, "subtotal": "3000", "total": "3000"}
    assert payload["currency"] == "JPY"
    fee = build_order(deal(items=(), amount="12.5"), [], catalog, contact=None, customer_id=None,
                      mapping=rules, store_currency="KWD")
    assert fee["fee_lines"][0]["total"] == "12.500"


def test_a_deal_without_line_items_gets_one_fee_line_for_its_amount(catalog: Catalog, mapping: H2WMapping) -> None:
    record = deal("55", items=(), amount="25", dealname="Consulting")
    payload = build_order(record, [], catalog, contact=None, customer_id=3, mapping=mapping, store_currency="USD")
    assert payload["line_items"] == []
    assert payload["fee_lines"] == [{"name": "HubSpot deal Consulting", "total": "25.00", "tax_status": "none"}]
    strings_only(payload)
    taxable = edited(lambda d: d["deals"].update(fee_line={"name": "Deal {id}", "tax_status": "taxable"}))
    again = build_order(record, [], catalog, contact=None, customer_id=3, mapping=taxable, store_currency="USD")
    assert again["fee_lines"] == [{"name": "Deal 55", "total": "25.00", "tax_status": "taxable"}]


def test_status_and_set_paid_come_from_the_reverse_stage_table(catalog: Catalog) -> None:
    rules = edited(lambda d: d["deals"]["order_status"].update(closedwon={"status": "on-hold", "set_paid": False}))
    record, lines = lines_for((26, 1, "4.00"))
    payload = build_order(record, lines, catalog, contact=None, customer_id=None, mapping=rules,
                          store_currency="USD")
    assert (payload["status"], payload["set_paid"]) == ("on-hold", False)
    with pytest.raises(ValueError, match="stage 'closedlost' has no deals.order_status entry"):
        build_order(deal(dealstage="closedlost"), lines, catalog, contact=None, customer_id=None, mapping=rules,
                    store_currency="USD")


def test_an_order_is_not_built_for_a_line_without_product(catalog: Catalog, mapping: H2WMapping) -> None:
    record, lines = lines_for((999, 1, "4.00"))
    with pytest.raises(ValueError, match="no WooCommerce product 999"):
        build_order(record, lines, catalog, contact=None, customer_id=None, mapping=mapping, store_currency="USD")


def test_a_deals_lines_summarise_like_the_order_made_from_them(catalog: Catalog, mapping: H2WMapping) -> None:
    record, lines = lines_for((26, 1, "4.00"), (24, 1, "30.00"))
    payload = build_order(record, lines, catalog, contact=None, customer_id=2, mapping=mapping, store_currency="USD")
    recorded = woo("146-create-order-h2w-set-paid-status-omitted.json")  # the store's answer to that order
    assert deal_lines_summary(lines) == order_lines_summary(payload) == order_lines_summary(recorded) == [
        ("24", 1), ("26", 1)]


def test_a_later_quantity_edit_in_hubspot_no_longer_matches_the_order(catalog: Catalog) -> None:
    _, lines = lines_for((26, 1, "4.00"), (24, 1, "30.00"))
    _, edited_lines = lines_for((26, 2, "4.00"), (24, 1, "30.00"))
    recorded = woo("146-create-order-h2w-set-paid-status-omitted.json")
    assert deal_lines_summary(lines) == order_lines_summary(recorded)
    assert deal_lines_summary(edited_lines) == [("24", 1), ("26", 2)] != order_lines_summary(recorded)


def test_summaries_sum_quantities_per_product_and_ignore_removed_lines() -> None:
    order = {"line_items": [{"product_id": 17, "variation_id": 0, "quantity": 1},
                            {"product_id": 17, "variation_id": 0, "quantity": 2},
                            {"product_id": 26, "variation_id": 0, "quantity": 0}],
             "fee_lines": [{"name": "x", "total": "1.00"}]}
    assert order_lines_summary(order) == [("17", 3)]
    _, lines = lines_for((17, 1, "10"), (17, 2, "10"))
    assert deal_lines_summary(lines) == [("17", 3)]


def test_sku_lines_summarise_by_id_with_the_catalogue(catalog: Catalog) -> None:
    items = {"1": item("1", product=None, hs_sku="h2w-var-red"), "2": item("2", quantity="1.5")}
    record = deal(items=("1", "2"))
    lines = deal_lines(record, items, {})
    assert deal_lines_summary(lines) == [("line_item:2", 0), ("sku:h2w-var-red", 1)]
    assert deal_lines_summary(lines, catalog) == [("24", 1), ("line_item:2", 0)]


def test_sku_lines_summarise_by_the_order_lines_of_that_sku() -> None:
    recorded = woo("146-create-order-h2w-set-paid-status-omitted.json")  # lines h2w-stock-20 and h2w-var-red
    items = {"1": item("1", product=None, hs_sku="h2w-var-red"), "2": item("2", product=None, hs_sku="h2w-stock-20")}
    lines = deal_lines(deal(items=("1", "2")), items, {})
    assert deal_lines_summary(lines, order=recorded) == order_lines_summary(recorded) == [("24", 1), ("26", 1)]
    items["3"] = item("3", product=None, hs_sku="h2w-elsewhere")
    lines = deal_lines(deal(items=("1", "2", "3")), items, {})
    assert deal_lines_summary(lines, order=recorded) == [("24", 1), ("26", 1), ("sku:h2w-elsewhere", 1)]


def test_the_catalogue_reads_rest_payloads_once_by_id() -> None:
    records = products()
    duplicate = copy.deepcopy(records[0])
    duplicate["name"] = "second copy"
    catalog = Catalog([*records, duplicate, {"id": None}])
    assert sorted(catalog.by_id) == sorted(RECORDINGS)
    assert catalog.get("17")["name"] == "H2W Managed Stock 2"
    assert catalog.get(999) is None and catalog.get("x") is None
