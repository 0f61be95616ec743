"""Mapping layer: WooCommerce payloads -> HubSpot properties, driven by ``mapping.yaml``.

Every ``map_*`` function is pure (lists of WooCommerce payload dicts in, a DataFrame out), vectorised
with pandas, and returns property values as ``str`` or ``None`` only.
"""

from woohub.mapping.woocommerce_to_hubspot.config import (
    MappingConfig,
    MappingConfigError,
    StageMappingError,
    check_stage_table,
    load_mapping,
    parse_mapping,
)
from woohub.mapping.woocommerce_to_hubspot.contacts import guest_aliases, map_contacts
from woohub.mapping.woocommerce_to_hubspot.deals import map_deals
from woohub.mapping.woocommerce_to_hubspot.line_items import map_line_items
from woohub.mapping.woocommerce_to_hubspot.products import map_products

__all__ = [
    "MappingConfig",
    "MappingConfigError",
    "StageMappingError",
    "check_stage_table",
    "guest_aliases",
    "load_mapping",
    "map_contacts",
    "map_deals",
    "map_line_items",
    "map_products",
    "parse_mapping",
]
