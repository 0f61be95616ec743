"""Helpers for the mapping tests: real WooCommerce 11.0.1 payloads from the recorded corpus, the packaged
mapping as editable data, and the "no NaN ever" check."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from woohub.mapping.woocommerce_to_hubspot import MappingConfig, parse_mapping
from woohub.mapping.woocommerce_to_hubspot.config import DEFAULT_MAPPING_PATH

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "woocommerce-11.0.1"


def woo(name: str) -> Any:
    """The ``body`` of a recorded WooCommerce response (a fresh copy each call)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))["body"]


def raw_mapping() -> dict[str, Any]:
    """The packaged mapping YAML as plain data, to edit in a test."""
    return copy.deepcopy(yaml.safe_load(DEFAULT_MAPPING_PATH.read_text(encoding="utf-8")))


def assert_clean(frame: pd.DataFrame) -> None:
    """Every cell is ``str``/``None`` (or a dict of them for ``properties``): no NaN, NA, numbers, and
    no text "nan", "None", "<NA>" or "" anywhere."""
    for column in frame.columns:
        for value in frame[column]:
            values = value.values() if column == "properties" else [value]
            for item in values:
                assert item is None or isinstance(item, str), f"{column}: {item!r}"
                assert not (isinstance(item, float) and math.isnan(item)), column
                assert item not in ("", "nan", "NaN", "None", "<NA>", "NaT"), f"{column}: {item!r}"


def parse_edited(edit: Callable[[dict[str, Any]], None]) -> MappingConfig:
    """``parse_mapping`` of an edited copy (for validation-error tests)."""
    data = raw_mapping()
    edit(data)
    return parse_mapping(data)
