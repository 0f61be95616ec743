"""Everything woohub does with WooCommerce: the hook (``hook``), the incremental extract into staging
(``extract``) and the validation frames of what is staged from the store (``checks``)."""

from woohub.woocommerce.hook import WooCommerceHook

__all__ = ["WooCommerceHook"]
