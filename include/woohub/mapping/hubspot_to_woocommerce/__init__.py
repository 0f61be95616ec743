"""Mapping layer of HubSpot -> WooCommerce, driven by ``mapping.yaml``: which deals become orders and the
order payload (:mod:`.orders`), the contact fields both systems compare and the customer payloads
(:mod:`.customers`). Pure functions on dicts: no I/O. The two-way decisions themselves are
direction-neutral (:mod:`woohub.core.conflicts`).
"""

from woohub.mapping.hubspot_to_woocommerce.config import (
    CustomerField,
    CustomerRules,
    DealRules,
    FeeLine,
    H2WMapping,
    MappingConfigError,
    OrderStatus,
    check_against_w2h,
    load_mapping,
    packaged_mapping,
    parse_mapping,
)
from woohub.mapping.hubspot_to_woocommerce.customers import (
    contact_addresses,
    contact_fields,
    customer_create_payload,
    customer_fields,
    customer_update_payload,
    customers_fields,
    linked_customer_id,
    normalise,
    two_way_fields,
)
from woohub.mapping.hubspot_to_woocommerce.orders import (
    Catalog,
    LineRequest,
    build_order,
    check_deal,
    customer_policy,
    deal_lines,
    deal_lines_summary,
    deal_skip_reason,
    order_lines_summary,
    order_reference,
    product_problems,
    stock_holder,
)

__all__ = [
    "Catalog",
    "CustomerField",
    "CustomerRules",
    "DealRules",
    "FeeLine",
    "H2WMapping",
    "LineRequest",
    "MappingConfigError",
    "OrderStatus",
    "build_order",
    "check_against_w2h",
    "check_deal",
    "contact_addresses",
    "contact_fields",
    "customer_create_payload",
    "customer_fields",
    "customer_policy",
    "customer_update_payload",
    "customers_fields",
    "deal_lines",
    "deal_lines_summary",
    "deal_skip_reason",
    "linked_customer_id",
    "load_mapping",
    "normalise",
    "order_lines_summary",
    "order_reference",
    "packaged_mapping",
    "parse_mapping",
    "product_problems",
    "stock_holder",
    "two_way_fields",
]
