"""HubSpotHook against the HubSpot sandbox process: paging, search past 10k, batch outcomes, OAuth, faults
and the client-side rate limiter. Every test compares what the hook reports with the sandbox's own state."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Sandbox
from tests.hooks.conftest import MakeConnection
from tests.hooks.policies import FAST_RETRIES, FAULT_RETRIES
from woohub.http import AuthenticationError, RetryPolicy
from woohub.hubspot import HubSpotHook

UNIQUE_PROPERTY = {"name": "woo_customer_id", "label": "WooCommerce customer ID", "type": "string",
                   "fieldType": "text", "groupName": "contactinformation", "hasUniqueValue": True}


def _hook(make_connection: MakeConnection, sandbox: Sandbox, conn_id: str, *, password: str = "sandbox-token",
          retry_policy: RetryPolicy = FAST_RETRIES, **extra: Any) -> HubSpotHook:
    make_connection(conn_id, host=sandbox.hubspot_url, password=password, extra=extra)
    return HubSpotHook(conn_id, retry_policy=retry_policy)


def _stored(sandbox: Sandbox, object_type: str) -> list[dict[str, Any]]:
    return sandbox.hubspot.state()["portal"]["records"].get(object_type, [])


def _live(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if not r.get("archived")]


@pytest.fixture
def fast_sandbox(empty_sandbox: Sandbox) -> Sandbox:
    """Empty portal, searchable at once, no server-side rate limits."""
    empty_sandbox.hubspot.configure(rate_limits_enabled=False, search_index_delay_seconds=0)
    return empty_sandbox


def test_iter_objects_pages_every_record_of_a_seeded_portal_once(sandbox: Sandbox) -> None:
    sandbox.hubspot.reset(customers=600, products=150, orders=400)
    sandbox.hubspot.configure(rate_limits_enabled=False)
    hook = HubSpotHook()  # the session's hubspot_default connection
    for object_type in ("contacts", "deals", "products"):
        ids = [r["id"] for r in hook.iter_objects(object_type, properties=["email"])]
        expected = {str(r["id"]) for r in _live(_stored(sandbox, object_type))}
        assert len(ids) == len(set(ids)) == len(expected) > 0
        assert set(ids) == expected
        assert hook.api_calls[f"GET /crm/v3/objects/{object_type}"] == len(ids) // 100 + 1


def test_search_all_and_iter_modified_since_go_past_the_10k_cap(fast_sandbox: Sandbox,
                                                                 make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, fast_sandbox, "hs_bulk", rate_limits_enabled=False)
    start = datetime.now(UTC) - timedelta(seconds=5)
    outcomes = hook.batch_create("contacts", [{"email": f"bulk{n}@example.com"} for n in range(10_250)])
    assert sum(o.ok for o in outcomes) == 10_250
    capped = list(hook.search("contacts", properties=["email"]))
    assert len(capped) == 10_000  # HubSpot's cap for one query
    by_id = [r["id"] for r in hook.search_all("contacts", properties=["email"])]
    by_modified = [r["id"] for r in hook.iter_modified_since("contacts", start)]
    for ids in (by_id, by_modified):
        assert len(ids) == len(set(ids)) == 10_250
    assert {r["properties"]["email"] for r in capped} < {f"bulk{n}@example.com" for n in range(10_250)}


def test_batch_upsert_reports_partial_failures_and_writes_the_rest_once(fast_sandbox: Sandbox,
                                                                        make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, fast_sandbox, "hs_upsert")
    assert hook.ensure_property("contacts", UNIQUE_PROPERTY) is True
    assert hook.ensure_property("contacts", UNIQUE_PROPERTY) is False
    records = [{"woo_customer_id": f"w{n}", "email": f"u{n}@example.com"} for n in range(150)]
    records[7]["no_such_property"] = "x"
    records[120]["no_such_property"] = "x"
    outcomes = hook.batch_upsert("contacts", "woo_customer_id", records)
    assert [o.key for o in outcomes if not o.ok] == ["w7", "w120"]
    assert all(o.created for o in outcomes if o.ok)
    again = hook.batch_upsert("contacts", "woo_customer_id", [{"woo_customer_id": "w1", "firstname": "Ann"}])
    assert (again[0].ok, again[0].created) == (True, False)
    stored = {r["properties"]["woo_customer_id"] for r in _stored(fast_sandbox, "contacts")}
    assert stored == {f"w{n}" for n in range(150)} - {"w7", "w120"}


def test_batch_create_207_names_the_failed_inputs(fast_sandbox: Sandbox, make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, fast_sandbox, "hs_create")
    records = [{"email": f"c{n}@example.com"} for n in range(120)]
    records[3] = {"email": "c3@example.com", "no_such_property": "x"}
    outcomes = hook.batch_create("contacts", records, key_property="email")
    assert [o.key for o in outcomes if not o.ok] == ["c3@example.com"]
    stored_ids = {str(r["id"]) for r in _stored(fast_sandbox, "contacts")}
    assert {o.id for o in outcomes if o.ok} == stored_ids and len(stored_ids) == 119


def _oauth_hook(make_connection: MakeConnection, sandbox: Sandbox, conn_id: str, **extra: Any) -> HubSpotHook:
    return _hook(make_connection, sandbox, conn_id, password="sandbox-client-secret", auth_type="oauth2",
                 client_id="sandbox-client-id", refresh_token="sandbox-refresh-token", **extra)


def test_oauth_refreshes_before_expiry_and_follows_rotation(sandbox: Sandbox, make_connection: MakeConnection) -> None:
    sandbox.hubspot.reset(empty=True)
    sandbox.hubspot.configure(access_token_ttl_seconds=1, rotate_refresh_tokens=True)
    hook = _oauth_hook(make_connection, sandbox, "hs_oauth")
    list(hook.iter_objects("contacts"))
    time.sleep(0.6)  # the margin is capped at half the 1 s lifetime: refreshed before sending
    list(hook.iter_objects("contacts"))
    assert hook.token_source is not None and hook.token_source.refreshes == 2
    assert hook.api_calls["GET /crm/v3/objects/contacts"] == 2  # no 401 needed
    stale = _oauth_hook(make_connection, sandbox, "hs_oauth_stale")
    with pytest.raises(AuthenticationError):  # the original refresh token was rotated away
        list(stale.iter_objects("contacts"))


def test_oauth_refreshes_once_after_a_401(sandbox: Sandbox, make_connection: MakeConnection) -> None:
    sandbox.hubspot.reset(empty=True)
    sandbox.hubspot.configure(access_token_ttl_seconds=1, rotate_refresh_tokens=True)
    # a negative margin keeps using the token past its expiry, so the sandbox's 401 triggers the refresh
    hook = _oauth_hook(make_connection, sandbox, "hs_oauth_401", token_refresh_margin_seconds=-5)
    list(hook.iter_objects("contacts"))
    time.sleep(1.2)
    list(hook.iter_objects("contacts"))
    assert hook.token_source is not None and hook.token_source.refreshes == 2
    assert hook.api_calls["GET /crm/v3/objects/contacts"] == 3  # two calls, one resent after the 401
    assert hook.extra["refresh_token"] != "sandbox-refresh-token"  # the rotated token is the one kept


def test_a_429_storm_loses_and_duplicates_nothing(fast_sandbox: Sandbox, make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, fast_sandbox, "hs_storm", retry_policy=FAULT_RETRIES)
    hook.ensure_property("contacts", UNIQUE_PROPERTY)
    fast_sandbox.hubspot.stats(reset=True)
    fast_sandbox.hubspot.set_faults({"kind": "status", "status": 429, "rate": 0.3, "path": "/crm/v3/objects",
                                     "seed": 1, "retry_after": 0.01})
    records = [{"woo_customer_id": f"s{n}", "email": f"s{n}@example.com"} for n in range(600)]
    outcomes = hook.batch_upsert("contacts", "woo_customer_id", records)
    listed = [r["properties"]["woo_customer_id"] for r in hook.iter_objects("contacts", properties=["woo_customer_id"])]
    stats = fast_sandbox.hubspot.stats()
    assert stats["statuses"].get("429", 0) >= 2 and all(o.ok for o in outcomes)
    assert sorted(listed) == sorted(r["woo_customer_id"] for r in records)


def test_5xx_drops_and_slow_responses_lose_and_duplicate_nothing(fast_sandbox: Sandbox,
                                                                 make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, fast_sandbox, "hs_faults", retry_policy=FAULT_RETRIES, timeout=[2, 0.4])
    hook.ensure_property("contacts", UNIQUE_PROPERTY)
    fast_sandbox.hubspot.set_faults(
        {"kind": "status", "status": 503, "rate": 0.2, "path": "/batch/upsert", "seed": 2},
        {"kind": "drop", "rate": 0.25, "path": "/batch/upsert", "seed": 3},
        {"kind": "slow", "delay_seconds": 0.8, "count": 2, "path": "/crm/v3/objects/contacts$", "method": "GET"},
    )
    records = [{"woo_customer_id": f"f{n}", "email": f"f{n}@example.com"} for n in range(500)]
    outcomes = hook.batch_upsert("contacts", "woo_customer_id", records)
    listed = [r["id"] for r in hook.iter_objects("contacts")]  # the first two pages time out and are retried
    faults = {(f["kind"], f["injected"]) for f in fast_sandbox.hubspot.stats()["faults"]}
    assert all(o.ok for o in outcomes) and ("slow", 2) in faults
    assert all(injected > 0 for _kind, injected in faults)
    assert len(listed) == len(set(listed)) == 500 == len(_stored(fast_sandbox, "contacts"))


def test_creates_are_not_duplicated_by_dropped_connections(fast_sandbox: Sandbox,
                                                           make_connection: MakeConnection) -> None:
    hook = _hook(make_connection, fast_sandbox, "hs_drops", retry_policy=FAULT_RETRIES)
    fast_sandbox.hubspot.set_faults({"kind": "drop", "rate": 0.3, "path": "/batch/create", "seed": 4})
    records = [{"email": f"d{n}@example.com"} for n in range(1000)]
    outcomes = hook.batch_create("contacts", records, key_property="email")
    ambiguous = [o.key for o in outcomes if o.error_code == "AMBIGUOUS_WRITE"]
    assert ambiguous and len(ambiguous) + sum(o.ok for o in outcomes) == 1000
    stored = [r["properties"]["email"] for r in _stored(fast_sandbox, "contacts")]
    assert sorted(stored) == sorted(o.key for o in outcomes if o.ok)  # nothing written twice or unreported
    fast_sandbox.hubspot.clear_faults()  # the caller reconciles the ambiguous ones (here: they were not applied)
    retried = hook.batch_create("contacts", [{"email": key} for key in ambiguous], key_property="email")
    assert all(o.ok for o in retried)
    assert sorted(r["properties"]["email"] for r in _stored(fast_sandbox, "contacts")) == sorted(
        r["email"] for r in records)


def test_client_side_limiter_keeps_a_burst_under_the_server_limit(empty_sandbox: Sandbox,
                                                                  make_connection: MakeConnection) -> None:
    empty_sandbox.hubspot.configure(ten_second_limit=20, rate_limits_enabled=True)
    limited = _hook(make_connection, empty_sandbox, "hs_limited", ten_second_limit=20, rate_limit_margin=3)
    empty_sandbox.hubspot.stats(reset=True)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(lambda _: _try_list(limited), range(24)))
    stats = empty_sandbox.hubspot.stats()
    # >= : a request an earlier test timed out on (slow fault) may still land in this window
    assert stats["statuses"].get("429", 0) == 0 and stats["statuses"]["200"] >= 24
    assert limited.api_calls == {"GET /crm/v3/objects/contacts": 24}  # no call needed a retry
    assert time.monotonic() - started >= 9.0  # 17 calls per window: the last 7 waited for the next one


def _try_list(hook: HubSpotHook) -> bool:
    try:
        hook.request("GET", "/crm/v3/objects/contacts", params={"limit": 1})
    except Exception:  # noqa: BLE001 - the test counts failures
        return False
    return True
