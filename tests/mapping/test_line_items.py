"""map_line_items on real WooCommerce orders: product, shipping and fee lines, prices and discounts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.mapping.helpers import assert_clean, woo
from woohub.mapping.woocommerce_to_hubspot import MappingConfig, map_line_items
from woohub.mapping.woocommerce_to_hubspot.line_items import line_total_differences


def _line(properties: dict, **overrides: str | None) -> dict:
    """The expected properties of a line of order 223 (USD, no discount) with ``overrides``; woo_quantity
    (added with the tax work: WooCommerce's quantity, also when a line is priced as one unit) = quantity."""
    expected = {"discount": None, "hs_line_item_currency_code": "USD", "woo_order_id": "223",
                "woo_line_item_type": "product", "woo_quantity": properties.get("quantity")}  # fmt: skip
    return {**expected, **properties, **overrides}


def test_order_with_three_lines_shipping_and_fee(config: MappingConfig) -> None:
    lines = map_line_items([woo("083-get-order.json")], config)

    assert list(lines.columns) == ["source_key", "deal_source_key", "product_source_key", "properties"]
    assert lines["source_key"].tolist() == ["130", "131", "132", "133", "134"]
    assert lines["deal_source_key"].tolist() == ["223"] * 5
    assert lines["product_source_key"].tolist() == ["207", "219", "208", None, None]
    got = {row["source_key"]: row["properties"] for _, row in lines.iterrows()}
    assert got["130"] == _line({"name": "Classic Cotton T-Shirt", "quantity": "1", "price": "19.99",
                                "hs_sku": "TSHIRT-CLASSIC", "woo_line_item_id": "130"})  # fmt: skip
    assert got["131"] == _line({"name": "Organic Hoodie - M", "quantity": "1", "price": "47.00",
                                "hs_sku": "HOODIE-ORG-M", "woo_line_item_id": "131"})  # fmt: skip
    # line "price" is the JSON number 12.5; subtotal "25.00" / quantity 2 gives the same 12.50
    assert got["132"] == _line({"name": "Ceramic Coffee Mug", "quantity": "2", "price": "12.50",
                                "hs_sku": "MUG-CERAMIC", "woo_line_item_id": "132"})  # fmt: skip
    assert got["133"] == _line({"name": "Flat rate", "quantity": "1", "price": "5.00", "hs_sku": None,
                                "woo_line_item_id": "133", "woo_line_item_type": "shipping"})  # fmt: skip
    assert got["134"] == _line({"name": "Gift wrap", "quantity": "1", "price": "2.50", "hs_sku": None,
                                "woo_line_item_id": "134", "woo_line_item_type": "fee"})  # fmt: skip
    assert_clean(lines.drop(columns="product_source_key"))


def test_line_items_add_up_to_the_order_total(config: MappingConfig) -> None:
    order = woo("083-get-order.json")
    lines = map_line_items([order], config)

    total = sum(Decimal(p["quantity"]) * (Decimal(p["price"]) - Decimal(p["discount"] or "0"))
                for p in lines["properties"])  # fmt: skip

    assert total == Decimal(order["total"])


def test_coupon_discount_is_per_unit_and_reproduces_line_totals(config: MappingConfig) -> None:
    order = woo("035-create-order-coupon-zoe.json")  # SAVE10 on a tote 18.00 and 2 candles 15.00
    lines = map_line_items([order], config)

    tote, candles = lines["properties"].tolist()
    assert (tote["price"], tote["discount"], tote["quantity"]) == ("18.00", "1.80", "1")
    assert (candles["price"], candles["discount"], candles["quantity"]) == ("15.00", "1.50", "2")
    for line, properties in zip(order["line_items"], [tote, candles], strict=True):
        net = Decimal(properties["quantity"]) * (
            Decimal(properties["price"]) - Decimal(properties["discount"])
        )
        assert net == Decimal(line["total"])


def test_eur_order_line_carries_the_order_currency_and_unicode_name(config: MappingConfig) -> None:
    row = map_line_items([woo("085-get-order-eur.json")], config).iloc[0]

    assert row["properties"]["hs_line_item_currency_code"] == "EUR"
    assert row["properties"]["name"] == "Crème Brûlée Candle – 東京 Édition 🕯️"
    assert row["properties"]["price"] == "15.00"
    assert row["deal_source_key"] == "231"


def test_unknown_product_line(config: MappingConfig) -> None:
    lines = map_line_items([woo("102-create-order-unknown-product.json")], config)

    row = lines.iloc[0]
    assert row["source_key"] == "151"
    assert row["product_source_key"] is None  # product_id 0: nothing to base the line item on
    assert row["properties"] == {
        "name": "Unknown product",  # WooCommerce gave name "" and sku null
        "quantity": "1",
        "price": "0.00",
        "discount": None,
        "woo_quantity": "1",
        "hs_sku": None,
        "hs_line_item_currency_code": "USD",
        "woo_line_item_id": "151",
        "woo_order_id": "239",
        "woo_line_item_type": "product",
    }


def test_nameless_line_falls_back_to_its_sku(config: MappingConfig) -> None:
    order = woo("084-get-order-guest.json")
    order["line_items"][0]["name"] = ""

    assert map_line_items([order], config).iloc[0]["properties"]["name"] == "NOTEBOOK-A5"


def test_lines_of_several_orders_keep_their_deal(config: MappingConfig) -> None:
    orders = [woo("083-get-order.json"), woo("084-get-order-guest.json"), woo("085-get-order-eur.json")]

    lines = map_line_items(orders, config)

    pairs = list(zip(lines["source_key"], lines["deal_source_key"], strict=True))
    assert pairs == [("130", "223"), ("131", "223"), ("132", "223"), ("140", "229"), ("144", "231"),
                     ("133", "223"), ("134", "223")]  # fmt: skip
    assert lines["source_key"].is_unique


def test_shipping_and_fee_lines_can_be_switched_off(edited_config) -> None:
    def edit(data: dict) -> None:
        data["line_items"]["include_shipping_lines"] = False
        data["line_items"]["include_fee_lines"] = False

    lines = map_line_items([woo("083-get-order.json")], edited_config(edit))

    assert lines["source_key"].tolist() == ["130", "131", "132"]


def test_no_orders_give_an_empty_frame(config: MappingConfig) -> None:
    lines = map_line_items([], config)

    assert lines.empty
    assert list(lines.columns) == ["source_key", "deal_source_key", "product_source_key", "properties"]


# ---------------------------------------------------------------- taxes (real store captures 230-258)

TAXED_ORDERS = [
    "230-create-order-tax-excl-ca-2-lines-shipping.json",
    "231-create-order-tax-excl-ca-reduced-rate-and-fees.json",
    "232-create-order-tax-excl-ca-coupon-10-percent.json",
    "233-create-order-tax-excl-ny-2-lines-shipping.json",
    "234-create-order-tax-excl-billing-ca-shipping-ny-reduced-rate.json",
    "236-create-order-tax-excl-ca-line-subtotal-total-override.json",
    "237-create-order-tax-excl-no-address-customer-id-only.json",
    "238-update-order-tax-shipping-address-ny.json",
    "240-create-order-tax-incl-ca-2-lines-shipping.json",
    "241-create-order-tax-incl-ca-single-line.json",
    "242-create-order-tax-incl-ny-single-line.json",
    "246-create-order-tax-excl-ca-2-lines-shipping-round-at-subtotal.json",
    "252-create-order-tax-sku-lines-variations-no-sku-and-parent-sku.json",
    "254-create-order-tax-excl-ca-decimals-0.json",
    "258-create-order-tax-excl-ca-decimals-3.json",
]


def _hubspot_amount(properties: dict) -> Decimal:
    """HubSpot's line item amount: quantity x (unit price - unit discount)."""
    return Decimal(properties["quantity"]) * (Decimal(properties["price"]) - Decimal(properties["discount"] or 0))


@pytest.mark.parametrize("name", TAXED_ORDERS)
def test_taxed_order_lines_add_up_exactly_to_the_total(config: MappingConfig, name: str) -> None:
    order = woo(name)
    lines = map_line_items([order], config)

    total = sum((_hubspot_amount(p) for p in lines["properties"]), Decimal(0))

    assert total == Decimal(order["total"]).quantize(Decimal("0.01"))  # USD: 2 decimals
    assert line_total_differences([order], config) == [Decimal(0)]
    for properties in lines["properties"]:
        for amount in (properties["price"], properties["discount"]):
            assert amount is None or len(amount.partition(".")[2]) <= 6  # HubSpot's unit price precision


def test_tax_is_one_line_item_per_order_with_total_tax(config: MappingConfig) -> None:
    order = woo("231-create-order-tax-excl-ca-reduced-rate-and-fees.json")  # two rates, two fees

    lines = map_line_items([order], config)

    tax = lines[lines["properties"].map(lambda p: p["woo_line_item_type"]) == "tax"]
    assert len(tax) == 1
    row = tax.iloc[0]
    assert row["source_key"] == str(min(t["id"] for t in order["tax_lines"]))
    assert (row["deal_source_key"], row["product_source_key"]) == (str(order["id"]), None)
    assert row["properties"]["name"] == "Tax: CA Tax 8.25%, US Reduced 5%"
    assert (row["properties"]["quantity"], row["properties"]["price"]) == ("1", order["total_tax"])
    assert row["properties"]["discount"] is None and row["properties"]["hs_sku"] is None


def test_round_at_subtotal_uses_total_tax_not_the_rate_rows(config: MappingConfig) -> None:
    order = woo("246-create-order-tax-excl-ca-2-lines-shipping-round-at-subtotal.json")
    rate_rows = sum(Decimal(t["tax_total"]) + Decimal(t["shipping_tax_total"]) for t in order["tax_lines"])

    tax = map_line_items([order], config).iloc[-1]["properties"]

    assert rate_rows == Decimal("6.19") and order["total_tax"] == "6.20"  # what makes per-rate lines wrong
    assert tax["price"] == "6.20"


def test_order_without_tax_lines_gets_no_tax_line_item(config: MappingConfig) -> None:
    for name in ("233-create-order-tax-excl-ny-2-lines-shipping.json", "083-get-order.json"):
        kinds = [p["woo_line_item_type"] for p in map_line_items([woo(name)], config)["properties"]]
        assert "tax" not in kinds


def test_prices_include_tax_lines_are_net_and_priced_as_one_unit_when_needed(config: MappingConfig) -> None:
    order = woo("240-create-order-tax-incl-ca-2-lines-shipping.json")  # 3 x 19.99 gross -> 55.40 net

    got = {row["source_key"]: row["properties"] for _, row in map_line_items([order], config).iterrows()}

    simple, variation = (str(line["id"]) for line in order["line_items"])
    # 55.40 / 3 is no exact unit price: one unit of the whole line, WooCommerce's quantity kept aside
    assert (got[simple]["quantity"], got[simple]["price"], got[simple]["woo_quantity"]) == ("1", "55.40", "3")
    assert (got[variation]["quantity"], got[variation]["price"]) == ("1", "9.38")


def test_coupon_on_taxed_order_is_a_per_unit_discount(config: MappingConfig) -> None:
    order = woo("232-create-order-tax-excl-ca-coupon-10-percent.json")  # 3 x 19.99 and 10.15, 10 % off

    lines = map_line_items([order], config)

    simple = lines.iloc[0]["properties"]
    assert (simple["quantity"], simple["price"], simple["discount"]) == ("3", "19.99", "2.00")
    assert _hubspot_amount(simple) == Decimal(order["line_items"][0]["total"])


def test_override_that_does_not_divide_is_priced_as_one_unit(config: MappingConfig) -> None:
    order = woo("236-create-order-tax-excl-ca-line-subtotal-total-override.json")  # 3 x, 60.00 -> 50.00

    line = map_line_items([order], config).iloc[0]["properties"]

    assert (line["quantity"], line["price"], line["discount"], line["woo_quantity"]) == ("1", "60.00", "10.00", "3")


def test_variation_line_with_the_parents_sku_links_to_the_variation(config: MappingConfig) -> None:
    order = woo("252-create-order-tax-sku-lines-variations-no-sku-and-parent-sku.json")

    lines = map_line_items([order], config)

    products = lines[lines["properties"].map(lambda p: p["woo_line_item_type"]) == "product"]
    by_line = {str(line["id"]): line for line in order["line_items"]}
    for source_key, product_key in zip(products["source_key"], products["product_source_key"], strict=True):
        line = by_line[source_key]
        assert product_key == str(line["variation_id"] or line["product_id"])  # by id, never by SKU
    inherited = [line for line in order["line_items"] if line["variation_id"]]
    assert len(inherited) == 2 and {line["sku"] for line in inherited} == {"tax-PARENT"}
    assert len({str(line["variation_id"]) for line in inherited}) == 2


def test_amounts_use_the_order_currencys_decimals(config: MappingConfig) -> None:
    order = woo("230-create-order-tax-excl-ca-2-lines-shipping.json")
    order["currency"] = "JPY"
    for line in order["line_items"]:
        line["subtotal"] = line["total"] = {"59.97": "6000", "10.15": "1015"}[line["subtotal"]]
    order["shipping_lines"][0]["total"], order["total_tax"], order["total"] = "500", "620", "8135"

    lines = map_line_items([order], config)

    prices = [p["price"] for p in lines["properties"]]
    assert prices == ["2000", "1015", "500", "620"]
    assert line_total_differences([order], config) == [Decimal(0)]


def test_tax_lines_can_be_switched_off_and_the_check_knows(edited_config) -> None:
    mapping = edited_config(lambda data: data["line_items"].update(include_tax_lines=False))
    order = woo("230-create-order-tax-excl-ca-2-lines-shipping.json")

    kinds = [p["woo_line_item_type"] for p in map_line_items([order], mapping)["properties"]]

    assert kinds == ["product", "product", "shipping"]
    assert line_total_differences([order], mapping) == [Decimal(0)]


def test_lines_that_do_not_add_up_are_reported(config: MappingConfig) -> None:
    order = woo("230-create-order-tax-excl-ca-2-lines-shipping.json")
    order["total"] = "81.30"
    broken = woo("230-create-order-tax-excl-ca-2-lines-shipping.json")
    broken["line_items"][0]["total"] = "n/a"

    assert line_total_differences([order, broken], config) == [Decimal("-0.02"), None]
