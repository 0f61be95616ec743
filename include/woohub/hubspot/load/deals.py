"""Load WooCommerce orders into HubSpot deals, associated with their buyer's contact."""

from __future__ import annotations

from typing import TYPE_CHECKING

from woohub.core.ledger import id_map_rows, save_id_map
from woohub.http.outcomes import RecordOutcome
from woohub.hubspot.load.frames import frame_records, wire_properties
from woohub.hubspot.load.idmap import DEAL_CONTACT, known_id
from woohub.hubspot.load.properties import require_unique_property
from woohub.hubspot.load.results import LoadLedger, LoadOptions, LoadResult
from woohub.hubspot.load.writes import (
    PlannedWrite,
    associate_pairs,
    settle,
    split_unchanged,
    unlink_pairs,
    upsert_plans,
)
from woohub.staging.repository import content_hash

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from woohub.hubspot.hook import HubSpotHook

OBJECT_TYPE, ID_MAP_TYPE, ID_PROPERTY = "deals", "deal", "woo_order_id"
DEAL_TO_CONTACT = 3


def load_deals(hook: HubSpotHook, engine: Engine, frame: pd.DataFrame, run_id: str,
    options: LoadOptions | None = None,
) -> LoadResult:
    """Upsert changed deals by ``woo_order_id`` and associate each with its contact (type 3).

    Frame columns: ``source_key``, ``contact_source_key``, ``properties``. The hash covers the properties
    and the contact's HubSpot id (from the contact id map), so a deal is written again when its contact
    changes or first becomes known; then the association to the previous contact is removed. A deal whose
    contact is not loaded yet is written without an association and linked by a later run.
    """
    ledger = LoadLedger.start(hook, ID_MAP_TYPE, options)
    columns = ["contact_source_key", "properties"] + (["hubspot_deal_id"] if "hubspot_deal_id" in frame else [])
    rows = frame_records(frame, columns)
    made_from = {r["source_key"]: r.get("hubspot_deal_id") for r in rows if r.get("hubspot_deal_id")}
    contacts = id_map_rows(
        engine, "contact", [r["contact_source_key"] for r in rows if r["contact_source_key"]]
    )
    contact_of = {r["source_key"]: known_id(contacts.get(r["contact_source_key"] or "")) for r in rows}
    plans = [
        PlannedWrite(
            r["source_key"],
            r["properties"],
            content_hash({"properties": r["properties"], "contact_id": contact_of[r["source_key"]]}),
        )
        for r in rows
    ]
    changed, unchanged = split_unchanged(
        plans, id_map_rows(engine, ID_MAP_TYPE, [p.source_key for p in plans], ignore_hashes=ledger.options.rewrite)
    )
    ledger.unchanged(len(unchanged))
    if changed:
        require_unique_property(hook, OBJECT_TYPE, ID_PROPERTY)
        written = upsert_plans(hook, OBJECT_TYPE, ID_PROPERTY, [p for p in changed if p.source_key not in made_from])
        written.update(update_by_id(hook, OBJECT_TYPE, ID_PROPERTY,
                                    [p for p in changed if p.source_key in made_from], made_from))
        deal_ids = {key: o.id for key, o in written.items() if o.ok and o.id}
        linked = associate_pairs(
            hook,
            OBJECT_TYPE,
            "contacts",
            DEAL_TO_CONTACT,
            {key: (deal_id, contact_of[key]) for key, deal_id in deal_ids.items() if contact_of[key]},
        )
        for plan in changed:
            settle(ledger, plan, written.get(plan.source_key), linked.get(plan.source_key))
        succeeded = set(ledger.succeeded)
        relink_contacts(
            hook, engine, {k: v for k, v in deal_ids.items() if k in succeeded}, contact_of, run_id
        )
    return ledger.finish(engine, run_id)


def update_by_id(hook: HubSpotHook, object_type: str, id_property: str, plans: list[PlannedWrite],
                 hubspot_ids: dict[str, str]) -> dict[str, RecordOutcome]:
    """Update the records ``plans`` were made from, by HubSpot id (``source_key -> id``), setting the unique
    ``id_property`` too: an order made from a HubSpot deal becomes that deal, never a second one, even before
    hubspot_to_woocommerce wrote ``woo_order_id`` back. ``source_key -> outcome``."""
    if not plans:
        return {}
    records = [{"id": hubspot_ids[p.source_key],
                "properties": {**wire_properties(p.properties), id_property: p.source_key}} for p in plans]
    outcomes = {o.key: o for o in hook.batch_update(object_type, records)}
    return {p.source_key: outcomes.get(hubspot_ids[p.source_key]) for p in plans
            if outcomes.get(hubspot_ids[p.source_key]) is not None}


def relink_contacts(
    hook: HubSpotHook,
    engine: Engine,
    deal_ids: dict[str, str],
    contact_of: dict[str, str | None],
    run_id: str,
) -> None:
    """Remove the association of each written deal to a contact it no longer belongs to (v4 batch
    archive), then remember each deal's contact in the ``deal_contact`` link entries.

    :raises FatalHTTPError: when HubSpot rejects the removal (the link entries then keep the old contact)
    """
    previous = id_map_rows(engine, DEAL_CONTACT, list(deal_ids))
    stale = [
        (deal_id, previous[key]["hubspot_id"])
        for key, deal_id in deal_ids.items()
        if previous.get(key, {}).get("hubspot_id") not in (None, contact_of[key])
    ]
    unlink_pairs(hook, OBJECT_TYPE, "contacts", stale)
    save_id_map(
        engine,
        DEAL_CONTACT,
        [{"source_key": key, "hubspot_id": contact_of[key], "content_hash": None} for key in deal_ids],
        run_id,
    )
