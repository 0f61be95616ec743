"""Erasure of one person from staging (``woohub.core.erasure`` and ``python -m woohub personal-data``), on
SQLite and PostgreSQL, with staged payloads read from the sandboxes by the real extracts (a registered
customer with orders, the same person as a HubSpot contact with a deal) plus rows of every other table that
holds personal data, for that person and for another one."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from tests.conftest import Sandbox
from tests.helpers import migrated_staging
from woohub.staging import schema

STORE = {"seed": 5, "customers": 6, "products": 4, "orders": 14}
NOW = datetime(2026, 12, 1, 12, 0)


@pytest.fixture(scope="module")
def shop(sandbox: Sandbox) -> dict[str, Any]:
    """The seeded shop: a registered customer with orders (the person), another customer (kept), and the
    person as a HubSpot contact with a deal associated."""
    sandbox.woo.reset(**STORE)
    sandbox.hubspot.reset(empty=True)
    from woohub.woocommerce.hook import WooCommerceHook

    hook = WooCommerceHook()
    orders = list(hook.iter_records("orders", {"status": "any"}))
    buyers = sorted({o["customer_id"] for o in orders if o["customer_id"]},
                    key=lambda c: -sum(o["customer_id"] == c for o in orders))
    person, other = (hook.get("customers", buyers[0]), hook.get("customers", buyers[1]))
    contact_ids = sandbox.hubspot.insert_records("contacts", [
        {"properties": {"email": person["email"].upper(), "firstname": person["first_name"]}},
        {"properties": {"email": other["email"], "firstname": other["first_name"]}}])
    to_contact = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]
    deal_ids = sandbox.hubspot.insert_records("deals", [
        {"properties": {"dealname": "Person's deal", "pipeline": "default", "dealstage": "appointmentscheduled"},
         "associations": [{"to": {"id": contact_ids[0]}, "types": to_contact}]},
        {"properties": {"dealname": "Other's deal", "pipeline": "default", "dealstage": "appointmentscheduled"},
         "associations": [{"to": {"id": contact_ids[1]}, "types": to_contact}]}])
    return {"person": person, "other": other, "contact_ids": [str(i) for i in contact_ids],
            "deal_ids": [str(i) for i in deal_ids],
            "person_orders": {str(o["id"]) for o in orders if o["customer_id"] == person["id"]}}


def _stage_from_sandbox(engine: Engine) -> None:
    from woohub.core.extract import ExtractWindow
    from woohub.hubspot.extract import extract_contacts, extract_deals
    from woohub.hubspot.hook import HubSpotHook
    from woohub.woocommerce.extract import extract_customers, extract_orders
    from woohub.woocommerce.hook import WooCommerceHook

    window = ExtractWindow(start=None, end=datetime.now(UTC).replace(tzinfo=None), full=True)
    woo, hubspot = WooCommerceHook(), HubSpotHook()
    extract_orders(woo, engine, window, "run-1")
    extract_customers(woo, engine, window, "run-1", full_scan=True)
    extract_deals(hubspot, engine, window, "run-2")
    extract_contacts(hubspot, engine, window, "run-2")


def _rows_for(email: str, customer_id: int, contact_id: str, order_id: str, tag: str) -> dict[Any, list[dict]]:
    """A row of each other table that holds this person's data (emails in odd cases, keys by id)."""
    guest, customer = f"guest:{email.lower()}", f"customer:{customer_id}"
    mixed = email.swapcase()
    return {
        schema.id_map: [
            {"object_type": "contact", "woocommerce_key": customer, "hubspot_id": contact_id,
             "synced_fields": json.dumps({"email": email, "firstname": "Jo"})},
            {"object_type": "contact", "woocommerce_key": guest, "hubspot_id": None}],
        schema.quarantine: [
            {"object_type": "woocommerce.customers", "source_key": str(customer_id),
             "reasons": json.dumps(["email_shape x@x"]), "first_quarantined_at": NOW, "quarantined_at": NOW,
             "run_id": "run-1"},
            {"object_type": "contact", "source_key": guest, "reasons": json.dumps([f"bad {mixed}"]),
             "first_quarantined_at": NOW, "quarantined_at": NOW, "run_id": "run-1"}],
        schema.dead_letter: [
            {"object_type": "contact", "source_key": customer, "error_code": "EMAIL_CONFLICT",
             "error_message": f"email {mixed!r} belongs to another contact", "attempts": 1, "first_failed_at": NOW,
             "last_failed_at": NOW, "next_retry_at": NOW, "last_run_id": "run-1",
             "source_ref": f"woocommerce.customers:{customer_id}"},
            {"object_type": "deal", "source_key": order_id, "error_code": "HTTP_500", "error_message": "oops",
             "attempts": 1, "first_failed_at": NOW, "last_failed_at": NOW, "next_retry_at": NOW,
             "last_run_id": "run-1", "source_ref": f"woocommerce.orders:{order_id}"}],
        schema.sync_conflict: [
            {"conflict_key": f"c-{tag}", "run_id": "run-1", "dag_id": "woocommerce_to_hubspot",
             "object_type": "contact", "woocommerce_key": customer, "hubspot_id": contact_id, "field": "email",
             "woocommerce_value": mixed, "hubspot_value": "old@example.org", "winner": "woocommerce",
             "policy": "owner", "recorded_at": NOW}],
        schema.reconciliation_snapshot: [
            {"run_id": "rec-1", "system": "hubspot", "object_type": "contact", "record_id": contact_id,
             "match_key": customer, "email": email.lower(), "fields": json.dumps({"email": email}),
             "payload": json.dumps({"properties": {"email": email}})},
            {"run_id": "rec-1", "system": "woocommerce", "object_type": "contact", "record_id": customer,
             "match_key": customer, "email": email.lower(), "fields": "{}", "payload": None}],
        schema.reconciliation_difference: [
            {"run_id": "rec-1", "object_type": "contact", "woocommerce_id": customer, "hubspot_id": contact_id,
             "kind": "field_mismatch", "field": "email", "woocommerce_value": email, "hubspot_value": mixed,
             "action": "reported", "detected_at": NOW}],
        schema.review_action: [
            {"acted_at": NOW, "actor": "admin", "action": "dismiss", "target": "quarantine",
             "object_type": "contact", "source_key": guest, "detail": f"dismissed {mixed}"}],
        schema.alert_sent: [
            {"alert_key": f"dead_letter:{tag}", "kind": "dead_letter",
             "message": f"contact {email} failed 5 times", "channels": "log", "sent_at": NOW}],
    }


