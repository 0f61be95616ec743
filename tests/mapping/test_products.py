"""map_products on real WooCommerce products, a variable parent and its variations."""

from __future__ import annotations

from tests.mapping.helpers import assert_clean, woo
from woohub.mapping.woocommerce_to_hubspot import MappingConfig, map_products


def _hoodie_family(config: MappingConfig):
    return map_products(
        [woo("017-get-product-hoodie-after-variations.json")], woo("081-list-variations.json"), config
    )


def test_simple_product(config: MappingConfig) -> None:
    products = map_products([woo("087-get-product.json")], [], config)

    assert list(products.columns) == ["source_key", "action", "properties"]
    row = products.iloc[0]
    assert (row["source_key"], row["action"]) == ("207", "upsert")
    assert row["properties"] == {
        "name": "Classic Cotton T-Shirt",
        "hs_sku": "TSHIRT-CLASSIC",
        "price": "21.99",
        "description": "Soft 100% organic cotton tee.",  # "<p>...</p>\n" without the HTML
        "woo_product_id": "207",
        "woo_parent_product_id": None,
        "woo_stock_quantity": "119",
        "woo_stock_status": "instock",
        "woo_product_status": "publish",
        "woo_product_type": "simple",
    }
    assert_clean(products)


def test_variable_parent_and_variations(config: MappingConfig) -> None:
    products = _hoodie_family(config)

    rows = {row["source_key"]: row["properties"] for row in products.to_dict("records")}
    assert set(rows) == {"217", "218", "219", "220"}
    assert rows["217"]["name"] == "Organic Hoodie"
    assert rows["217"]["price"] == "45.00"  # the cheapest variation; regular_price is ""
    assert rows["217"]["woo_product_type"] == "variable"
    assert rows["219"] == {
        "name": "Organic Hoodie - M",  # as WooCommerce names the order line; the variation's name is "M"
        "hs_sku": "HOODIE-ORG-M",
        "price": "47.00",
        "description": None,
        "woo_product_id": "219",
        "woo_parent_product_id": "217",
        "woo_stock_quantity": "7",
        "woo_stock_status": "instock",
        "woo_product_status": "publish",
        "woo_product_type": "variation",
    }
    assert rows["220"]["woo_stock_quantity"] is None  # stock not managed: null
    assert (rows["218"]["name"], rows["220"]["name"]) == ("Organic Hoodie - S", "Organic Hoodie - L")
    assert set(products["action"]) == {"upsert"}
    assert_clean(products)


def test_single_variation_endpoint_payload(config: MappingConfig) -> None:
    products = map_products(
        [woo("017-get-product-hoodie-after-variations.json")], [woo("082-get-variation.json")], config
    )

    assert products.set_index("source_key").loc["219", "properties"]["name"] == "Organic Hoodie - M"


def test_variation_without_its_parent_keeps_its_own_name(config: MappingConfig) -> None:
    row = map_products([], [woo("082-get-variation.json")], config).iloc[0]

    assert row["properties"]["name"] == "M"
    assert row["properties"]["woo_parent_product_id"] == "217"


def test_variation_with_a_custom_name_keeps_it(config: MappingConfig) -> None:
    variation = woo("082-get-variation.json")
    variation["name"] = "Hoodie medium (limited)"

    products = map_products([woo("017-get-product-hoodie-after-variations.json")], [variation], config)

    assert products.set_index("source_key").loc["219", "properties"]["name"] == "Hoodie medium (limited)"


def test_variable_parent_without_variations_has_no_price(config: MappingConfig) -> None:
    properties = map_products([woo("013-create-product-hoodie.json")], [], config).iloc[0]["properties"]

    assert properties["price"] is None  # "" in WooCommerce: not "0" or "0.00"
    assert properties["woo_stock_status"] == "outofstock"


def test_trashed_product_is_archived(config: MappingConfig) -> None:
    products = map_products([woo("053-get-trashed-product.json"), woo("087-get-product.json")], [], config)

    assert dict(zip(products["source_key"], products["action"], strict=True)) == {
        "215": "archive",
        "207": "upsert",
    }


def test_variations_of_a_trashed_parent_are_archived(config: MappingConfig) -> None:
    parent = woo("017-get-product-hoodie-after-variations.json")
    parent["status"] = "trash"

    products = map_products([parent], woo("081-list-variations.json"), config)

    assert set(products["action"]) == {"archive"}


def test_unicode_and_escaped_names(config: MappingConfig) -> None:
    candle, gift = woo("006-create-product-candle.json"), woo("010-create-product-giftcard.json")
    gift["name"] = "Gift card &amp; wrap"

    names = [p["name"] for p in map_products([candle, gift], [], config)["properties"]]

    assert names == ["Crème Brûlée Candle – 東京 Édition 🕯️", "Gift card & wrap"]


def test_repeated_product_keeps_the_last_occurrence(config: MappingConfig) -> None:
    before, after = woo("003-create-product-tshirt.json"), woo("087-get-product.json")

    products = map_products([before, after], [], config)

    assert products["source_key"].tolist() == ["207"]
    assert products.iloc[0]["properties"]["price"] == "21.99"


def test_hs_sku_is_written_only_when_it_is_the_records_own(config: MappingConfig) -> None:
    """Real store: variations without own SKU return the parent's "tax-PARENT" (224-226, 250); a SKU-less
    simple product has sku "" (223). Keyed by id, none of them lose their product."""
    parent = woo("224-create-product-tax-variable-sku-parent.json")
    variations = woo("250-list-variations-tax-parent.json")

    products = map_products([parent, woo("223-create-product-tax-simple-sku-empty.json")], variations, config)

    skus = {row["source_key"]: row["properties"]["hs_sku"] for row in products.to_dict("records")}
    assert skus == {"53": "tax-PARENT", "52": None, "55": None, "54": None}
    assert {row["properties"]["woo_product_id"] for row in products.to_dict("records")} == {"53", "52", "55", "54"}


def test_inherited_sku_without_the_parent_in_the_input(config: MappingConfig) -> None:
    variation = woo("248-get-variation-tax-s-no-sku.json")

    told = map_products([], [variation], config, parent_skus={"53": "tax-PARENT"}).iloc[0]["properties"]
    own = woo("082-get-variation.json")  # HOODIE-ORG-M is the variation's own SKU
    kept = map_products([], [own], config, parent_skus={"217": ""}).iloc[0]["properties"]

    assert told["hs_sku"] is None
    assert kept["hs_sku"] == "HOODIE-ORG-M"


def test_product_price_uses_the_store_currency_decimals(config: MappingConfig) -> None:
    product = woo("087-get-product.json")
    product["price"] = "2199"

    yen = map_products([product], [], config, store_currency="JPY").iloc[0]["properties"]
    dinar = map_products([woo("087-get-product.json")], [], config, store_currency="KWD").iloc[0]["properties"]

    assert (yen["price"], dinar["price"]) == ("2199", "21.990")
