"""The HubSpot -> WooCommerce mapping YAML: the packaged rules, defaults, and validation errors that name
the bad key (also against the WooCommerce -> HubSpot mapping)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.mapping.helpers import raw_mapping as raw_w2h
from woohub.core.conflicts import FieldPolicy
from woohub.mapping.hubspot_to_woocommerce import (
    H2WMapping,
    MappingConfigError,
    OrderStatus,
    check_against_w2h,
    load_mapping,
    parse_mapping,
)
from woohub.mapping.hubspot_to_woocommerce.config import DEFAULT_MAPPING_PATH
from woohub.mapping.woocommerce_to_hubspot import parse_mapping as parse_w2h


def raw() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(DEFAULT_MAPPING_PATH.read_text(encoding="utf-8")))


def parse_edited(edit: Callable[[dict[str, Any]], None]) -> H2WMapping:
    data = raw()
    edit(data)
    return parse_mapping(data)


def test_the_packaged_rules() -> None:
    mapping = load_mapping()
    deals = mapping.deals
    assert dict(deals.qualify) == {"default": frozenset({"closedwon"})}
    assert dict(deals.order_status) == {"closedwon": OrderStatus("processing", True)}
    assert (deals.without_line_items, deals.price_policy, deals.customer) == ("fee", "woocommerce", "create")
    assert (deals.unit_price_tolerance, deals.amount_tolerance) == (Decimal("0.01"), Decimal("0.01"))
    assert (deals.fee_line.name, deals.fee_line.tax_status) == ("HubSpot deal {dealname}", "none")
    customers = mapping.customers
    assert customers.email_targets == ("account", "billing")
    assert (customers.create_unlinked, customers.update_shipping) == (False, False)
    assert customers.fields["email"].paths == ("email", "billing.email")
    assert customers.fields["address"].clear == ("billing.address_2",)
    assert list(mapping.two_way) == ["email", "firstname", "lastname", "phone", "address", "city", "state", "zip",
                                     "country"]
    assert set(mapping.two_way.values()) == {FieldPolicy(None, False, False)}


def test_defaults_when_keys_are_left_out() -> None:
    def strip_optional(data: dict[str, Any]) -> None:
        for key in ("without_line_items", "fee_line", "price_policy", "unit_price_tolerance", "amount_tolerance",
                    "customer"):
            del data["deals"][key]
        for key in ("email_targets", "create_unlinked", "update_shipping"):
            del data["customers"][key]
        data["two_way"] = {"email": None, "phone": {}}

    mapping = parse_edited(strip_optional)
    assert (mapping.deals.price_policy, mapping.deals.unit_price_tolerance, mapping.deals.customer) == (
        "woocommerce", Decimal("0.01"), "create")
    assert mapping.customers.email_targets == ("account", "billing")
    assert dict(mapping.two_way) == {"email": FieldPolicy(), "phone": FieldPolicy()}


def test_owners_and_empty_value_rules_are_read() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["two_way"]["phone"] = {"owner": "hubspot", "empty_clears_woocommerce": True}
        data["two_way"]["email"] = {"owner": "woocommerce", "empty_clears_hubspot": True}

    mapping = parse_edited(edit)
    assert mapping.two_way["phone"] == FieldPolicy("hubspot", False, True)
    assert mapping.two_way["email"] == FieldPolicy("woocommerce", True, False)


def test_a_data_team_edit_on_disk_is_loaded(tmp_path: Path) -> None:
    data = raw()
    data["deals"]["price_policy"] = "hubspot"
    data["deals"]["unit_price_tolerance"] = "0.05"
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    mapping = load_mapping(path)
    assert (mapping.deals.price_policy, mapping.deals.unit_price_tolerance) == ("hubspot", Decimal("0.05"))


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("deals: [unclosed", encoding="utf-8")
    with pytest.raises(MappingConfigError, match="not valid YAML"):
        load_mapping(path)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[key]
        target[last] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[key]
        del target[last]

    return edit


@pytest.mark.parametrize(("edit", "message"), [
    (_set("extra", 1), r"^extra: unknown key"),
    (_set("version", 2), r"^version: must be 1"),
    (_drop("two_way"), r"^two_way: section is missing"),
    (_set("deals.price_polcy", "hubspot"), r"^deals\.price_polcy: unknown key"),
    (_set("deals.price_policy", "cheapest"), r"^deals\.price_policy: must be one of woocommerce, hubspot"),
    (_set("deals.without_line_items", "ignore"), r"^deals\.without_line_items: must be one of fee, reject"),
    (_set("deals.customer", "anonymous"), r"^deals\.customer: must be one of create, guest"),
    (_set("deals.unit_price_tolerance", -1), r"^deals\.unit_price_tolerance: must be a non-negative number"),
    (_set("deals.amount_tolerance", "a cent"), r"^deals\.amount_tolerance: must be a non-negative number"),
    (_set("deals.amount_tolerance", True), r"^deals\.amount_tolerance: must be a non-negative number"),
    (_set("deals.qualify", {}), r"^deals\.qualify: name at least one pipeline"),
    (_set("deals.qualify.default", "closedwon"), r"^deals\.qualify\.default: must be a list of strings"),
    (_set("deals.qualify.default", []), r"^deals\.qualify\.default: must not be empty"),
    (_set("deals.qualify.default", ["closedwon", "contractsent"]),
     r"^deals\.order_status: no entry for the qualifying stage 'contractsent' \(deals\.qualify\.default\)"),
    (_set("deals.order_status.closedwon.status", "shipped"),
     r"^deals\.order_status\.closedwon\.status: must be one of pending, processing, on-hold, completed"),
    (_set("deals.order_status.closedwon.set_paid", "yes"), r"^deals\.order_status\.closedwon\.set_paid: must be true"),
    (_set("deals.order_status.closedwon", {"set_paid": True}), r"^deals\.order_status\.closedwon: missing status"),
    (_set("deals.fee_line.name", "Deal {amount}"), r"^deals\.fee_line\.name: only \{dealname\} and \{id\}"),
    (_set("deals.fee_line.tax_status", "shipping"), r"^deals\.fee_line\.tax_status: must be one of none, taxable"),
    (_set("customers.email_targets", ["login"]), r"^customers\.email_targets: must list account and/or billing"),
    (_set("customers.email_targets", ["account", "account"]), r"^customers\.email_targets: must list"),
    (_set("customers.email_targets", []), r"^customers\.email_targets: must not be empty"),
    (_set("customers.create_unlinked", "no"), r"^customers\.create_unlinked: must be true or false"),
    (_set("customers.update_shipping", 1), r"^customers\.update_shipping: must be true or false"),
    (_drop("customers.fields.email"), r"^customers\.fields: missing email"),
    (_set("customers.fields.email.paths", ["email"]), r"^customers\.fields\.email\.paths: the email's paths come"),
    (_set("customers.fields.phone.paths", ["billing.mobile"]),
     r"^customers\.fields\.phone\.paths: 'billing\.mobile' is not a WooCommerce customer path"),
    (_set("customers.fields.phone.paths", []), r"^customers\.fields\.phone\.paths: must not be empty"),
    (_set("customers.fields.city.shipping", ["billing.city"]),
     r"^customers\.fields\.city\.shipping: 'billing\.city' is not a shipping path"),
    (_set("customers.fields.city.transfrom", "upper"), r"^customers\.fields\.city\.transfrom: unknown key"),
    (_set("customers.fields.city.transform", "html_text"), r"^customers\.fields\.city\.transform: must be one of"),
    (_set("two_way.website", {}), r"^two_way\.website: not one of customers\.fields"),
    (_set("two_way.email.owner", "sales"), r"^two_way\.email\.owner: must be one of woocommerce, hubspot, none"),
    (_set("two_way.phone.empty_clears_woocommerce", "yes"),
     r"^two_way\.phone\.empty_clears_woocommerce: must be true or false"),
    (_set("two_way.phone.clears", True), r"^two_way\.phone\.clears: unknown key"),
])  # fmt: skip
def test_validation_names_the_bad_key(edit: Callable[[dict[str, Any]], None], message: str) -> None:
    with pytest.raises(MappingConfigError, match=message):
        parse_edited(edit)


def test_a_two_way_field_the_other_direction_does_not_map_is_refused() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["customers"]["fields"]["nickname"] = {"paths": ["shipping.company"]}
        data["two_way"]["nickname"] = {}

    mapping = parse_edited(edit)
    with pytest.raises(MappingConfigError, match=r"^two_way\.nickname: woocommerce_to_hubspot does not map"):
        check_against_w2h(mapping, parse_w2h(raw_w2h()))


def test_the_email_must_be_written_where_the_other_direction_reads_it(tmp_path: Path) -> None:
    billing_only = parse_edited(_set("customers.email_targets", ["billing"]))
    with pytest.raises(MappingConfigError, match=r"^customers\.email_targets: woocommerce_to_hubspot reads the "
                                                 r"contact email from 'email'"):
        check_against_w2h(billing_only, parse_w2h(raw_w2h()))
    w2h = raw_w2h()
    w2h["contacts"]["properties"]["email"]["source"] = "billing.email"
    check_against_w2h(billing_only, parse_w2h(w2h))  # consistent: both use the billing email
    data = raw()
    data["customers"]["email_targets"] = ["billing"]
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(MappingConfigError, match=r"^customers\.email_targets"):
        load_mapping(path)  # checked against the packaged WooCommerce -> HubSpot mapping
    assert load_mapping(path, w2h=parse_w2h(w2h)).customers.email_targets == ("billing",)
