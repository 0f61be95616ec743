"""The benchmark's seeding path (``scripts/bench_reconcile.py``): the HubSpot sandbox's bulk-insert control
endpoint, and the mirror of a seeded shop (:mod:`woohub.sandbox.mirror`) — the same portal and the same id
map as ``woocommerce_to_hubspot``'s initial load makes of that shop, and clean for the reconciliation."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from tests.conftest import PROJECT_ROOT, SANDBOX_TOKEN, Sandbox

STORE = {"seed": 11, "orders": 24, "customers": 6, "products": 8}
#: set by HubSpot itself on every write (ids and times differ between two loads of one shop)
VOLATILE = {"hs_object_id", "createdate", "hs_lastmodifieddate", "lastmodifieddate"}


def test_bulk_insert_validates_everything_first_and_bypasses_limits_and_counts(empty_sandbox: Sandbox) -> None:
    hub = empty_sandbox.hubspot
    hub.configure(ten_second_limit=1)
    with pytest.raises(ValueError, match=r"record 1: .*no_such_property"):
        hub.insert_records("products", [{"properties": {"name": "A"}}, {"properties": {"no_such_property": "x"}}])
    with pytest.raises(ValueError, match="records must be a list"):
        hub.insert_records("products", {"name": "A"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown object_type"):
        hub.insert_records("orders", [])
    hub.stats(reset=True)
    ids = hub.insert_records("products", [{"properties": {"name": f"P{n}", "price": "47.00"}} for n in range(3)]
                             + [{"properties": {"name": "Gone"}, "archived": True}])
    assert len(set(ids)) == 4 and hub.stats()["requests"] == 0  # neither counted nor rate limited
    hub.configure(ten_second_limit=100)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {SANDBOX_TOKEN}"
    listed = session.get(f"{empty_sandbox.hubspot_url}/crm/v3/objects/products",
                         params={"limit": 100, "properties": "name,price"}).json()["results"]
    assert [(r["id"], r["properties"]["name"], r["properties"]["price"]) for r in listed] == [
        (str(i), f"P{n}", "47") for n, i in enumerate(ids[:3])]  # the refused first batch wrote nothing
    archived = session.get(f"{empty_sandbox.hubspot_url}/crm/v3/objects/products",
                           params={"archived": "true"}).json()["results"]
    assert [r["id"] for r in archived] == [str(ids[3])]


Portal = tuple[dict[tuple[str, str], tuple[dict[str, str], bool]], set[tuple], dict[str, str]]


def _portal(hub: Any) -> Portal:
    """Records by (object type, WooCommerce key) with their properties (a line item's ``hs_product_id`` as
    the product's key) and archived flag, the associations between those keys, and HubSpot id -> key."""
    state = hub.state()["portal"]
    key_property = {"products": "woo_product_id", "deals": "woo_order_id", "line_items": "woo_line_item_id"}

    def key(t: str, record: dict[str, Any]) -> str:
        props = record["properties"]
        if t == "contacts":
            return f"customer:{props['woo_customer_id']}" if props.get("woo_customer_id") else f"guest:{props['email']}"
        return str(props[key_property[t]])

    keys = {str(r["id"]): (t, key(t, r)) for t, rows in state["records"].items() for r in rows}
    records = {}
    for rows in state["records"].values():
        for record in rows:
            props = {n: v for n, v in record["properties"].items() if n not in VOLATILE}
            if "hs_product_id" in props:
                props["hs_product_id"] = keys[props["hs_product_id"]][1]
            records[keys[str(record["id"])]] = (props, record["archived"])
    links = {(keys[str(fid)], keys[str(tid)], tuple(types)) for _, fid, _, tid, types in state["associations"]}
    return records, links, {i: f"{t}:{k}" for i, (t, k) in keys.items()}


def _id_map(engine: Any, keys: dict[str, str]) -> dict[tuple[str, str], tuple[str | None, Any, str | None]]:
    """Id map rows by (object type, WooCommerce key): the HubSpot record it points at (as its key), the
    two-way base, and the hash for products and contacts (the others' hashes cover HubSpot ids)."""
    from sqlalchemy import select

    from woohub.staging.schema import id_map

    with engine.connect() as connection:
        rows = connection.execute(select(id_map)).mappings().all()
    return {(r["object_type"], r["woocommerce_key"]): (
        keys.get(str(r["hubspot_id"])), json.loads(r["synced_fields"]) if r["synced_fields"] else None,
        r["hubspot_hash"] if r["object_type"] in ("product", "contact") else None) for r in rows}


@pytest.fixture(scope="module")
def loads(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One seeded shop loaded into HubSpot twice: by the sync's own steps (plan, extract, validate, load;
    a scheduled first run, i.e. the initial load) and then, into the emptied portal, by the mirror, which
    stays in the portal afterwards."""
    from woohub.hubspot import HubSpotHook
    from woohub.sandbox.mirror import mirror_shop, prepare_portal, read_shop
    from woohub.staging.database import engine_for_url, migrate
    from woohub.sync import woocommerce_to_hubspot as w2h
    from woohub.woocommerce import WooCommerceHook
    from woohub.woocommerce.extract import extract_customers, extract_orders, extract_products

    tmp = tmp_path_factory.mktemp("bench-seed")
    gx_root = tmp / "great_expectations"
    shutil.copytree(PROJECT_ROOT / "great_expectations", gx_root, ignore=shutil.ignore_patterns("uncommitted"))
    patch = pytest.MonkeyPatch()
    patch.setenv("WOOHUB_GX_ROOT", str(gx_root))
    sandbox.woo.reset(**STORE)
    sandbox.hubspot.reset(empty=True)
    sandbox.hubspot.configure(rate_limits_enabled=False)
    woo_hook, hub_hook = WooCommerceHook(), HubSpotHook()
    shop = read_shop(woo_hook)
    engines = {}
    for name in ("sync", "mirror"):
        engines[name] = engine_for_url(f"sqlite:///{tmp / f'{name}.db'}")
        migrate(engines[name])
    try:
        engine, run_id = engines["sync"], "scheduled__bench_seed"
        sandbox.hubspot.configure(enabled_currencies=sorted({"USD", *shop.currencies()}))
        plan = w2h.plan_run(engine, run_id, "scheduled", None, w2h.repository.utcnow() - timedelta(minutes=1), {})
        setup = w2h.check_hubspot_setup(hub_hook)
        window = w2h.extract_window(plan)
        extract_orders(woo_hook, engine, window, run_id)
        extract_products(woo_hook, engine, window, run_id)
        extract_customers(woo_hook, engine, window, run_id, full_scan=True)
        for stream in w2h.STREAMS:
            w2h.validate_stream(engine, stream, plan, enabled_currencies=setup["enabled_currencies"])
        for object_type in ("products", "contacts", "deals", "line_items"):
            w2h.load_object(hub_hook, engine, object_type, plan)
        synced = _portal(sandbox.hubspot)
        synced_map = _id_map(engine, synced[2])

        sandbox.hubspot.reset(empty=True)
        sandbox.hubspot.configure(rate_limits_enabled=False)
        prepare_portal(hub_hook, sandbox.hubspot, shop)
        mirror = mirror_shop(shop, sandbox.hubspot, engines["mirror"], run_id="bench_mirror")
        mirrored = _portal(sandbox.hubspot)
        yield {"synced": synced, "synced_map": synced_map, "mirrored": mirrored,
               "mirrored_map": _id_map(engines["mirror"], mirrored[2]), "mirror": mirror,
               "engine": engines["mirror"], "shop": shop}
    finally:
        sandbox.hubspot.configure(rate_limits_enabled=True)
        patch.undo()
        for engine in engines.values():
            engine.dispose()


def test_the_mirror_is_the_portal_and_id_map_the_initial_load_makes(loads: dict[str, Any]) -> None:
    synced_records, synced_links, _ = loads["synced"]
    mirrored_records, mirrored_links, _ = loads["mirrored"]
    kinds = {t for t, _ in mirrored_records}
    assert kinds == {"products", "contacts", "deals", "line_items"}
    assert loads["mirror"].records == len(mirrored_records) > 60
    assert set(mirrored_records) == set(synced_records)
    assert {k: v for k, v in mirrored_records.items() if synced_records[k] != v} == {}
    assert mirrored_links == synced_links
    mirrored_map = loads["mirrored_map"]
    assert {t for t, _ in mirrored_map} == {"product", "contact", "deal", "line_item", "deal_contact", "line_item_deal"}
    assert None not in {target for target, _, _ in mirrored_map.values()}
    assert mirrored_map == loads["synced_map"]


def test_the_reconciliation_finds_the_mirror_clean(sandbox: Sandbox, loads: dict[str, Any]) -> None:
    from sqlalchemy import select

    from woohub.hubspot import HubSpotHook
    from woohub.reconciliation.compare import compare_run
    from woohub.reconciliation.snapshot import snapshot_hubspot, snapshot_woocommerce, start_snapshot
    from woohub.staging.schema import reconciliation_difference
    from woohub.woocommerce import WooCommerceHook

    engine, run_id = loads["engine"], "bench_seed_reconciliation"
    sandbox.hubspot.configure(rate_limits_enabled=True)
    start_snapshot(engine, run_id)
    woocommerce_rows = snapshot_woocommerce(engine, WooCommerceHook(), run_id)
    hubspot_rows = snapshot_hubspot(engine, HubSpotHook(), run_id)
    compare_run(engine, run_id)
    with engine.connect() as connection:
        found = connection.execute(select(reconciliation_difference.c.object_type, reconciliation_difference.c.kind,
                                          reconciliation_difference.c.woocommerce_id, reconciliation_difference.c.field)
                                   .where(reconciliation_difference.c.run_id == run_id)).all()
    assert found == []
    mirrored = loads["mirror"].hubspot
    assert hubspot_rows == {"deal": mirrored["deals"], "contact": mirrored["contacts"],
                            "product": mirrored["products"], "line_item": mirrored["line_items"]}
    assert woocommerce_rows["deal"] == mirrored["deals"] and woocommerce_rows["line_item"] == mirrored["line_items"]
