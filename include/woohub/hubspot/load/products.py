"""Load WooCommerce products (and variations) into HubSpot products."""

from __future__ import annotations

from typing import TYPE_CHECKING

from woohub.core.ledger import id_map_rows
from woohub.hubspot.load.frames import frame_records
from woohub.hubspot.load.idmap import ARCHIVED, known_id
from woohub.hubspot.load.properties import require_unique_property
from woohub.hubspot.load.results import LoadLedger, LoadOptions, LoadResult
from woohub.hubspot.load.writes import PlannedWrite, failure_of, settle, split_unchanged, upsert_plans
from woohub.staging.repository import content_hash

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from woohub.hubspot.hook import HubSpotHook

OBJECT_TYPE, ID_MAP_TYPE, ID_PROPERTY = "products", "product", "woo_product_id"


def load_products(hook: HubSpotHook, engine: Engine, frame: pd.DataFrame, run_id: str,
    options: LoadOptions | None = None,
) -> LoadResult:
    """Upsert changed products by ``woo_product_id`` and archive products whose row says ``archive``.

    Frame columns: ``source_key``, ``action`` (``upsert`` | ``archive``), ``properties``. A product whose
    ``content_hash(properties)`` equals the id map's hash is skipped without any call; an archive row is
    applied only to a product the id map knows (and only once).
    """
    ledger = LoadLedger.start(hook, ID_MAP_TYPE, options)
    rows = frame_records(frame, ["action", "properties"])
    known = id_map_rows(engine, ID_MAP_TYPE, [r["source_key"] for r in rows], ignore_hashes=ledger.options.rewrite)
    upserts = [
        PlannedWrite(r["source_key"], r["properties"], content_hash(r["properties"]))
        for r in rows
        if r["action"] != "archive"
    ]
    changed, unchanged = split_unchanged(upserts, known)
    archives = {
        r["source_key"]: known_id(known.get(r["source_key"])) for r in rows if r["action"] == "archive"
    }
    to_archive = {key: hubspot_id for key, hubspot_id in archives.items() if hubspot_id}
    ledger.unchanged(len(unchanged) + len(archives) - len(to_archive))
    if changed:
        require_unique_property(hook, OBJECT_TYPE, ID_PROPERTY)
        outcomes = upsert_plans(hook, OBJECT_TYPE, ID_PROPERTY, changed)
        for plan in changed:
            settle(ledger, plan, outcomes.get(plan.source_key))
    archive_products(hook, ledger, to_archive)
    return ledger.finish(engine, run_id)


def archive_products(hook: HubSpotHook, ledger: LoadLedger, to_archive: dict[str, str]) -> None:
    """Archive ``source_key -> hubspot_id`` products and mark them archived in the id map."""
    if not to_archive:
        return
    outcomes = {o.key: o for o in hook.batch_archive(OBJECT_TYPE, list(to_archive.values()))}
    for source_key, hubspot_id in to_archive.items():
        outcome = outcomes.get(hubspot_id)
        if outcome is not None and outcome.ok:
            ledger.archived(source_key, hubspot_id, ARCHIVED)
        else:
            ledger.failed(source_key, *failure_of(outcome))
