"""map_contacts on real WooCommerce customers and guest orders."""

from __future__ import annotations

from tests.mapping.helpers import assert_clean, woo
from woohub.mapping.woocommerce_to_hubspot import MappingConfig, guest_aliases, map_contacts

COLUMNS = ["source_key", "email", "properties", "error"]


def _by_key(frame) -> dict[str, dict]:
    return {row["source_key"]: row for row in frame.to_dict("records")}


def test_customer_with_full_billing(config: MappingConfig) -> None:
    contacts = map_contacts([woo("086-get-customer.json")], [], config)

    assert list(contacts.columns) == COLUMNS
    row = contacts.iloc[0]
    assert (row["source_key"], row["email"], row["error"]) == (
        "customer:44",
        "alice.johnson@example.com",
        None,
    )
    assert row["properties"] == {
        "email": "alice.johnson@example.com",
        "firstname": "Alice",
        "lastname": "Johnson",
        "phone": "+1 541-555-0134",
        "address": "742 Evergreen Terrace, Suite 5",  # billing, not the shipping street
        "city": "Springfield",
        "state": "OR",
        "zip": "97403",
        "country": "US",
        "company": "Johnson Design LLC",
        "woo_customer_id": "44",
    }
    assert_clean(contacts.drop(columns="error"))


def test_customer_without_phone_or_billing_email(config: MappingConfig) -> None:
    properties = map_contacts([woo("020-create-customer-bob.json")], [], config).iloc[0]["properties"]

    assert properties["email"] == "bob.smith@example.com"  # the account email; billing.email is ""
    assert properties["phone"] is None  # "" in WooCommerce, never "" or "nan" here
    assert properties["company"] is None
    assert properties["address"] == "12 Oak Ave"


def test_unicode_customer_without_state(config: MappingConfig) -> None:
    contacts = map_contacts([woo("019-create-customer-zoe.json")], [], config)

    properties = contacts.iloc[0]["properties"]
    assert (properties["firstname"], properties["lastname"]) == ("Zoë", "Ångström-Müller")
    assert properties["address"] == "Straße des 17. Juni 135"
    assert (properties["state"], properties["zip"], properties["country"]) == (None, "10623", "DE")
    assert_clean(contacts.drop(columns="error"))


def test_names_and_address_fall_back(config: MappingConfig) -> None:
    customer = woo("086-get-customer.json")
    customer["first_name"] = customer["last_name"] = ""
    customer["billing"].update(address_1="", address_2="", city="", postcode="", country="", state="")

    properties = map_contacts([customer], [], config).iloc[0]["properties"]

    assert (properties["firstname"], properties["lastname"]) == ("Alice", "Johnson")  # from billing
    assert (properties["address"], properties["city"], properties["zip"]) == (
        "100 Main St",
        "Eugene",
        "97401",
    )


def test_guest_order(config: MappingConfig) -> None:
    contacts = map_contacts([], [woo("084-get-order-guest.json")], config)

    row = contacts.iloc[0]
    assert (row["source_key"], row["email"], row["error"]) == (
        "guest:guest.buyer@example.net",
        "guest.buyer@example.net",
        None,
    )
    assert row["properties"]["email"] == "guest.buyer@example.net"
    assert row["properties"]["woo_customer_id"] is None
    assert all(v is None for k, v in row["properties"].items() if k != "email")


def test_guests_dedupe_to_the_most_recently_modified_order(config: MappingConfig) -> None:
    older, newer = woo("084-get-order-guest.json"), woo("084-get-order-guest.json")
    older["billing"].update(first_name="Old", email="GUEST.buyer@example.net ")
    newer.update(id=300, date_modified_gmt="2026-11-29T10:00:00")
    newer["billing"]["first_name"] = "New"

    contacts = map_contacts([], [newer, older], config)

    assert contacts["source_key"].tolist() == ["guest:guest.buyer@example.net"]
    assert contacts.iloc[0]["properties"]["firstname"] == "New"


def test_registered_customers_orders_are_not_guests(config: MappingConfig) -> None:
    contacts = map_contacts([], [woo("083-get-order.json"), woo("084-get-order-guest.json")], config)

    assert contacts["source_key"].tolist() == ["guest:guest.buyer@example.net"]


def test_guest_with_a_customers_email_is_dropped(config: MappingConfig) -> None:
    guest = woo("084-get-order-guest.json")
    guest["billing"]["email"] = "Alice.Johnson@example.com"

    contacts = map_contacts([woo("086-get-customer.json")], [guest], config)

    assert contacts["source_key"].tolist() == ["customer:44"]
    assert guest_aliases(contacts) == {"guest:alice.johnson@example.com": "customer:44"}


def test_guest_without_email_is_returned_as_an_error_row(config: MappingConfig) -> None:
    guest, bad = woo("084-get-order-guest.json"), woo("084-get-order-guest.json")
    guest["billing"]["email"] = ""
    bad.update(id=301)
    bad["billing"]["email"] = "not-an-email"

    contacts = map_contacts([woo("086-get-customer.json")], [guest, bad], config)

    rows = _by_key(contacts)
    assert set(rows) == {"customer:44", "guest-order:229", "guest:not-an-email"}
    assert rows["guest-order:229"]["error"] == "missing email"
    assert rows["guest-order:229"]["email"] is None
    assert rows["guest:not-an-email"]["error"] == "invalid email"
    assert rows["customer:44"]["error"] is None


def test_no_input_gives_an_empty_frame(config: MappingConfig) -> None:
    contacts = map_contacts([], [], config)

    assert contacts.empty
    assert list(contacts.columns) == COLUMNS
