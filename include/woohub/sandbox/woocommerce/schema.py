"""Request-body type checks that WordPress runs before WooCommerce sees a single (non-batch) request.

WooCommerce types every money amount as a JSON *string* ("9.99"); WordPress validates a request against the
endpoint schema (``rest_validate_value_from_schema``) and rejects a JSON number there with 400
``rest_invalid_param``, ``"<param> is not of type string."`` (code ``rest_invalid_type``, nested paths as
``line_items[0][total]``). A top-level ``null`` is not validated (WordPress skips null parameters); nested
values are. Batch endpoints build their sub-requests without this validation, so they accept numbers: the
checks here are only applied by the single-object handlers in :mod:`api`.
"""

from __future__ import annotations

from typing import Any

from woohub.sandbox.woocommerce.errors import WooError, invalid_params
from woohub.sandbox.woocommerce.store import valid_email

STRING = "string"
Schema = str | dict[str, Any] | list[Any]

# schema order (the order WordPress reports parameters in), string-typed money and measure fields only
PRODUCT: dict[str, Schema] = {
    "regular_price": STRING, "sale_price": STRING, "weight": STRING,
    "dimensions": {"length": STRING, "width": STRING, "height": STRING},
}
VARIATION: dict[str, Schema] = PRODUCT
_LINE = {"subtotal": STRING, "total": STRING}
ORDER: dict[str, Schema] = {
    "line_items": [_LINE], "shipping_lines": [{"total": STRING}], "fee_lines": [{"amount": STRING, "total": STRING}],
}
COUPON: dict[str, Schema] = {"amount": STRING, "minimum_amount": STRING, "maximum_amount": STRING}
REFUND: dict[str, Schema] = {"amount": STRING}
TAX_RATE: dict[str, Schema] = {"rate": STRING}


def _first_error(value: Any, schema: Schema, path: str) -> str | None:
    if schema == STRING:
        return None if isinstance(value, str) else f"{path} is not of type string."
    if isinstance(schema, dict) and isinstance(value, dict):
        for key, sub in schema.items():
            if key in value:
                found = _first_error(value[key], sub, f"{path}[{key}]")
                if found:
                    return found
    if isinstance(schema, list) and isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_error(item, schema[0], f"{path}[{index}]")
            if found:
                return found
    return None


def check_types(body: dict[str, Any], schema: dict[str, Schema]) -> None:
    """Raise WooCommerce's 400 ``rest_invalid_param`` when a string-typed field of ``body`` is not a string."""
    errors: dict[str, tuple[str, str, str]] = {}
    for name, sub in schema.items():
        if body.get(name) is None:
            continue
        message = _first_error(body[name], sub, name)
        if message:
            errors[name] = ("rest_invalid_type", message, message.removesuffix(" is not of type string."))
    if errors:
        raise invalid_params(errors)


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and valid_email(value)


def check_customer_emails(body: dict[str, Any], *, creating: bool) -> None:
    """The customers endpoint's ``"format": "email"`` fields: ``email`` (not on create, whose route
    declares its own ``email`` argument without a format) and ``billing.email``. An empty string fails too
    (the field is not ``required``), as ``is_email`` refuses it: 400 ``rest_invalid_param``,
    ``"Invalid email address."`` (code ``rest_invalid_email``)."""
    failing = []
    if not creating and body.get("email") is not None and not _is_email(body["email"]):
        failing.append("email")
    billing = body.get("billing")
    if isinstance(billing, dict) and "email" in billing and not _is_email(billing["email"]):
        failing.append("billing")
    if failing:
        message = "Invalid email address."
        raise WooError(400, "rest_invalid_param", f"Invalid parameter(s): {', '.join(failing)}",
                       params={name: message for name in failing},
                       details={name: {"code": "rest_invalid_email", "message": message, "data": None}
                                for name in failing})