def _text_hits(engine: Engine, needle: str) -> dict[str, int]:
    """Rows per table where any text column holds ``needle`` (case-insensitively), read in Python."""
    hits: dict[str, int] = {}
    with engine.connect() as connection:
        for table in schema.metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                if any(isinstance(v, str) and needle.lower() in v.lower() for v in row.values()):
                    hits[table.name] = hits.get(table.name, 0) + 1
    return hits


def _dump(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {t.name: sorted(map(repr, connection.execute(select(t)).all())) for t in schema.metadata.sorted_tables
                if t.name != "personal_data_erasure"}


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_erase_one_person_from_every_staging_table(kind: str, shop: dict[str, Any], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from woohub.cli import main
    from woohub.core.erasure import erase_person

    person, other = shop["person"], shop["other"]
    with migrated_staging(kind, tmp_path, "woohub_erasure") as (engine, url):
        _stage_from_sandbox(engine)
        person_order = sorted(shop["person_orders"])[0]
        with engine.begin() as connection:
            for who, contact, tag in ((person, shop["contact_ids"][0], "p"), (other, shop["contact_ids"][1], "o")):
                order = person_order if who is person else "999999"
                for table, rows in _rows_for(who["email"], who["id"], contact, order, tag).items():
                    for row in rows:
                        connection.execute(insert(table).values(**row))
        before = _text_hits(engine, person["email"])
        assert {"stg_woocommerce_customers", "stg_woocommerce_orders", "stg_hubspot_contacts", "id_map",
                "quarantine", "dead_letter", "sync_conflict", "reconciliation_snapshot",
                "reconciliation_difference", "review_action", "alert_sent"} <= set(before), before
        other_before = _text_hits(engine, other["email"])
        snapshot = _dump(engine)

        dry = erase_person(engine, f"  {person['email'].title()} ", actor="dpo", dry_run=True)
        assert _dump(engine) == snapshot
        assert main(["--staging-url", url, "personal-data", "erase", "--email", person["email"].upper(),
                     "--actor", "dpo@shop"]) == 0
        printed = capsys.readouterr().out

        assert _text_hits(engine, person["email"]) == {}
        assert _text_hits(engine, other["email"]) == other_before  # the other person's rows are untouched
        with engine.connect() as connection:
            staged_orders = set(connection.execute(select(schema.stg_woocommerce_orders.c.source_id)).scalars())
            staged_deals = set(connection.execute(select(schema.stg_hubspot_deals.c.source_id)).scalars())
            log_rows = connection.execute(select(schema.personal_data_erasure)).mappings().all()
        assert not staged_orders & shop["person_orders"]  # every order of the customer, by customer_id too
        assert shop["deal_ids"][0] not in staged_deals and shop["deal_ids"][1] in staged_deals
        assert len(log_rows) == 1
        entry = log_rows[0]
        assert entry["actor"] == "dpo@shop"
        assert entry["email_sha256"] == hashlib.sha256(person["email"].lower().encode()).hexdigest()
        counts = json.loads(entry["counts"])
        assert counts == dry and counts["stg_hubspot_deals"] == 1 and counts["alert_sent"] == 1
        assert person["email"].lower() not in json.dumps(dict(entry), default=str).lower()
        assert f"erased {sum(counts.values())} row(s) of email sha256={entry['email_sha256']}" in printed
        for name, count in counts.items():
            assert f"{name}: {count}" in printed
        with engine.connect() as connection:  # redacted, not deleted: what a person did, which alert went out
            assert connection.execute(select(schema.review_action.c.source_key)
                                      .where(schema.review_action.c.actor == "admin")).scalars().all().count(
                "guest:[erased]") == 1

        assert main(["--staging-url", url, "personal-data", "erasures"]) == 0
        listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(r["actor"], r["email_sha256"], r["counts"]) for r in listed] == \
            [("dpo@shop", entry["email_sha256"], counts)]
        assert erase_person(engine, person["email"], actor="dpo") == {}  # nothing left; logged again
