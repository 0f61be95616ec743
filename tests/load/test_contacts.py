"""load_contacts against the sandbox: never a duplicate contact, on every path."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tests.load.builders import customer, guest, records, write_calls


def contacts_by_email(hubspot: Any) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for record in records(hubspot, "contacts"):
        found.setdefault(record["properties"]["email"].lower(), []).append(record)
    return found


def test_customers_and_guests_load_once_and_rerun_writes_nothing(
    portal: Any, hubspot: Any, engine: Any
) -> None:
    from woohub.hubspot.load import load_contacts

    rows = [customer(i, f"c{i}@shop.test") for i in range(1, 121)] + [
        guest(f"g{i}@mail.test") for i in range(30)
    ]
    first = load_contacts(portal, engine, pd.DataFrame(rows), "run-1")
    assert (first.created, first.updated, first.failed) == (150, 0, 0)
    assert first.api_calls == 6  # property check, 2 email lookup chunks, 2 upsert chunks, 1 create
    stored = contacts_by_email(hubspot)
    assert len(stored) == 150 and all(len(v) == 1 for v in stored.values())
    assert stored["c7@shop.test"][0]["properties"]["woo_customer_id"] == "7"
    assert "woo_customer_id" not in stored["g3@mail.test"][0]["properties"]

    portal.api_calls.clear()
    again = load_contacts(portal, engine, pd.DataFrame(rows), "run-2")
    assert (again.unchanged, again.api_calls) == (150, 0)


def test_email_change_updates_the_same_contact_and_a_taken_email_conflicts(
    portal: Any, hubspot: Any, engine: Any
) -> None:
    from woohub.core.dead_letters import dead_letters
    from woohub.hubspot.load import load_contacts

    load_contacts(
        portal, engine, pd.DataFrame([customer(1, "ann@shop.test"), customer(2, "bob@shop.test")]), "r1"
    )
    ids = {e: r[0]["id"] for e, r in contacts_by_email(hubspot).items()}

    moved = load_contacts(portal, engine, pd.DataFrame([customer(1, "ann.new@shop.test")]), "r2")
    assert moved.updated == 1 and moved.created == 0
    assert contacts_by_email(hubspot)["ann.new@shop.test"][0]["id"] == ids["ann@shop.test"]

    clash = load_contacts(portal, engine, pd.DataFrame([customer(1, "bob@shop.test", first="Eve")]), "r3")
    assert clash.failed == 1
    failure = clash.failures[0]
    assert failure["error_code"] == "EMAIL_CONFLICT"
    assert str(ids["bob@shop.test"]) in failure["error_message"]
    assert str(ids["ann@shop.test"]) in failure["error_message"]
    after = contacts_by_email(hubspot)
    assert after["ann.new@shop.test"][0]["properties"]["firstname"] == "Ann"  # nothing overwritten
    assert after["bob@shop.test"][0]["properties"]["lastname"] == "C2"
    assert [d["error_code"] for d in dead_letters(engine, "contact")] == ["EMAIL_CONFLICT"]


def test_existing_contact_with_the_email_in_another_case_is_adopted(
    portal: Any, hubspot: Any, engine: Any
) -> None:
    from woohub.hubspot.load import load_contacts

    pre = portal.batch_create(
        "contacts",
        [
            {"email": "Alice@Example.COM", "firstname": "Pre"},
            {"email": "GUEST@example.com", "firstname": "Pre"},
        ],
    )
    result = load_contacts(
        portal, engine, pd.DataFrame([customer(5, "alice@example.com"), guest("guest@example.com")]), "run-1"
    )
    assert (result.created, result.updated) == (0, 2)
    stored = contacts_by_email(hubspot)
    assert len(records(hubspot, "contacts")) == 2
    assert stored["alice@example.com"][0]["id"] == int(pre[0].id)
    assert stored["alice@example.com"][0]["properties"]["woo_customer_id"] == "5"
    assert stored["guest@example.com"][0]["properties"]["firstname"] == "Gus"


def test_guest_who_registers_stays_one_contact(portal: Any, hubspot: Any, engine: Any) -> None:
    from woohub.core.ledger import id_map_rows
    from woohub.hubspot.load import load_contacts

    load_contacts(portal, engine, pd.DataFrame([guest("Zoe@Mail.test")]), "run-1")
    registered = load_contacts(
        portal, engine, pd.DataFrame([guest("Zoe@Mail.test"), customer(9, "zoe@mail.test")]), "run-2"
    )
    assert (registered.updated, registered.unchanged, registered.created) == (1, 1, 0)
    # the same person arriving as guest and customer in one frame of a fresh portal: one contact too
    same_frame = load_contacts(
        portal, engine, pd.DataFrame([guest("kim@mail.test"), customer(10, "Kim@mail.test")]), "run-3"
    )
    assert same_frame.created == 1 and same_frame.failed == 0
    stored = contacts_by_email(hubspot)
    assert (
        len(stored["zoe@mail.test"]) == 1
        and stored["zoe@mail.test"][0]["properties"]["woo_customer_id"] == "9"
    )
    assert (
        len(stored["kim@mail.test"]) == 1
        and stored["kim@mail.test"][0]["properties"]["woo_customer_id"] == "10"
    )
    keys = id_map_rows(engine, "contact", ["guest:kim@mail.test", "customer:10"])
    assert keys["guest:kim@mail.test"]["hubspot_id"] == keys["customer:10"]["hubspot_id"]

    portal.api_calls.clear()
    load_contacts(
        portal, engine, pd.DataFrame([guest("kim@mail.test"), customer(10, "Kim@mail.test")]), "run-4"
    )
    assert write_calls(portal) == 0


def test_customer_whose_email_belongs_to_another_customer_is_not_merged(
    portal: Any, hubspot: Any, engine: Any
) -> None:
    from woohub.hubspot.load import load_contacts

    load_contacts(portal, engine, pd.DataFrame([customer(1, "shared@shop.test")]), "run-1")
    result = load_contacts(portal, engine, pd.DataFrame([customer(2, "shared@shop.test")]), "run-2")
    assert result.failed == 1 and result.failures[0]["error_code"] == "EMAIL_CONFLICT"
    assert [r["properties"]["woo_customer_id"] for r in records(hubspot, "contacts")] == ["1"]
