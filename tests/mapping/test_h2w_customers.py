"""HubSpot contacts -> WooCommerce customers (pure): both systems' two-way values in one field space
through the WooCommerce -> HubSpot mapping, and the update and create payloads (recordings 144, 187-189)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import yaml

from tests.mapping.helpers import woo
from woohub.mapping.hubspot_to_woocommerce import (
    H2WMapping,
    contact_addresses,
    contact_fields,
    customer_create_payload,
    customer_fields,
    customer_update_payload,
    customers_fields,
    linked_customer_id,
    normalise,
    packaged_mapping,
    two_way_fields,
)
from woohub.mapping.hubspot_to_woocommerce.config import DEFAULT_MAPPING_PATH, parse_mapping
from woohub.mapping.transforms import TRANSFORMS
from woohub.mapping.woocommerce_to_hubspot import load_mapping as load_w2h
from woohub.mapping.woocommerce_to_hubspot import map_contacts

ALICE = "144-create-customer-h2w-alice.json"
TWO_WAY = ["email", "firstname", "lastname", "phone", "address", "city", "state", "zip", "country"]


@pytest.fixture(scope="module")
def mapping() -> H2WMapping:
    return packaged_mapping()


def edited(edit: Callable[[dict[str, Any]], None]) -> H2WMapping:
    data = yaml.safe_load(DEFAULT_MAPPING_PATH.read_text(encoding="utf-8"))
    edit(data)
    return parse_mapping(data)


def apply_update(customer: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """What WooCommerce does with an update: top-level keys replaced, partial billing/shipping objects
    merged into the stored ones (unsent keys kept, recording 187)."""
    result = copy.deepcopy(dict(customer))
    for key, value in payload.items():
        if key in ("billing", "shipping"):
            result[key] = {**result.get(key, {}), **value}
        elif key != "id":
            result[key] = value
    return result


def test_the_two_way_fields_are_the_yamls(mapping: H2WMapping) -> None:
    assert list(two_way_fields(mapping)) == TWO_WAY


def test_contact_fields_are_normalised_hubspot_values(mapping: H2WMapping) -> None:
    properties = {"email": "  Alice@Example.COM ", "firstname": " Alice ", "lastname": "", "phone": None,
                  "country": " us ", "company": "Acme", "woo_customer_id": "2"}
    assert contact_fields(properties, mapping) == {
        "email": "alice@example.com", "firstname": "Alice", "lastname": None, "phone": None, "address": None,
        "city": None, "state": None, "zip": None, "country": "US"}
    assert contact_fields({"id": "5", "properties": properties}, mapping) == contact_fields(properties, mapping)


@pytest.mark.parametrize(("transform", "value"), [
    ("strip", "  x  "), ("strip", ""), ("lower", " MiXed "), ("upper", " de "), ("email", " A@B.COM "),
    ("strip", 47), ("upper", None),
])  # fmt: skip
def test_normalise_agrees_with_the_mapping_transforms(transform: str, value: Any) -> None:
    import pandas as pd

    series = TRANSFORMS["strip"](TRANSFORMS[transform](pd.Series([value], dtype=object)))
    assert normalise(value, transform) == series.iloc[0]


def test_a_customer_compares_through_the_woocommerce_to_hubspot_mapping(mapping: H2WMapping) -> None:
    customer = woo(ALICE)
    [mapped] = map_contacts([customer], [], load_w2h())["properties"]
    assert customer_fields(customer, mapping) == contact_fields(mapped, mapping) == {
        "email": "h2w-alice@example.com", "firstname": "Alice", "lastname": "Hubwoo", "phone": "+1 617-555-0100",
        "address": "1 First St", "city": "Boston", "state": "MA", "zip": "02101", "country": "US"}
    assert customer_fields(customer, load_w2h()) == customer_fields(customer, mapping)  # the w2h mapping given


def test_the_same_person_in_both_systems_has_the_same_fields(mapping: H2WMapping) -> None:
    contact = {"email": "H2W-Alice@example.com", "firstname": "Alice", "lastname": "Hubwoo",
               "phone": "+1 617-555-0100", "address": "1 First St", "city": "Boston", "state": "MA",
               "zip": "02101", "country": "US", "lastmodifieddate": "2026-12-01T10:00:00Z"}
    assert contact_fields(contact, mapping) == customer_fields(woo(ALICE), mapping)


def test_many_customers_are_mapped_in_one_pass(mapping: H2WMapping) -> None:
    alice, bob = woo(ALICE), woo("145-create-customer-h2w-bob.json")
    fields = customers_fields([alice, bob], mapping)
    assert sorted(fields) == ["2", "3"]
    assert fields["2"] == customer_fields(alice, mapping)
    assert fields["3"]["email"] == "h2w-bob@example.com"
    assert fields["3"]["phone"] is None


def test_an_update_holds_only_the_changed_paths(mapping: H2WMapping) -> None:
    payload = customer_update_payload(2, {"phone": "+1 617-555-0199", "city": "Cambridge"}, mapping)
    assert payload == {"id": 2, "billing": {"phone": "+1 617-555-0199", "city": "Cambridge"}}


def test_names_go_to_the_account_and_billing_and_the_address_clears_address_2(mapping: H2WMapping) -> None:
    payload = customer_update_payload("2", {"firstname": "Alicia", "address": "99 New Rd", "country": "de",
                                            "zip": "02139"}, mapping)
    assert payload == {"id": 2, "first_name": "Alicia",
                       "billing": {"first_name": "Alicia", "address_1": "99 New Rd", "address_2": "",
                                   "country": "DE", "postcode": "02139"}}


def test_the_email_goes_to_the_configured_targets() -> None:
    both = customer_update_payload(2, {"email": "New@Example.com"}, packaged_mapping())
    assert both == {"id": 2, "email": "new@example.com", "billing": {"email": "new@example.com"}}
    account = edited(lambda d: d["customers"].update(email_targets=["account"]))
    assert customer_update_payload(2, {"email": "new@example.com"}, account) == {"id": 2, "email": "new@example.com"}
    billing = edited(lambda d: d["customers"].update(email_targets=["billing"]))
    assert customer_update_payload(2, {"email": "new@example.com"}, billing) == {
        "id": 2, "billing": {"email": "new@example.com"}}


def test_shipping_is_updated_only_when_configured(mapping: H2WMapping) -> None:
    change = {"address": "99 New Rd", "lastname": "Smith", "phone": "1"}
    assert "shipping" not in customer_update_payload(2, change, mapping)
    shipping = edited(lambda d: d["customers"].update(update_shipping=True))
    assert customer_update_payload(2, change, shipping) == {
        "id": 2, "last_name": "Smith",
        "billing": {"address_1": "99 New Rd", "address_2": "", "last_name": "Smith", "phone": "1"},
        "shipping": {"address_1": "99 New Rd", "address_2": "", "last_name": "Smith"}}


def test_an_empty_value_is_written_as_empty_text_but_never_clears_the_account_email(mapping: H2WMapping) -> None:
    assert customer_update_payload(2, {"phone": None, "email": None}, mapping) == {
        "id": 2, "billing": {"phone": "", "email": ""}}


def test_an_unknown_field_is_refused(mapping: H2WMapping) -> None:
    with pytest.raises(ValueError, match="'website' is not one of customers.fields"):
        customer_update_payload(2, {"website": "x"}, mapping)


def test_after_an_update_the_customer_reads_as_the_contact(mapping: H2WMapping) -> None:
    """Both directions agree on what was written: no echo, no conflict on the next run."""
    contact = {"email": "alicia@example.com", "firstname": "Alicia", "lastname": "Hubwoo-Smith",
               "phone": "+1 617-555-0199", "address": "99 New Rd", "city": "Cambridge", "state": "MA",
               "zip": "02139", "country": "US"}
    customer = woo(ALICE)
    customer["billing"]["address_2"] = "Apt 4"  # HubSpot's one address line replaces both
    before = customer_fields(customer, mapping)
    changed = {k: v for k, v in contact_fields(contact, mapping).items() if before[k] != v}
    assert sorted(changed) == ["address", "city", "email", "firstname", "lastname", "phone", "zip"]
    after = apply_update(customer, customer_update_payload(2, changed, mapping))
    assert customer_fields(after, mapping) == contact_fields(contact, mapping)


def test_the_recorded_update_reads_back_as_sent(mapping: H2WMapping) -> None:
    """Recording 187 sent names, phone and address; the store kept billing names (the top-level names do
    not change them), which is why names are written to both."""
    answer = woo("187-update-customer-h2w-name-phone-addresses.json")
    fields = customer_fields(answer, mapping)
    assert (fields["firstname"], fields["address"], fields["city"]) == ("Alicia", "99 New Rd, Apt 4", "Cambridge")
    assert answer["billing"]["first_name"] == "Alice"
    payload = customer_update_payload(2, {"firstname": "Alicia"}, mapping)
    assert payload["billing"]["first_name"] == payload["first_name"] == "Alicia"


def test_the_create_payload_is_the_recorded_one(mapping: H2WMapping) -> None:
    request = {"email": "h2w-alice@example.com", "first_name": "Alice", "last_name": "Hubwoo",
               "billing": {"first_name": "Alice", "last_name": "Hubwoo", "email": "h2w-alice@example.com",
                           "phone": "+1 617-555-0100", "address_1": "1 First St", "city": "Boston", "state": "MA",
                           "postcode": "02101", "country": "US"},
               "shipping": {"first_name": "Alice", "last_name": "Hubwoo", "address_1": "1 First St",
                            "city": "Boston", "state": "MA", "postcode": "02101", "country": "US"}}
    contact = {"id": "5", "properties": {"email": " H2W-Alice@example.com", "firstname": "Alice",
                                         "lastname": "Hubwoo", "phone": "+1 617-555-0100", "address": "1 First St",
                                         "city": "Boston", "state": "MA", "zip": "02101", "country": "us",
                                         "company": "", "woo_customer_id": None}}
    assert customer_create_payload(contact, mapping) == request  # what recording 144 sent
    billing_only = edited(lambda d: d["customers"].update(email_targets=["billing"]))
    assert customer_create_payload(contact, billing_only)["email"] == "h2w-alice@example.com"


def test_a_contact_without_email_cannot_become_a_customer(mapping: H2WMapping) -> None:
    with pytest.raises(ValueError, match="contact 7 has no email"):
        customer_create_payload({"id": "7", "properties": {"email": " ", "firstname": "Nobody"}}, mapping)


def test_order_addresses_come_from_the_contact(mapping: H2WMapping) -> None:
    billing, shipping = contact_addresses({"properties": {"email": "A@B.C", "firstname": "A", "company": "Acme",
                                                          "phone": "1", "zip": "123"}}, mapping)
    assert billing == {"email": "a@b.c", "first_name": "A", "company": "Acme", "phone": "1", "postcode": "123"}
    assert shipping == {"first_name": "A", "company": "Acme", "postcode": "123"}
    assert contact_addresses(None, mapping) == ({}, {})


@pytest.mark.parametrize(("value", "expected"), [("2", 2), (" 17 ", 17), ("0", None), ("", None), (None, None),
                                                 ("abc", None)])
def test_the_linked_customer_id(value: Any, expected: int | None) -> None:
    assert linked_customer_id({"properties": {"woo_customer_id": value}}) == expected
