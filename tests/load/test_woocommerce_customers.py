"""HubSpot -> WooCommerce customer writes against the WooCommerce sandbox: reads by id and account email,
batch updates that never take another customer's email (checked before, and the store's own refusal of a
race), partial addresses, failures as dead letters, and creates that adopt the account an email has."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.conftest import Sandbox
from tests.load.woocommerce_fixtures import (  # noqa: F401  (fixtures)
    AnswerLosingProxy,
    StoreApi,
    store_fixture,
    woo_connection,
    woo_hook_fixture,
    woo_store_fixture,
)
from woohub.core.dead_letters import dead_letters
from woohub.woocommerce import WooCommerceHook
from woohub.woocommerce.load import (
    CustomerCreate,
    CustomerUpdate,
    create_customers,
    find_customers,
    update_customers,
)

ADDRESS = {"first_name": "Alice", "last_name": "Hub", "address_1": "1 Main St", "city": "Springfield",
           "postcode": "12345", "country": "US", "state": "IL", "email": "alice.billing@example.com",
           "phone": "555-0100"}


@pytest.fixture
def people(store: StoreApi) -> dict[str, dict[str, Any]]:
    """Alice (full billing and shipping), Bob and Carol (names only)."""
    alice = store.post("/customers", {"email": "alice@example.com", "first_name": "Alice", "last_name": "Hub",
                                      "billing": ADDRESS, "shipping": {k: v for k, v in ADDRESS.items()
                                                                       if k not in ("email", "phone")}})
    bob = store.post("/customers", {"email": "bob@example.com", "first_name": "Bob", "last_name": "Hub"})
    carol = store.post("/customers", {"email": "carol@example.com", "first_name": "Carol", "last_name": "Hub"})
    return {"alice": alice, "bob": bob, "carol": carol}


def now_in_store(store: StoreApi, customer: dict[str, Any]) -> dict[str, Any]:
    return store.get(f"/customers/{customer['id']}")


def change(customer: dict[str, Any], payload: dict[str, Any], new_email: str | None = None) -> CustomerUpdate:
    return CustomerUpdate(customer_id=customer["id"], payload=payload, source_key=f"customer:{customer['id']}",
                          new_email=new_email, source_ref=f"hubspot.contacts:{customer['id']}00")


def test_customers_by_id_and_by_account_email(woo_hook: WooCommerceHook, people: dict[str, dict[str, Any]]) -> None:
    alice, bob = people["alice"], people["bob"]
    found = find_customers(woo_hook, ids=[alice["id"], bob["id"], 99_999],
                           emails=["  ALICE@Example.com", "alice.billing@example.com"])
    assert set(found) == {alice["id"], bob["id"], "alice@example.com"}
    assert found["alice@example.com"]["id"] == alice["id"], "exact and case-insensitive"
    assert "alice.billing@example.com" not in found, "the email filter matches the account email only"
    assert woo_hook.api_calls == Counter({"GET /customers": 3}), "ids in one call, one call per email"


def test_an_email_another_customer_has_is_a_conflict_and_nothing_of_that_update_is_written(
        woo_hook: WooCommerceHook, store: StoreApi, engine: Any, people: dict[str, dict[str, Any]]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    before = {name: now_in_store(store, c) for name, c in people.items() if name != "alice"}
    updates = [
        change(alice, {"first_name": "Alicia", "billing": {"phone": "555-0199", "address_1": "2 Side St"}}),
        change(bob, {"email": "Carol@Example.com", "first_name": "Robert"}, new_email="Carol@Example.com"),
    ]
    result = update_customers(woo_hook, engine, updates, "run-1")

    assert [(c["customer_id"], c["email"], c["other_customer_id"]) for c in result.conflicts] == [
        (bob["id"], "carol@example.com", carol["id"])]
    message = result.conflicts[0]["message"]
    assert f"customer {bob['id']}" in message and f"customer {carol['id']}" in message
    assert {name: now_in_store(store, c) for name, c in people.items() if name != "alice"} == before, \
        "Bob and Carol are untouched: not even Bob's first name was sent"
    assert list(result.updated) == [alice["id"]] and result.failures == []
    assert woo_hook.api_calls == Counter({"GET /customers": 1, "POST /customers/batch": 1})

    alicia = now_in_store(store, alice)
    assert result.updated[alice["id"]]["first_name"] == alicia["first_name"] == "Alicia"
    assert (alicia["billing"]["phone"], alicia["billing"]["address_1"]) == ("555-0199", "2 Side St")
    kept = {k: v for k, v in ADDRESS.items() if k not in ("phone", "address_1")}
    assert {k: alicia["billing"][k] for k in kept} == kept, "a partial address merges: the rest is kept"
    assert alicia["billing"]["first_name"] == "Alice", "top-level names do not touch the billing names"
    assert dead_letters(engine) == [], "a conflict is not a dead letter"


def test_an_email_taken_between_the_check_and_the_write_is_a_conflict_too(
        woo_hook: WooCommerceHook, store: StoreApi, engine: Any, people: dict[str, dict[str, Any]]) -> None:
    """Both ask for the same free email in one batch: the check passes both, the store gives it to the
    first and refuses the second with ``woocommerce_rest_customer_invalid_email`` (recording 190)."""
    alice, bob = people["alice"], people["bob"]
    bob_before = now_in_store(store, bob)
    result = update_customers(woo_hook, engine, [
        change(alice, {"email": "shared@example.com"}, new_email="shared@example.com"),
        change(bob, {"email": "shared@example.com"}, new_email="shared@example.com"),
    ], "run-1")
    assert list(result.updated) == [alice["id"]] and result.failures == []
    assert [(c["customer_id"], c["other_customer_id"]) for c in result.conflicts] == [(bob["id"], alice["id"])]
    assert "refused" in result.conflicts[0]["message"]
    assert now_in_store(store, alice)["email"] == "shared@example.com"
    assert now_in_store(store, bob) == bob_before


def test_an_email_that_differs_only_in_case_is_not_sent(
        woo_hook: WooCommerceHook, store: StoreApi, engine: Any, people: dict[str, dict[str, Any]]) -> None:
    """WooCommerce compares account emails case-insensitively but refuses a PUT of the account's own email
    in another case; such a change is no change: the rest of the update is written."""
    alice = people["alice"]
    result = update_customers(woo_hook, engine, [
        change(alice, {"email": "ALICE@Example.com", "last_name": "Hubbard"}, new_email="ALICE@Example.com")],
        "run-1")
    assert list(result.updated) == [alice["id"]] and result.conflicts == [] and result.failures == []
    assert (now_in_store(store, alice)["email"], now_in_store(store, alice)["last_name"]) == (
        "alice@example.com", "Hubbard")


def test_a_refused_field_is_dead_lettered_and_a_later_write_resolves_it(
        woo_hook: WooCommerceHook, store: StoreApi, engine: Any, people: dict[str, dict[str, Any]]) -> None:
    bob = people["bob"]
    bad = update_customers(woo_hook, engine, [change(bob, {"billing": {"email": "not-an-email"}}),
                                              CustomerUpdate(customer_id=99_999, payload={"first_name": "Ghost"},
                                                             source_key="customer:99999")], "run-1")
    codes = {f["source_key"]: f["error_code"] for f in bad.failures}
    assert codes == {f"customer:{bob['id']}": "INVALID_FIELD", "customer:99999": "CUSTOMER_NOT_FOUND"}
    assert "billing" in bad.failures[0]["error_message"]
    letters = {d["source_key"]: d for d in dead_letters(engine, "customer")}
    assert set(letters) == set(codes)
    assert letters[f"customer:{bob['id']}"]["source_ref"] == f"hubspot.contacts:{bob['id']}00"

    good = update_customers(WooCommerceHook(), engine, [change(bob, {"billing": {"email": "bob.b@example.com"}})],
                            "run-2")
    assert list(good.updated) == [bob["id"]]
    assert {d["source_key"] for d in dead_letters(engine, "customer")} == {"customer:99999"}


def test_a_create_for_an_email_that_has_an_account_adopts_it(
        woo_hook: WooCommerceHook, store: StoreApi, engine: Any, people: dict[str, dict[str, Any]]) -> None:
    created = create_customers(woo_hook, engine, [
        CustomerCreate(source_key="501", payload={"email": "dave@example.com", "first_name": "Dave"}),
        CustomerCreate(source_key="502", payload={"email": "ALICE@example.com", "first_name": "Other Alice"}),
    ], "run-1")
    assert created["502"]["id"] == people["alice"]["id"], "no second account for alice@example.com"
    assert created["501"]["email"] == "dave@example.com"
    emails = Counter(c["email"].lower() for c in store.all("customers"))
    assert emails == Counter(["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"])
    assert now_in_store(store, people["alice"])["first_name"] == "Alice", "the adopted account is not changed"
    assert woo_hook.api_calls == Counter({"POST /customers/batch": 1, "GET /customers": 1})
    assert dead_letters(engine) == []


def test_a_create_whose_answer_was_lost_is_found_by_its_email(
        woo_store: Sandbox, store: StoreApi, engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with AnswerLosingProxy(woo_store.woo_url, method="POST", path="/customers/batch") as proxy:
        hook = WooCommerceHook(woo_connection(monkeypatch, "woocommerce_lossy", port=proxy.port))
        created = create_customers(hook, engine, [CustomerCreate(source_key="601",
                                                                 payload={"email": "erin@example.com"})], "run-1")
    assert proxy.lost and hook.api_calls["POST /customers/batch"] == 1
    assert [c["email"] for c in store.all("customers")] == ["erin@example.com"]
    assert created["601"]["id"] == store.all("customers")[0]["id"]


def test_a_refused_create_is_dead_lettered_and_absent(woo_hook: WooCommerceHook, engine: Any,
                                                      woo_store: Sandbox) -> None:
    created = create_customers(woo_hook, engine, [
        CustomerCreate(source_key="701", payload={"email": "not-an-email"}, source_ref="hubspot.contacts:701")],
        "run-1")
    assert created == {}
    assert [(d["source_key"], d["error_code"], d["source_ref"]) for d in dead_letters(engine, "customer")] == [
        ("701", "customer_invalid_email", "hubspot.contacts:701")]
