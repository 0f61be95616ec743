"""Focused tests of the WooCommerce sandbox behaviours the HubSpot -> WooCommerce sync leans on, beyond what the
replay of recordings 134-211 pins: the store currency (configurable, in the settings and /data/currencies),
the order write rules the REST controller applies (item edits, meta updates, validation) and the customer
email checks of single and batch requests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1

API = "/wp-json/wc/v3"
AUTH = OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256")


def call(box: Any, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
    return requests.request(method, f"{box.woo_url}{API}/{path}", json=body, params=params, auth=AUTH, timeout=30)


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text[:500]
    return response.json()


@pytest.fixture
def woo(empty_sandbox: Any) -> Iterator[Any]:
    yield empty_sandbox
    empty_sandbox.woo.configure(currency="USD", clock=None)
    empty_sandbox.woo.reset(empty=True)


def product(box: Any, **fields: Any) -> dict[str, Any]:
    return ok(call(box, "POST", "products", {"name": "Tee", "regular_price": "4.00", **fields}), 201)


def stock(box: Any, pid: int) -> tuple[int, int]:
    body = ok(call(box, "GET", f"products/{pid}"))
    return body["stock_quantity"], body["total_sales"]


# -- the store currency -------------------------------------------------------------------------------


def test_store_currency_is_configurable_and_shows_in_settings_currencies_and_orders(woo: Any) -> None:
    assert woo.woo.configure(currency="EUR")["currency"] == "EUR"
    woo.woo.reset(empty=True)  # stays in force across resets
    setting = ok(call(woo, "GET", "settings/general/woocommerce_currency"))
    assert (setting["value"], setting["group_id"], setting["default"]) == ("EUR", "general", "USD")
    current = ok(call(woo, "GET", "data/currencies/current"))
    assert (current["code"], current["name"], current["symbol"]) == ("EUR", "Euro", "&euro;")
    tee = product(woo)
    assert "&euro;</span>4.00" in tee["price_html"]
    order = ok(call(woo, "POST", "orders", {"line_items": [{"product_id": tee["id"]}]}), 201)
    assert (order["currency"], order["currency_symbol"]) == ("EUR", "€")


def test_currency_setting_put_changes_the_current_store_only(woo: Any) -> None:
    put = ok(call(woo, "PUT", "settings/general/woocommerce_currency", {"value": "JPY"}))
    assert put["value"] == "JPY"
    assert ok(call(woo, "GET", "data/currencies/current"))["symbol"] == "&yen;"
    assert ok(call(woo, "GET", "data/currencies/GBP"))["name"] == "Pound sterling"
    woo.woo.reset(empty=True)
    assert ok(call(woo, "GET", "data/currencies/current"))["code"] == "USD"
    refused = call(woo, "PUT", "settings/general/woocommerce_currency", {"value": "XXX"})
    assert (refused.status_code, refused.json()["code"]) == (400, "rest_setting_value_invalid")


def test_unknown_order_currency_is_refused_single_and_in_batch(woo: Any) -> None:
    single = call(woo, "POST", "orders", {"currency": "XYZ"})
    assert single.status_code == 400
    assert single.json()["data"]["details"]["currency"]["code"] == "rest_not_in_enum"
    batch = ok(call(woo, "POST", "orders/batch", {"create": [{"currency": "XYZ"}, {"currency": "CHF"}]}))
    assert batch["create"][0]["error"]["code"] == "order_invalid_currency"
    assert batch["create"][1]["currency"] == "CHF"


def test_general_settings_group_lists_every_setting_and_the_base_address_taxes_fall_back_to(woo: Any) -> None:
    group = ok(call(woo, "GET", "settings/general"))
    values = {s["id"]: s["value"] for s in group}
    assert values["woocommerce_default_country"] == "US:CA" and values["woocommerce_currency"] == "USD"
    assert len(group) == 20
    ok(call(woo, "PUT", "settings/general/woocommerce_calc_taxes", {"value": "yes"}))
    ok(call(woo, "POST", "taxes", {"country": "US", "state": "NY", "rate": "4.0000", "name": "NY Tax"}), 201)
    tee = product(woo, regular_price="10.00")
    untaxed = ok(call(woo, "POST", "orders", {"line_items": [{"product_id": tee["id"]}]}), 201)
    assert untaxed["total_tax"] == "0.00"  # no address: the CA base, no CA rate
    ok(call(woo, "PUT", "settings/general/woocommerce_default_country", {"value": "US:NY"}))
    taxed = ok(call(woo, "POST", "orders", {"line_items": [{"product_id": tee["id"]}]}), 201)
    assert (taxed["total_tax"], taxed["total"]) == ("0.40", "10.40")


# -- orders -------------------------------------------------------------------------------------------


def test_paid_fee_only_order_goes_straight_to_completed(woo: Any) -> None:
    order = ok(call(woo, "POST", "orders", {"set_paid": True, "fee_lines": [{"name": "Deal", "total": "25.00"}]}),
               201)
    assert (order["status"], order["needs_processing"], order["total"]) == ("completed", False, "25.00")
    assert order["date_paid"] is not None and order["date_completed"] is not None


def test_only_payment_complete_or_completed_makes_a_paying_customer(woo: Any) -> None:
    tee = product(woo)
    cid = ok(call(woo, "POST", "customers", {"email": "pay@example.com"}), 201)["id"]
    lines = [{"product_id": tee["id"]}]
    ok(call(woo, "POST", "orders", {"customer_id": cid, "status": "processing", "set_paid": True,
                                    "line_items": lines}), 201)
    assert ok(call(woo, "GET", f"customers/{cid}"))["is_paying_customer"] is False
    ok(call(woo, "POST", "orders", {"customer_id": cid, "set_paid": True, "line_items": lines}), 201)
    assert ok(call(woo, "GET", f"customers/{cid}"))["is_paying_customer"] is True


def test_line_edits_follow_the_rest_controller(woo: Any) -> None:
    tracked = product(woo, manage_stock=True, stock_quantity=10)
    other = product(woo, name="Other", manage_stock=True, stock_quantity=5)
    order = ok(call(woo, "POST", "orders", {"status": "processing",
                                            "line_items": [{"product_id": tracked["id"], "quantity": 4}]}), 201)
    assert stock(woo, tracked["id"]) == (6, 4)
    line = order["line_items"][0]["id"]
    edited = ok(call(woo, "PUT", f"orders/{order['id']}", {"line_items": [{"id": line, "quantity": 1}]}))
    assert (edited["line_items"][0]["total"], edited["total"]) == ("16.00", "16.00")  # not re-priced
    assert [(m["key"], m["value"]) for m in edited["line_items"][0]["meta_data"]] == [("_reduced_stock", "1")]
    assert stock(woo, tracked["id"]) == (9, 4)  # 3 given back, total_sales untouched
    added = ok(call(woo, "PUT", f"orders/{order['id']}", {"line_items": [{"product_id": other["id"]}]}))
    assert len(added["line_items"]) == 2 and added["line_items"][1]["meta_data"] == []
    assert stock(woo, other["id"]) == (5, 0)  # a line added to a processing order takes no stock
    missing = call(woo, "PUT", f"orders/{order['id']}", {"line_items": [{"id": 999999, "quantity": 2}]})
    assert (missing.status_code, missing.json()["code"]) == (400, "woocommerce_rest_invalid_item_id")


def test_trashing_or_deleting_a_counted_order_takes_its_sales_back(woo: Any) -> None:
    tee = product(woo)
    lines = [{"product_id": tee["id"], "quantity": 2}]
    first = ok(call(woo, "POST", "orders", {"status": "completed", "line_items": lines}), 201)
    second = ok(call(woo, "POST", "orders", {"status": "on-hold", "line_items": lines}), 201)
    assert stock(woo, tee["id"])[1] == 4
    ok(call(woo, "DELETE", f"orders/{first['id']}"))
    assert stock(woo, tee["id"])[1] == 2
    ok(call(woo, "DELETE", f"orders/{second['id']}", force="true"))
    assert stock(woo, tee["id"])[1] == 0


def test_meta_update_replaces_the_key_and_is_listed_by_key(woo: Any) -> None:
    order = ok(call(woo, "POST", "orders", {"meta_data": [{"key": "hubspot_deal_id", "value": "1"},
                                                          {"key": "_hubspot_deal_id", "value": "1"}]}), 201)
    again = ok(call(woo, "PUT", f"orders/{order['id']}", {"meta_data": [{"key": "hubspot_deal_id", "value": "2"}]}))
    assert [(m["key"], m["value"]) for m in again["meta_data"]] == [("_hubspot_deal_id", "1"), ("hubspot_deal_id", "2")]


def test_search_covers_ids_addresses_and_item_names_but_not_meta(woo: Any) -> None:
    tee = product(woo, name="Organic Hoodie")
    order = ok(call(woo, "POST", "orders", {"billing": {"first_name": "Ada", "last_name": "Lovelace",
                                                        "email": "ada@example.com"},
                                            "meta_data": [{"key": "hubspot_deal_id", "value": "DEAL77"}],
                                            "line_items": [{"product_id": tee["id"]}]}), 201)

    def found(term: str) -> list[int]:
        return [o["id"] for o in ok(call(woo, "GET", "orders", search=term))]

    for term in (str(order["id"]), "ada lovelace", "organic hood", "ADA@EXAMPLE"):
        assert found(term) == [order["id"]], term
    assert found("DEAL77") == []


def test_shipping_and_fee_lines_need_a_method_and_a_name(woo: Any) -> None:
    ship = call(woo, "POST", "orders", {"shipping_lines": [{"method_title": "Flat", "total": "5.00"}]})
    assert (ship.status_code, ship.json()["code"]) == (400, "woocommerce_rest_invalid_shipping_item")
    fee = call(woo, "POST", "orders", {"fee_lines": [{"total": "5.00"}]})
    assert (fee.status_code, fee.json()["code"]) == (400, "woocommerce_rest_invalid_fee_item")


def test_nothing_to_pay_needs_no_payment(woo: Any) -> None:
    order = ok(call(woo, "POST", "orders", {"line_items": [{"product_id": 999999}]}), 201)
    assert (order["status"], order["total"], order["needs_payment"]) == ("pending", "0.00", False)


def test_draft_products_have_no_slug_until_published(woo: Any) -> None:
    draft = product(woo, name="Secret Tee", status="draft")
    assert (draft["slug"], draft["generated_slug"]) == ("", "secret-tee")
    assert draft["permalink"].endswith(f"/?post_type=product&p={draft['id']}")
    published = ok(call(woo, "PUT", f"products/{draft['id']}", {"status": "publish"}))
    assert published["slug"] == "secret-tee" and published["permalink"].endswith("/product/secret-tee/")


# -- customers ----------------------------------------------------------------------------------------


def test_customer_email_checks_single_and_batch(woo: Any) -> None:
    alice = ok(call(woo, "POST", "customers", {"email": "alice@example.com"}), 201)
    empty_billing = call(woo, "POST", "customers", {"email": "bob@example.com", "billing": {"email": ""}})
    assert empty_billing.json()["data"]["params"] == {"billing": "Invalid email address."}
    both = call(woo, "PUT", f"customers/{alice['id']}", {"email": "nope", "billing": {"email": "nope"}})
    assert both.json()["message"] == "Invalid parameter(s): email, billing"
    own_in_caps = call(woo, "PUT", f"customers/{alice['id']}", {"email": "ALICE@example.com"})
    assert own_in_caps.json()["code"] == "woocommerce_rest_customer_invalid_email"
    batch = ok(call(woo, "POST", "customers/batch", {"update": [
        {"id": alice["id"], "email": "not-an-email"}, {"id": alice["id"], "billing": {"email": "bad"}}]}))
    assert [u["error"]["code"] for u in batch["update"]] == ["customer_invalid_email",
                                                           "customer_invalid_billing_email"]
    assert [u["id"] for u in batch["update"]] == [alice["id"], alice["id"]]
