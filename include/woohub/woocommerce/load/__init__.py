"""The WooCommerce load layer of HubSpot -> WooCommerce: orders made from deals, exactly once per deal
(:mod:`~woohub.woocommerce.load.orders`, on the ``order_intent`` table), and customer reads, updates and
creates (:mod:`~woohub.woocommerce.load.customers`).

Each writer takes a :class:`~woohub.woocommerce.hook.WooCommerceHook`, the staging engine, its inputs and
the run id, writes in batches of at most 100 (``/<resource>/batch``), reports per-record failures in its
result (never aborting a batch) and raises only on systemic errors (authentication, the store still failing
after the hook's retries). The checks WooCommerce does not make (stock, status, price, currency) are the
caller's, against :mod:`woohub.woocommerce.catalog`.
"""

from woohub.woocommerce.load.customers import (
    CustomerCreate,
    CustomerLoadResult,
    CustomerUpdate,
    create_customers,
    find_customers,
    update_customers,
)
from woohub.woocommerce.load.orders import (
    OrderLoadResult,
    OrderPlan,
    create_orders,
    find_deal_orders,
    find_orders,
    order_reference,
    orders_for_deals,
    settle_pending_orders,
)

__all__ = [
    "CustomerCreate",
    "CustomerLoadResult",
    "CustomerUpdate",
    "OrderLoadResult",
    "OrderPlan",
    "create_customers",
    "create_orders",
    "find_customers",
    "find_deal_orders",
    "find_orders",
    "order_reference",
    "orders_for_deals",
    "settle_pending_orders",
    "update_customers",
]
