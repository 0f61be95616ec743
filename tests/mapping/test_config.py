"""load_mapping validation and check_stage_table against HubSpot pipelines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.mapping.helpers import parse_edited
from woohub.mapping.woocommerce_to_hubspot import (
    MappingConfig,
    MappingConfigError,
    StageMappingError,
    check_stage_table,
    load_mapping,
)

DEFAULT_STAGES = [
    ("appointmentscheduled", 0.2, False), ("qualifiedtobuy", 0.4, False), ("presentationscheduled", 0.6, False),
    ("decisionmakerboughtin", 0.8, False), ("contractsent", 0.9, False), ("closedwon", 1.0, True),
    ("closedlost", 0.0, True),
]  # fmt: skip


def default_pipeline(drop: str | None = None) -> dict[str, Any]:
    """HubSpot's default deal pipeline as ``GET /crm/v3/pipelines/deals`` returns it in ``results``."""
    stages = [
        {
            "id": sid,
            "label": sid,
            "displayOrder": i,
            "metadata": {"probability": str(p), "isClosed": str(c).lower()},
        }
        for i, (sid, p, c) in enumerate(DEFAULT_STAGES)
        if sid != drop
    ]
    return {
        "id": "default",
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "archived": False,
        "stages": stages,
    }


def test_packaged_mapping_loads(config: MappingConfig) -> None:
    assert config.deals.pipeline == "default"
    assert config.deals.stage_table["processing"] == "closedwon"
    assert [s.name for s in config.contacts.mapping.properties][:3] == ["email", "firstname", "lastname"]


def test_custom_properties_are_data(config: MappingConfig) -> None:
    unique = {(p.object_type, p.name) for p in config.custom_properties if p.has_unique_value}
    assert unique == {("products", "woo_product_id"), ("contacts", "woo_customer_id"),
                      ("deals", "woo_order_id"), ("line_items", "woo_line_item_id")}  # fmt: skip
    names = {p.name for p in config.custom_properties}
    assert {"woo_order_status", "woo_order_number", "woo_stock_quantity", "woo_stock_status",
            "woo_parent_product_id", "woo_product_status", "woo_product_type"} <= names  # fmt: skip
    groups = {p.object_type: p.group_name for p in config.custom_properties}
    assert groups == {"products": "productinformation", "contacts": "contactinformation",
                      "deals": "dealinformation", "line_items": "lineiteminformation"}  # fmt: skip
    assert config.custom_properties_for("deals")[0].to_hubspot() == {
        "name": "woo_order_id", "label": "WooCommerce order ID", "type": "string", "fieldType": "text",
        "groupName": "dealinformation", "hasUniqueValue": True,
    }  # fmt: skip


def test_config_is_frozen(config: MappingConfig) -> None:
    with pytest.raises(AttributeError):
        config.deals.pipeline = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.deals.stage_table["pending"] = "closedwon"  # type: ignore[index]


def _walk(data: Any, path: str) -> tuple[Any, Any]:
    """The container of the dotted ``path`` (numeric parts index lists) and the last key."""
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    for key in parents:
        data = data[key]
    return data, last


def _set(path: str, value: Any) -> Callable[[dict], None]:
    """An edit that sets the dotted ``path`` of the YAML data to ``value``."""

    def edit(data: dict) -> None:
        container, key = _walk(data, path)
        container[key] = value

    return edit


