"""map_deals on real WooCommerce orders: exact properties, contact keys, and the status -> stage table."""

from __future__ import annotations

import pytest

from tests.mapping.helpers import assert_clean, woo
from woohub.mapping.woocommerce_to_hubspot import MappingConfig, StageMappingError, map_deals
from woohub.mapping.woocommerce_to_hubspot.config import WOO_ORDER_STATUSES


def test_order_with_three_lines_shipping_and_fee(config: MappingConfig) -> None:
    deals = map_deals([woo("083-get-order.json")], config)

    assert list(deals.columns) == ["source_key", "contact_source_key", "properties", "hubspot_deal_id"]
    row = deals.iloc[0]
    assert row["source_key"] == "223"
    assert row["contact_source_key"] == "customer:44"
    assert row["properties"] == {
        "dealname": "WooCommerce order #223",
        "amount": "99.49",  # the order total: lines 91.99 + shipping 5.00 + fee 2.50
        "closedate": "2026-11-28T07:05:48.000Z",  # date_paid_gmt wins over date_completed_gmt
        "pipeline": "default",
        "dealstage": "closedwon",
        "deal_currency_code": "USD",
        "woo_order_id": "223",
        "woo_order_number": "223",
        "woo_order_status": "completed",
    }
    assert_clean(deals)


def test_guest_order_is_keyed_by_its_email(config: MappingConfig) -> None:
    row = map_deals([woo("084-get-order-guest.json")], config).iloc[0]

    assert row["contact_source_key"] == "guest:guest.buyer@example.net"
    assert row["properties"]["dealstage"] == "qualifiedtobuy"  # pending
    assert row["properties"]["closedate"] == "2026-11-28T07:05:49.000Z"  # not paid: date_created_gmt
    assert row["properties"]["amount"] == "8.95"


def test_guest_without_email_has_no_contact_key(config: MappingConfig) -> None:
    order = woo("084-get-order-guest.json")
    order["billing"]["email"] = "  "

    deals = map_deals([order], config)

    assert deals.iloc[0]["contact_source_key"] is None
    assert_clean(deals.drop(columns="contact_source_key"))


def test_guest_email_is_normalised_in_the_key(config: MappingConfig) -> None:
    order = woo("084-get-order-guest.json")
    order["billing"]["email"] = " Guest.Buyer@Example.NET "

    assert map_deals([order], config).iloc[0]["contact_source_key"] == "guest:guest.buyer@example.net"


def test_eur_order_keeps_its_currency(config: MappingConfig) -> None:
    properties = map_deals([woo("085-get-order-eur.json")], config).iloc[0]["properties"]

    assert properties["deal_currency_code"] == "EUR"
    assert properties["amount"] == "15.00"
    assert properties["dealstage"] == "closedwon"  # processing = paid


@pytest.mark.parametrize(
    ("status", "stage"),
    [
        ("checkout-draft", "appointmentscheduled"),
        ("pending", "qualifiedtobuy"),
        ("on-hold", "contractsent"),
        ("processing", "closedwon"),
        ("completed", "closedwon"),
        ("cancelled", "closedlost"),
        ("failed", "closedlost"),
        ("refunded", "closedlost"),
        ("trash", "closedlost"),
    ],
)
def test_every_woocommerce_status_has_a_stage(config: MappingConfig, status: str, stage: str) -> None:
    order = woo("083-get-order.json")
    order["status"] = status

    row = map_deals([order], config).iloc[0]

    assert row["properties"]["dealstage"] == stage
    assert row["properties"]["woo_order_status"] == status


def test_the_stage_test_covers_every_core_status() -> None:
    parametrized = {"checkout-draft", "pending", "on-hold", "processing", "completed", "cancelled",
                    "failed", "refunded", "trash"}  # fmt: skip
    assert parametrized == set(WOO_ORDER_STATUSES)


def test_unknown_status_raises_naming_it(config: MappingConfig) -> None:
    shipped, odd = woo("083-get-order.json"), woo("085-get-order-eur.json")
    shipped["status"], odd["status"] = "shipped", "awaiting-pickup"

    with pytest.raises(StageMappingError) as caught:
        map_deals([shipped, odd, woo("084-get-order-guest.json")], config)

    assert "'awaiting-pickup', 'shipped'" in str(caught.value)
    assert "223" in str(caught.value)
    assert caught.value.missing_statuses == ("awaiting-pickup", "shipped")


def test_closedate_falls_back_to_completed_then_created(config: MappingConfig) -> None:
    completed_unpaid = woo("083-get-order.json")
    completed_unpaid["date_paid_gmt"] = None

    properties = map_deals([completed_unpaid], config).iloc[0]["properties"]

    assert properties["closedate"] == "2026-11-28T07:05:55.000Z"


def test_no_orders_give_an_empty_frame(config: MappingConfig) -> None:
    deals = map_deals([], config)

    assert deals.empty
    assert list(deals.columns) == ["source_key", "contact_source_key", "properties", "hubspot_deal_id"]


def test_amount_uses_the_order_currency_decimals(config: MappingConfig) -> None:
    yen, dinar = woo("085-get-order-eur.json"), woo("085-get-order-eur.json")
    yen["currency"], yen["total"] = "JPY", "1500.00"
    dinar["currency"], dinar["total"] = "KWD", "15.5"

    amounts = [p["amount"] for p in map_deals([yen, dinar], config)["properties"]]

    assert amounts == ["1500", "15.500"]


def test_a_date_typed_closedate_gets_midnight_utc(edited_config) -> None:
    """HubSpot ``date`` properties take the day at midnight UTC ("YYYY-MM-DD"); never a time of day."""
    def closedate_is_a_date(data: dict) -> None:
        data["deals"]["properties"]["closedate"]["type"] = "date"

    order = woo("083-get-order.json")  # date_paid_gmt 2026-11-28T07:05:48

    properties = map_deals([order], edited_config(closedate_is_a_date)).iloc[0]["properties"]

    assert properties["closedate"] == "2026-11-28"


def test_a_custom_date_property_gets_the_day_only(edited_config) -> None:
    def add_paid_date(data: dict) -> None:
        data["deals"]["properties"]["woo_date_paid"] = {"source": "date_paid_gmt",
                                                        "transform": "gmt_to_hubspot_datetime"}
        data["custom_properties"]["deals"].append(
            {"name": "woo_date_paid", "label": "WooCommerce paid date", "type": "date", "fieldType": "date",
             "groupName": "dealinformation", "hasUniqueValue": False})

    order = woo("083-get-order.json")
    order["date_paid_gmt"] = "2026-11-28T23:30:00"

    properties = map_deals([order], edited_config(add_paid_date)).iloc[0]["properties"]

    assert properties["woo_date_paid"] == "2026-11-28"  # the UTC day, though the transform gives a datetime
    assert properties["closedate"] == "2026-11-28T23:30:00.000Z"  # closedate stays a datetime
