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


def to_cents(values: pd.Series) -> pd.Series:
    """Money strings or numbers ("19.99", 12.5, "4.8") as float cents, rounded half to even; NaN if empty."""
    numbers = pd.to_numeric(as_optional_str(values), errors="coerce").astype("float64")
    return pd.Series(np.rint(numbers.to_numpy() * 100.0), index=values.index)


def format_cents(cents: pd.Series) -> pd.Series:
    """Float cents as 2-decimal strings ("1999" -> "19.99", "-480" -> "-4.80"); NaN/inf become ``None``."""
    out = nones(cents.index)
    valid = np.isfinite(cents.to_numpy(dtype="float64", na_value=np.nan))
    whole = cents[valid].astype("int64")
    sign = np.where(whole.to_numpy() < 0, "-", "")
    absolute = whole.abs()
    units = (absolute // 100).astype(str)
    hundredths = (absolute % 100).astype(str).str.zfill(2)
    out[valid] = (sign + units + "." + hundredths).to_numpy(dtype=object)
    return out


def money(values: pd.Series) -> pd.Series:
    """A money value as a 2-decimal string ("4.8" -> "4.80", 47 -> "47.00"); empty -> ``None``."""
    return format_cents(to_cents(values))


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
    }
)