def _delete(path: str) -> Callable[[dict], None]:
    """An edit that deletes the dotted ``path`` of the YAML data."""

    def edit(data: dict) -> None:
        container, key = _walk(data, path)
        del container[key]

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("version", 2), "version: must be 1"),
        (
            _set("deals.properties.amount.transform", "monye"),
            "deals.properties.amount.transform: unknown transform 'monye'",
        ),
        (
            _set("deals.properties.amount.transfrom", "money"),
            "deals.properties.amount.transfrom: unknown key",
        ),
        (
            _set("deals.properties.amount", {"transform": "money"}),
            "deals.properties.amount: give exactly one of",
        ),
        (_set("deals.properties.amount.template", "{total}"), "deals.properties.amount: give exactly one of"),
        (_delete("deals.properties.dealname"), "deals.properties: missing required dealname"),
        (_set("deals.pipeline", "sales"), "deals.pipeline: 'sales' has no table under deals.stages"),
        (_set("deals.stages.default.pending", 5), "deals.stages.default.pending: must be a non-empty string"),
        (_set("deals.stages", ["pending"]), "deals.stages: must be a mapping"),
        (
            _set("deals.properties.dealname.template", "Order #{number:>5}"),
            "deals.properties.dealname.template",
        ),
        (
            _set("products.properties.name.source", "@title"),
            "products.properties.name: unknown computed source '@title'",
        ),
        (_set("products.properties.name.source", []), "products.properties.name.source"),
        (
            _set("products.properties.woo_colour", {"source": "attributes"}),
            "products.properties.woo_colour: custom property is not defined under custom_properties.products",
        ),
        (_set("contacts.address_sources", ["billing", "home"]), "contacts.address_sources"),
        (_set("line_items.include_fee_lines", "yes"), "line_items.include_fee_lines: must be true or false"),
        (
            _set("custom_properties.deals.0.type", "text"),
            "custom_properties.deals[0].type: unknown HubSpot type 'text'",
        ),
        (_delete("custom_properties.deals.0.groupName"), "custom_properties.deals[0]: missing groupName"),
        (_set("custom_properties.tickets", []), "custom_properties.tickets: unknown key"),
        (_delete("line_items"), "line_items: section is missing"),
        (_set("line_itmes", {}), "line_itmes: unknown key"),
    ],
)
def test_invalid_mapping_names_the_bad_key(edit: Callable[[dict], None], message: str) -> None:
    with pytest.raises(MappingConfigError) as caught:
        parse_edited(edit)

    assert message in str(caught.value)


def test_invalid_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("deals: [unclosed\n", encoding="utf-8")

    with pytest.raises(MappingConfigError, match="not valid YAML"):
        load_mapping(path)


def test_stage_table_matches_the_default_pipeline(config: MappingConfig) -> None:
    check_stage_table(config, [default_pipeline()])  # no error


def test_stage_table_names_missing_statuses_and_unknown_stages() -> None:
    def edit(data: dict) -> None:
        table = data["deals"]["stages"]["default"]
        del table["on-hold"], table["trash"]
        table["pending"] = "contractsnt"
        data["deals"]["extra_order_statuses"] = ["shipped"]

    with pytest.raises(StageMappingError) as caught:
        check_stage_table(parse_edited(edit), [default_pipeline(drop="closedlost")])

    message = str(caught.value)
    assert "WooCommerce order statuses without a deal stage: on-hold, trash, shipped" in message
    assert "'closedlost' (for cancelled, failed, refunded)" in message
    assert "'contractsnt' (for pending)" in message
    assert caught.value.missing_statuses == ("on-hold", "trash", "shipped")
    assert caught.value.unknown_stages == ("closedlost", "contractsnt")


def test_stage_table_names_a_missing_pipeline(config: MappingConfig) -> None:
    other = {**default_pipeline(), "id": "12345"}

    with pytest.raises(
        StageMappingError, match=r"pipeline 'default' does not exist in HubSpot \(pipelines: 12345\)"
    ):
        check_stage_table(config, [other])


def test_currency_only_for_money_and_type_must_be_known() -> None:
    def currency_on_text(data: dict) -> None:
        data["deals"]["properties"]["dealname"] = {"template": "x {number}", "currency": "currency"}

    def bad_type(data: dict) -> None:
        data["deals"]["properties"]["closedate"]["type"] = "timestamp"

    def clashing_type(data: dict) -> None:
        data["deals"]["properties"]["woo_order_number"]["type"] = "date"

    with pytest.raises(MappingConfigError, match=r"^deals\.properties\.dealname\.currency: only for"):
        parse_edited(currency_on_text)
    with pytest.raises(MappingConfigError, match=r"^deals\.properties\.closedate\.type: unknown HubSpot type"):
        parse_edited(bad_type)
    with pytest.raises(MappingConfigError, match=r"woo_order_number\.type: 'date' but custom_properties"):
        parse_edited(clashing_type)


def test_staged_order_statuses_follow_the_stage_table() -> None:
    def plugin_status(data: dict) -> None:
        data["deals"]["extra_order_statuses"] = ["shipped"]
        data["deals"]["stages"]["default"]["shipped"] = "closedwon"

    assert "shipped" in parse_edited(plugin_status).deals.staged_order_statuses
    assert "shipped" not in parse_edited(lambda data: None).deals.staged_order_statuses
