"""Property values: HubSpot stores and returns every value as a string; these coerce and compare them."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from woohub.sandbox.hubspot.errors import PropertyProblem

MAX_STRING = 65_536
_INT = re.compile(r"^-?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    """Epoch ms as HubSpot's ISO 8601 UTC with milliseconds (``2024-01-31T10:20:30.123Z``)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def to_ms(value: Any) -> int | None:
    """Epoch ms from epoch-ms (number or string), ISO 8601 datetime or ``YYYY-MM-DD``; None if unparseable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if _INT.match(text):
        return int(text)
    try:
        if _DATE.match(text):
            return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(round(parsed.timestamp() * 1000))


def to_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def number_text(number: Decimal) -> str:
    """A number as HubSpot returns it: ``10``, ``19.9`` (no exponent, no trailing zeros)."""
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def coerce(definition: dict[str, Any], raw: Any, *, allowed: list[str] | None = None) -> str | None:
    """The stored string for ``raw`` written to a property, None to clear it; raises PropertyProblem.

    ``allowed`` overrides the enumeration options (deal stages come from the pipeline).
    """
    name, type_ = definition["name"], definition["type"]
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict | list):
        raise PropertyProblem(name, "INVALID_PROPERTY_VALUE", f"{raw!r} is not a valid value for {name}.")
    if type_ == "number":
        number = to_number(raw)
        if number is None:
            raise PropertyProblem(name, "INVALID_FLOAT", f"{raw} was not a valid number.")
        return number_text(number)
    if type_ == "bool":
        text = str(raw).lower()
        if text not in ("true", "false"):
            raise PropertyProblem(name, "INVALID_BOOLEAN", f"{raw} was not a valid boolean. Use true or false.")
        return text
    if type_ in ("datetime", "date"):
        ms = to_ms(raw)
        if ms is None:
            raise PropertyProblem(name, "INVALID_DATE",
                                  f"{raw} was not a valid long or ISO 8601 date/datetime for {name}.")
        if type_ == "date":
            if ms % 86_400_000:
                raise PropertyProblem(name, "INVALID_DATE",
                                      f"{raw} is not at midnight UTC; date properties need midnight UTC.")
            return iso(ms)[:10]
        return iso(ms)
    text = raw if isinstance(raw, str) else (str(raw).lower() if isinstance(raw, bool) else str(raw))
    if type_ == "enumeration":
        options = allowed if allowed is not None else [o["value"] for o in definition.get("options", [])]
        if options or allowed is not None:
            chosen = text.split(";") if definition.get("fieldType") == "checkbox" else [text]
            for value in chosen:
                if value not in options:
                    raise PropertyProblem(name, "INVALID_OPTION",
                                          f"{value} was not one of the allowed options: [{', '.join(options)}]")
        return text
    if len(text) > MAX_STRING:
        raise PropertyProblem(name, "INVALID_PROPERTY_VALUE",
                              f"{name} is longer than the maximum of {MAX_STRING} characters.")
    if definition.get("fieldType") == "email" or name == "email":
        if not is_hubspot_email(text):
            raise PropertyProblem(name, "INVALID_EMAIL", f"Email address {text} is invalid")
    return text


_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_EMAIL_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$")


def is_hubspot_email(text: str) -> bool:
    """HubSpot refuses addresses no mail server takes: a dot at either end of the local part or two in a
    row, a domain without a dot, an empty label, a label starting or ending with a hyphen (WooCommerce's
    ``is_email`` lets the local-part ones through)."""
    local, at, domain = text.rpartition("@")
    if not at or not local or len(local) > 64 or not _EMAIL_LOCAL.match(local):
        return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(_EMAIL_LABEL.match(label) for label in labels)
