"""A data team's YAML edits change the output with no code change."""

from __future__ import annotations

from tests.mapping.helpers import assert_clean, woo
from woohub.mapping.woocommerce_to_hubspot import map_contacts, map_deals, map_line_items, map_products


def test_a_different_stage_for_processing(edited_config) -> None:
    config = edited_config(lambda d: d["deals"]["stages"]["default"].update(processing="contractsent"))

    stages = [
        p["dealstage"]
        for p in map_deals([woo("085-get-order-eur.json"), woo("083-get-order.json")], config)["properties"]
    ]

    assert stages == ["contractsent", "closedwon"]  # processing moved, completed still won


def test_a_second_pipeline(edited_config) -> None:
    def edit(data: dict) -> None:
        data["deals"]["stages"]["shop"] = {s: f"shop-{s}" for s in data["deals"]["stages"]["default"]}
        data["deals"]["pipeline"] = "shop"

    properties = map_deals([woo("083-get-order.json")], edited_config(edit)).iloc[0]["properties"]

    assert (properties["pipeline"], properties["dealstage"]) == ("shop", "shop-completed")


def test_an_extra_deal_property_and_a_new_dealname(edited_config) -> None:
    def edit(data: dict) -> None:
        deals = data["deals"]["properties"]
        deals["description"] = {"source": "customer_note", "transform": "strip"}
        deals["dealname"] = {"template": "{billing.last_name} – order {number}"}

    properties = map_deals([woo("083-get-order.json")], edited_config(edit)).iloc[0]["properties"]

    assert properties["description"] == "Please gift wrap."
    assert properties["dealname"] == "Johnson – order 223"


def test_an_extra_custom_product_property(edited_config) -> None:
    def edit(data: dict) -> None:
        data["products"]["properties"]["woo_permalink"] = {"source": "permalink"}
        data["custom_properties"]["products"].append(
            {"name": "woo_permalink", "label": "WooCommerce URL", "type": "string", "fieldType": "text",
             "groupName": "productinformation", "hasUniqueValue": False}
        )  # fmt: skip

    config = edited_config(edit)
    products = map_products([woo("087-get-product.json")], [], config)

    assert (
        products.iloc[0]["properties"]["woo_permalink"]
        == "http://127.0.0.1:8088/product/classic-cotton-t-shirt/"
    )
    assert config.custom_properties_for("products")[-1].name == "woo_permalink"
    assert_clean(products)


def test_phone_falls_back_to_shipping_when_configured(edited_config) -> None:
    customer = woo("020-create-customer-bob.json")
    customer["shipping"]["phone"] = "+1 512-555-0100"
    config = edited_config(
        lambda d: d["contacts"]["properties"]["phone"].update(source=["billing.phone", "shipping.phone"])
    )

    assert map_contacts([customer], [], config).iloc[0]["properties"]["phone"] == "+1 512-555-0100"


def test_shipping_address_first_when_configured(edited_config) -> None:
    config = edited_config(lambda d: d["contacts"].update(address_sources=["shipping", "billing"]))

    properties = map_contacts([woo("086-get-customer.json")], [], config).iloc[0]["properties"]

    assert (properties["address"], properties["city"]) == ("100 Main St", "Eugene")


def test_dropping_a_property_and_renaming_the_unknown_product(edited_config) -> None:
    def edit(data: dict) -> None:
        del data["line_items"]["properties"]["discount"]
        data["line_items"]["properties"]["name"]["default"] = "Deleted product"

    properties = map_line_items([woo("102-create-order-unknown-product.json")], edited_config(edit)).iloc[0][
        "properties"
    ]

    assert "discount" not in properties
    assert properties["name"] == "Deleted product"
