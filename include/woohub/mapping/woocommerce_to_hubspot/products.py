"""WooCommerce products and variations -> HubSpot products.

SKUs are optional and repeat: products are keyed by ``woo_product_id``, never by SKU. A variation without
a SKU of its own returns its parent's SKU (WooCommerce 11.0.1, captures 225/226/248-250), and WooCommerce
refuses to give a variation its parent's SKU (227), so a variation whose SKU equals its parent's has none
of its own; ``@own_sku`` is the SKU only when it is the record's own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from woohub.mapping.frame import extract, join, map_properties
from woohub.mapping.transforms import as_optional_str, strip, woo_id
from woohub.mapping.woocommerce_to_hubspot.config import MappingConfig

PRODUCT_COLUMNS = ["source_key", "action", "properties"]
VARIATION_NAME_SEPARATOR = " - "


def map_products(
    products: Sequence[Mapping[str, Any]],
    variations: Sequence[Mapping[str, Any]],
    config: MappingConfig,
    *,
    parent_skus: Mapping[str, str | None] | None = None,
    store_currency: str | None = None,
) -> pd.DataFrame:
    """Map WooCommerce products (simple, variable parents, ...) and variations to HubSpot products.

    Returns columns ``source_key`` (the WooCommerce id as text; a variation keeps its own id),
    ``action`` (``"archive"`` for the configured archive statuses, e.g. trash, else ``"upsert"``;
    variations of an archived parent are archived too) and ``properties``. When an id occurs twice,
    the last occurrence wins.

    ``parent_skus``: WooCommerce parent id (text) -> its SKU, for parents of ``variations`` that are not
    in ``products`` (e.g. from staging), so that an inherited SKU is recognised; without it such a
    variation's SKU counts as its own unless a sibling in the input shares it. ``store_currency``: the
    store's ISO currency (product prices carry none), for the money decimals; None = 2 decimals."""
    settings = config.products
    paths = settings.mapping.paths() | {"id", "name", "status", "parent_id"}
    parents = extract(products, paths)
    parents["@name"] = parents["name"]
    children = extract(variations, paths | {"attributes"})
    children["@name"] = variation_names(children, parents)
    parent_status = dict(zip(woo_id(parents["id"]), parents["status"], strict=True))
    children["_parent_status"] = woo_id(children["parent_id"]).map(parent_status)
    parents["_parent_status"] = None
    frame = pd.concat([parents, children.drop(columns="attributes")], ignore_index=True)
    frame["@own_sku"] = own_skus(list(products) + list(variations), parent_skus)
    frame["@store_currency"] = store_currency
    archived = frame["status"].isin(settings.archive_statuses) | frame["_parent_status"].isin(
        settings.archive_statuses
    )
    result = pd.DataFrame(
        {
            "source_key": woo_id(frame["id"]),
            "action": np.where(archived.to_numpy(), "archive", "upsert").astype(object),
            "properties": map_properties(frame, settings.mapping),
        },
        columns=PRODUCT_COLUMNS,
    )
    result = result[result["source_key"].notna()]
    return result.drop_duplicates("source_key", keep="last").reset_index(drop=True)


def own_skus(
    records: Sequence[Mapping[str, Any]], parent_skus: Mapping[str, str | None] | None = None
) -> list[str | None]:
    """Per record (products and variations in any order), its SKU when it is its own, else ``None``:
    empty SKUs, and a variation's SKU that equals its parent's (the parent from ``records``, else from
    ``parent_skus``; with neither, a SKU shared by siblings of one parent is the inherited one)."""
    skus = [_sku(r) for r in records]
    known_parents = {str(k): _clean(v) for k, v in (parent_skus or {}).items()}
    for record, sku in zip(records, skus, strict=True):
        if record.get("type") != "variation" and record.get("id") is not None:
            known_parents[str(record["id"])] = sku
    parent_of = [str(r.get("parent_id")) if r.get("type") == "variation" else None for r in records]
    siblings = Counter((parent, sku) for parent, sku in zip(parent_of, skus, strict=True) if parent and sku)
    own: list[str | None] = []
    for parent, sku in zip(parent_of, skus, strict=True):
        if sku is None or parent is None:
            own.append(sku)
        elif parent in known_parents:
            own.append(None if known_parents[parent] == sku else sku)
        else:
            own.append(None if siblings[(parent, sku)] > 1 else sku)
    return own


def _sku(record: Mapping[str, Any]) -> str | None:
    return _clean(record.get("sku"))


def _clean(sku: Any) -> str | None:
    """A SKU as stripped text, ``None`` when empty."""
    text = "" if sku is None else str(sku).strip()
    return text or None


def variation_names(variations: pd.DataFrame, parents: pd.DataFrame) -> pd.Series:
    """The name WooCommerce gives a variation's order line: "<parent name> - <option>[, <option>]"
    ("Organic Hoodie - M"). A variation whose own name is not just its options (a custom name) keeps
    it, and so does one whose parent is not in the input."""
    parent_names = dict(zip(woo_id(parents["id"]), parents["name"], strict=True))
    parent = as_optional_str(woo_id(variations["parent_id"]).map(parent_names))
    options = as_optional_str(
        pd.Series([_options(a) for a in variations["attributes"]], index=variations.index)
    )
    own = strip(variations["name"])
    both = (parent.notna() & options.notna()).to_numpy()
    composed = join([parent.where(both, None), options.where(both, None)], VARIATION_NAME_SEPARATOR)
    custom = (own.notna() & (own != options)).to_numpy()
    use_own = custom | ~both
    return as_optional_str(composed.where(~use_own, own.where(own.notna(), parent)))


def _options(attributes: Any) -> str:
    """The chosen options of a variation's ``attributes`` joined with ", " ("M", "M, Blue")."""
    if not isinstance(attributes, list):
        return ""
    return ", ".join(
        str(a.get("option", "")) for a in attributes if isinstance(a, Mapping) and a.get("option")
    )
