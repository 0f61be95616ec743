"""Two-way field decisions (woohub.core.conflicts): every branch of the three-way rule, owners, modification
times, the empty-value rules; conflicts recorded once and bases merged into id_map.synced_fields, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.helpers import migrated_staging
from woohub.core import conflicts
from woohub.core.conflicts import Conflict, Decision, FieldPolicy, decide
from woohub.core.ledger import id_map_rows, save_id_map
from woohub.staging.schema import id_map

EARLY, LATE = datetime(2026, 12, 1, 10, 0), datetime(2026, 12, 1, 11, 0)
DEFAULT = {"phone": FieldPolicy()}


def one(woo: str | None, hub: str | None, base: str | None | object = "base", *, policy: FieldPolicy = conflicts.DEFAULT_POLICY,
        woo_at: datetime | None = EARLY, hub_at: datetime | None = LATE) -> Decision:
    """The decision for a single field ``phone`` (``base`` ``...``: the pair has no base at all)."""
    bases = None if base is ... else {"phone": base}
    [decision] = decide({"phone": woo}, {"phone": hub}, bases, woocommerce_modified_at=woo_at,
                        hubspot_modified_at=hub_at, policies={"phone": policy})
    return decision


def test_equal_values_need_nothing() -> None:
    assert one("1", "1") == Decision("phone", None, None, "1")
    assert one(None, None, ...) == Decision("phone", None, None, None)


def test_only_hubspot_changed_goes_to_woocommerce() -> None:
    assert one("base", "new") == Decision("phone", "woocommerce", "new", "new")


def test_only_woocommerce_changed_goes_to_hubspot() -> None:
    assert one("new", "base") == Decision("phone", "hubspot", "new", "new")


def test_both_changed_the_later_modification_wins() -> None:
    hub_later = one("w", "h", woo_at=EARLY, hub_at=LATE)
    assert (hub_later.target, hub_later.value, hub_later.base) == ("woocommerce", "h", "h")
    assert hub_later.conflict == Conflict("phone", "w", "h", EARLY, LATE, "hubspot", "latest")
    woo_later = one("w", "h", woo_at=LATE, hub_at=EARLY)
    assert (woo_later.target, woo_later.value) == ("hubspot", "w")
    assert (woo_later.conflict.winner, woo_later.conflict.policy) == ("woocommerce", "latest")


@pytest.mark.parametrize(("woo_at", "hub_at"), [(EARLY, EARLY), (None, LATE), (LATE, None), (None, None)])
def test_equal_or_unknown_times_let_woocommerce_the_system_of_record_win(woo_at, hub_at) -> None:
    decision = one("w", "h", woo_at=woo_at, hub_at=hub_at)
    assert (decision.target, decision.value) == ("hubspot", "w")
    assert (decision.conflict.winner, decision.conflict.policy) == ("woocommerce", "system_of_record")


@pytest.mark.parametrize(("owner", "target", "value"), [("woocommerce", "hubspot", "w"),
                                                        ("hubspot", "woocommerce", "h")])
def test_an_owner_wins_every_conflict_whatever_the_times(owner: str, target: str, value: str) -> None:
    for woo_at, hub_at in [(EARLY, LATE), (LATE, EARLY), (None, None)]:
        decision = one("w", "h", policy=FieldPolicy(owner=owner), woo_at=woo_at, hub_at=hub_at)
        assert (decision.target, decision.value) == (target, value)
        assert (decision.conflict.winner, decision.conflict.policy) == (owner, "owner")


def test_an_owner_does_not_block_a_one_sided_change() -> None:
    assert one("base", "new", policy=FieldPolicy(owner="woocommerce")).target == "woocommerce"


def test_without_a_base_any_difference_is_a_conflict() -> None:
    decision = one("w", "h", ...)
    assert decision.conflict is not None
    assert (decision.target, decision.value) == ("woocommerce", "h")  # HubSpot modified later


def test_a_field_missing_from_the_base_had_no_value() -> None:
    [decision] = decide({"phone": "w"}, {"phone": None}, {}, woocommerce_modified_at=EARLY,
                        hubspot_modified_at=LATE, policies=DEFAULT)
    assert (decision.target, decision.value, decision.conflict) == ("hubspot", "w", None)


# -- empty values ---------------------------------------------------------------------------------------


def test_an_empty_hubspot_value_never_clears_woocommerce_by_default() -> None:
    decision = one("base", None)
    assert decision == Decision("phone", None, None, "base")  # no write, no conflict, the base is kept


def test_an_empty_woocommerce_value_never_clears_hubspot_by_default() -> None:
    assert one(None, "base") == Decision("phone", None, None, "base")


def test_clearing_is_allowed_per_field_and_direction() -> None:
    assert one("base", None, policy=FieldPolicy(empty_clears_woocommerce=True)) == Decision(
        "phone", "woocommerce", None, None)
    assert one(None, "base", policy=FieldPolicy(empty_clears_hubspot=True)) == Decision("phone", "hubspot", None, None)
    assert one("base", None, policy=FieldPolicy(empty_clears_hubspot=True)).target is None  # the other direction


def test_an_empty_side_is_filled_without_conflict() -> None:
    assert one(None, "h", ...) == Decision("phone", "woocommerce", "h", "h")  # first sync: HubSpot has a phone
    assert one("w", None, ...) == Decision("phone", "hubspot", "w", "w")


def test_a_clear_against_a_change_is_no_conflict_and_the_change_goes_through() -> None:
    decision = one(None, "h", "base", woo_at=LATE, hub_at=EARLY)  # WooCommerce cleared later, HubSpot changed
    assert decision == Decision("phone", "woocommerce", "h", "h")
    owned = one(None, "h", "base", policy=FieldPolicy(owner="woocommerce"))
    assert (owned.target, owned.value, owned.conflict) == ("woocommerce", "h", None)


def test_a_clear_that_may_clear_competes_like_any_change() -> None:
    decision = one(None, "h", "base", policy=FieldPolicy(empty_clears_hubspot=True), woo_at=LATE, hub_at=EARLY)
    assert (decision.target, decision.value) == ("hubspot", None)
    assert decision.conflict == Conflict("phone", None, "h", LATE, EARLY, "woocommerce", "latest")


def test_a_kept_value_reads_the_same_next_run() -> None:
    """After HubSpot cleared the phone (not written), the new base keeps the next run from reading the
    customer's unchanged phone as a WooCommerce change to push back to HubSpot."""
    first = decide({"phone": "1"}, {"phone": None}, {"phone": "1"}, woocommerce_modified_at=EARLY,
                   hubspot_modified_at=LATE, policies=DEFAULT)
    base = conflicts.new_base(first)
    again = decide({"phone": "1"}, {"phone": None}, base, woocommerce_modified_at=EARLY, hubspot_modified_at=LATE,
                   policies=DEFAULT)
    assert conflicts.writes_to(again, "hubspot") == conflicts.writes_to(again, "woocommerce") == {}


