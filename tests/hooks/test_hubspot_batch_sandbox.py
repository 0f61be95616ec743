"""HubSpotHook batch writes against the HubSpot sandbox process, which answers batches in a shuffled order
and rejects a whole batch for one bad input where HubSpot does: every record gets its own id and values,
and a rejected batch is split so the good inputs load and each bad one gets its own error, in about
log2(n) + 2 extra calls per bad input. Every test compares the outcomes with the sandbox's own state."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.conftest import Sandbox
from tests.hooks.conftest import MakeConnection
from tests.hooks.policies import FAST_RETRIES
from woohub.hubspot import HubSpotHook

ORDER_ID = {"name": "woo_order_id", "label": "WooCommerce order ID", "type": "string", "fieldType": "text",
            "groupName": "dealinformation", "hasUniqueValue": True}
UPSERT = "POST /crm/v3/objects/deals/batch/upsert"
CREATE = "POST /crm/v3/objects/contacts/batch/create"
#: extra calls that isolating one bad input among 100 may cost: the halving search, the bad input alone
#: (when only inferred) and one call for the halves that waited
ONE_BAD_INPUT_CALLS = math.ceil(math.log2(100)) + 2


@pytest.fixture
def portal(empty_sandbox: Sandbox) -> Sandbox:
    empty_sandbox.hubspot.configure(rate_limits_enabled=False, search_index_delay_seconds=0)
    return empty_sandbox


def _hook(make_connection: MakeConnection, sandbox: Sandbox, conn_id: str) -> HubSpotHook:
    make_connection(conn_id, host=sandbox.hubspot_url, password="sandbox-token",
                    extra={"rate_limits_enabled": False})
    return HubSpotHook(conn_id, retry_policy=FAST_RETRIES)


def _stored(sandbox: Sandbox, object_type: str) -> dict[str, dict[str, Any]]:
    """``id -> properties`` of the live records the sandbox holds."""
    records = sandbox.hubspot.state()["portal"]["records"].get(object_type, [])
    return {str(r["id"]): r["properties"] for r in records if not r["archived"]}


def _deal(n: int, **properties: str) -> dict[str, str]:
    return {"woo_order_id": f"o{n}", "dealname": f"Order {n}", "dealstage": "qualifiedtobuy", "amount": str(n),
            "deal_currency_code": "USD", **properties}


def test_many_records_at_once_each_get_their_own_id_and_values(portal: Sandbox,
                                                                make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, portal, "hs_many")
    hook.ensure_property("deals", ORDER_ID)
    upserted = hook.batch_upsert("deals", "woo_order_id", [_deal(n) for n in range(250)])
    deals = _stored(portal, "deals")
    assert [o.key for o in upserted] == [f"o{n}" for n in range(250)] and all(o.ok and o.created for o in upserted)
    assert len({o.id for o in upserted}) == 250 == len(deals)
    for outcome in upserted:  # the id the hook reports is the record that holds this input's values
        assert deals[str(outcome.id)]["woo_order_id"] == outcome.key
        assert deals[str(outcome.id)]["amount"] == outcome.key[1:]
    emails = [f"person{n}@example.com" for n in range(250)]
    created = hook.batch_create("contacts", [{"email": e, "firstname": f"F{n}"} for n, e in enumerate(emails)],
                                key_property="email")
    contacts = _stored(portal, "contacts")
    assert [o.key for o in created] == emails and all(o.ok for o in created)
    assert {o.key: contacts[str(o.id)]["email"] for o in created} == {e: e for e in emails}
    deal_ids = [str(o.id) for o in upserted]
    updated = hook.batch_update("deals", [{"id": i, "properties": {"description": f"for {i}"}} for i in deal_ids])
    assert [o.key for o in updated] == deal_ids and all(o.ok and o.id == o.key for o in updated)
    assert all(p["description"] == f"for {i}" for i, p in _stored(portal, "deals").items())
    read = hook.batch_read("deals", deal_ids[::-1], properties=["woo_order_id"])
    assert [r["id"] for r in read] == deal_ids[::-1]  # in the order asked for, though answered shuffled
    by_order = hook.batch_read("deals", [f"o{n}" for n in range(150)], properties=["amount"],
                               id_property="woo_order_id")
    assert [r["properties"]["woo_order_id"] for r in by_order] == [f"o{n}" for n in range(150)]
    pairs = [(d, str(c.id)) for d, c in zip(deal_ids, created, strict=True)]
    linked = hook.batch_associate("deals", "contacts", pairs, association_type_id=3)
    assert [o.key for o in linked] == [f"{d}-{c}" for d, c in pairs] and all(o.ok for o in linked)
    edges = {(str(e[1]), str(e[3])) for e in portal.hubspot.state()["portal"]["associations"]
             if e[0] == "deals" and e[2] == "contacts"}
    assert edges == set(pairs)


def test_a_batch_rejected_for_one_bad_input_is_split_and_the_rest_loads(portal: Sandbox,
                                                                        make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, portal, "hs_one_bad")
    hook.ensure_property("deals", ORDER_ID)
    records = [_deal(n) for n in range(100)]
    records[37]["deal_currency_code"] = "EUR"  # not an enabled currency: HubSpot rejects the whole batch
    outcomes = {o.key: o for o in hook.batch_upsert("deals", "woo_order_id", records)}
    failed = {k: o for k, o in outcomes.items() if not o.ok}
    assert list(failed) == ["o37"]
    assert failed["o37"].error_code == "VALIDATION_ERROR"
    assert "EUR was not one of the allowed options: [USD]" in str(failed["o37"].error_message)
    stored = {p["woo_order_id"] for p in _stored(portal, "deals").values()}
    assert stored == {f"o{n}" for n in range(100)} - {"o37"}
    extra_calls = hook.api_calls[UPSERT] - 1
    assert 1 <= extra_calls <= ONE_BAD_INPUT_CALLS, extra_calls


def test_three_bad_inputs_in_a_batch_of_100_each_get_their_own_error(portal: Sandbox,
                                                                     make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, portal, "hs_three_bad")
    hook.ensure_property("deals", ORDER_ID)
    records = [_deal(n) for n in range(100)]
    records[5]["deal_currency_code"] = "GBP"
    records[52]["no_such_property"] = "x"
    records[88]["dealstage"] = "won_somehow"
    outcomes = {o.key: o for o in hook.batch_upsert("deals", "woo_order_id", records)}
    failed = {k: o for k, o in outcomes.items() if not o.ok}
    assert sorted(failed) == ["o5", "o52", "o88"]
    assert {k: o.error_code for k, o in failed.items()} == dict.fromkeys(failed, "VALIDATION_ERROR")
    assert "GBP was not one of the allowed options" in str(failed["o5"].error_message)
    assert 'Property \\"no_such_property\\" does not exist' in str(failed["o52"].error_message)
    assert "won_somehow was not one of the allowed options" in str(failed["o88"].error_message)
    stored = {p["woo_order_id"]: p for p in _stored(portal, "deals").values()}
    assert set(stored) == {f"o{n}" for n in range(100)} - set(failed)
    assert all(stored[k]["amount"] == k[1:] for k in stored)
    extra_calls = hook.api_calls[UPSERT] - 1
    assert 3 <= extra_calls <= 3 * ONE_BAD_INPUT_CALLS, extra_calls


def test_a_create_rejected_for_a_taken_email_is_split_and_an_ambiguous_part_never_resent(
        portal: Sandbox, make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, portal, "hs_conflict")
    taken = hook.batch_create("contacts", [{"email": "taken@example.com"}], key_property="email")[0]
    emails = [f"new{n}@example.com" for n in range(100)]
    emails[70] = "Taken@Example.com"
    outcomes = {o.key: o for o in hook.batch_create("contacts", [{"email": e} for e in emails],
                                                    key_property="email")}
    assert {k: o.error_code for k, o in outcomes.items() if not o.ok} == {"Taken@Example.com": "CONFLICT"}
    assert outcomes["Taken@Example.com"].error_message == f"Contact already exists. Existing ID: {taken.id}"
    assert len(_stored(portal, "contacts")) == 100
    assert 1 <= hook.api_calls[CREATE] - 2 <= ONE_BAD_INPUT_CALLS
    # the first split half of the next rejected batch dies with a 503: it may have been applied, so it
    # is never sent again; the other half is still split and loaded
    more = [f"more{n}@example.com" for n in range(10)]
    more[8] = "taken@example.com"
    portal.hubspot.set_faults({"kind": "status", "status": 503, "path": "/batch/create$", "after": 1, "count": 1})
    calls_before = hook.api_calls[CREATE]
    second = {o.key: o for o in hook.batch_create("contacts", [{"email": e} for e in more], key_property="email")}
    portal.hubspot.clear_faults()
    assert {k: o.error_code for k, o in second.items() if not o.ok} == {
        **dict.fromkeys(more[:5], "AMBIGUOUS_WRITE"), "taken@example.com": "CONFLICT"}
    stored = {p["email"] for p in _stored(portal, "contacts").values()}
    assert stored & set(more[:8] + more[9:]) == set(more[5:8] + more[9:])
    assert hook.api_calls[CREATE] - calls_before <= 1 + ONE_BAD_INPUT_CALLS


def test_a_request_rejected_whatever_its_inputs_is_not_split_input_by_input(portal: Sandbox,
                                                                            make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, portal, "hs_request_error")
    outcomes = hook.batch_upsert("deals", "dealname", [_deal(n) for n in range(100)])  # not a unique property
    assert {o.error_code for o in outcomes} == {"VALIDATION_ERROR"}
    assert all("not a unique property" in str(o.error_message) for o in outcomes)
    assert _stored(portal, "deals") == {}
    assert hook.api_calls[UPSERT] <= 2 * ONE_BAD_INPUT_CALLS + 1  # two searches, not a call per input


def test_enabled_currencies_are_read_in_one_call(portal: Sandbox, make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, portal, "hs_currencies")
    assert hook.enabled_currencies() == ["USD"]
    portal.hubspot.configure(enabled_currencies=["EUR", "USD", "GBP"])
    assert hook.enabled_currencies() == ["EUR", "USD", "GBP"]
    assert hook.api_calls == {"GET /crm/v3/properties/deals/deal_currency_code": 2}
