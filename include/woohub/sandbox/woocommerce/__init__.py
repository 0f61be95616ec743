"""WooCommerce REST API v3 sandbox: a WooCommerce 11.0.1 store at ``/wp-json/wc/v3/`` as the recordings in
``tests/fixtures/woocommerce-11.0.1/`` show it (payload shapes, quirks, errors, OAuth 1.0a).

Modules: ``api`` (routing, the :class:`WooCommerceApi` vendor emulator), ``auth`` (OAuth 1.0a / Basic),
``store`` (state and write rules), ``listing`` (filters, ordering, paging headers), ``payloads`` (object
shapes), ``clock`` (frozen clock, site timezone, WordPress date rules), ``seed`` (a messy realistic store),
``errors``.
"""

from woohub.sandbox.woocommerce.api import WooCommerceApi

__all__ = ["WooCommerceApi"]
