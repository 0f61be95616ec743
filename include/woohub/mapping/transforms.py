"""Named, vectorised value transforms for the mapping YAML (``transform: money``).

Each transform takes a pandas Series of raw WooCommerce values and returns an ``object`` Series holding
``str`` or ``None``: HubSpot property values are strings, and "no value" is ``None``, never NaN, "nan" or
"" (an empty result becomes ``None``).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

Transform = Callable[[pd.Series], pd.Series]

_TAG = r"<[^>]*>"
_SPACE = r"\s+"


def as_optional_str(values: pd.Series) -> pd.Series:
    """``values`` as an ``object`` Series of ``str`` or ``None``; NaN, NA, None and "" become ``None``."""
    out = values.astype(object)
    missing = out.isna().to_numpy() | (out == "").to_numpy()
    return out.where(~missing, None)


def nones(index: pd.Index) -> pd.Series:
    """An ``object`` Series of ``None`` on ``index``."""
    return pd.Series(np.full(len(index), None, dtype=object), index=index, dtype=object)


def _text(values: pd.Series) -> pd.Series:
    """``values`` as pandas' nullable string dtype (numbers become their text) for ``.str`` methods."""
    return values.astype(object).where(values.notna(), None).astype("string")


def to_str(values: pd.Series) -> pd.Series:
    """Any value as its text; numbers keep Python's spelling (47 -> "47", 12.5 -> "12.5")."""
    return as_optional_str(_text(values))


def strip(values: pd.Series) -> pd.Series:
    """Text without leading or trailing whitespace."""
    return as_optional_str(_text(values).str.strip())


def lower(values: pd.Series) -> pd.Series:
    """Lower-cased text."""
    return as_optional_str(_text(values).str.lower())


def upper(values: pd.Series) -> pd.Series:
    """Upper-cased, stripped text (currency and country codes)."""
    return as_optional_str(_text(values).str.strip().str.upper())


def email(values: pd.Series) -> pd.Series:
    """An email address stripped and lower-cased, the form HubSpot stores and dedupes on."""
    return as_optional_str(_text(values).str.strip().str.lower())


def unescape(values: pd.Series) -> pd.Series:
    """Text with HTML entities decoded ("Home &amp; Living" -> "Home & Living"), stripped."""
    text = as_optional_str(_text(values).str.strip())
    return as_optional_str(text.map(html.unescape, na_action="ignore"))


def html_text(values: pd.Series) -> pd.Series:
    """Plain text of an HTML fragment: tags removed, entities decoded, whitespace runs collapsed."""
    text = _text(values).str.replace(_TAG, " ", regex=True)
    text = as_optional_str(text).map(html.unescape, na_action="ignore")
    return as_optional_str(_text(text).str.replace(_SPACE, " ", regex=True).str.strip())


# ISO 4217 minor units of the currencies that do not have 2 (every other code has 2).
MINOR_UNITS: Mapping[str, int] = MappingProxyType(
    {code: 0 for code in ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                          "UYI", "VND", "VUV", "XAF", "XOF", "XPF")}
    | {code: 3 for code in ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")}
    | {"CLF": 4, "UYW": 4}
)
DEFAULT_MINOR_UNITS = 2


def minor_units(currency: object) -> int:
    """The ISO 4217 decimals of ``currency`` ("JPY" -> 0, "KWD" -> 3, "usd" -> 2); 2 when unknown or empty."""
    if not isinstance(currency, str):
        return DEFAULT_MINOR_UNITS
    return MINOR_UNITS.get(currency.strip().upper(), DEFAULT_MINOR_UNITS)


def currency_decimals(currencies: pd.Series | None, index: pd.Index) -> np.ndarray:
    """Per row, the decimals of that row's currency (2 for every row when ``currencies`` is None)."""
    if currencies is None:
        return np.full(len(index), DEFAULT_MINOR_UNITS, dtype=np.int64)
    return np.fromiter((minor_units(c) for c in currencies), dtype=np.int64, count=len(currencies))


def to_minor(values: pd.Series, decimals: int | np.ndarray = DEFAULT_MINOR_UNITS) -> pd.Series:
    """Money strings or numbers ("19.99", 12.5, "4.8") as float minor units (cents for 2 decimals, yen
    for 0), rounded half to even; NaN if empty or not a number."""
    numbers = pd.to_numeric(as_optional_str(values), errors="coerce").astype("float64")
    scale = np.power(10.0, np.asarray(decimals, dtype="float64"))
    return pd.Series(np.rint(numbers.to_numpy() * scale), index=values.index)


