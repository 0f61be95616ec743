"""The named transforms: WooCommerce quirks in, HubSpot strings (or None) out."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from woohub.mapping.transforms import TRANSFORMS


def run(name: str, values: list) -> list:
    result = TRANSFORMS[name](pd.Series(values, dtype=object)).tolist()
    assert all(v is None or isinstance(v, str) for v in result), result
    return result


def test_money_normalises_strings_and_numbers() -> None:
    # "19.99" string, 47 / 12.5 JSON numbers (line_items[].price), "4.8" (coupon_lines[].discount)
    assert run("money", ["19.99", 47, 12.5, "4.8", "0.00", "-10.00", "", None, math.nan, "abc"]) == [
        "19.99", "47.00", "12.50", "4.80", "0.00", "-10.00", None, None, None, None,
    ]  # fmt: skip


def test_int_str_and_id() -> None:
    assert run("int_str", [2, 3.0, "7", 0, None, "", "x"]) == ["2", "3", "7", "0", None, None, None]
    assert run("id", [217, "219", 0, None, ""]) == ["217", "219", None, None, None]


def test_gmt_to_hubspot_datetime() -> None:
    assert run("gmt_to_hubspot_datetime", ["2026-11-28T07:05:48", None, "", "not a date", "2026-11-28T09:05:48+02:00"]) == [
        "2026-11-28T07:05:48.000Z", None, None, None, "2026-11-28T07:05:48.000Z",
    ]  # fmt: skip


def test_text_transforms() -> None:
    assert run("html_text", ["<p>Soft 100% organic cotton tee.</p>\n", "<b>A</b> &amp;\n<i>B</i>", ""]) == [
        "Soft 100% organic cotton tee.", "A & B", None,
    ]  # fmt: skip
    assert run("email", [" Alice.Johnson@Example.COM ", ""]) == ["alice.johnson@example.com", None]
    assert run("unescape", ["Home &amp; Living", "Zoë"]) == ["Home & Living", "Zoë"]
    assert run("upper", [" eur", None]) == ["EUR", None]
    assert run("lower", ["ABC"]) == ["abc"]
    assert run("strip", ["  x  ", "   "]) == ["x", None]
    assert run("str", [47, 12.5, "a", None]) == ["47", "12.5", "a", None]


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_every_transform_handles_empty_input(name: str) -> None:
    assert TRANSFORMS[name](pd.Series([], dtype=object)).tolist() == []
    assert run(name, [None, math.nan, ""]) == [None, None, None]


def test_money_uses_the_currency_decimals() -> None:
    values = pd.Series(["1500.00", "19.99", "1.5", "4.8", "7", None], dtype=object)
    currencies = pd.Series(["JPY", "usd", "KWD", None, "XYZ", "EUR"], dtype=object)

    assert TRANSFORMS["money"](values, currencies).tolist() == ["1500", "19.99", "1.500", "4.80", "7.00", None]


def test_minor_units_table() -> None:
    from woohub.mapping.transforms import minor_units

    assert [minor_units(c) for c in ("JPY", "KRW", "KWD", "BHD", "USD", "EUR", "clf", None, "")] == [
        0, 0, 3, 3, 2, 2, 4, 2, 2]  # fmt: skip


def test_gmt_to_hubspot_date_is_the_utc_day() -> None:
    assert run("gmt_to_hubspot_date", ["2026-11-28T23:59:59", "2026-11-28T01:00:00+02:00",
                                       "2026-11-28T07:05:48.000Z", None, "nope"]) == [
        "2026-11-28", "2026-11-27", "2026-11-28", None, None,
    ]  # fmt: skip
