"""ensure_custom_properties: creates what is missing, and nothing the second time."""

from __future__ import annotations

from typing import Any

from tests.load.conftest import CUSTOM_PROPERTIES


def test_properties_are_ensured_idempotently(hook: Any, hubspot: Any) -> None:
    from woohub.hubspot.load import ensure_custom_properties

    created = ensure_custom_properties(hook, CUSTOM_PROPERTIES)
    assert sorted(created) == [
        "woo_customer_id",
        "woo_line_item_id",
        "woo_order_id",
        "woo_order_id",
        "woo_product_id",
    ]
    definition = hook.request("GET", "/crm/v3/properties/deals/woo_order_id").json()
    assert definition["hasUniqueValue"] is True and "objectType" not in definition

    hook.api_calls.clear()
    flat = [d for definitions in CUSTOM_PROPERTIES.values() for d in definitions]
    assert ensure_custom_properties(hook, flat) == []
    # one list call per object type, no per-property reads, no writes
    assert dict(hook.api_calls) == {f"GET /crm/v3/properties/{t}": 1
                                    for t in ("products", "contacts", "deals", "line_items")}


def test_loading_without_the_id_property_raises(hook: Any, engine: Any) -> None:
    import pytest

    from tests.load.builders import product_frame
    from woohub.hubspot.load import MissingPropertyError, load_products

    with pytest.raises(MissingPropertyError, match="woo_product_id"):
        load_products(hook, engine, product_frame(range(1, 3)), "run-1")
