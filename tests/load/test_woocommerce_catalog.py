"""The live catalogue reads of HubSpot -> WooCommerce against the WooCommerce sandbox: products and
variations by id and SKU in few calls (``include`` drops variation ids, ``sku=`` finds them), the parents
of variations, and the store currency."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.conftest import Sandbox
from tests.load.woocommerce_fixtures import (  # noqa: F401  (fixtures)
    StoreApi,
    store_fixture,
    woo_hook_fixture,
    woo_store_fixture,
)
from woohub.woocommerce import WooCommerceHook
from woohub.woocommerce.catalog import fetch_catalog, store_currency


@pytest.fixture
def catalogue(store: StoreApi) -> dict[str, dict[str, Any]]:
    """A simple product, a draft, and a variable tee with a red (managed stock 1) and a blue variation."""
    simple = store.product("CAT-SIMPLE", manage_stock=True, stock_quantity=5)
    draft = store.product("CAT-DRAFT", status="draft")
    tee = store.post("/products", {"name": "Tee", "type": "variable", "sku": "CAT-TEE", "status": "publish",
                                   "attributes": [{"name": "Color", "options": ["Red", "Blue"], "visible": True,
                                                   "variation": True}]})
    red = store.post(f"/products/{tee['id']}/variations", {
        "regular_price": "30.00", "sku": "CAT-TEE-RED", "manage_stock": True, "stock_quantity": 1,
        "attributes": [{"name": "Color", "option": "Red"}]})
    blue = store.post(f"/products/{tee['id']}/variations", {
        "regular_price": "32.00", "sku": "CAT-TEE-BLUE", "attributes": [{"name": "Color", "option": "Blue"}]})
    return {"simple": simple, "draft": draft, "tee": tee, "red": red, "blue": blue}


def test_products_and_variations_by_id_and_sku_in_few_calls(woo_hook: WooCommerceHook,
                                                            catalogue: dict[str, dict[str, Any]]) -> None:
    ids = [str(catalogue["simple"]["id"]), catalogue["draft"]["id"], catalogue["red"]["id"], 999_999, "n/a"]
    records = fetch_catalog(woo_hook, ids, ["CAT-TEE-BLUE", "CAT-SIMPLE", "NO-SUCH-SKU"])

    by_id = {r["id"]: r for r in records}
    assert len(records) == len(by_id) == 5, "each record once; the unknown ids and SKU are absent"
    assert set(by_id) == {catalogue[k]["id"] for k in ("simple", "draft", "red", "blue", "tee")}
    assert by_id[catalogue["red"]["id"]]["type"] == "variation"
    assert by_id[catalogue["red"]["id"]]["stock_quantity"] == 1
    assert by_id[catalogue["red"]["id"]]["parent_id"] == catalogue["tee"]["id"]
    assert by_id[catalogue["blue"]["id"]]["sku"] == "CAT-TEE-BLUE"
    assert by_id[catalogue["draft"]["id"]]["status"] == "draft", "drafts are read too: the checks reject them"
    assert by_id[catalogue["tee"]["id"]]["type"] == "variable", "the variations' parent is added"
    # include (drops the red variation), sku list (finds blue), the parent by include; red and 999999 by id
    assert woo_hook.api_calls == Counter({"GET /products": 3, "GET /products/{id}": 2})


def test_a_variation_whose_parent_is_asked_for_costs_no_parent_call(
        woo_hook: WooCommerceHook, catalogue: dict[str, dict[str, Any]]) -> None:
    records = fetch_catalog(woo_hook, [catalogue["red"]["id"], catalogue["tee"]["id"]])
    assert sorted(r["id"] for r in records) == sorted([catalogue["red"]["id"], catalogue["tee"]["id"]])
    assert woo_hook.api_calls == Counter({"GET /products": 1, "GET /products/{id}": 1})


def test_skus_alone_find_products_and_variations_in_one_call_plus_the_parent(
        woo_hook: WooCommerceHook, catalogue: dict[str, dict[str, Any]]) -> None:
    records = fetch_catalog(woo_hook, [], ["CAT-SIMPLE", "CAT-TEE-RED"])
    assert sorted(r["sku"] for r in records) == ["CAT-SIMPLE", "CAT-TEE", "CAT-TEE-RED"]
    assert woo_hook.api_calls == Counter({"GET /products": 2})


def test_nothing_asked_costs_nothing(woo_hook: WooCommerceHook, woo_store: Sandbox) -> None:
    assert fetch_catalog(woo_hook, [], []) == [] and woo_hook.calls_spent() == 0


def test_store_currency_is_the_woocommerce_currency_setting(woo_hook: WooCommerceHook, woo_store: Sandbox) -> None:
    assert store_currency(woo_hook) == "USD"
    assert woo_hook.api_calls == Counter({"GET /settings/general/woocommerce_currency": 1})


def test_store_currency_falls_back_to_the_current_currency_when_settings_are_not_readable(
        woo_hook: WooCommerceHook, woo_store: Sandbox) -> None:
    woo_store.woo.set_faults({"kind": "status", "status": 403, "path": "/settings/general/woocommerce_currency"})
    assert store_currency(woo_hook) == "USD"
    assert woo_hook.api_calls == Counter({"GET /settings/general/woocommerce_currency": 1,
                                          "GET /data/currencies/current": 1})