# -- many fields --------------------------------------------------------------------------------------------


def test_decisions_cover_every_field_in_policy_order() -> None:
    policies = {"email": FieldPolicy(), "phone": FieldPolicy(owner="hubspot"), "city": FieldPolicy()}
    woo = {"email": "a@b.c", "phone": "w", "city": "Boston", "zip": "1"}
    hub = {"email": "a@b.c", "phone": "h", "city": "Cambridge", "zip": "2"}
    base = {"email": "a@b.c", "phone": "old", "city": "Boston", "zip": "1"}
    decisions = decide(woo, hub, base, woocommerce_modified_at=datetime(2026, 12, 1, 12, tzinfo=UTC),
                       hubspot_modified_at=datetime(2026, 12, 1, 8, tzinfo=timezone(timedelta(hours=-5))),
                       policies=policies)
    assert [d.field for d in decisions] == ["email", "phone", "city", "zip"]
    assert conflicts.writes_to(decisions, "woocommerce") == {"phone": "h", "city": "Cambridge", "zip": "2"}
    assert conflicts.writes_to(decisions, "hubspot") == {}
    assert conflicts.new_base(decisions) == {"email": "a@b.c", "phone": "h", "city": "Cambridge", "zip": "2"}
    [conflict] = [d.conflict for d in decisions if d.conflict]
    assert conflict.hubspot_modified_at == datetime(2026, 12, 1, 13)  # aware times become naive UTC


def test_aware_times_are_compared_in_utc() -> None:
    woo_at = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    hub_at = datetime(2026, 12, 1, 8, tzinfo=timezone(timedelta(hours=-5)))  # 13:00 UTC: later
    assert one("w", "h", woo_at=woo_at, hub_at=hub_at).conflict.winner == "hubspot"


def test_policies_come_from_the_mapping() -> None:
    from woohub.mapping.hubspot_to_woocommerce import packaged_mapping

    policies = conflicts.policies_from_mapping(packaged_mapping())
    assert policies == conflicts.policies_from_mapping()
    assert policies["email"] == FieldPolicy()
    assert "company" not in policies


def test_an_email_conflict_names_the_address_not_written() -> None:
    conflict = conflicts.email_conflict({"customer_id": 2, "email": "taken@example.com", "other_customer_id": 3,
                                         "source_key": "customer:2", "message": "..."},
                                        woocommerce_email="alice@example.com")
    assert conflict == Conflict("email", "alice@example.com", "taken@example.com", None, None, "woocommerce",
                                "email_taken")


# -- the staging database -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with migrated_staging(request.param, tmp_path, "woohub_conflicts") as (migrated, _):
        yield migrated


CONFLICT = Conflict("phone", "w", "h", EARLY, datetime(2026, 12, 1, 11, tzinfo=UTC), "hubspot", "latest")


def record(engine: Engine, run_id: str, found: list[Conflict], dag_id: str = "hubspot_to_woocommerce") -> int:
    return conflicts.record_conflicts(engine, run_id=run_id, dag_id=dag_id, object_type="contact",
                                      woocommerce_key="customer:2", hubspot_id="501", conflicts=found)


