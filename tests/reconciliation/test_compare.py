"""The reconciliation's classification (``woohub.reconciliation.compare``) and heal
(``woohub.reconciliation.heal``) on hand-made snapshot rows in real staging databases (SQLite and
PostgreSQL): every kind once, follow-on differences folded, the empty-value rule, formatting that is not
drift, and a dry run that writes nothing but its difference rows; then a real heal re-queues the records
through staging and the ledger, and ``mark_healed`` reports them healed once a sync marks them synced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from tests.helpers import migrated_staging
from woohub.reconciliation import heal
from woohub.reconciliation.compare import compare_run, same_value
from woohub.staging.repository import content_hash, upsert, utcnow
from woohub.staging.schema import (
    STAGED_TABLES,
    dead_letter,
    id_map,
    quarantine,
    reconciliation_difference,
    reconciliation_run,
    reconciliation_snapshot,
)

RUN = "reconciliation__2026-12-01"
NOW = datetime(2026, 12, 1, 2, 0, 0)
EARLIER, LATER = NOW - timedelta(hours=5), NOW - timedelta(hours=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with migrated_staging(request.param, tmp_path, "woohub_rec") as (staging, _):
        yield staging


SQLITE_ONLY = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


class Snapshot:
    """Writes snapshot, id-map, staging, quarantine and dead-letter rows for one test."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def row(self, system: str, object_type: str, record_id: str, fields: dict[str, Any], *,
            match_key: str | None = None, email: str | None = None, archived: bool = False,
            payload: dict[str, Any] | None = None, modified_at: datetime | None = None) -> None:
        if system == "woocommerce":
            match_key = record_id
        with self.engine.begin() as connection:
            connection.execute(reconciliation_snapshot.insert().values(
                run_id=RUN, system=system, object_type=object_type, record_id=record_id, match_key=match_key,
                email=email, archived=int(archived), fields=json.dumps(fields, sort_keys=True),
                payload=json.dumps(payload if payload is not None else {"id": record_id.split(":")[-1]}),
                modified_at=modified_at))

    def woo(self, object_type: str, key: str, fields: dict[str, Any], **kwargs: Any) -> None:
        self.row("woocommerce", object_type, key, fields, **kwargs)

    def hub(self, object_type: str, record_id: str, fields: dict[str, Any], **kwargs: Any) -> None:
        self.row("hubspot", object_type, record_id, fields, **kwargs)

    def link(self, object_type: str, key: str, hubspot_id: str, *, base: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as connection:
            upsert(connection, id_map, [{"object_type": object_type, "woocommerce_key": key, "hubspot_id": hubspot_id,
                                         "hubspot_hash": "written-hash", "woocommerce_hash": "written-back",
                                         "synced_fields": json.dumps(base) if base is not None else None}])

    def staged(self, stream: str, source_id: str, payload: dict[str, Any]) -> None:
        digest = content_hash(payload)
        with self.engine.begin() as connection:
            upsert(connection, STAGED_TABLES[stream], [{
                "source_id": source_id, "payload": json.dumps(payload), "content_hash": digest,
                "source_modified_at": EARLIER, "extracted_run_id": "sync", "extracted_at": EARLIER,
                "validated_hash": digest, "synced_hash": digest}])


def differences(engine: Engine) -> set[tuple]:
    d = reconciliation_difference
    with engine.connect() as connection:
        return {tuple(r) for r in connection.execute(select(
            d.c.object_type, d.c.kind, d.c.woocommerce_id, d.c.hubspot_id, d.c.field, d.c.action, d.c.heal_ref)
            .where(d.c.run_id == RUN))}


def contact(email: str, customer_id: str | None, **more: str | None) -> dict[str, Any]:
    fields = {"email": email, "firstname": "Ann", "lastname": "Lee", "phone": None, "address": None, "city": None,
              "state": None, "zip": None, "country": None, "company": None, "woo_customer_id": customer_id}
    return {**fields, **more}


def deal(order_id: str, amount: str = "50.00", stage: str = "closedwon", contact_key: str | None = None,
         **more: str | None) -> dict[str, Any]:
    return {"dealname": f"WooCommerce order #{order_id}", "amount": amount, "pipeline": "default",
            "dealstage": stage, "deal_currency_code": "USD", "woo_order_id": order_id,
            "closedate": "2026-11-28T07:05:48.000Z", "@contact": contact_key, **more}


def product(product_id: str, name: str = "Tee", **more: str | None) -> dict[str, Any]:
    return {"name": name, "price": "20.00", "woo_product_id": product_id, "woo_product_type": "simple",
            "woo_parent_product_id": None, "hs_sku": None, **more}


def line(line_id: str, order_id: str | None, **more: str | None) -> dict[str, Any]:
    return {"name": "Tee", "quantity": "1", "price": "20.00", "woo_line_item_id": line_id, "@deal": order_id,
            "@product": "10", **more}


def test_every_kind_is_found_once_with_its_action_and_follow_ons_are_folded(engine: Engine) -> None:
    s = Snapshot(engine)
    # contacts: an email changed in HubSpot after the last sync (HubSpot is right); a second HubSpot contact
    # holding customer 2's key; a customer not in HubSpot; a link to a contact that is gone; a contact whose
    # customer was deleted; a guest folded into nothing (in sync)
    s.woo("contact", "customer:1", contact("ann@example.com", "1"), email="ann@example.com", modified_at=EARLIER)
    s.hub("contact", "501", contact("ann.new@example.com", "1"), match_key="customer:1", email="ann.new@example.com",
          modified_at=LATER)
    s.link("contact", "customer:1", "501", base={"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee"})
    s.woo("contact", "customer:2", contact("bob@example.com", "2"), email="bob@example.com")
    s.hub("contact", "502", contact("bob@example.com", None), match_key="guest:bob@example.com", email="bob@example.com")
    s.hub("contact", "522", contact("bob.second@example.com", "2"), match_key="customer:2",
          email="bob.second@example.com")
    s.link("contact", "customer:2", "502")
    s.woo("contact", "customer:3", contact("cy@example.com", "3"), email="cy@example.com")
    s.woo("contact", "customer:4", contact("di@example.com", "4"), email="di@example.com")
    s.link("contact", "customer:4", "504")
    s.hub("contact", "505", contact("ed@example.com", "5"), match_key="customer:5", email="ed@example.com")
    s.woo("contact", "guest:gus@example.com", contact("gus@example.com", None), email="gus@example.com")
    s.hub("contact", "506", contact("gus@example.com", None), match_key="guest:gus@example.com",
          email="gus@example.com")
    s.link("contact", "guest:gus@example.com", "506")
    # products: in sync; force-deleted in WooCommerce; trashed and archived (in sync); trashed but live
    s.woo("product", "10", product("10"))
    s.hub("product", "610", product("10"), match_key="10")
    s.link("product", "10", "610")
    s.hub("product", "611", product("11", "Mug"), match_key="11")
    s.link("product", "11", "611")
    s.woo("product", "12", product("12"), archived=True)
    s.hub("product", "612", product("12"), match_key="12", archived=True)
    s.woo("product", "13", product("13"), archived=True)
    s.hub("product", "613", product("13"), match_key="13")
    s.link("product", "13", "613")
    # deals: an amount edited in HubSpot; a deal archived in HubSpot (its line item's link is gone with it); a
    # force-deleted order (and its line item); a trashed order's closedlost deal (in sync); HubSpot-made deals
    s.woo("deal", "100", deal("100", contact_key="customer:1"))
    s.hub("deal", "700", deal("100", amount="99.00", contact_key="customer:1"), match_key="100")
    s.link("deal", "100", "700")
    s.woo("deal", "101", deal("101", contact_key="customer:3"))
    s.hub("deal", "701", deal("101", contact_key=None), match_key="101", archived=True)
    s.link("deal", "101", "701")
    s.hub("deal", "702", deal("102"), match_key="102")
    s.link("deal", "102", "702")
    s.woo("deal", "103", deal("103", stage="closedlost", contact_key="customer:2"), archived=True)
    s.hub("deal", "703", deal("103", stage="closedlost", contact_key="guest:bob@example.com"), match_key="103")
    s.link("deal", "103", "703")
    s.woo("deal", "104", deal("104"))  # two orders made from one deal (the reverse of a duplicate)
    s.woo("deal", "105", deal("105"))
    s.hub("deal", "704", deal("104"), match_key="104")
    s.link("deal", "104", "704")
    s.link("deal", "105", "704")
    s.hub("deal", "800", deal("", stage="closedwon", woo_order_id=None))
    s.hub("deal", "801", deal("", stage="appointmentscheduled", woo_order_id=None))
    # line items: in sync; of the archived deal (folded); of the force-deleted order (folded); one the order lost
    s.woo("line_item", "1000", line("1000", "100"))
    s.hub("line_item", "900", line("1000", "100"), match_key="1000")
    s.link("line_item", "1000", "900")
    s.woo("line_item", "1001", line("1001", "101"))
    s.hub("line_item", "901", line("1001", None), match_key="1001")
    s.link("line_item", "1001", "901")
    s.hub("line_item", "902", line("1002", "102"), match_key="1002")
    s.hub("line_item", "904", line("1004", "100"), match_key="1004")
    # the backlog: a stale and a fresh quarantine row, an exhausted, an open and a resolved dead letter
    with engine.begin() as connection:
        for key, first in (("55", NOW - timedelta(days=10)), ("56", NOW - timedelta(days=1))):
            connection.execute(quarantine.insert().values(
                object_type="woocommerce.orders", source_key=key, content_hash="h", run_id="sync",
                reasons=json.dumps(["expect_column_values_to_be_in_set(status): 'wc-shipped'"]),
                first_quarantined_at=first, quarantined_at=first))
        for key, state in (("customer:8", "exhausted"), ("customer:9", "open"), ("customer:7", "resolved")):
            connection.execute(dead_letter.insert().values(
                object_type="contact", source_key=key, error_code="EMAIL_CONFLICT", error_message="taken",
                attempts=8, first_failed_at=EARLIER, last_failed_at=EARLIER, next_retry_at=LATER, last_run_id="sync",
                source_ref=f"woocommerce.customers:{key.split(':')[1]}", state=state))

    summary = compare_run(engine, RUN, started_at=NOW, now=NOW)

    assert differences(engine) == {
        ("contact", "field_mismatch", "customer:1", "501", "email", "would_heal", "hubspot.contacts:501"),
        ("contact", "duplicate", "customer:2", "522", None, "reported", None),
        ("contact", "missing_in_hubspot", "customer:3", None, None, "would_heal", "woocommerce.customers:3"),
        ("contact", "orphaned_link", "customer:4", "504", None, "would_heal", "woocommerce.customers:4"),
        ("contact", "missing_in_woocommerce", "customer:5", "505", None, "reported", None),
        ("product", "missing_in_woocommerce", "11", "611", None, "would_heal", "woocommerce.products:11"),
        ("product", "field_mismatch", "13", "613", "@archived", "would_heal", "woocommerce.products:13"),
        ("deal", "field_mismatch", "100", "700", "amount", "would_heal", "woocommerce.orders:100"),
        ("deal", "missing_in_hubspot", "101", "701", None, "would_heal", "woocommerce.orders:101"),
        ("deal", "missing_in_woocommerce", "102", "702", None, "reported", None),
        ("deal", "duplicate", "105", "704", None, "reported", None),
        ("deal", "missing_in_woocommerce", None, "800", None, "would_heal", "hubspot.deals:800"),
        ("line_item", "missing_in_woocommerce", "1004", "904", None, "would_heal", "woocommerce.orders:100"),
        ("deal", "stale_quarantine", "55", None, "woocommerce.orders", "reported", None),
        ("contact", "dead_letter", "customer:8", None, "contact", "reported", None),
        ("contact", "dead_letter", "customer:9", None, "contact", "none", None),
    }
    assert summary["contact"]["paired"] == 3  # customer 1, 2 (duplicated) and the guest
    with engine.connect() as connection:
        runs = {r.object_type: r for r in connection.execute(select(reconciliation_run).where(
            reconciliation_run.c.run_id == RUN))}
    # contacts: 5 compared + 1 missing in WooCommerce; drifting: 1, 2, 3, 4 and 5
    assert runs["contact"].drift_rate == f"{5 / 6:.6f}" and runs["contact"].woocommerce_records == 5
    # deals: 5 compared + 2 missing in WooCommerce; drifting: 100, 101, 102, 800 and the pair 104/105
    assert runs["deal"].drift_rate == f"{5 / 7:.6f}" and runs["deal"].differences == 6
    assert runs["line_item"].drift_rate == f"{1 / 3:.6f}" and runs["product"].hubspot_records == 4


def test_an_empty_woocommerce_value_kept_in_hubspot_is_no_drift_but_a_hubspot_value_missing_is(engine: Engine) -> None:
    s = Snapshot(engine)
    s.woo("deal", "100", deal("100", closedate=None, woo_order_number="100"))
    s.hub("deal", "700", deal("100", woo_order_number=None), match_key="100")
    s.link("deal", "100", "700")
    # Ann cleared her phone in the shop: HubSpot keeps it (the sync never clears HubSpot with an empty value)
    s.woo("contact", "customer:1", contact("ann@example.com", "1", phone=None), email="ann@example.com",
          modified_at=LATER)
    s.hub("contact", "501", contact("ann@example.com", "1", phone="555-0100"), match_key="customer:1",
          email="ann@example.com", modified_at=EARLIER)
    s.link("contact", "customer:1", "501", base={"email": "ann@example.com", "phone": "555-0100"})
    # Bob never had a phone in the shop; a salesperson added one: HubSpot's value fills the shop's empty field
    s.woo("contact", "customer:2", contact("bob@example.com", "2", phone=None), email="bob@example.com",
          modified_at=EARLIER)
    s.hub("contact", "502", contact("bob@example.com", "2", phone="555-0200"), match_key="customer:2",
          email="bob@example.com", modified_at=LATER)
    s.link("contact", "customer:2", "502", base={"email": "bob@example.com", "phone": None})

    summary = compare_run(engine, RUN, now=NOW)

    assert differences(engine) == {
        ("deal", "empty_value_kept", "100", "700", "closedate", "none", None),
        ("deal", "field_mismatch", "100", "700", "woo_order_number", "would_heal", "woocommerce.orders:100"),
        ("contact", "empty_value_kept", "customer:1", "501", "phone", "none", None),
        ("contact", "field_mismatch", "customer:2", "502", "phone", "would_heal", "hubspot.contacts:502"),
    }
    assert summary["contact"]["drift_rate"] == 0.5  # Ann's kept phone is not drift


@SQLITE_ONLY
def test_formatting_is_not_drift(engine: Engine) -> None:
    assert same_value("amount", "47", "47.00") and same_value("amount", "19.9", "19.90")
    assert same_value("email", "Ann@Example.com ", "ann@example.com")
    assert same_value("closedate", "1764313548000", "2025-11-28T07:05:48.000Z")
    assert same_value("closedate", "2026-11-28", "2026-11-28T00:00:00Z")
    assert same_value("phone", "", None)
    assert not same_value("zip", "01234", "1234") and not same_value("amount", "47.01", "47")
    assert not same_value("woo_customer_id", "1764313548000", "1764313548001")

    s = Snapshot(engine)
    s.woo("deal", "100", deal("100", amount="47.00", closedate="2025-11-28T07:05:48.000Z"))
    s.hub("deal", "700", deal("100", amount="47", closedate="1764313548000"), match_key="100")
    s.link("deal", "100", "700")
    s.woo("contact", "customer:1", contact("ann@example.com", "1"), email="ann@example.com")
    s.hub("contact", "501", contact("ANN@example.com", "1"), match_key="customer:1", email="ann@example.com")
    # no id map entry yet (adopted by email): paired all the same
    s.woo("contact", "customer:2", contact("bob@example.com", "2"), email="bob@example.com")
    s.hub("contact", "502", contact("bob@example.com", "2"), match_key="customer:2", email="bob@example.com")

    summary = compare_run(engine, RUN, now=NOW)

    assert differences(engine) == set()
    assert summary["deal"]["paired"] == 1 and summary["contact"]["paired"] == 2
    assert summary["deal"]["drift_rate"] == 0.0


def table_rows(engine: Engine) -> dict[str, list[tuple]]:
    """Everything but the differences and the run rows, to compare before and after."""
    tables = [id_map, reconciliation_snapshot, quarantine, dead_letter, *STAGED_TABLES.values()]
    with engine.connect() as connection:
        return {t.name: sorted(tuple(map(str, r)) for r in connection.execute(select(t))) for t in tables}


def test_a_dry_run_writes_nothing_but_its_differences_and_a_real_heal_queues_through_staging(engine: Engine) -> None:
    s = Snapshot(engine)
    order = {"id": 100, "status": "processing", "total": "50.00", "date_modified_gmt": "2026-11-30T10:00:00"}
    s.woo("deal", "100", deal("100"), payload=order)
    s.hub("deal", "700", deal("100", amount="99.00"), match_key="100")
    s.link("deal", "100", "700")
    s.staged("woocommerce.orders", "100", order)
    s.woo("deal", "101", deal("101"), payload={**order, "id": 101})
    s.hub("deal", "701", deal("101"), match_key="101", archived=True)
    s.link("deal", "101", "701")
    s.hub("product", "611", product("11", "Mug", woo_product_type="variation", woo_parent_product_id="9"),
          match_key="11", payload={"id": "611", "properties": {"name": "Mug", "woo_product_id": "11",
                                                               "woo_product_type": "variation",
                                                               "woo_parent_product_id": "9"}})
    s.link("product", "11", "611")
    # won deals made in HubSpot without an order: one hubspot_to_woocommerce staged (re-queued), one it never saw
    s.hub("deal", "800", deal("", woo_order_id=None))
    s.staged("hubspot.deals", "800", {"id": "800", "properties": {"dealstage": "closedwon"},
                                      "associations": {"line_items": ["9"], "contacts": []}})
    s.hub("deal", "801", deal("", woo_order_id=None))
    before = table_rows(engine)

    compare_run(engine, RUN, dry_run=True, now=NOW)
    dry = heal.apply_heals(engine, RUN, dry_run=True)

    assert table_rows(engine) == before
    assert dry["would_heal"] == 5 and dry["queued"] == 0
    assert {d[5] for d in differences(engine)} == {"would_heal"} and len(differences(engine)) == 5
    with engine.connect() as connection:
        assert connection.execute(select(reconciliation_run.c.dry_run).where(
            reconciliation_run.c.run_id == RUN)).scalars().all() == [1, 1, 1, 1]

    compare_run(engine, RUN, now=NOW)  # the real night (the same run replaces its rows)
    real = heal.apply_heals(engine, RUN, now=NOW)

    assert (real["queued"], real["unhealable"]) == (4, 1)
    assert real["staged"] == {"woocommerce.orders": 2, "woocommerce.products": 1, "hubspot.deals": 1}
    assert {(d[2] or d[3], d[5], d[6]) for d in differences(engine)} == {
        ("100", "heal_queued", "woocommerce.orders:100"), ("101", "heal_queued", "woocommerce.orders:101"),
        ("11", "heal_queued", "woocommerce.products:11"), ("800", "heal_queued", "hubspot.deals:800"),
        ("801", "reported", "hubspot.deals:801")}
    orders, products = STAGED_TABLES["woocommerce.orders"], STAGED_TABLES["woocommerce.products"]
    hubspot_deals = STAGED_TABLES["hubspot.deals"]
    with engine.connect() as connection:
        requeued = connection.execute(select(hubspot_deals)).one()
        staged = {r.source_id: r for r in connection.execute(select(orders))}
        marker = connection.execute(select(products)).one()
        ledger = {(r.object_type, r.woocommerce_key): r for r in connection.execute(select(id_map))}
    assert set(staged) == {"100", "101"} and all(r.synced_hash is None for r in staged.values())
    assert requeued.synced_hash is None and json.loads(requeued.payload)["associations"]["line_items"] == ["9"]
    assert json.loads(staged["101"].payload)["id"] == 101
    deleted = json.loads(marker.payload)
    assert (marker.source_id, deleted["status"], deleted["type"], deleted["parent_id"]) == ("11", "trash", "variation", 9)
    assert ledger[("deal", "100")].hubspot_hash is None and ledger[("deal", "100")].hubspot_id == "700"
    assert ledger[("deal", "101")].hubspot_id is None, "the archived deal's id is forgotten"
    assert ledger[("product", "11")].hubspot_id == "611" and ledger[("product", "11")].hubspot_hash is None
    assert ledger[("deal", "100")].woocommerce_hash == "written-back", "the other side's claim stays"

    assert heal.mark_healed(engine) == 0  # nothing synced yet
    with engine.begin() as connection:  # the syncs write order 100, the product, the deal; order 101 fails
        for table in (orders, products, hubspot_deals):
            connection.execute(update(table).values(synced_hash=table.c.content_hash))
        connection.execute(dead_letter.insert().values(
            object_type="deal", source_key="101", error_code="HTTP_500", error_message="", attempts=1,
            first_failed_at=NOW, last_failed_at=NOW, next_retry_at=NOW, last_run_id="sync",
            source_ref="woocommerce.orders:101", state="open"))
    assert heal.mark_healed(engine, now=NOW) == 3
    assert {(d[2] or d[3], d[5]) for d in differences(engine)} == {
        ("100", "healed"), ("101", "heal_queued"), ("11", "healed"), ("800", "healed"), ("801", "reported")}


@SQLITE_ONLY
def test_a_record_held_by_quarantine_or_a_dead_letter_is_reported_not_healed(engine: Engine) -> None:
    s = Snapshot(engine)
    s.woo("deal", "100", deal("100"))
    s.woo("contact", "customer:3", contact("cy@example.com", "3"), email="cy@example.com")
    with engine.begin() as connection:
        connection.execute(quarantine.insert().values(
            object_type="woocommerce.orders", source_key="100", content_hash="h", run_id="sync", reasons="[]",
            first_quarantined_at=utcnow(), quarantined_at=utcnow()))
        connection.execute(dead_letter.insert().values(
            object_type="contact", source_key="customer:3", error_code="EMAIL_CONFLICT", error_message="",
            attempts=8, first_failed_at=NOW, last_failed_at=NOW, next_retry_at=NOW, last_run_id="sync",
            source_ref="woocommerce.customers:3", state="exhausted"))

    compare_run(engine, RUN, now=NOW)

    assert {d for d in differences(engine) if d[1] == "missing_in_hubspot"} == {
        ("deal", "missing_in_hubspot", "100", None, None, "reported", "woocommerce.orders:100"),
        ("contact", "missing_in_hubspot", "customer:3", None, None, "reported", "woocommerce.customers:3"),
    }


@SQLITE_ONLY
def test_the_results_check_fails_on_drift_over_the_threshold_and_on_duplicates_and_shows_no_personal_data(
        engine: Engine, tmp_path: Path) -> None:
    from tests.quality.conftest import copy_gx_root
    from woohub.reconciliation.results import check_results, drift_summary, results_frame
    from woohub.reconciliation.settings import ReconciliationSettings

    gx_root = copy_gx_root(tmp_path / "gx")
    s = Snapshot(engine)
    for number in range(1, 41):  # 40 paired contacts, one of them with a second HubSpot contact
        key = f"customer:{number}"
        s.woo("contact", key, contact(f"person{number}@example.com", str(number)), email=f"person{number}@example.com")
        s.hub("contact", str(500 + number), contact(f"person{number}@example.com", str(number)), match_key=key,
              email=f"person{number}@example.com")
        s.link("contact", key, str(500 + number))
    s.hub("contact", "999", contact("person1.other@example.com", "1"), match_key="customer:1",
          email="person1.other@example.com")
    compare_run(engine, RUN, now=NOW)
    assert results_frame(engine, RUN).set_index("object_type").loc["contact", "duplicates"] == 1

    strict = check_results(engine, RUN, settings=ReconciliationSettings(drift_threshold=0.02), gx_root=gx_root)
    lenient = check_results(engine, RUN, settings=ReconciliationSettings(drift_threshold=0.5), gx_root=gx_root)

    assert not strict["success"] and strict["over_threshold"] == ["contact"]  # 1 of 40 = 2.5 %
    assert strict["failed"] == ["expect_column_values_to_be_between(drift_rate)",
                                "expect_column_values_to_be_between(duplicates)"]
    assert lenient["failed"] == ["expect_column_values_to_be_between(duplicates)"]
    assert strict["duplicates_in"] == ["contact"] and strict["data_docs"]
    written = [p for p in (gx_root / "uncommitted").rglob("*") if p.is_file() and p.suffix in (".json", ".html")]
    assert written and not [p for p in written if "example.com" in p.read_text(errors="replace")]
    summary = drift_summary(engine, RUN, settings=ReconciliationSettings(drift_threshold=0.02))
    assert summary["over_threshold"] == ["contact"] and summary["objects"]["contact"]["kinds"] == {"duplicate": 1}
    assert summary["objects"]["contact"]["drift_rate"] == 0.025 and summary["dry_run"] is False
