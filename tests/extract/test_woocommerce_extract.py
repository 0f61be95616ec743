"""Incremental extraction against the WooCommerce sandbox: windows, the keyset walk, customer detection."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import Sandbox

START = datetime(2026, 11, 20, 12, 0, 0)


@pytest.fixture
def hook(sandbox: Sandbox):
    from woohub.woocommerce import WooCommerceHook

    return WooCommerceHook()


@pytest.fixture
def engine(tmp_path: Path):
    from woohub.staging.database import engine_for_url, migrate

    engine = engine_for_url(f"sqlite:///{tmp_path / 'staging.db'}")
    migrate(engine)
    return engine


def create_orders(sandbox: Sandbox, hook, count: int, at: datetime) -> list[int]:
    """``count`` orders all created (and so modified) in the same second ``at``."""
    sandbox.woo.configure(clock=at.isoformat())
    ids = []
    for start in range(0, count, 100):
        chunk = [{"status": "pending", "billing": {"email": f"buyer{n}@example.com"},
                  "line_items": []} for n in range(start, min(count, start + 100))]
        ids += [int(o.id) for o in hook.batch("orders", create=chunk) if o.ok]
    return ids


def test_window_is_half_open_at_one_second_resolution(sandbox: Sandbox, hook, engine) -> None:
    from woohub.woocommerce.extract import ExtractWindow, iter_window

    sandbox.woo.reset(empty=True)
    try:
        before = create_orders(sandbox, hook, 1, START - timedelta(seconds=1))
        at_start = create_orders(sandbox, hook, 1, START)
        inside = create_orders(sandbox, hook, 1, START + timedelta(minutes=7))
        at_end = create_orders(sandbox, hook, 1, START + timedelta(minutes=15))
    finally:
        sandbox.woo.configure(clock=None)
    window = ExtractWindow(START, START + timedelta(minutes=15))
    got = {o["id"] for o in iter_window(hook, "orders", window)}
    assert got == set(at_start + inside), (before, at_end)


def test_keyset_walk_misses_nothing_when_records_change_during_the_walk(
        sandbox: Sandbox, hook, engine) -> None:
    """Page numbers would skip a record here: one order of the first page is modified while we walk, it
    leaves its place, and everything behind it moves one place forward."""
    from woohub.woocommerce.extract import ExtractWindow, iter_window

    sandbox.woo.reset(empty=True)
    try:
        ids = []
        for minute in range(250):
            ids += create_orders(sandbox, hook, 1, START + timedelta(minutes=minute, seconds=1))
        sandbox.woo.configure(clock=(START + timedelta(hours=6)).isoformat())
        walk = iter_window(hook, "orders", ExtractWindow(START, START + timedelta(hours=12)))
        seen = [next(walk)["id"] for _ in range(100)]
        hook.request("PUT", f"/orders/{seen[10]}", json={"status": "on-hold"})  # moves to the end
        seen += [o["id"] for o in walk]
    finally:
        sandbox.woo.configure(clock=None)
    assert set(seen) == set(ids)
    assert seen.count(seen[10]) == 2, "the modified order is read again with its new modification time"


def test_more_than_a_page_inside_one_second_is_drained(sandbox: Sandbox, hook, engine) -> None:
    from woohub.woocommerce.extract import ExtractWindow, iter_window

    sandbox.woo.reset(empty=True)
    try:
        ids = create_orders(sandbox, hook, 230, START + timedelta(seconds=30))
    finally:
        sandbox.woo.configure(clock=None)
    got = [o["id"] for o in iter_window(hook, "orders", ExtractWindow(START, START + timedelta(hours=1)))]
    assert sorted(got) == sorted(ids)


def test_customers_found_without_modified_filter(sandbox: Sandbox, hook, engine) -> None:
    """Customers of changed orders and new registrations are staged; an unchanged customer is not restaged
    by a full scan; an edited one is."""
    from woohub.staging import repository
    from woohub.woocommerce.extract import ExtractWindow, extract_customers, extract_orders

    sandbox.woo.reset(seed=5, customers=10, products=5, orders=20)
    window = ExtractWindow(None, datetime(2100, 1, 1), full=True)
    first = extract_customers(hook, engine, window, "run-1", full_scan=True)
    assert first.staged == len(list(hook.iter_records("customers", {"role": "all"})))
    assert extract_customers(hook, engine, window, "run-2", full_scan=True).staged == 0
    customer = next(hook.iter_records("customers"))
    hook.request("PUT", f"/customers/{customer['id']}", json={"first_name": "Renamed"})
    assert extract_customers(hook, engine, window, "run-3", full_scan=True).staged == 1

    now = repository.utcnow().replace(microsecond=0)
    recent = ExtractWindow(now - timedelta(minutes=5), now + timedelta(minutes=5))
    new = hook.request("POST", "/customers", json={"email": "fresh.buyer@example.com", "first_name": "F"}).json()
    order = hook.request("POST", "/orders", json={"customer_id": customer["id"], "line_items": []}).json()
    extract_orders(hook, engine, recent, "run-4")
    staged = extract_customers(hook, engine, recent, "run-4", full_scan=False)
    assert staged.details["of_orders"] == 1 and order["customer_id"] == customer["id"]
    assert {p["id"] for p in repository.staged_payloads(engine, "woocommerce.customers", run_id="run-4")} >= {new["id"]}


def test_a_trashed_variable_product_brings_its_trashed_variations(sandbox: Sandbox, hook, engine) -> None:
    """Trashing a variable product trashes its variations (WC_Post_Data::trash_post), and status=any leaves
    trashed variations out: the extract reads a trashed parent's variations from the trash, so the sync can
    archive them in HubSpot too."""
    import json

    from sqlalchemy import select

    from woohub.staging.schema import stg_woocommerce_products
    from woohub.woocommerce.extract import ExtractWindow, extract_products

    sandbox.woo.reset(empty=True)
    parent = hook.request("POST", "/products", json={"name": "Hoodie", "type": "variable", "attributes": [
        {"name": "Size", "options": ["S", "M"], "variation": True}]}).json()
    variation_ids = {hook.request("POST", f"/products/{parent['id']}/variations", json={
        "regular_price": "40.00", "attributes": [{"name": "Size", "option": size}]}).json()["id"]
        for size in ("S", "M")}
    hook.request("DELETE", f"/products/{parent['id']}")  # to the trash
    now = datetime.utcnow()
    extract_products(hook, engine, ExtractWindow(now - timedelta(hours=1), now + timedelta(minutes=1)), "run-1")
    with engine.connect() as connection:
        staged = {int(row.source_id): json.loads(row.payload)
                  for row in connection.execute(select(stg_woocommerce_products))}
    assert staged[parent["id"]]["status"] == "trash"
    assert {v: staged[v]["status"] for v in variation_ids} == dict.fromkeys(variation_ids, "trash")
