"""Collection queries: parameter validation, filters, ordering, paging headers (as recorded)."""

from __future__ import annotations

import math
import unicodedata
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.datastructures import MultiDict

from woohub.sandbox.woocommerce.clock import (
    is_valid_date,
    local_to_epoch,
    naive_to_epoch_utc,
    parse_request_date,
)
from woohub.sandbox.woocommerce.errors import invalid_param
from woohub.sandbox.woocommerce.payloads import NS


def ids_param(args: MultiDict[str, str], name: str) -> list[int] | None:
    raw = args.getlist(name) or args.getlist(f"{name}[]")
    if not raw:
        return None
    out = []
    for chunk in raw:
        for part in chunk.split(","):
            part = part.strip()
            if part:
                if not part.lstrip("-").isdigit():
                    raise invalid_param(name, f"{name}[0] is not of type integer.", "rest_invalid_type")
                out.append(int(part))
    return out


def list_param(args: MultiDict[str, str], name: str) -> list[str] | None:
    raw = args.getlist(name) or args.getlist(f"{name}[]")
    if not raw:
        return None
    return [p.strip() for chunk in raw for p in chunk.split(",") if p.strip()]


def bool_param(args: MultiDict[str, str], name: str) -> bool:
    value = args.get(name)
    if value is None:
        return False
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no", ""):
        return False
    raise invalid_param(name, f"{name} is not of type boolean.", "rest_invalid_type")


def int_param(args: MultiDict[str, str], name: str, default: int, minimum: int | None = None,
              maximum: int | None = None) -> int:
    value = args.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise invalid_param(name, f"{name} is not of type integer.", "rest_invalid_type") from None
    if minimum is not None and maximum is not None and not minimum <= number <= maximum:
        raise invalid_param(name, f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)",
                            "rest_out_of_bounds")
    if minimum is not None and number < minimum:
        raise invalid_param(name, f"{name} must be greater than or equal to {minimum}", "rest_out_of_bounds")
    return number


def enum_param(args: MultiDict[str, str], name: str, default: str, allowed: list[str]) -> str:
    value = args.get(name, default)
    if value not in allowed:
        raise invalid_param(name, f"{name} is not one of {', '.join(allowed)}.", "rest_not_in_enum")
    return value


def sort_key_text(text: str) -> str:
    """MySQL's utf8mb4_unicode_ci, roughly: case and accent insensitive."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()


class DateWindow:
    """``after``/``before``/``modified_after``/``modified_before`` as WP_Date_Query applies them (strict)."""

    def __init__(self, args: MultiDict[str, str], tz: Any) -> None:
        self.gmt = bool_param(args, "dates_are_gmt")
        self.tz = tz
        self.bounds: list[tuple[str, str, str]] = []  # (field, op, naive wall-clock)
        for name, field, op in (("after", "created", ">"), ("before", "created", "<"),
                                ("modified_after", "modified", ">"), ("modified_before", "modified", "<")):
            value = args.get(name)
            if value is None:
                continue
            if not is_valid_date(value):
                raise invalid_param(name, "Invalid date.", "rest_invalid_date")
            naive, _ = parse_request_date(value, tz)
            self.bounds.append((field, op, naive))

    def __bool__(self) -> bool:
        return bool(self.bounds)

    def compile(self, local_columns: bool) -> list[tuple[str, str, Any]]:
        """Comparisons against epoch (``gmt``) or stored local wall-clock strings (``local``)."""
        out = []
        for field, op, naive in self.bounds:
            if self.gmt:
                out.append((field, op, ("epoch", naive_to_epoch_utc(naive))))
            elif local_columns:
                out.append((field, op, ("local", naive)))
            else:
                out.append((field, op, ("epoch", local_to_epoch(naive, self.tz))))
        return out

    @staticmethod
    def match(record: dict[str, Any], compiled: list[tuple[str, str, Any]]) -> bool:
        for field, op, (kind, bound) in compiled:
            value = record.get(field) if kind == "epoch" else record.get(f"{field}_local")
            if value is None:
                return False
            if op == ">" and not value > bound:
                return False
            if op == "<" and not value < bound:
                return False
        return True


def page_slice(ids: list[Any], args: MultiDict[str, str]) -> tuple[list[Any], int, int, int]:
    per_page = int_param(args, "per_page", 10, 1, 100)
    page = int_param(args, "page", 1, 1)
    offset = args.get("offset")
    start = int_param(args, "offset", 0, 0) if offset is not None else (page - 1) * per_page
    return ids[start:start + per_page], page, per_page, len(ids)


def paging_headers(base: str, route: str, args: MultiDict[str, str], total: int, page: int, per_page: int,
                   *, orders: bool = False, offset_used: bool = False) -> dict[str, str]:
    max_pages = math.ceil(total / per_page) if total else 0
    if orders and total and page > max_pages and not offset_used:
        total = max_pages = 0  # HPOS: a page past the end reports 0 / 0
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(max_pages)}
    pairs = [(k, v) for k, v in args.items(multi=True) if not k.startswith("oauth_")
             and k not in ("consumer_key", "consumer_secret")]
    sent = {k for k, _ in pairs}
    if orders:
        if max_pages == 0 and page > 1:
            extra = [] if "status" in sent else [("status[0]", "any")]
        else:
            extra = [(k, v) for k, v in (("status[0]", "any"), ("dp", "2"), ("context", "view"))
                     if k.split("[")[0] not in sent]
        pairs += extra

    def link(target: int) -> str:
        items = [(k, str(target) if k == "page" else v) for k, v in pairs]
        if "page" not in sent:
            items.append(("page", str(target)))
        return f"{base}{NS}/{route}?{urlencode(items, quote_via=quote)}"

    links = []
    if page > 1:
        links.append(f'<{link(min(page - 1, max_pages))}>; rel="prev"')
    if max_pages > page:
        links.append(f'<{link(page + 1)}>; rel="next"')
    headers["Link"] = ", ".join(links) if links else f'<{base}/wp-json/>; rel="https://api.w.org/"'
    return headers