def to_cents(values: pd.Series) -> pd.Series:
    """Money as float cents (:func:`to_minor` with 2 decimals)."""
    return to_minor(values, DEFAULT_MINOR_UNITS)


def format_minor(minor: pd.Series, decimals: int | np.ndarray = DEFAULT_MINOR_UNITS) -> pd.Series:
    """Float minor units as decimal strings with ``decimals`` places (1999, 2 -> "19.99"; -480, 2 ->
    "-4.80"; 1500, 0 -> "1500"; 19990, 3 -> "19.990"); NaN/inf become ``None``."""
    out = nones(minor.index)
    places = np.broadcast_to(np.asarray(decimals, dtype=np.int64), (len(minor),))
    valid = np.isfinite(minor.to_numpy(dtype="float64", na_value=np.nan))
    for count in np.unique(places[valid]):
        rows = valid & (places == count)
        whole = minor[rows].astype("int64")
        sign = np.where(whole.to_numpy() < 0, "-", "")
        absolute = whole.abs()
        scale = 10 ** int(count)
        units = (absolute // scale).astype(str)
        if count == 0:
            out[rows] = (sign + units).to_numpy(dtype=object)
            continue
        fraction = (absolute % scale).astype(str).str.zfill(int(count))
        out[rows] = (sign + units + "." + fraction).to_numpy(dtype=object)
    return out


def format_cents(cents: pd.Series) -> pd.Series:
    """Float cents as 2-decimal strings (:func:`format_minor` with 2 decimals)."""
    return format_minor(cents, DEFAULT_MINOR_UNITS)


def money(values: pd.Series, currencies: pd.Series | None = None) -> pd.Series:
    """A money value as text with its currency's ISO 4217 decimals: ("4.8", USD) -> "4.80", (47, EUR) ->
    "47.00", ("1500.00", JPY) -> "1500", ("1.5", KWD) -> "1.500". Without ``currencies`` (or for an
    empty/unknown code) 2 decimals. Empty -> ``None``."""
    decimals = currency_decimals(currencies, values.index)
    return format_minor(to_minor(values, decimals), decimals)


def int_str(values: pd.Series) -> pd.Series:
    """A whole number as text (2 -> "2", "7" -> "7", 3.0 -> "3"); empty or non-numeric -> ``None``."""
    numbers = pd.to_numeric(as_optional_str(values), errors="coerce").astype("float64")
    out = nones(values.index)
    valid = np.isfinite(numbers.to_numpy())
    out[valid] = numbers[valid].round().astype("int64").astype(str).to_numpy(dtype=object)
    return out


def woo_id(values: pd.Series) -> pd.Series:
    """A WooCommerce id as text; 0 (WooCommerce's "none", e.g. ``parent_id`` 0) -> ``None``."""
    numbers = pd.to_numeric(as_optional_str(values), errors="coerce")
    return int_str(values).where((numbers > 0).to_numpy(), None)


def gmt_to_hubspot_datetime(values: pd.Series) -> pd.Series:
    """A naive UTC WooCommerce ``*_gmt`` date ("2026-11-28T07:05:48") as HubSpot ISO 8601 UTC with
    milliseconds ("2026-11-28T07:05:48.000Z"); explicit offsets are converted; unparseable -> ``None``."""
    stamps = pd.to_datetime(as_optional_str(values), format="ISO8601", utc=True, errors="coerce")
    return as_optional_str(stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z")


def gmt_to_hubspot_date(values: pd.Series) -> pd.Series:
    """A WooCommerce ``*_gmt`` date (naive UTC) or any ISO 8601 date-time as the value of a HubSpot ``date``
    property: its UTC calendar day as "YYYY-MM-DD" (HubSpot reads it as midnight UTC; a time of day is
    never sent). "2026-11-28T23:59:59" -> "2026-11-28"; "2026-11-28T01:00:00+02:00" -> "2026-11-27"."""
    stamps = pd.to_datetime(as_optional_str(values), format="ISO8601", utc=True, errors="coerce")
    return as_optional_str(stamps.dt.strftime("%Y-%m-%d"))


# Transforms that take the row's currency as a second argument (the spec's ``currency`` path).
CURRENCY_TRANSFORMS = frozenset({"money"})

TRANSFORMS: Mapping[str, Transform] = MappingProxyType(
    {
        "str": to_str,
        "strip": strip,
        "lower": lower,
        "upper": upper,
        "email": email,
        "unescape": unescape,
        "html_text": html_text,
        "money": money,
        "int_str": int_str,
        "id": woo_id,
        "gmt_to_hubspot_datetime": gmt_to_hubspot_datetime,
        "gmt_to_hubspot_date": gmt_to_hubspot_date,
    }
)
