"""The HubSpot sandbox's Webhooks API v3 (developer key ``hapikey``) and its event deliveries to a real
receiver on 127.0.0.1: batching, v1/v3 signatures (recomputed here with :mod:`hashlib`/:mod:`hmac`), change
sources (the API vs a person in the UI) and retries with attemptNumber."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.sandbox._receiver import receiver

APP, KEY, CLIENT_SECRET = 1001, "sandbox-developer-key", "sandbox-client-secret"
BEARER = {"Authorization": "Bearer sandbox-token"}


def hooks(box: Any, method: str, path: str, body: Any = None, key: str | None = KEY) -> requests.Response:
    params = {"hapikey": key} if key else {}
    return requests.request(method, f"{box.hubspot_url}/webhooks/v3/{APP}/{path}", json=body, params=params,
                            timeout=30)


def crm(box: Any, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{box.hubspot_url}/crm/v3/objects/{path}", json=body, headers=BEARER,
                            timeout=30)


def subscribe(box: Any, target: str, *types: str) -> None:
    assert hooks(box, "PUT", "settings", {"targetUrl": target,
                                          "throttling": {"maxConcurrentRequests": 10}}).status_code == 200
    for spec in types:
        event_type, _, name = spec.partition(":")
        body = {"eventType": event_type, "active": True, **({"propertyName": name} if name else {})}
        assert hooks(box, "POST", "subscriptions", body).status_code == 201, spec


@pytest.fixture
def hs(empty_sandbox: Any) -> Iterator[Any]:
    empty_sandbox.hubspot.configure(webhook_batch_window_seconds=0.2, webhook_retry_base_seconds=0.05)
    yield empty_sandbox
    empty_sandbox.hubspot.reset(empty=True)  # drops the subscriptions and the settings


def test_settings_and_subscriptions_api(hs: Any) -> None:
    assert hooks(hs, "GET", "settings", key=None).status_code == 401
    wrong = hooks(hs, "GET", "settings", key="not-the-key")
    assert (wrong.status_code, wrong.json()["category"]) == (401, "INVALID_AUTHENTICATION")
    assert requests.get(f"{hs.hubspot_url}/webhooks/v3/999/settings", params={"hapikey": KEY},
                        timeout=30).status_code == 404
    assert hooks(hs, "GET", "settings").status_code == 404
    put = hooks(hs, "PUT", "settings", {"targetUrl": "https://example.test/hubspot"})
    assert put.status_code == 200 and put.json()["throttling"]["maxConcurrentRequests"] == 10
    assert hooks(hs, "GET", "settings").json()["targetUrl"] == "https://example.test/hubspot"

    assert hooks(hs, "POST", "subscriptions", {"eventType": "contact.propertyChange"}).status_code == 400
    assert hooks(hs, "POST", "subscriptions", {"eventType": "contact.propertyChange",
                                               "propertyName": "no_such_property"}).status_code == 400
    assert hooks(hs, "POST", "subscriptions", {"eventType": "contact.exploded"}).status_code == 400
    made = hooks(hs, "POST", "subscriptions", {"eventType": "deal.propertyChange", "propertyName": "dealstage"})
    assert made.status_code == 201
    sub = made.json()
    assert sub["active"] is False and sub["propertyName"] == "dealstage" and isinstance(sub["id"], str)
    assert hooks(hs, "POST", "subscriptions", {"eventType": "deal.propertyChange",
                                               "propertyName": "dealstage"}).status_code == 409
    other = hooks(hs, "POST", "subscriptions", {"eventType": "contact.creation", "active": True}).json()
    assert hooks(hs, "PATCH", f"subscriptions/{sub['id']}", {"active": True}).json()["active"] is True
    batch = hooks(hs, "POST", "subscriptions/batch/update",
                  {"inputs": [{"id": int(other["id"]), "active": False}, {"id": 999, "active": True}]})
    assert batch.status_code == 207 and batch.json()["results"][0]["active"] is False
    assert [s["eventType"] for s in hooks(hs, "GET", "subscriptions").json()["results"]] == [
        "deal.propertyChange", "contact.creation"]
    assert hooks(hs, "DELETE", f"subscriptions/{other['id']}").status_code == 204
    assert hooks(hs, "GET", f"subscriptions/{other['id']}").status_code == 404


def test_events_batched_signed_and_sourced(hs: Any) -> None:
    with receiver("/woohub/webhooks/hubspot?portal=1") as hook:
        # nothing subscribed yet: nothing delivered
        crm(hs, "POST", "contacts", {"properties": {"email": "early@example.test"}})
        subscribe(hs, hook.url, "contact.creation", "contact.propertyChange:email", "contact.deletion",
                  "deal.creation", "deal.propertyChange:dealstage")
        contact = crm(hs, "POST", "contacts", {"properties": {"email": "ann@example.test",
                                                              "firstname": "Ann"}}).json()
        crm(hs, "PATCH", f"contacts/{contact['id']}", {"properties": {"firstname": "Anne"}})  # not subscribed
        deal = crm(hs, "POST", "deals", {"properties": {"dealname": "D", "dealstage": "appointmentscheduled",
                                                        "pipeline": "default"}}).json()
        hs.hubspot.wait_for_webhook_deliveries(1)
        hs.hubspot.ui_edit("deals", {"dealstage": "closedwon"}, deal["id"])
        crm(hs, "DELETE", f"contacts/{contact['id']}")
        hs.hubspot.wait_for_webhook_deliveries(2)

    assert len(hook.requests) == 2  # each burst within the window came as one array
    for request in hook.requests:
        h = request.headers
        v3 = base64.b64encode(hmac.new(CLIENT_SECRET.encode(), b"POST" + hook.url.encode() + request.body
                                       + h["X-HubSpot-Request-Timestamp"].encode(), hashlib.sha256).digest())
        assert h["X-HubSpot-Signature-v3"] == v3.decode()
        assert h["X-HubSpot-Signature"] == hashlib.sha256(CLIENT_SECRET.encode() + request.body).hexdigest()
        assert h["X-HubSpot-Signature-Version"] == "v1" and h["Content-Type"] == "application/json"
    first, second = (json.loads(r.body) for r in hook.requests)
    kinds = sorted((e["subscriptionType"], e.get("propertyName")) for e in first)
    assert kinds == [("contact.creation", None), ("contact.propertyChange", "email"), ("deal.creation", None),
                     ("deal.propertyChange", "dealstage")]
    for event in first:
        assert {"eventId", "subscriptionId", "portalId", "occurredAt", "objectId"} <= set(event)
        assert (event["appId"], event["attemptNumber"]) == (APP, 0)
        assert (event["changeSource"], event["sourceId"]) == ("INTEGRATION", "2002")  # the private app
    email = next(e for e in first if e.get("propertyName") == "email")
    assert (email["objectId"], email["propertyValue"]) == (int(contact["id"]), "ann@example.test")
    ui, deletion = sorted(second, key=lambda e: e["subscriptionType"], reverse=True)
    assert (ui["propertyValue"], ui["changeSource"], ui["sourceId"]) == ("closedwon", "CRM_UI", "userId:1")
    assert (deletion["subscriptionType"], deletion["changeFlag"]) == ("contact.deletion", "DELETED")


def test_failed_deliveries_retried_and_large_bursts_split(hs: Any) -> None:
    with receiver() as hook:
        subscribe(hs, hook.url, "contact.creation")
        hook.statuses = [500, 503]
        crm(hs, "POST", "contacts", {"properties": {"email": "retry@example.test"}})
        log = hs.hubspot.wait_for_webhook_deliveries(3)
        assert [(d["attempt"], d["status_code"], d["will_retry"]) for d in log] == [
            (0, 500, True), (1, 503, True), (2, 200, False)]
        attempts = [json.loads(r.body)[0] for r in hook.requests]
        assert [a["attemptNumber"] for a in attempts] == [0, 1, 2]
        assert len({a["eventId"] for a in attempts}) == 1

        hs.hubspot.clear_webhook_deliveries()
        hook.requests.clear()
        hook.statuses = [400]  # a 4xx other than 429 is not retried
        crm(hs, "POST", "contacts", {"properties": {"email": "dropped@example.test"}})
        assert [d["will_retry"] for d in hs.hubspot.wait_for_webhook_deliveries(1)] == [False]

        hs.hubspot.configure(webhook_batch_window_seconds=0.5)
        hs.hubspot.clear_webhook_deliveries()
        hook.requests.clear()
        for chunk in range(2):
            inputs = [{"properties": {"email": f"c{chunk}-{n}@example.test"}} for n in range(75)]
            assert crm(hs, "POST", "contacts/batch/create", {"inputs": inputs}).status_code == 201
        hs.hubspot.wait_for_webhook_deliveries(2)
        assert sorted(len(json.loads(r.body)) for r in hook.requests) == [50, 100]
