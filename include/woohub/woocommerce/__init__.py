"""Everything woohub does with WooCommerce: the hook (``hook``), the incremental extract into staging
(``extract``), the validation frames of what is staged from the store (``checks``), the current catalogue
the order checks read (``catalog``) and the writes of HubSpot -> WooCommerce (``load``: orders exactly
once per deal, customers)."""

from woohub.woocommerce.hook import WooCommerceHook

__all__ = ["WooCommerceHook"]
