"""The reconciliation's full read (``woohub.reconciliation.snapshot``): after a real WooCommerce -> HubSpot
sync (the DAG run once through Airflow against the sandboxes), both sides' snapshot rows pair up with equal
``fields`` for every record the sync wrote (no false positive), trashed and archived records are there
with ``archived`` 1, the read uses list endpoints only (no search, so no 10,000 cap), and a new run's start
removes older rows. On SQLite (the staging file the sync used) and PostgreSQL; plus unit tests of the
normalisation of HubSpot values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1
from sqlalchemy import Engine, select

from tests.conftest import Sandbox
from tests.e2e.conftest import POSTGRES_URL_VAR, STORE
from tests.helpers import isolated_dag_files
from woohub.mapping.woocommerce_to_hubspot import load_mapping
from woohub.mapping.woocommerce_to_hubspot.config import PropertySpec
from woohub.reconciliation.snapshot import (
    CONTACT_LINK,
    DEAL_LINK,
    PRODUCT_LINK,
    normalise_hubspot_value,
    snapshot_hubspot,
    snapshot_woocommerce,
    start_snapshot,
)
from woohub.staging.schema import reconciliation_snapshot as snapshot_table

WOO_AUTH = OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256")
HUBSPOT_HEADERS = {"Authorization": "Bearer sandbox-token"}


def woo(sandbox: Sandbox, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, f"{sandbox.woo_url}/wp-json/wc/v3/{path}", json=body, auth=WOO_AUTH,
                                timeout=30)
    response.raise_for_status()
    return response.json()


def hubspot(sandbox: Sandbox, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, f"{sandbox.hubspot_url}{path}", json=body, headers=HUBSPOT_HEADERS,
                                timeout=30)
    response.raise_for_status()
    return response.json() if response.content else None


@dataclass(frozen=True)
class Synced:
    """The sandboxes after one sync, the staging file it used, and what the set-up put around it."""

    sandbox: Sandbox
    staging_url: str
    trashed_variable: dict[str, Any]  # a variable product trashed before the sync (never in HubSpot)
    hubspot_deal: str  # a deal made in HubSpot (no woo_order_id)
    archived_deal: str  # a HubSpot deal archived after the sync


@pytest.fixture(scope="module")
def synced(request: pytest.FixtureRequest, sandbox: Sandbox,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """One scheduled run of ``woocommerce_to_hubspot`` from an empty portal and the seeded shop (plus a trashed
    variable product), then a deal made in HubSpot and one archived there."""
    from tests.helpers import run_dag_test

    request.getfixturevalue("airflow_db")  # Airflow's metadata database, migrated once per session

    root = tmp_path_factory.mktemp("reconciliation")
    with isolated_dag_files(root):
        sandbox.hubspot.reset(empty=True)
        sandbox.woo.reset(**STORE)
        sandbox.hubspot.configure(enabled_currencies=["USD", "EUR", "GBP"])
        try:
            parent = woo(sandbox, "POST", "products", {"name": "Retired hoodie", "type": "variable", "attributes": [
                {"name": "Size", "options": ["S", "M"], "visible": True, "variation": True}]})
            for size in ("S", "M"):
                woo(sandbox, "POST", f"products/{parent['id']}/variations",
                    {"regular_price": "25.00", "attributes": [{"name": "Size", "option": size}]})
            woo(sandbox, "DELETE", f"products/{parent['id']}")
            start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
            run = run_dag_test("woocommerce_to_hubspot", start, scheduled=True)
            assert run.state == "success"
            made = hubspot(sandbox, "POST", "/crm/v3/objects/deals", {"properties": {
                "dealname": "Made in HubSpot", "pipeline": "default", "dealstage": "qualifiedtobuy"}})
            archived = hubspot(sandbox, "POST", "/crm/v3/objects/deals", {"properties": {
                "dealname": "Archived in HubSpot", "pipeline": "default", "dealstage": "closedlost"}})
            hubspot(sandbox, "DELETE", f"/crm/v3/objects/deals/{archived['id']}")
            yield Synced(sandbox, f"sqlite:///{root / 'staging.db'}", parent, made["id"], archived["id"])
        finally:
            sandbox.hubspot.configure(enabled_currencies=["USD"])


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, synced: Synced) -> Iterator[Engine]:
    """The staging database the sync used (SQLite), or a fresh migrated PostgreSQL database."""
    import os

    from woohub.staging.database import engine_for_url, migrate

    if request.param == "sqlite":
        yield engine_for_url(synced.staging_url)
        return
    if not os.getenv(POSTGRES_URL_VAR):
        pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_VAR}; .ci/run sets it")
    from tests.helpers import postgres_database

    with postgres_database("woohub_snapshot") as url:
        database = engine_for_url(url)
        migrate(database)
        yield database


def rows(engine: Engine, run_id: str, system: str) -> list[dict[str, Any]]:
    query = select(snapshot_table).where(snapshot_table.c.run_id == run_id, snapshot_table.c.system == system)
    with engine.connect() as connection:
        return [dict(r._mapping, fields=json.loads(r.fields)) for r in connection.execute(query)]


def excused(staging_url: str) -> set[tuple[str, str]]:
    """(object type, WooCommerce key) of what the sync did not write on purpose: quarantined records and what
    they stand for (an order's deal and line items)."""
    from sqlalchemy import create_engine, text

    staging = create_engine(staging_url)
    with staging.connect() as connection:
        found = [(r.object_type, r.source_key) for r in connection.execute(text(
            "select object_type, source_key from quarantine where released_at is null"))]
    staging.dispose()
    types = {"woocommerce.orders": "deal", "woocommerce.customers": "contact", "woocommerce.products": "product",
             "woocommerce_to_hubspot.contacts": "contact"}
    return {(types[t], k if t != "woocommerce.customers" else f"customer:{k}") for t, k in found if t in types}


@pytest.mark.parametrize(("woo_page", "hubspot_page"), [(100, 100), (4, 10)])
def test_after_a_sync_both_sides_pair_up_with_equal_fields(synced: Synced, engine: Engine, woo_page: int,
                                                           hubspot_page: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """With pages of 100 (one page per walk here) and small pages (a guest's orders, a customer and the guest
    orders of the same email, a deal and its contact on different pages; walks of many pages)."""
    from woohub.hubspot import HubSpotHook
    from woohub.hubspot import full_read as hubspot_read
    from woohub.woocommerce import WooCommerceHook
    from woohub.woocommerce import full_read as woo_read

    monkeypatch.setitem(woo_read._BY_ID, "per_page", woo_page)
    monkeypatch.setattr(hubspot_read, "PAGE_SIZE", hubspot_page)
    run_id = f"reconciliation-{engine.dialect.name}-{woo_page}"
    start_snapshot(engine, run_id)
    synced.sandbox.hubspot.stats(reset=True)
    woo_counts = snapshot_woocommerce(engine, WooCommerceHook(), run_id)
    hub_counts = snapshot_hubspot(engine, HubSpotHook(), run_id)
    routes = synced.sandbox.hubspot.stats()["routes"]
    assert not [r for r in routes if "search" in r or "batch" in r], f"only list endpoints: {routes}"
    assert routes["GET /crm/v3/objects/line_items"] >= (2 if hubspot_page == 100 else 83 // hubspot_page)

    woo_rows, hub_rows = rows(engine, run_id, "woocommerce"), rows(engine, run_id, "hubspot")
    for counts, side in ((woo_counts, woo_rows), (hub_counts, hub_rows)):
        assert counts == {t: sum(r["object_type"] == t for r in side) for t in ("deal", "contact", "product",
                                                                                 "line_item")}
        assert all(counts.values()), counts
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for row in hub_rows:
        if row["match_key"] is not None:
            assert (row["object_type"], row["match_key"]) not in by_key, f"two HubSpot records for {row}"
            by_key[(row["object_type"], row["match_key"])] = row
    skip = excused(synced.staging_url)
    skip_orders = {k for t, k in skip if t == "deal"}
    unpaired, different = [], []
    for row in woo_rows:
        key = (row["object_type"], row["record_id"])
        assert row["match_key"] == row["record_id"]
        if key in skip or (row["object_type"] == "line_item" and row["fields"][DEAL_LINK] in skip_orders):
            continue
        other = by_key.pop(key, None)
        if other is None:
            unpaired.append(row)
        elif other["fields"] != row["fields"]:
            different.append((key, {f: (v, other["fields"].get(f)) for f, v in row["fields"].items()
                                    if other["fields"].get(f) != v}))
    assert different == [], f"{len(different)} false positive(s): {different[:5]}"
    # only what the sync never writes stays unpaired: trashed products it never synced
    assert {(r["object_type"], r["archived"]) for r in unpaired} <= {("product", 1)}, unpaired[:3]
    assert by_key == {}, f"HubSpot records without a WooCommerce record: {list(by_key)[:5]}"

    trashed = {r["record_id"] for r in unpaired}
    variations = {r["record_id"] for r in woo_rows if r["object_type"] == "product"
                  and r["fields"].get("woo_parent_product_id") == str(synced.trashed_variable["id"])}
    assert str(synced.trashed_variable["id"]) in trashed and len(variations) == 2 and variations <= trashed
    deals = [r for r in woo_rows if r["object_type"] == "deal"]
    assert {r["archived"] for r in deals if r["fields"]["woo_order_status"] == "trash"} == {1}
    assert {r["archived"] for r in deals if r["fields"]["woo_order_status"] != "trash"} == {0}
    assert any(r["fields"][CONTACT_LINK] and r["fields"][CONTACT_LINK].startswith("guest:") for r in deals)
    assert any(r["fields"][CONTACT_LINK] and r["fields"][CONTACT_LINK].startswith("customer:") for r in deals)
    assert any(r["fields"][PRODUCT_LINK] for r in woo_rows if r["object_type"] == "line_item")
    hubspot_only = {r["record_id"]: r for r in hub_rows if r["match_key"] is None}
    assert hubspot_only[synced.hubspot_deal]["archived"] == 0
    assert hubspot_only[synced.archived_deal]["archived"] == 1
    contacts = [r for r in woo_rows if r["object_type"] == "contact"]
    assert all(r["email"] == r["fields"]["email"] for r in contacts)
    assert any(r["record_id"].startswith("guest:") for r in contacts)


def test_a_retried_snapshot_leaves_the_same_rows_and_a_new_run_removes_older_ones(synced: Synced,
                                                                                 engine: Engine) -> None:
    from woohub.woocommerce import WooCommerceHook

    hook = WooCommerceHook()
    first = snapshot_woocommerce(engine, hook, "night-1")
    before = rows(engine, "night-1", "woocommerce")
    assert snapshot_woocommerce(engine, hook, "night-1") == first  # a retried task: same rows, no leftovers
    assert sorted(before, key=lambda r: (r["object_type"], r["record_id"])) == sorted(
        rows(engine, "night-1", "woocommerce"), key=lambda r: (r["object_type"], r["record_id"]))
    with engine.begin() as connection:
        connection.execute(snapshot_table.insert().values(run_id="night-2", system="hubspot", object_type="deal",
                                                          record_id="1", fields="{}"))
    start_snapshot(engine, "night-2")
    assert rows(engine, "night-1", "woocommerce") == []
    with engine.connect() as connection:
        assert connection.execute(select(snapshot_table.c.run_id).distinct()).scalars().all() == ["night-2"]


MAPPING = load_mapping()


def spec(object_type: str, name: str) -> PropertySpec:
    return next(s for s in getattr(MAPPING, object_type).mapping.properties if s.name == name)


@pytest.mark.parametrize(("prop", "object_type", "value", "kwargs", "expected"), [
    ("amount", "deals", "47", {"hubspot_type": "number", "currency": "USD"}, "47.00"),
    ("amount", "deals", "47.5", {"currency": "EUR"}, "47.50"),
    ("amount", "deals", "1500", {"currency": "JPY"}, "1500"),
    ("amount", "deals", "1.5", {"currency": "KWD"}, "1.500"),
    ("amount", "deals", "47.123", {"currency": "USD"}, "47.123"),  # never rounded: real drift stays visible
    ("price", "products", "19.9", {"hubspot_type": "number"}, "19.90"),  # no currency: 2 decimals
    ("price", "line_items", "12.5", {"hubspot_type": "number", "currency": "USD"}, "12.50"),
    ("price", "line_items", "1.875", {"hubspot_type": "number", "currency": "USD"}, "1.875"),
    ("discount", "line_items", "0", {"hubspot_type": "number", "currency": "USD"}, "0.00"),
    ("quantity", "line_items", "3.0", {"hubspot_type": "number", "currency": "USD"}, "3"),
    ("woo_stock_quantity", "products", "12", {"hubspot_type": "number"}, "12"),
    ("closedate", "deals", "2026-11-28T07:05:48Z", {"hubspot_type": "datetime"}, "2026-11-28T07:05:48.000Z"),
    ("closedate", "deals", "1795849548000", {"hubspot_type": "datetime"}, "2026-11-28T07:05:48.000Z"),
    ("closedate", "deals", "2026-11-28T09:05:48+02:00", {}, "2026-11-28T07:05:48.000Z"),
    ("email", "contacts", " Jane.Doe@Example.COM ", {}, "jane.doe@example.com"),
    ("firstname", "contacts", "", {}, None),
    ("firstname", "contacts", None, {}, None),
    ("firstname", "contacts", "Jane ", {}, "Jane "),  # text is what it is
    ("dealstage", "deals", "closedwon", {"hubspot_type": "enumeration"}, "closedwon"),
])
def test_normalise_hubspot_value(prop: str, object_type: str, value: Any, kwargs: dict[str, Any],
                                 expected: str | None) -> None:
    assert normalise_hubspot_value(prop, value, spec(object_type, prop), **kwargs) == expected


def test_normalise_hubspot_value_without_a_spec_and_with_odd_values() -> None:
    assert normalise_hubspot_value("hs_custom_date", "1795824000000", None, hubspot_type="date") == "2026-11-28"
    assert normalise_hubspot_value("hs_custom_date", "2026-11-28", None, hubspot_type="date") == "2026-11-28"
    assert normalise_hubspot_value("hs_flag", "TRUE", None, hubspot_type="bool") == "true"
    assert normalise_hubspot_value("hs_count", "10.50", None, hubspot_type="number") == "10.5"
    assert normalise_hubspot_value("amount", "n/a", spec("deals", "amount"), currency="USD") == "n/a"
    assert normalise_hubspot_value("closedate", "soon", spec("deals", "closedate")) == "soon"
