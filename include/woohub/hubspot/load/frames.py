"""Reading the mapping layer's frames: one plain dict per source key, checked for the columns a loader needs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd


def frame_records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of ``columns``, the last row winning for a repeated ``source_key``.

    Missing values (``None``, ``NaN``) in the key columns become ``None``; ``properties`` must be a dict.

    :raises ValueError: when a column is missing or a row's ``properties`` is not a dict
    """
    missing = [c for c in ("source_key", *columns) if c not in frame.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(frame.columns)}")
    by_key: dict[str, dict[str, Any]] = {}
    for raw in frame[list(dict.fromkeys(["source_key", *columns]))].to_dict("records"):
        record = {
            name: (value if name == "properties" else text_or_none(value)) for name, value in raw.items()
        }
        if not isinstance(record.get("properties", {}), dict):
            raise ValueError(
                f"row {record['source_key']!r}: properties must be a dict, not "
                f"{type(record['properties']).__name__}"
            )
        if record["source_key"] is None:
            raise ValueError("a row has no source_key")
        by_key[record["source_key"]] = record
    return list(by_key.values())


def text_or_none(value: Any) -> str | None:
    """``value`` as a string, or ``None`` for a missing value (``None``, ``NaN``, ``pd.NA``)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def wire_properties(properties: dict[str, Any]) -> dict[str, str]:
    """Properties as HubSpot takes them: every value a string. ``None`` (WooCommerce has no value) is left
    out rather than sent as ``""``: an empty WooCommerce field must not wipe what the sales team typed
    into HubSpot (a phone, a company). A value WooCommerce clears therefore stays in HubSpot until edited
    there; the nightly reconciliation reports such differences."""
    return {name: str(value) for name, value in properties.items() if value is not None}
