"""Store settings (WordPress options) the sandbox honours, and their ``/settings/{group}/{id}`` shapes.

Emulated: the whole ``tax`` group (9 settings, as ``GET /settings/tax`` lists them) and, of ``general``,
``woocommerce_calc_taxes`` and ``woocommerce_price_num_decimals`` (single-setting routes only: the general
group's list, with its country and currency option lists, is not emulated). The store base address is
fixed at US:CA (San Francisco), like the recorded store.
"""

from __future__ import annotations

from typing import Any

from woohub.sandbox.woocommerce.errors import WooError

BASE_LOCATION = {"country": "US", "state": "CA", "postcode": "", "city": "San Francisco"}
TAX_CLASSES = [("standard", "Standard rate"), ("reduced-rate", "Reduced rate"), ("zero-rate", "Zero rate")]

_INCL_EXCL = {"incl": "Including tax", "excl": "Excluding tax"}
DEFINITIONS: dict[str, list[dict[str, Any]]] = {
    "general": [
        {"id": "woocommerce_calc_taxes", "label": "Enable taxes", "description": "Enable tax rates and calculations",
         "type": "checkbox", "default": "no",
         "tip": "Rates will be configurable and taxes will be calculated during checkout."},
        {"id": "woocommerce_price_num_decimals", "label": "Number of decimals",
         "description": "This sets the number of decimal points shown in displayed prices.", "type": "number",
         "default": "2", "tip": "This sets the number of decimal points shown in displayed prices."},
    ],
    "tax": [
        {"id": "woocommerce_prices_include_tax", "label": "Prices entered with tax", "description": "",
         "type": "radio", "default": "no",
         "options": {"yes": "Yes, I will enter prices inclusive of tax", "no": "No, I will enter prices exclusive of tax"},
         "tip": "This option is important as it will affect how you input prices. If you select \"Yes\", enter "
                "prices including your base location's tax rate, the baseline for tax calculations. Changing "
                "this option will not update existing products."},
        {"id": "woocommerce_tax_based_on", "label": "Calculate tax based on", "description": "", "type": "select",
         "default": "shipping",
         "options": {"shipping": "Customer shipping address", "billing": "Customer billing address",
                     "base": "Shop base address"},
         "tip": "This option determines which address is used to calculate tax."},
        {"id": "woocommerce_shipping_tax_class", "label": "Shipping tax class",
         "description": "Optionally control which tax class shipping gets, or leave it so shipping tax is based on "
                        "the cart items themselves.", "type": "select", "default": "inherit",
         "options": {"inherit": "Shipping tax class based on cart items", "": "Standard",
                     "reduced-rate": "Reduced rate", "zero-rate": "Zero rate"},
         "tip": "Optionally control which tax class shipping gets, or leave it so shipping tax is based on the "
                "cart items themselves."},
        {"id": "woocommerce_tax_round_at_subtotal", "label": "Rounding",
         "description": "Round tax at subtotal level, instead of rounding per line", "type": "checkbox",
         "default": "no"},
        {"id": "woocommerce_tax_classes", "label": "Additional tax classes", "description": "", "type": "textarea",
         "default": "",
         "tip": "List additional tax classes you need below (1 per line, e.g. Reduced Rates). These are in addition "
                "to \"Standard rate\" which exists by default."},
        {"id": "woocommerce_tax_display_shop", "label": "Display prices in the shop", "description": "",
         "type": "select", "default": "excl", "options": dict(_INCL_EXCL)},
        {"id": "woocommerce_tax_display_cart", "label": "Display prices during cart and checkout", "description": "",
         "type": "select", "default": "excl", "options": dict(_INCL_EXCL)},
        {"id": "woocommerce_price_display_suffix", "label": "Price display suffix", "description": "", "type": "text",
         "default": "",
         "tip": "Define text to show after your product prices. This could be, for example, \"inc. Vat\" to explain "
                "your pricing. You can also have prices substituted here using one of the following: "
                "{price_including_tax}, {price_excluding_tax}."},
        {"id": "woocommerce_tax_total_display", "label": "Display tax totals", "description": "", "type": "select",
         "default": "itemized", "options": {"single": "As a single total", "itemized": "Itemized"}},
    ],
}


def defaults() -> dict[str, str]:
    """Every emulated option with its default value (a fresh store)."""
    return {d["id"]: d["default"] for group in DEFINITIONS.values() for d in group}


def definition(group: str, setting_id: str) -> dict[str, Any]:
    if group not in DEFINITIONS:
        raise WooError(404, "rest_setting_setting_group_invalid", "Invalid setting group.")
    for d in DEFINITIONS[group]:
        if d["id"] == setting_id:
            return d
    raise WooError(404, "rest_setting_setting_invalid", "Invalid setting.")


def validated_value(d: dict[str, Any], value: Any) -> str:
    """The value WooCommerce stores for a PUT ``{"value": ...}``, or its 400 for a value it refuses."""
    invalid = WooError(400, "rest_setting_value_invalid", "An invalid setting value was passed.")
    if d["type"] == "checkbox":
        if value not in ("yes", "no"):
            raise invalid
        return str(value)
    if d["type"] in ("select", "radio"):
        if str(value) not in d["options"]:
            raise invalid
        return str(value)
    if d["type"] == "number":
        text = str(value)
        if not text.isdigit():
            raise invalid
        return text
    return str(value)


def render_setting(d: dict[str, Any], value: str, base: str, group: str, *, single: bool) -> dict[str, Any]:
    body = {k: v for k, v in d.items()}
    body["value"] = value
    if single:
        body["group_id"] = group
    ns = "/wp-json/wc/v3"
    body["_links"] = {
        "self": [{"href": f"{base}{ns}/settings/{group}/{d['id']}",
                  "targetHints": {"allow": ["GET", "POST", "PUT", "PATCH"]}}],
        "collection": [{"href": f"{base}{ns}/settings/{group}"}],
    }
    return body
