"""The column engine shared by the mapping modules: payload dicts -> a DataFrame of the needed paths,
and property specs -> one ``properties`` dict per row. Pure: no I/O."""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from woohub.mapping.transforms import (
    CURRENCY_TRANSFORMS,
    TRANSFORMS,
    as_optional_str,
    gmt_to_hubspot_date,
    to_str,
)
from woohub.mapping.woocommerce_to_hubspot.config import ObjectMapping, PropertySpec


def extract(records: Sequence[Mapping[str, Any]], paths: Iterable[str]) -> pd.DataFrame:
    """A DataFrame with one ``object`` column per dotted ``path`` (``billing.email``), one row per
    record; an absent key or a non-dict on the way gives ``None``."""
    columns = {path: _dig(records, path.split(".")) for path in sorted(set(paths))}
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)), dtype=object)


def _dig(records: Sequence[Mapping[str, Any]], keys: list[str]) -> list[Any]:
    """The value at ``keys`` in every record (``None`` where missing). Payloads are parsed JSON, so a
    plain ``dict`` check (much faster than ``Mapping``) is enough."""
    if len(keys) == 1:
        key = keys[0]
        return [r.get(key) if isinstance(r, dict) else None for r in records]
    values: list[Any] = list(records)
    for key in keys:
        values = [v.get(key) if isinstance(v, dict) else None for v in values]
    return values


def property_values(frame: pd.DataFrame, spec: PropertySpec) -> pd.Series:
    """The values of one HubSpot property for every row: ``str`` or ``None``. A currency-aware transform
    gets the row's currency (``spec.currency``); a HubSpot ``date`` property gets the UTC day only."""
    transform = _bound_transform(frame, spec)
    if spec.template is not None:
        values = transform(render_template(frame, spec.template))
    else:
        parts = [transform(frame[path]) for path in spec.sources]
        values = join(parts, spec.join) if spec.join is not None else coalesce(parts)
    if spec.default is not None:
        values = values.where(values.notna(), spec.default)
    if spec.hubspot_type == "date":
        values = gmt_to_hubspot_date(values)
    return values


def _bound_transform(frame: pd.DataFrame, spec: PropertySpec) -> Callable[[pd.Series], pd.Series]:
    """The spec's transform, with the row currencies bound for the currency-aware ones."""
    transform = TRANSFORMS[spec.transform]
    if spec.transform not in CURRENCY_TRANSFORMS:
        return transform
    currencies = frame[spec.currency] if spec.currency else None
    return lambda values: TRANSFORMS[spec.transform](values, currencies)  # type: ignore[call-arg]


def coalesce(parts: Sequence[pd.Series]) -> pd.Series:
    """Per row, the first non-``None`` value of ``parts``."""
    result = parts[0]
    for part in parts[1:]:
        result = result.where(result.notna(), part)
    return result


def join(parts: Sequence[pd.Series], separator: str) -> pd.Series:
    """Per row, the non-``None`` values of ``parts`` joined with ``separator`` (``None`` if none)."""
    result = parts[0].copy()
    for part in parts[1:]:
        both = (result.notna() & part.notna()).to_numpy()
        only_part = (result.isna() & part.notna()).to_numpy()
        result[both] = (result[both] + separator + part[both]).to_numpy(dtype=object)
        result[only_part] = part[only_part].to_numpy(dtype=object)
    return result


def render_template(frame: pd.DataFrame, template: str) -> pd.Series:
    """``template`` with each ``{path}`` replaced by that column's text ("" where empty)."""
    result = pd.Series("", index=frame.index, dtype=object)
    for literal, field, _, _ in string.Formatter().parse(template):
        if literal:
            result = result + literal
        if field:
            text = to_str(frame[field])
            result = result + text.where(text.notna(), "")
    return as_optional_str(result)


def map_properties(frame: pd.DataFrame, mapping: ObjectMapping) -> pd.Series:
    """One ``{hubspot property: str | None}`` dict per row of ``frame``, in mapping order."""
    names = [spec.name for spec in mapping.properties]
    columns = [property_values(frame, spec).tolist() for spec in mapping.properties]
    records = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    if not columns:
        records = [{} for _ in range(len(frame))]
    return pd.Series(records, index=frame.index, dtype=object)
