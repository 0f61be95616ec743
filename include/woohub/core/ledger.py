"""The ledger of written records (the ``id_map`` table): which WooCommerce record is which HubSpot record,
and the hash of what the sync last wrote to each side. Loaders decide "needs writing" from it: a record
whose mapped content hashes to what was last written costs no API call.

Both directions use one row per linked pair: WooCommerce -> HubSpot writes ``hubspot_hash``, HubSpot ->
WooCommerce writes ``woocommerce_hash`` (``side``), so a record one direction just wrote is recognised by
the other as its own echo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import Engine, and_, select

from woohub.staging.repository import chunks, upsert, utcnow
from woohub.staging.schema import id_map

Side = Literal["hubspot", "woocommerce"]


def _hash_column(side: Side) -> Any:
    return id_map.c.hubspot_hash if side == "hubspot" else id_map.c.woocommerce_hash


def id_map_rows(engine: Engine, object_type: str, woocommerce_keys: Iterable[str] | None = None, *,
                side: Side = "hubspot", ignore_hashes: bool = False) -> dict[str, dict[str, Any]]:
    """``woocommerce_key -> {hubspot_id, content_hash}`` for ``object_type`` (all keys when none are given);
    ``content_hash`` is the hash last written to ``side``. ``ignore_hashes`` reports no hash at all, so every
    record is written again (a full resync re-creates what a person archived in HubSpot)."""
    hash_column = _hash_column(side)
    query = select(id_map.c.woocommerce_key, id_map.c.hubspot_id, hash_column.label("content_hash")).where(
        id_map.c.object_type == object_type)
    keys = None if woocommerce_keys is None else list(woocommerce_keys)
    result: dict[str, dict[str, Any]] = {}
    with engine.connect() as connection:
        batches = [None] if keys is None else list(chunks(keys))
        for batch in batches:
            batch_query = query if batch is None else query.where(id_map.c.woocommerce_key.in_(batch))
            for row in connection.execute(batch_query):
                digest = None if ignore_hashes and row.content_hash != ARCHIVED else row.content_hash
                result[row.woocommerce_key] = {"hubspot_id": row.hubspot_id, "content_hash": digest}
    return result


def save_id_map(engine: Engine, object_type: str, entries: Sequence[Mapping[str, Any]], run_id: str, *,
                side: Side = "hubspot") -> None:
    """Record ``{source_key, hubspot_id, content_hash}`` entries that ``run_id`` wrote to ``side``."""
    now = utcnow()
    prefix = "hubspot" if side == "hubspot" else "woocommerce"
    rows = [{"object_type": object_type, "woocommerce_key": e["source_key"], "hubspot_id": e["hubspot_id"],
             f"{prefix}_hash": e.get("content_hash"), f"{prefix}_synced_at": now,
             f"{prefix}_synced_run_id": run_id} for e in entries]
    with engine.begin() as connection:
        upsert(connection, id_map, rows)


def keys_linked_to(engine: Engine, object_type: str, hubspot_ids: Sequence[str]) -> dict[str, str]:
    """``woocommerce_key -> hubspot_id`` of the ``object_type`` entries whose HubSpot id is one of ``hubspot_ids``."""
    ids = sorted({str(i) for i in hubspot_ids})
    found: dict[str, str] = {}
    with engine.connect() as connection:
        for batch in chunks(ids):
            query = select(id_map.c.woocommerce_key, id_map.c.hubspot_id).where(
                and_(id_map.c.object_type == object_type, id_map.c.hubspot_id.in_(batch)))
            found.update({row.woocommerce_key: row.hubspot_id for row in connection.execute(query)})
    return found


#: the hash of a record the load archived in HubSpot (a re-run skips it)
ARCHIVED = "archived"
