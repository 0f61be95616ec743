"""Load WooCommerce order line items into HubSpot line items attached to their deals.

A line item refers to its product through ``hs_product_id`` (HubSpot has no product-line item
association); it is associated with its deal (deal -> line item, type 19; HubSpot stores the reverse 20).
The frame must hold every line item of each order it mentions: a line item the id map links to one of
those deals but the frame no longer has was removed from the order, and is archived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from woohub.core.ledger import id_map_rows, save_id_map
from woohub.hubspot.load.frames import frame_records
from woohub.hubspot.load.idmap import ARCHIVED, LINE_ITEM_DEAL, keys_linked_to, known_id
from woohub.hubspot.load.properties import require_unique_property
from woohub.hubspot.load.results import LoadLedger, LoadOptions, LoadResult
from woohub.hubspot.load.writes import (
    PlannedWrite,
    associate_pairs,
    failure_of,
    settle,
    split_unchanged,
    upsert_plans,
)
from woohub.staging.repository import content_hash

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from woohub.hubspot.hook import HubSpotHook

OBJECT_TYPE, ID_MAP_TYPE, ID_PROPERTY = "line_items", "line_item", "woo_line_item_id"
DEAL_TO_LINE_ITEM = 19
DEAL_NOT_LOADED = "DEAL_NOT_LOADED"


def load_line_items(hook: HubSpotHook, engine: Engine, frame: pd.DataFrame, run_id: str,
    options: LoadOptions | None = None,
) -> LoadResult:
    """Upsert changed line items by ``woo_line_item_id``, associate them with their deals, and archive the
    items edited orders no longer have.

    Frame columns: ``source_key``, ``deal_source_key``, ``product_source_key``, ``properties``. A line item
    whose deal is not in the id map yet is dead-lettered as ``DEAL_NOT_LOADED`` (no orphan is created).
    """
    ledger = LoadLedger.start(hook, ID_MAP_TYPE, options)
    rows = frame_records(frame, ["deal_source_key", "product_source_key", "properties"])
    deals = id_map_rows(engine, "deal", [r["deal_source_key"] for r in rows if r["deal_source_key"]])
    deal_of = {r["source_key"]: known_id(deals.get(r["deal_source_key"] or "")) for r in rows}
    for row in rows:
        if deal_of[row["source_key"]] is None:
            ledger.failed(
                row["source_key"], DEAL_NOT_LOADED, f"deal {row['deal_source_key']!r} is not loaded"
            )
    plans = line_item_plans(engine, ledger, [r for r in rows if deal_of[r["source_key"]]], deal_of)
    changed, unchanged = split_unchanged(
        plans, id_map_rows(engine, ID_MAP_TYPE, [p.source_key for p in plans], ignore_hashes=ledger.options.rewrite)
    )
    ledger.unchanged(len(unchanged))
    if changed:
        require_unique_property(hook, OBJECT_TYPE, ID_PROPERTY)
        write_line_items(hook, engine, ledger, changed, deal_of, run_id)
    archive_removed_items(
        hook, engine, ledger, {r["source_key"] for r in rows}, {d for d in deal_of.values() if d}
    )
    return ledger.finish(engine, run_id)


def line_item_plans(
    engine: Engine, ledger: LoadLedger, rows: list[dict[str, Any]], deal_of: dict[str, str | None]
) -> list[PlannedWrite]:
    """Planned writes with ``hs_product_id`` set from the product id map; the hash covers the deal id.
    Line items without a product link are listed in ``ledger.result.unlinked_line_items``."""
    products = id_map_rows(
        engine, "product", [r["product_source_key"] for r in rows if r["product_source_key"]]
    )
    plans = []
    for row in rows:
        properties = dict(row["properties"])
        product_id = known_id(products.get(row["product_source_key"] or ""))
        if product_id:
            properties["hs_product_id"] = product_id
        else:
            ledger.result.unlinked_line_items.append(row["source_key"])
        digest = content_hash({"properties": properties, "deal_id": deal_of[row["source_key"]]})
        plans.append(PlannedWrite(row["source_key"], properties, digest))
    return plans


def write_line_items(
    hook: HubSpotHook,
    engine: Engine,
    ledger: LoadLedger,
    plans: list[PlannedWrite],
    deal_of: dict[str, str | None],
    run_id: str,
) -> None:
    """Upsert ``plans``, associate each written line item with its deal, and link the two in the id map."""
    written = upsert_plans(hook, OBJECT_TYPE, ID_PROPERTY, plans)
    pairs = {key: (str(deal_of[key]), str(o.id)) for key, o in written.items() if o.ok and o.id}
    linked = associate_pairs(hook, "deals", OBJECT_TYPE, DEAL_TO_LINE_ITEM, pairs)
    for plan in plans:
        settle(ledger, plan, written.get(plan.source_key), linked.get(plan.source_key))
    succeeded = set(ledger.succeeded)
    save_id_map(
        engine,
        LINE_ITEM_DEAL,
        [
            {"source_key": key, "hubspot_id": deal_id, "content_hash": None}
            for key, (deal_id, _) in pairs.items()
            if key in succeeded
        ],
        run_id,
    )


def archive_removed_items(
    hook: HubSpotHook, engine: Engine, ledger: LoadLedger, frame_keys: set[str], deal_ids: set[str]
) -> None:
    """Archive the live line items that the id map links to ``deal_ids`` but the frame does not hold."""
    removed = [
        key for key in keys_linked_to(engine, LINE_ITEM_DEAL, sorted(deal_ids)) if key not in frame_keys
    ]
    entries = id_map_rows(engine, ID_MAP_TYPE, removed)
    to_archive = {key: known_id(entries.get(key)) for key in removed if known_id(entries.get(key))}
    if not to_archive:
        return
    outcomes = {o.key: o for o in hook.batch_archive(OBJECT_TYPE, [str(i) for i in to_archive.values()])}
    for key, hubspot_id in to_archive.items():
        outcome = outcomes.get(str(hubspot_id))
        if outcome is not None and outcome.ok:
            ledger.archived(key, str(hubspot_id), ARCHIVED)
        else:
            ledger.failed(key, *failure_of(outcome))
