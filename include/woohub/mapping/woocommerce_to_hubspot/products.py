"""WooCommerce products and variations -> HubSpot products."""

from __future__ import annotations

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
    products: Sequence[Mapping[str, Any]], variations: Sequence[Mapping[str, Any]], config: MappingConfig
) -> pd.DataFrame:
    """Map WooCommerce products (simple, variable parents, ...) and variations to HubSpot products.

    Returns columns ``source_key`` (the WooCommerce id as text; a variation keeps its own id),
    ``action`` (``"archive"`` for the configured archive statuses, e.g. trash, else ``"upsert"``;
    variations of an archived parent are archived too) and ``properties``. When an id occurs twice,
    the last occurrence wins."""
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
