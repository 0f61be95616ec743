"""Fixtures for the load tests: an empty HubSpot sandbox with the custom properties, a SQLite staging
database, a hook, and builders of the mapping layer's frames.

Nothing here imports Airflow (or ``woohub.hooks``) at module level: conftest modules load before the
top-level ``pytest_configure`` points Airflow at the test's temporary home.
"""

from __future__ import annotations

from typing import Any

import pytest

CUSTOM_PROPERTIES: dict[str, list[dict[str, Any]]] = {
    object_type: [
        {
            "objectType": object_type,
            "name": name,
            "label": label,
            "type": "string",
            "fieldType": "text",
            "groupName": group,
            "hasUniqueValue": True,
        }
    ]
    for object_type, name, label, group in [
        ("products", "woo_product_id", "WooCommerce product ID", "productinformation"),
        ("contacts", "woo_customer_id", "WooCommerce customer ID", "contactinformation"),
        ("deals", "woo_order_id", "WooCommerce order ID", "dealinformation"),
        ("line_items", "woo_line_item_id", "WooCommerce line item ID", "lineiteminformation"),
    ]
}
CUSTOM_PROPERTIES["line_items"].append(
    {
        "objectType": "line_items",
        "name": "woo_order_id",
        "label": "Order ID",
        "type": "string",
        "fieldType": "text",
        "groupName": "lineiteminformation",
    }
)


@pytest.fixture
def hubspot(sandbox: Any) -> Any:
    """The sandbox's HubSpot admin client, reset to an empty portal without faults (restored afterwards)."""
    sandbox.hubspot.reset(empty=True)
    yield sandbox.hubspot
    sandbox.hubspot.clear_faults()


@pytest.fixture
def hook(hubspot: Any) -> Any:
    """A fresh hook on ``hubspot_default`` (the sandbox)."""
    from woohub.hubspot.hook import HubSpotHook

    return HubSpotHook()


@pytest.fixture
def engine(tmp_path: Any) -> Any:
    """A migrated SQLite staging database in ``tmp_path``."""
    from woohub.staging.database import engine_for_url, migrate

    engine = engine_for_url(f"sqlite:///{tmp_path}/s.db")
    migrate(engine)
    return engine


@pytest.fixture
def portal(hook: Any) -> Any:
    """The empty sandbox with the custom properties ensured."""
    from woohub.hubspot.load import ensure_custom_properties

    ensure_custom_properties(hook, CUSTOM_PROPERTIES)
    return hook
