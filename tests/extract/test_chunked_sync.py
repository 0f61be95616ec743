"""Validation and loads that run chunk by chunk leave HubSpot exactly as one big chunk does: the same
contacts (guests folded into customers by email, portal contacts adopted), deals linked to the same
contacts, line items to the same deals and products, and variations named after their parents. The steps
run as the DAG's tasks call them, against the sandbox processes and a real SQLite staging file."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, Sandbox

STORE = {"seed": 23, "customers": 24, "products": 8, "orders": 90}
KEY_OF = {"contacts": "email", "deals": "woo_order_id", "products": "woo_product_id",
          "line_items": "woo_line_item_id"}
OBJECTS = ("products", "contacts", "deals", "line_items")


def sync_once(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, chunk: str,
              validate_chunk: str) -> dict[str, Any]:
    """A fresh store and portal, one scheduled initial load; returns the load counts and HubSpot's state."""
    from woohub.core import runs
    from woohub.hubspot import HubSpotHook
    from woohub.staging.database import engine_for_url, migrate
    from woohub.sync import woocommerce_to_hubspot as sync
    from woohub.woocommerce import WooCommerceHook
    from woohub.woocommerce.extract import extract_customers, extract_orders, extract_products

    monkeypatch.setenv("WOOHUB_LOAD_CHUNK", chunk)
    monkeypatch.setenv("WOOHUB_VALIDATE_CHUNK", validate_chunk)
    work = tmp_path / f"chunk-{chunk}"
    shutil.copytree(PROJECT_ROOT / "great_expectations", work / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    monkeypatch.setenv("WOOHUB_GX_ROOT", str(work / "gx"))
    sandbox.woo.reset(**STORE)
    sandbox.hubspot.reset(**STORE)
    sandbox.hubspot.configure(enabled_currencies=["USD", "EUR", "GBP"])
    engine = engine_for_url(f"sqlite:///{work / 'staging.db'}")
    migrate(engine)
    hubspot, woo = HubSpotHook(), WooCommerceHook()
    plan = sync.plan_run(engine, "scheduled__1", "scheduled", None, None, {})
    setup = sync.check_hubspot_setup(hubspot)
    window = sync.extract_window(plan)
    extract_orders(woo, engine, window, plan.run_id)
    extract_products(woo, engine, window, plan.run_id)
    extract_customers(woo, engine, window, plan.run_id, full_scan=True)
    validated = {stream: sync.validate_stream(engine, stream, plan, enabled_currencies=setup["enabled_currencies"])
                 for stream in sync.STREAMS}
    loads = {name: sync.load_object(hubspot, engine, name, plan) for name in OBJECTS}
    again = sync.plan_run(engine, "scheduled__2", "scheduled", None, None, {"full_resync": False})
    left = {stream: len(runs.candidate_ids(engine, stream, again)) for stream in sync.STREAMS}
    engine.dispose()
    return {"validated": validated, "loads": loads, "left": left, "portal": portal(sandbox)}


def portal(sandbox: Sandbox) -> dict[str, Any]:
    """HubSpot's records by business key (ids and timestamps left out) and its associations between them."""
    snapshot = sandbox.hubspot.state()["portal"]
    key_of: dict[tuple[str, str], str] = {}
    records: dict[str, dict[str, dict[str, Any]]] = {}
    for object_type, recs in snapshot["records"].items():
        for rec in recs:
            props = rec["properties"]
            key = str(props.get(KEY_OF.get(object_type, "")) or f"id:{rec['id']}").lower()
            key_of[(object_type, str(rec["id"]))] = key
            records.setdefault(object_type, {})[key] = {
                name: value for name, value in props.items()
                if "date" not in name and name not in ("hs_object_id", "hs_product_id")
            } | {"archived": rec["archived"]}
    for key, props in records.get("line_items", {}).items():
        source = next(r for r in snapshot["records"]["line_items"]
                      if str(r["properties"].get("woo_line_item_id") or f"id:{r['id']}").lower() == key)
        product = source["properties"].get("hs_product_id")
        props["product"] = key_of.get(("products", str(product))) if product else None
    edges = {(ft, key_of.get((ft, str(fid))), tt, key_of.get((tt, str(tid))))
             for ft, fid, tt, tid, _types in snapshot["associations"]}
    return {"records": records, "associations": edges}


def test_chunked_load_writes_what_one_chunk_writes(sandbox: Sandbox, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    whole = sync_once(sandbox, tmp_path, monkeypatch, chunk="100000", validate_chunk="100000")
    chunked = sync_once(sandbox, tmp_path, monkeypatch, chunk="7", validate_chunk="11")

    assert whole["loads"]["deals"]["created"] > 50 and whole["loads"]["line_items"]["created"] > 100
    assert whole["loads"]["contacts"]["created"] + whole["loads"]["contacts"]["updated"] > STORE["customers"]
    for name in OBJECTS:
        counts = {k: v for k, v in chunked["loads"][name].items() if k != "api_calls"}
        assert counts == {k: v for k, v in whole["loads"][name].items() if k != "api_calls"}, name
    for stream, outcome in whole["validated"].items():
        assert {k: chunked["validated"][stream][k] for k in ("total", "valid", "quarantined")} == {
            k: outcome[k] for k in ("total", "valid", "quarantined")}, stream
    assert chunked["portal"]["records"] == whole["portal"]["records"]
    assert chunked["portal"]["associations"] == whole["portal"]["associations"]
    for run in (whole, chunked):  # every chunk marked its staged versions synced: nothing is left for the next run
        assert run["left"] == {"woocommerce.orders": 0, "woocommerce.customers": 0, "woocommerce.products": 0}
