"""validation_frame: the columns the suites check, computed from real payloads, and no crash on gaps."""

from __future__ import annotations

import math

import pytest

from tests.quality.conftest import recorded_body
from woohub.woocommerce.checks import STREAMS, validation_frame


def test_order_columns_from_real_payloads() -> None:
    orders = [recorded_body("083-get-order"), recorded_body("084-get-order-guest"),
              recorded_body("035-create-order-coupon-zoe"), recorded_body("102-create-order-unknown-product")]

    frame = validation_frame("orders", orders, known_product_ids={207, 208, 219, 213})

    assert frame["source_id"].tolist() == ["223", "229", "230", "239"]
    assert frame["total_difference"].tolist() == [0.0, 0.0, 0.0, 0.0]  # fee, coupon and shipping included
    assert frame["guest_billing_email"].tolist() == [None, "x.x@x.x", None, None]  # the shape of the address
    assert frame["unknown_product_line_count"].tolist() == [0, 0, 2, 1]  # 209/210 unstaged; product_id 0
    assert frame["line_items_difference"].tolist() == [0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("stream", STREAMS)
def test_payloads_missing_keys_do_not_crash(stream: str) -> None:
    frame = validation_frame(stream, [{}, {"id": 7, "line_items": "oops", "billing": None}, "not a dict"])  # type: ignore[list-item]

    assert frame["source_id"].tolist() == ["#0", "7", "#2"]
    assert frame["id"].isna().tolist() == [True, False, True]


def test_unparsable_money_makes_the_total_check_null() -> None:
    order = recorded_body("083-get-order")
    order["line_items"][1]["subtotal"] = "n/a"

    frame = validation_frame("orders", [order])

    assert math.isnan(frame["total_difference"].iat[0]) and frame["total_amount"].iat[0] == 99.49


def test_product_sku_and_price_columns() -> None:
    # Changed with the SKU rework: SKUs are optional (no required_sku / variable_parent_sku columns any
    # more); own_sku is the record's own SKU, null when empty.
    parent = recorded_body("013-create-product-hoodie")  # variable, price ""
    parent["sku"] = ""
    products = [recorded_body("087-get-product"), parent, recorded_body("082-get-variation")]

    frame = validation_frame("products", products)

    assert frame["own_sku"].tolist() == ["TSHIRT-CLASSIC", None, "HOODIE-ORG-M"]
    assert frame["price"].tolist()[1] is None and math.isnan(frame["price_amount"].iat[1])
    assert frame["stock_quantity"].tolist()[1] is None


def test_inherited_variation_skus_are_not_their_own() -> None:
    """Real store (captures 224-226, 250): variations S and M without SKU both return the parent's
    "tax-PARENT"; a SKU-less simple product has sku ""."""
    parent = recorded_body("224-create-product-tax-variable-sku-parent")
    variations = recorded_body("250-list-variations-tax-parent")
    simple = recorded_body("223-create-product-tax-simple-sku-empty")

    with_parent = validation_frame("products", [parent, *variations, simple])
    siblings_only = validation_frame("products", variations)  # parent not in this extract

    assert [v["sku"] for v in variations] == ["tax-PARENT", "tax-PARENT"]
    assert with_parent["own_sku"].tolist() == ["tax-PARENT", None, None, None]
    assert siblings_only["own_sku"].tolist() == [None, None]


def test_currency_column_names_the_currency_and_the_enabled_ones() -> None:
    orders = [recorded_body("083-get-order"), recorded_body("085-get-order-eur")]

    checked = validation_frame("orders", orders, enabled_currencies={"usd", "GBP"})
    unchecked = validation_frame("orders", orders)

    assert checked["currency_not_in_hubspot"].tolist() == [
        None, "EUR is not a currency of the HubSpot portal (enabled: GBP, USD)"]
    assert unchecked["currency_not_in_hubspot"].tolist() == [None, None]


def test_line_items_difference_is_zero_for_real_taxed_orders() -> None:
    names = ["230-create-order-tax-excl-ca-2-lines-shipping", "231-create-order-tax-excl-ca-reduced-rate-and-fees",
             "232-create-order-tax-excl-ca-coupon-10-percent", "240-create-order-tax-incl-ca-2-lines-shipping",
             "246-create-order-tax-excl-ca-2-lines-shipping-round-at-subtotal"]
    order = recorded_body("230-create-order-tax-excl-ca-2-lines-shipping")
    order["total"] = "81.33"  # a cent more than its lines

    frame = validation_frame("orders", [recorded_body(n) for n in names] + [order])

    assert frame["line_items_difference"].tolist() == [0.0] * 5 + [0.01]


def test_unknown_stream_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown stream 'refunds'"):
        validation_frame("refunds", [])
