"""map_line_items on real WooCommerce orders: product, shipping and fee lines, prices and discounts."""

from __future__ import annotations

from decimal import Decimal

from tests.mapping.helpers import assert_clean, woo
from woohub.mapping.woocommerce_to_hubspot import MappingConfig, map_line_items


def _line(properties: dict, **overrides: str | None) -> dict:
    """The expected properties of a line of order 223 (USD, no discount) with ``overrides``."""
    expected = {"discount": None, "hs_line_item_currency_code": "USD", "woo_order_id": "223",
                "woo_line_item_type": "product"}  # fmt: skip
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
