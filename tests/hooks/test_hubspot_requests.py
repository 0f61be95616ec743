"""Request-level tests of HubSpotHook: one request's handling each (requests_mock, no sandbox)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.hooks.conftest import MakeConnection
from tests.hooks.policies import FAST_RETRIES
from woohub.http import AmbiguousWriteError, DailyLimitError, FatalHTTPError, RetryableHTTPError, RetryPolicy
from woohub.hubspot import HubSpotHook

BASE = "https://api.hubapi.test"
CONTACTS = f"{BASE}/crm/v3/objects/contacts"


@pytest.fixture
def hook(make_connection: MakeConnection) -> HubSpotHook:
    conn_id = make_connection("hs_unit", host="api.hubapi.test", schema="https", password="pat-secret-token",
                              extra={"timeout": [3, 7], "rate_limits_enabled": False})
    return HubSpotHook(conn_id, retry_policy=FAST_RETRIES)


@pytest.fixture
def oauth_hook(make_connection: MakeConnection) -> HubSpotHook:
    conn_id = make_connection(
        "hs_oauth_unit", host="api.hubapi.test", schema="https", password="client-secret-xyz",
        extra={"auth_type": "oauth2", "client_id": "cid", "refresh_token": "refresh-one", "rate_limits_enabled": False},
    )
    return HubSpotHook(conn_id, retry_policy=FAST_RETRIES)


def _token_response(access: str, refresh: str, expires_in: int = 1800) -> dict:
    return {"json": {"access_token": access, "refresh_token": refresh, "expires_in": expires_in,
                     "token_type": "bearer", "token_use": "access_token"}}


def test_private_app_token_is_sent_as_bearer_with_explicit_timeouts(hook, requests_mock) -> None:
    requests_mock.get(CONTACTS, json={"results": [{"id": "1"}]})
    records = list(hook.iter_objects("contacts", properties=["email"]))
    sent = requests_mock.request_history[0]
    assert records == [{"id": "1"}]
    assert sent.headers["Authorization"] == "Bearer pat-secret-token"
    assert sent.timeout == (3.0, 7.0)
    assert sent.qs == {"limit": ["100"], "archived": ["false"], "properties": ["email"]}
    assert hook.api_calls == {"GET /crm/v3/objects/contacts": 1}


def test_retry_after_is_honoured_and_each_failed_attempt_logged(hook, requests_mock, sleeps, captured_logs) -> None:
    limited = {"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
               "correlationId": "corr-429", "policyName": "TEN_SECONDLY_ROLLING"}
    requests_mock.get(CONTACTS, [{"status_code": 429, "json": limited, "headers": {"Retry-After": "2"}},
                                 {"json": {"results": []}}])
    assert list(hook.iter_objects("contacts")) == []
    logs = captured_logs()
    assert sleeps == [2.0]
    assert "GET /crm/v3/objects/contacts failed: status=429 vendor_error_id=corr-429" in logs
    assert "category=TEN_SECONDLY_ROLLING attempt=1" in logs and "retrying in 2.00 s" in logs


def test_validation_error_is_not_retried_and_carries_vendor_ids(hook, requests_mock) -> None:
    body = {"status": "error", "message": "Property values were not valid", "correlationId": "corr-400",
            "category": "VALIDATION_ERROR"}
    requests_mock.post(f"{CONTACTS}/batch/read", status_code=400, json=body)
    with pytest.raises(FatalHTTPError) as caught:
        hook.batch_read("contacts", ["1"])
    assert (caught.value.status, caught.value.error_id, caught.value.category) == (400, "corr-400", "VALIDATION_ERROR")
    assert requests_mock.call_count == 1


def test_daily_limit_is_not_retried(hook, requests_mock) -> None:
    requests_mock.get(CONTACTS, status_code=429, json={"policyName": "DAILY", "message": "daily limit"})
    with pytest.raises(DailyLimitError):
        list(hook.iter_objects("contacts"))
    assert requests_mock.call_count == 1


def test_server_errors_and_dropped_connections_are_retried_for_idempotent_calls(hook, requests_mock, sleeps) -> None:
    requests_mock.post(f"{CONTACTS}/batch/upsert", [
        {"status_code": 502, "text": "bad gateway"},
        {"exc": requests.exceptions.ConnectionError("Connection aborted.")},
        {"json": {"status": "COMPLETE", "results": [{"id": "9", "new": True, "properties": {"email": "a@x.io"}}]}},
    ])
    outcomes = hook.batch_upsert("contacts", "email", [{"email": "a@x.io"}])
    assert [(o.key, o.ok, o.id, o.created) for o in outcomes] == [("a@x.io", True, "9", True)]
    assert requests_mock.call_count == 3 and len(sleeps) == 2


def test_create_is_not_retried_after_an_ambiguous_failure(hook, requests_mock) -> None:
    requests_mock.post(f"{CONTACTS}/batch/create", status_code=500, json={"message": "internal"})
    outcomes = hook.batch_create("contacts", [{"email": "a@x.io"}, {"email": "b@x.io"}])
    assert [o.error_code for o in outcomes] == ["AMBIGUOUS_WRITE", "AMBIGUOUS_WRITE"]
    assert requests_mock.call_count == 1
    requests_mock.post(CONTACTS, exc=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(AmbiguousWriteError):
        hook.request("POST", "/crm/v3/objects/contacts", json={"properties": {}})


def test_create_is_retried_when_rejected_before_processing(hook, requests_mock, sleeps) -> None:
    def created(request, context):
        trace = request.json()["inputs"][0]["objectWriteTraceId"]
        context.status_code = 201
        return {"status": "COMPLETE", "results": [{"id": "5", "properties": {}, "objectWriteTraceId": trace}]}
    requests_mock.post(f"{CONTACTS}/batch/create", [
        {"status_code": 429, "json": {"policyName": "TEN_SECONDLY_ROLLING"}}, {"json": created}])
    outcomes = hook.batch_create("contacts", [{"email": "a@x.io"}])
    assert [(o.key, o.ok, o.id, o.created) for o in outcomes] == [("0", True, "5", True)]


def test_batch_create_207_maps_failures_by_object_write_trace_id(hook, requests_mock) -> None:
    def answer(request, context):
        traces = [i["objectWriteTraceId"] for i in request.json()["inputs"]]
        context.status_code = 207
        return {"status": "COMPLETE", "numErrors": 1,  # results in another order than the inputs
                "results": [{"id": "13", "properties": {"woo_id": "c"}, "objectWriteTraceId": traces[2]},
                            {"id": "11", "properties": {"woo_id": "a"}, "objectWriteTraceId": traces[0]}],
                "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "bad email",
                            "context": {"objectWriteTraceId": [traces[1]]}}]}
    requests_mock.post(f"{CONTACTS}/batch/create", json=answer)
    outcomes = hook.batch_create("contacts", [{"woo_id": k} for k in "abc"], key_property="woo_id")
    assert [(o.key, o.ok, o.id, o.error_code) for o in outcomes] == [
        ("a", True, "11", None), ("b", False, None, "VALIDATION_ERROR"), ("c", True, "13", None)]


def test_batches_are_chunked_to_100(hook, requests_mock) -> None:
    requests_mock.post(f"{CONTACTS}/batch/archive", status_code=204)
    outcomes = hook.batch_archive("contacts", [str(n) for n in range(250)])
    assert [len(r.json()["inputs"]) for r in requests_mock.request_history] == [100, 100, 50]
    assert len(outcomes) == 250 and all(o.ok for o in outcomes)


def test_retries_stop_at_max_attempts(make_connection: MakeConnection, requests_mock, sleeps) -> None:
    conn_id = make_connection("hs_attempts", host="api.hubapi.test", schema="https", password="tok-12345",
                              extra={"max_attempts": 3, "backoff_initial_seconds": 0.01, "rate_limits_enabled": False})
    hook = HubSpotHook(conn_id)
    requests_mock.get(CONTACTS, status_code=503, json={"message": "unavailable"})
    with pytest.raises(RetryableHTTPError):  # re-raised after the last attempt
        list(hook.iter_objects("contacts"))
    assert requests_mock.call_count == 3 == hook.retry_policy.max_attempts
    assert isinstance(hook.retry_policy, RetryPolicy)


def test_oauth_refreshes_once_on_401_and_follows_rotation_without_logging_secrets(
    oauth_hook, requests_mock, captured_logs
) -> None:
    token = requests_mock.post(f"{BASE}/oauth/v1/token", [_token_response("access-one", "refresh-two"),
                                                          _token_response("access-two", "refresh-three")])
    requests_mock.get(CONTACTS, [{"status_code": 401, "json": {"category": "INVALID_AUTHENTICATION",
                                                               "correlationId": "c-401"}},
                                 {"json": {"results": [{"id": "1"}]}}])
    assert list(oauth_hook.iter_objects("contacts")) == [{"id": "1"}]
    logs = captured_logs()
    forms = [r.text for r in token.request_history]
    assert "refresh_token=refresh-one" in forms[0] and "refresh_token=refresh-two" in forms[1]
    assert requests_mock.request_history[-1].headers["Authorization"] == "Bearer access-two"
    assert oauth_hook.api_calls["POST /oauth/v1/token"] == 2
    assert "kept in memory only" in logs and "status=401 vendor_error_id=c-401" not in logs
    for secret in ("client-secret-xyz", "refresh-one", "refresh-two", "refresh-three", "access-one", "access-two"):
        assert secret not in logs
        assert secret not in repr(oauth_hook) and secret not in repr(oauth_hook.token_source)


def test_oauth_refreshes_before_expiry(oauth_hook, requests_mock) -> None:
    token = requests_mock.post(f"{BASE}/oauth/v1/token", [_token_response("a1", "refresh-one", expires_in=1),
                                                          _token_response("a2", "refresh-one", expires_in=1)])
    requests_mock.get(CONTACTS, json={"results": []})
    list(oauth_hook.iter_objects("contacts"))
    list(oauth_hook.iter_objects("contacts"))  # same token while far from expiry
    time.sleep(0.6)  # the margin is capped at half the lifetime: refreshed 0.5 s before the 1 s expiry
    list(oauth_hook.iter_objects("contacts"))
    assert token.call_count == 2
    assert [r.headers["Authorization"] for r in requests_mock.request_history if "crm" in r.url] == [
        "Bearer a1", "Bearer a1", "Bearer a2"]
