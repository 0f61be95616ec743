"""HubSpot sandbox: private-app token, OAuth refresh (expiry, rotation) and 401/400 bodies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox._hubspot import HubSpot, assert_error, assert_schema, empty_portal

FORM = {"grant_type": "refresh_token", "client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret",
        "refresh_token": "sandbox-refresh-token"}


@pytest.fixture
def hs(sandbox: Any) -> Iterator[HubSpot]:
    yield from empty_portal(sandbox)


def _refresh(hs: HubSpot, path: str = "/oauth/v1/token", **overrides: str) -> Any:
    return HubSpot(hs.base_url, token=None).request("POST", path, data={**FORM, **overrides})


def test_missing_and_invalid_tokens_are_401(hs: HubSpot) -> None:
    anonymous = HubSpot(hs.base_url, token=None)
    body = assert_error(anonymous.get("/crm/v3/objects/contacts"), 401, "INVALID_AUTHENTICATION")
    assert "Authentication credentials not found" in body["message"]
    assert_error(HubSpot(hs.base_url, token="wrong").get("/crm/v3/objects/contacts"), 401, "INVALID_AUTHENTICATION")
    assert hs.get("/crm/v3/objects/contacts").status_code == 200


def test_refresh_gives_an_access_token_that_works(hs: HubSpot) -> None:
    for path in ("/oauth/v1/token", "/oauth/v3/token"):
        response = _refresh(hs, path)
        assert response.status_code == 200
        token = response.json()
        assert_schema(token, "AccessTokenResponse")
        assert token["token_type"] == "bearer" and token["token_use"] == "access_token"
        assert token["expires_in"] == 1800 and token["refresh_token"] == "sandbox-refresh-token"
        assert isinstance(token["hub_id"], int) and token["scopes"]
        oauth = HubSpot(hs.base_url, token=token["access_token"])
        listed = oauth.get("/crm/v3/objects/deals")
        assert listed.status_code == 200
        assert "X-HubSpot-RateLimit-Max" in listed.headers
        assert "X-HubSpot-RateLimit-Daily" not in listed.headers  # not sent on OAuth calls


def test_bad_refresh_requests_are_400_with_oauth_bodies(hs: HubSpot) -> None:
    for overrides, code in (({"refresh_token": "nope"}, "BAD_REFRESH_TOKEN"), ({"client_id": "x"}, "BAD_CLIENT_ID"),
                            ({"client_secret": "x"}, "BAD_CLIENT_SECRET"), ({"grant_type": "magic"}, "BAD_GRANT_TYPE")):
        response = _refresh(hs, **overrides)
        assert response.status_code == 400
        body = response.json()
        assert body["status"] == code and body["message"] and body["correlationId"]


def test_access_tokens_expire(sandbox: Any, hs: HubSpot) -> None:
    sandbox.hubspot.configure(access_token_ttl_seconds=1)
    token = _refresh(hs).json()
    assert token["expires_in"] == 1
    oauth = HubSpot(hs.base_url, token=token["access_token"])
    assert oauth.get("/crm/v3/objects/contacts").status_code == 200
    time.sleep(1.1)
    body = assert_error(oauth.get("/crm/v3/objects/contacts"), 401, "EXPIRED_AUTHENTICATION")
    assert "expired" in body["message"]
    fresh = _refresh(hs).json()["access_token"]  # the refresh token still works
    assert HubSpot(hs.base_url, token=fresh).get("/crm/v3/objects/contacts").status_code == 200


def test_refresh_token_rotation_is_opt_in(sandbox: Any, hs: HubSpot) -> None:
    assert _refresh(hs).json()["refresh_token"] == _refresh(hs).json()["refresh_token"]
    sandbox.hubspot.configure(rotate_refresh_tokens=True)
    rotated = _refresh(hs).json()["refresh_token"]
    assert rotated != "sandbox-refresh-token"
    assert _refresh(hs).json()["status"] == "BAD_REFRESH_TOKEN"  # the old one is gone
    again = _refresh(hs, refresh_token=rotated)
    assert again.status_code == 200 and again.json()["refresh_token"] != rotated
    assert _refresh(hs, refresh_token=rotated).status_code == 400


def test_token_info_endpoints(hs: HubSpot) -> None:
    token = _refresh(hs).json()["access_token"]
    anonymous = HubSpot(hs.base_url, token=None)
    info = anonymous.get(f"/oauth/v1/access-tokens/{token}").json()
    assert info["token"] == token and info["hub_id"] and info["expires_in"] > 0
    assert anonymous.get("/oauth/v1/refresh-tokens/sandbox-refresh-token").json()["client_id"] == "sandbox-client-id"
    assert anonymous.get("/oauth/v1/access-tokens/nope").status_code == 404
