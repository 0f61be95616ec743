"""WooCommerce REST API v3 sandbox: a WooCommerce 11.0.1 store at ``/wp-json/wc/v3/`` as the recordings in
``tests/fixtures/woocommerce-11.0.1/`` show it (payload shapes, quirks, errors, OAuth 1.0a).

Modules: ``api`` (routing, the :class:`WooCommerceApi` vendor emulator), ``auth`` (OAuth 1.0a / Basic),
``store`` (state and write rules), ``totals`` (coupons, taxes and order totals as WooCommerce computes them),
``settings`` (the store options honoured: taxes, rounding, decimals), ``schema`` (WordPress's type checks:
money is a JSON string), ``listing`` (filters, ordering, paging headers), ``payloads`` (object shapes),
``clock`` (frozen clock, site timezone, WordPress date rules), ``seed`` (a messy realistic store),
``webhooks`` (the ``/webhooks`` resource and signed, queued deliveries), ``errors``.

Vendor settings (``POST /__sandbox__/config``, :meth:`WooCommerceApi.configure`): ``timezone``, ``clock``,
``advance_seconds``, ``seed_taxes`` (``"off"`` | ``"exclusive"`` | ``"inclusive"``: every following reset
starts from a taxed store, see :mod:`woohub.sandbox.woocommerce.seed`) and ``currency`` (the store currency,
``"USD"`` by default: set now and by every following reset; it shows in ``/settings/general/
woocommerce_currency``, ``/data/currencies/current``, price markup and new orders' default currency). Store
settings themselves (the ``general`` and ``tax`` groups: ``woocommerce_calc_taxes``,
``woocommerce_prices_include_tax``, ``woocommerce_tax_round_at_subtotal``, ``woocommerce_price_num_decimals``,
``woocommerce_currency``, the store address, ...; definitions in ``settings.yaml``) and tax rates are changed
through the REST API, as on a real store (``PUT /settings/{group}/{id}``, ``/taxes``).
"""

from woohub.sandbox.woocommerce.api import WooCommerceApi

__all__ = ["WooCommerceApi"]
