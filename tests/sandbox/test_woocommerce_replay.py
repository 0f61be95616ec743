"""Fidelity replay: the 133 requests recorded from a real WooCommerce 11.0.1 store, replayed in order against
an empty sandbox whose clock is frozen to each recorded moment, compared on status, paging headers, body shape
(key sets and JSON types, recursively) and the quirk each recording documents."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "woocommerce-11.0.1"
RECORDINGS = sorted(FIXTURES.glob("[0-9][0-9][0-9]-*.json"))
# Out of scope, not emulated (store configuration the sync never reads; the capture trimmed system_status).
# They are left out of the replay below, and the test after it pins that nothing else is.
NOT_EMULATED = {
    "119-system-status-filtered": "system_status is not emulated (and the capture trimmed the body)",
    "120-data-currencies-current": "/data/currencies is not emulated",
    "121-settings-general": "/settings is not emulated",
}
ID_KEYS = {"id", "product_id", "variation_id", "customer_id", "resource_id", "parent_id"}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def shape_diff(expected: Any, actual: Any, path: str = "$") -> list[str]:
    if _kind(expected) != _kind(actual):
        return [f"{path}: {_kind(expected)} != {_kind(actual)} ({expected!r} vs {actual!r})"]
    out: list[str] = []
    if isinstance(expected, dict):
        if set(expected) != set(actual):
            return [f"{path}: keys -{sorted(set(expected) - set(actual))} +{sorted(set(actual) - set(expected))}"]
        for key in expected:
            out += shape_diff(expected[key], actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items != {len(actual)}"]
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out += shape_diff(e, a, f"{path}[{i}]")
    return out


def rels(link: str | None) -> set[str]:
    return set(re.findall(r'rel="([^"]+)"', link or ""))


class Replayer:
    def __init__(self, base: str) -> None:
        self.base = base
        self.ids: dict[int, int] = {}  # recorded id -> sandbox id

    def map(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self.map(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.map(v, key if key in ("delete",) else None) if not isinstance(v, (dict, list))
                    else self.map(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and key in (*ID_KEYS, "delete"):
            return self.ids.get(value, value)
        return value

    def learn(self, recorded: Any, actual: Any) -> None:
        if isinstance(recorded, dict) and isinstance(actual, dict):
            if isinstance(recorded.get("id"), int) and isinstance(actual.get("id"), int) and recorded["id"]:
                self.ids.setdefault(recorded["id"], actual["id"])
            for key in ("create",):
                if isinstance(recorded.get(key), list) and isinstance(actual.get(key), list):
                    for r, a in zip(recorded[key], actual[key], strict=False):
                        self.learn(r, a)


def _clock_for(record: dict[str, Any]) -> str | None:
    body = record["body"]
    items = [body] if isinstance(body, dict) else []
    if isinstance(body, dict) and set(body) <= {"create", "update", "delete"}:
        items = [i for v in body.values() for i in v]
    stamps = [i.get(k) for i in items if isinstance(i, dict) for k in ("date_modified_gmt", "date_created_gmt")]
    stamps = [s for s in stamps if s]
    if record["method"] == "GET" or not stamps:
        return None
    return max(stamps)


@pytest.fixture(scope="module")
def replay(sandbox: Any) -> dict[str, tuple[dict[str, Any], requests.Response, Replayer]]:
    sandbox.woo.reset(empty=True)
    sandbox.woo.configure(timezone="UTC", clock="2026-11-28T07:05:44")
    replayer = Replayer(sandbox.woo_url)
    results = {}
    try:
        for path in RECORDINGS:
            record = json.loads(path.read_text())
            name = record["name"]
            key = path.stem
            if key in NOT_EMULATED:
                continue
            if key.startswith("122-"):
                sandbox.woo.configure(timezone="America/New_York")
            stamp = _clock_for(record)
            if stamp:
                sandbox.woo.configure(clock=stamp)
            url_path = re.sub(r"/(\d+)(?=/|$)", lambda m: f"/{replayer.ids.get(int(m[1]), int(m[1]))}", record["path"])
            query = replayer.map(record["query"])
            if "customer" in query:
                query["customer"] = str(replayer.ids.get(int(query["customer"]), query["customer"]))
            kwargs: dict[str, Any] = {"params": query, "timeout": 30}
            if record["request_body"] is not None:
                kwargs["json"] = replayer.map(record["request_body"])
            auth = record["auth"]
            if auth == "oauth1-hmac-sha256-header":
                kwargs["auth"] = OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256")
            elif auth == "oauth-bad-key":
                kwargs["auth"] = OAuth1("ck_wrong", "cs_sandbox", signature_method="HMAC-SHA256")
            elif auth == "oauth-bad-signature":
                kwargs["auth"] = OAuth1("ck_sandbox", "cs_wrong", signature_method="HMAC-SHA256")
            elif auth == "basic-plain-http":
                kwargs["auth"] = ("ck_sandbox", "cs_sandbox")
            response = requests.request(record["method"], sandbox.woo_url + url_path, **kwargs)
            if response.headers.get("Content-Type", "").startswith("application/json"):
                replayer.learn(record["body"], response.json())
            results[key] = (record, response, replayer)
            assert name
    finally:
        sandbox.woo.configure(timezone="UTC", clock=None)
    return results


REPLAYED = [p for p in RECORDINGS if p.stem not in NOT_EMULATED]


def test_only_store_configuration_recordings_are_left_out() -> None:
    left_out = sorted(p.stem for p in RECORDINGS if p.stem in NOT_EMULATED)
    assert left_out == sorted(NOT_EMULATED), "a NOT_EMULATED name matches no recording"
    assert len(REPLAYED) == len(RECORDINGS) - 3 == 130


@pytest.mark.parametrize("path", REPLAYED, ids=lambda p: p.stem[:3])
def test_replay_matches_recording(replay: dict[str, Any], path: Path) -> None:
    record, response, replayer = replay[path.stem]
    assert response.status_code == record["status"], response.text[:500]
    assert response.headers["Content-Type"] == record["headers"]["Content-Type"]
    for header in ("X-WP-Total", "X-WP-TotalPages"):
        assert response.headers.get(header) == record["headers"].get(header), header
    assert rels(response.headers.get("Link")) == rels(record["headers"].get("Link"))
    body = response.json()
    expected = record["body"]
    assert shape_diff(expected, body) == []
    if isinstance(expected, dict) and "code" in expected and "message" in expected:
        assert body["code"] == expected["code"]
        assert body["message"] == expected["message"]
        assert body["data"] == expected["data"]
    if isinstance(expected, list) and expected and isinstance(expected[0], dict) and "id" in expected[0]:
        assert [item["id"] for item in body] == [replayer.ids.get(i["id"], i["id"]) for i in expected]
    if isinstance(expected, dict) and isinstance(expected.get("id"), int):
        assert body["id"] == replayer.ids.get(expected["id"], expected["id"])
        for key in ("status", "total", "price", "stock_quantity", "stock_status", "discount_total", "amount",
                    "email", "is_paying_customer", "total_sales"):
            if key in expected:
                assert body[key] == expected[key], key
    if isinstance(expected, dict) and set(expected) <= {"create", "update", "delete"}:
        for kind, items in expected.items():
            for e, a in zip(items, body[kind], strict=True):
                assert ("error" in e) == ("error" in a)
                if "error" in e:
                    assert a["error"] == e["error"]
                    assert a["id"] == replayer.ids.get(e["id"], e["id"])
