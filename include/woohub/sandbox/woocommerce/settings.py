"""Store settings (WordPress options) the sandbox honours, their ``/settings/{group}[/{id}]`` shapes, and the
store currency as ``/data/currencies`` shows it.

The definitions (every setting of the ``general`` and ``tax`` groups, in WooCommerce 11.0.1's order, with
their option lists) are data: ``settings.yaml`` next to this module. What the store reads from them: the
tax settings, ``woocommerce_calc_taxes`` and ``woocommerce_price_num_decimals`` (see
:mod:`woohub.sandbox.woocommerce.totals`), ``woocommerce_currency`` (orders' default currency, price
markup, ``/data/currencies/current``) and the store base address (``woocommerce_default_country`` +
``woocommerce_store_city`` / ``woocommerce_store_postcode``, where taxes fall back to). The others are
stored and served back only.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from woohub.sandbox.woocommerce.errors import WooError

SETTINGS_PATH = Path(__file__).with_name("settings.yaml")
TAX_CLASSES = [("standard", "Standard rate"), ("reduced-rate", "Reduced rate"), ("zero-rate", "Zero rate")]
_CURRENCY_LABEL = re.compile(r"^(?P<name>.*) \((?P<symbol>.*)\) \u2014 (?P<code>[A-Z]{3})$")


@cache
def _document() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SETTINGS_PATH.open(encoding="utf-8") as handle:
        return dict(yaml.load(handle, Loader=loader))


def groups() -> dict[str, list[dict[str, Any]]]:
    """Every emulated settings group: its setting definitions, in WooCommerce's order."""
    return _document()["groups"]


def defaults() -> dict[str, Any]:
    """Every emulated option with its value in a fresh store (the definition's default unless the recorded
    store had set it, like the store address)."""
    values = {d["id"]: d["default"] for group in groups().values() for d in group}
    values.update(_document()["store_values"])
    return values


def definition(group: str, setting_id: str) -> dict[str, Any]:
    if group not in groups():
        raise WooError(404, "rest_setting_setting_group_invalid", "Invalid setting group.")
    for d in groups()[group]:
        if d["id"] == setting_id:
            return d
    raise WooError(404, "rest_setting_setting_invalid", "Invalid setting.")


def validated_value(d: dict[str, Any], value: Any) -> Any:
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
    if d["type"] == "multiselect":
        if not isinstance(value, list) or any(str(v) not in d["options"] for v in value):
            raise invalid
        return [str(v) for v in value]
    if d["type"] == "number":
        text = str(value)
        if not text.isdigit():
            raise invalid
        return text
    return str(value)


def render_setting(d: dict[str, Any], value: Any, base: str, group: str, *, single: bool) -> dict[str, Any]:
    body = dict(d)
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


# -- the store's location and currency ----------------------------------------------------------------


def base_location(values: dict[str, Any]) -> dict[str, str]:
    """``WC_Countries::get_base_*``: the store address taxes fall back to (``US:CA`` -> country US, state CA)."""
    country, _, state = str(values["woocommerce_default_country"]).partition(":")
    return {"country": country, "state": state, "postcode": str(values["woocommerce_store_postcode"]),
            "city": str(values["woocommerce_store_city"])}


@cache
def currencies() -> dict[str, tuple[str, str]]:
    """Every currency WooCommerce knows: code -> (name, symbol as an HTML entity string, e.g. ``&#36;``),
    read from the ``woocommerce_currency`` option labels."""
    options = definition("general", "woocommerce_currency")["options"]
    out = {}
    for code, label in options.items():
        match = _CURRENCY_LABEL.match(label)
        if match is None or match["code"] != code:
            raise ValueError(f"unexpected currency label {label!r}")
        out[code] = (match["name"], match["symbol"])
    return out


def currency_symbol(code: str) -> str:
    """``get_woocommerce_currency_symbol``: the symbol as WooCommerce's HTML (``&#36;``, ``&euro;``); the
    code itself for a currency WooCommerce does not know."""
    return currencies()[code][1] if code in currencies() else code


def currency_symbol_text(code: str) -> str:
    """The symbol decoded, as orders show it (``currency_symbol`` "$", "€")."""
    return html.unescape(currency_symbol(code))


def render_currency(code: str, base: str) -> dict[str, Any]:
    """``/data/currencies/{code}`` and ``/data/currencies/current``."""
    name, symbol = currencies()[code]
    ns = "/wp-json/wc/v3"
    return {"code": code, "name": name, "symbol": symbol,
            "_links": {"self": [{"href": f"{base}{ns}/data/currencies/{code}", "targetHints": {"allow": ["GET"]}}],
                       "collection": [{"href": f"{base}{ns}/data/currencies"}]}}