def test_a_conflict_is_recorded_once_however_many_runs_see_it(engine: Engine) -> None:
    assert record(engine, "run-1", [CONFLICT, CONFLICT]) == 1
    assert record(engine, "run-2", [CONFLICT]) == 0
    assert record(engine, "run-3", [CONFLICT], dag_id="woocommerce_to_hubspot") == 0  # the other DAG too
    changed = Conflict("phone", "w", "h2", EARLY, LATE, "hubspot", "latest")
    assert record(engine, "run-3", [CONFLICT, changed]) == 1
    rows = conflicts.conflict_rows(engine)
    assert [(r["run_id"], r["hubspot_value"]) for r in rows] == [("run-1", "h"), ("run-3", "h2")]
    first = rows[0]
    assert {k: first[k] for k in ("dag_id", "object_type", "woocommerce_key", "hubspot_id", "field",
                                  "woocommerce_value", "winner", "policy")} == {
        "dag_id": "hubspot_to_woocommerce", "object_type": "contact", "woocommerce_key": "customer:2",
        "hubspot_id": "501", "field": "phone", "woocommerce_value": "w", "winner": "hubspot", "policy": "latest"}
    assert (first["woocommerce_modified_at"], first["hubspot_modified_at"]) == (EARLY, LATE)
    assert len(first["conflict_key"]) == 64
    assert [r["hubspot_value"] for r in conflicts.conflict_rows(engine, run_id="run-3")] == ["h2"]
    assert conflicts.conflict_rows(engine, run_id="run-2") == []


def test_the_same_values_on_another_pair_are_another_conflict(engine: Engine) -> None:
    assert record(engine, "run-1", [CONFLICT]) == 1
    assert conflicts.record_conflicts(engine, run_id="run-1", dag_id="d", object_type="contact",
                                      woocommerce_key="customer:3", hubspot_id="502", conflicts=[CONFLICT]) == 1
    assert record(engine, "run-1", []) == 0


def test_bases_merge_into_synced_fields_and_leave_the_link_alone(engine: Engine) -> None:
    save_id_map(engine, "contact", [{"source_key": "customer:2", "hubspot_id": "501", "content_hash": "h-hub"}],
                "run-0")
    save_id_map(engine, "contact", [{"source_key": "customer:2", "hubspot_id": "501", "content_hash": "h-woo"}],
                "run-0", side="woocommerce")
    assert conflicts.base_values(engine, "contact", ["customer:2"]) == {}  # linked, never compared yet
    assert conflicts.save_base_values(engine, "contact", {"customer:2": {"email": "a@b.c", "phone": "1"}}) == 1
    assert conflicts.save_base_values(engine, "contact", {"customer:2": {"phone": "2", "city": None}}) == 1
    assert conflicts.base_values(engine, "contact", ["customer:2", "customer:9"]) == {
        "customer:2": {"email": "a@b.c", "phone": "2", "city": None}}
    assert id_map_rows(engine, "contact", ["customer:2"]) == {"customer:2": {"hubspot_id": "501",
                                                                              "content_hash": "h-hub"}}
    assert id_map_rows(engine, "contact", ["customer:2"], side="woocommerce")["customer:2"]["content_hash"] == "h-woo"
    save_id_map(engine, "contact", [{"source_key": "customer:2", "hubspot_id": "501", "content_hash": "h-3"}],
                "run-1")
    assert conflicts.base_values(engine, "contact", ["customer:2"])["customer:2"]["phone"] == "2"  # kept


def test_a_base_needs_a_link(engine: Engine) -> None:
    assert conflicts.save_base_values(engine, "contact", {"customer:7": {"phone": "1"}}) == 0
    assert conflicts.base_values(engine, "contact", ["customer:7"]) == {}
    assert conflicts.save_base_values(engine, "contact", {"customer:7": {"phone": "1"}},
                                      hubspot_ids={"customer:7": "507"}) == 1
    assert conflicts.base_values(engine, "contact", ["customer:7"]) == {"customer:7": {"phone": "1"}}
    with engine.connect() as connection:
        row = connection.execute(select(id_map).where(id_map.c.woocommerce_key == "customer:7")).one()
    assert (row.object_type, row.hubspot_id, row.hubspot_hash, row.woocommerce_hash) == ("contact", "507", None, None)
    save_id_map(engine, "contact", [{"source_key": "customer:7", "hubspot_id": "507", "content_hash": "h"}], "run-1")
    assert conflicts.base_values(engine, "contact", ["customer:7"]) == {"customer:7": {"phone": "1"}}


def test_bases_are_kept_per_object_type(engine: Engine) -> None:
    for object_type in ("contact", "deal"):
        save_id_map(engine, object_type, [{"source_key": "2", "hubspot_id": "1", "content_hash": None}], "run-0")
    conflicts.save_base_values(engine, "deal", {"2": {"amount": "10.00"}})
    assert conflicts.base_values(engine, "contact", ["2"]) == {}
    assert conflicts.base_values(engine, "deal", ["2"]) == {"2": {"amount": "10.00"}}
