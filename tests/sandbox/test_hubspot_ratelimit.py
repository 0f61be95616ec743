"""HubSpot sandbox: rate-limit headers, 429 bodies (ten-secondly, daily, search secondly), injected errors."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox._hubspot import HubSpot, empty_portal


@pytest.fixture
def hs(sandbox: Any) -> Iterator[HubSpot]:
    yield from empty_portal(sandbox)


def _assert_429(response: Any, policy: str, message: str) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == policy and body["message"] == message
    uuid.UUID(body["correlationId"])
    assert body["requestId"]


def test_headers_and_ten_second_limit(sandbox: Any, hs: HubSpot) -> None:
    sandbox.hubspot.configure(ten_second_limit=5)
    remaining = []
    for _ in range(5):
        response = hs.get("/crm/v3/objects/contacts")
        assert response.status_code == 200
        assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert response.headers["X-HubSpot-RateLimit-Max"] == "5"
        assert response.headers["X-HubSpot-RateLimit-Daily"] == "250000"
        remaining.append(int(response.headers["X-HubSpot-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    daily_left = int(response.headers["X-HubSpot-RateLimit-Daily-Remaining"])
    assert daily_left < 250000
    _assert_429(hs.get("/crm/v3/objects/contacts"), "TEN_SECONDLY_ROLLING",
                "You have reached your ten_secondly_rolling limit.")
    sandbox.hubspot.configure(rate_limits_enabled=False)
    assert hs.get("/crm/v3/objects/contacts").status_code == 200


def test_daily_limit(sandbox: Any, hs: HubSpot) -> None:
    used = 250000 - int(hs.get("/crm/v3/objects/contacts").headers["X-HubSpot-RateLimit-Daily-Remaining"])
    sandbox.hubspot.configure(daily_limit=used + 1)
    assert hs.get("/crm/v3/objects/contacts").status_code == 200
    _assert_429(hs.get("/crm/v3/objects/contacts"), "DAILY", "You have reached your daily limit.")


def test_search_has_its_own_secondly_limit_and_no_headers(sandbox: Any, hs: HubSpot) -> None:
    sandbox.hubspot.configure(search_per_second=5, ten_second_limit=3)
    time.sleep(1.0)  # let earlier searches leave the one-second window
    statuses = []
    for _ in range(6):
        response = hs.search("contacts", {})
        statuses.append(response.status_code)
        assert not [h for h in response.headers if h.lower().startswith("x-hubspot-ratelimit")]
    assert statuses == [200] * 5 + [429]
    _assert_429(hs.search("contacts", {}), "SECONDLY", "You have reached your secondly limit.")
    # searches do not use up the ten-second burst
    assert hs.get("/crm/v3/objects/contacts").headers["X-HubSpot-RateLimit-Remaining"] == "2"
    time.sleep(1.05)
    assert hs.search("contacts", {}).status_code == 200


def test_injected_faults_use_hubspot_bodies(sandbox: Any, hs: HubSpot) -> None:
    sandbox.hubspot.set_faults({"kind": "status", "status": 429, "count": 1, "path": "/crm/v3/objects"},
                               {"kind": "status", "status": 503, "retry_after": 2, "count": 1, "path": "/crm/"},
                               {"kind": "status", "status": 500, "count": 1, "path": "/crm/"})
    _assert_429(hs.get("/crm/v3/objects/deals"), "TEN_SECONDLY_ROLLING",
                "You have reached your ten_secondly_rolling limit.")
    unavailable = hs.get("/crm/v3/objects/deals")
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "2"
    assert unavailable.json()["category"] and uuid.UUID(unavailable.json()["correlationId"])
    failed = hs.get("/crm/v3/objects/deals")
    assert failed.status_code == 500 and "Retry-After" not in failed.headers
    assert failed.json()["status"] == "error"
    assert hs.get("/crm/v3/objects/deals").status_code == 200
