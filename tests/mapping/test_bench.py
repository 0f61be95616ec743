"""The timing helper runs and its synthetic orders map cleanly (no timed assertions)."""

from __future__ import annotations

from tests.mapping.bench import synthetic_orders, time_mapping
from tests.mapping.helpers import assert_clean
from woohub.mapping.woocommerce_to_hubspot import MappingConfig, map_contacts, map_deals, map_line_items


def test_timing_helper_runs(config: MappingConfig) -> None:
    assert set(time_mapping(30, config)) == {"map_deals", "map_line_items", "map_contacts (guests)"}


def test_many_orders_map_without_nan(config: MappingConfig) -> None:
    orders = synthetic_orders(300)

    deals, lines = map_deals(orders, config), map_line_items(orders, config)
    contacts = map_contacts([], orders, config)

    assert len(deals) == 300 and len(lines) == 1500 and lines["source_key"].is_unique
    assert len(contacts) == 100  # 100 guest orders, 100 distinct emails
    assert_clean(deals.drop(columns="contact_source_key"))
    assert_clean(lines.drop(columns="product_source_key").iloc[:900])  # product lines
    assert_clean(contacts.drop(columns="error"))
