"""Fidelity replay: the requests recorded from a real WooCommerce 11.0.1 store, replayed in order against an
empty sandbox whose clock is frozen to each recorded moment, compared on status, paging headers, body shape
(key sets and JSON types, recursively) and the quirk each recording documents.

Two recorded stores: 001-133 (taxes off) and 212-258 (the tax and SKU captures, made on a store set up again:
taxes enabled by 212, rates, tax classes, prices inclusive, rounding, decimals). Each is replayed from an empty
sandbox store with its own id map. Orders are compared down to every line's amounts and taxes."""

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
# Out of scope, not emulated (the capture trimmed system_status). Left out of the replay below, and the test
# after it pins that nothing else is.
NOT_EMULATED = {
    "119-system-status-filtered": "system_status is not emulated (and the capture trimmed the body)",
}
ID_KEYS = {"id", "product_id", "variation_id", "customer_id", "resource_id", "parent_id"}
ID_PARAMS = ("customer", "include", "exclude", "product", "parent")  # query parameters holding ids
ITEM_PARTS = ("line_items", "shipping_lines", "fee_lines", "coupon_lines")  # order items: a sequence of their own
# where a recorded store starts: (first recording, the clock at its start)
STORES = {"001": "2026-11-28T07:05:44", "134": "2026-12-01T19:35:57", "212": "2026-12-01T19:42:00"}
# requests the capture sent without recording them, sent again before the named recording: between 242 and 245
# the store was switched back to prices entered exclusive of tax (246 shows prices_include_tax false), and
# after 247 back to per-line rounding (252's cart_tax 3.25 is the sum of rounded line taxes; at subtotal: 3.24).
_TAX_SETTINGS = "/wp-json/wc/v3/settings/tax"
UNRECORDED = {
    "243": [("PUT", f"{_TAX_SETTINGS}/woocommerce_prices_include_tax", {"value": "no"})],
    "248": [("PUT", f"{_TAX_SETTINGS}/woocommerce_tax_round_at_subtotal", {"value": "no"})],
}
# top-level values compared exactly (where the recording has them)
VALUE_KEYS = ("status", "total", "price", "stock_quantity", "stock_status", "discount_total", "amount", "email",
              "is_paying_customer", "total_sales", "discount_tax", "shipping_total", "shipping_tax", "cart_tax",
              "total_tax", "prices_include_tax", "sku", "tax_class", "value", "rate", "class", "name",
              "type", "purchasable", "backorders", "backorders_allowed", "backordered", "manage_stock",
              "currency", "currency_symbol", "created_via", "transaction_id", "customer_note", "needs_payment",
              "needs_processing", "billing", "shipping", "first_name", "last_name", "username", "role", "code",
              "symbol", "group_id")
# top-level ids compared through the id map, and dates compared on being set or not
MAPPED_KEYS = ("customer_id", "parent_id")
SET_OR_NOT_KEYS = ("date_paid_gmt", "date_completed_gmt")
# meta whose value is the clock (the replay's clock is only as fine as the recorded stamps)
CLOCK_META = ("_wp_trash_meta_time",)
# per order line, the values compared exactly
LINE_KEYS = {
    "line_items": ("quantity", "tax_class", "subtotal", "subtotal_tax", "total", "total_tax", "sku", "price", "name"),
    "tax_lines": ("rate_code", "label", "compound", "tax_total", "shipping_tax_total", "rate_percent"),
    "shipping_lines": ("total", "total_tax"),
    "fee_lines": ("tax_status", "total", "total_tax"),
    "coupon_lines": ("code", "discount", "discount_tax"),
}


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
    """Maps the recorded store's ids to the sandbox's: posts (products, orders, coupons, refunds) and users in
    one map, order items (line, shipping, fee, coupon lines: their own sequence, which overlaps the post ids
    in a store whose ids start low) in another."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.ids: dict[int, int] = {}  # recorded id -> sandbox id
        self.items: dict[int, int] = {}  # recorded order item id -> sandbox order item id

    def map(self, value: Any, key: str | None = None, item: bool = False) -> Any:
        if isinstance(value, dict):
            return {k: self.items.get(v, v) if item and k == "id" and isinstance(v, int) else self.map(v, k)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.map(v, item=key in ITEM_PARTS) if isinstance(v, dict)
                    else self.map(v) if isinstance(v, list) else self.map(v, key if key in ("delete",) else None)
                    for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and key in (*ID_KEYS, "delete"):
            return self.ids.get(value, value)
        return value

    def map_query(self, query: dict[str, str]) -> dict[str, str]:
        """Id-valued query parameters (comma lists) mapped to the sandbox's ids."""
        return {k: ",".join(str(self.ids.get(int(i), int(i))) if i.isdigit() else i for i in v.split(","))
                if k in ID_PARAMS else v for k, v in query.items()}

    def learn(self, recorded: Any, actual: Any) -> None:
        if isinstance(recorded, dict) and isinstance(actual, dict):
            if isinstance(recorded.get("id"), int) and isinstance(actual.get("id"), int) and recorded["id"]:
                self.ids.setdefault(recorded["id"], actual["id"])
            for part in ITEM_PARTS:
                if isinstance(recorded.get(part), list) and isinstance(actual.get(part), list):
                    for r, a in zip(recorded[part], actual[part], strict=False):
                        if isinstance(r, dict) and isinstance(a, dict) and isinstance(r.get("id"), int):
                            self.items.setdefault(r["id"], a["id"])
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


def _auth(kind: str) -> Any:
    return {"oauth1-hmac-sha256-header": OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256"),
            "oauth-bad-key": OAuth1("ck_wrong", "cs_sandbox", signature_method="HMAC-SHA256"),
            "oauth-bad-signature": OAuth1("ck_sandbox", "cs_wrong", signature_method="HMAC-SHA256"),
            "basic-plain-http": ("ck_sandbox", "cs_sandbox")}.get(kind)


@pytest.fixture(scope="module")
def replay(sandbox: Any) -> dict[str, tuple[dict[str, Any], requests.Response, Replayer]]:
    sandbox.woo.configure(seed_taxes="off")
    replayer = Replayer(sandbox.woo_url)
    results = {}
    try:
        for path in RECORDINGS:
            record = json.loads(path.read_text())
            name = record["name"]
            key = path.stem
            if key in NOT_EMULATED:
                continue
            if key[:3] in STORES:
                sandbox.woo.reset(empty=True)
                sandbox.woo.configure(timezone="UTC", clock=STORES[key[:3]])
                replayer = Replayer(sandbox.woo_url)
            for method, unrecorded_path, body in UNRECORDED.get(key[:3], []):
                sent = requests.request(method, sandbox.woo_url + unrecorded_path, json=body, timeout=30,
                                        auth=_auth("oauth1-hmac-sha256-header"))
                assert sent.status_code == 200, sent.text[:300]
            if key.startswith("122-"):
                sandbox.woo.configure(timezone="America/New_York")
            stamp = _clock_for(record)
            if stamp:
                sandbox.woo.configure(clock=stamp)
            ids = replayer.ids
            url_path = re.sub(r"/(\d+)(?=/|$)", lambda m, ids=ids: f"/{ids.get(int(m[1]), int(m[1]))}", record["path"])
            query = replayer.map_query(record["query"])
            kwargs: dict[str, Any] = {"params": query, "timeout": 30}
            if record["request_body"] is not None:
                kwargs["json"] = replayer.map(record["request_body"])
            if _auth(record["auth"]) is not None:
                kwargs["auth"] = _auth(record["auth"])
            response = requests.request(record["method"], sandbox.woo_url + url_path, **kwargs)
            if response.headers.get("Content-Type", "").startswith("application/json"):
                replayer.learn(record["body"], response.json())
            results[key] = (record, response, replayer)
            assert name
    finally:
        sandbox.woo.configure(timezone="UTC", clock=None)
        sandbox.woo.reset(empty=True)  # the second store ends with taxes on and 3 decimals
    return results


REPLAYED = [p for p in RECORDINGS if p.stem not in NOT_EMULATED]


def test_only_the_trimmed_system_status_is_left_out() -> None:
    left_out = sorted(p.stem for p in RECORDINGS if p.stem in NOT_EMULATED)
    assert left_out == sorted(NOT_EMULATED), "a NOT_EMULATED name matches no recording"
    assert len(REPLAYED) == len(RECORDINGS) - 1 == 132 + 78 + 47


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
    assert shape_diff(expected, body) == [], json.dumps(body)[:3000]
    if isinstance(expected, dict) and "code" in expected and "message" in expected:
        assert body["code"] == expected["code"]
        assert body["message"] == expected["message"]
        assert body["data"] == replayer.map(expected["data"])
    if isinstance(expected, list) and expected and isinstance(expected[0], dict) and "id" in expected[0]:
        assert [item["id"] for item in body] == [replayer.ids.get(i["id"], i["id"]) for i in expected]
    if isinstance(expected, dict) and isinstance(expected.get("id"), int):
        assert_values(expected, body, replayer)
    if isinstance(expected, list):
        for e, a in zip(expected, body, strict=True):
            if isinstance(e, dict) and isinstance(e.get("id"), int):
                assert_values(e, a, replayer)
    if isinstance(expected, dict) and set(expected) <= {"create", "update", "delete"}:
        for kind, items in expected.items():
            for e, a in zip(items, body[kind], strict=True):
                assert ("error" in e) == ("error" in a)
                if "error" in e:
                    assert a["error"] == e["error"]
                    assert a["id"] == replayer.ids.get(e["id"], e["id"])
                elif kind != "delete":
                    assert_values(e, a, replayer)


def _meta(entries: list[dict[str, Any]], replayer: Replayer) -> list[tuple[str, Any]]:
    """Meta as (key, value) in the order listed; clock values left out, line ids mapped."""
    out = []
    for m in entries:
        value = None if m["key"] in CLOCK_META else m["value"]
        if m["key"] == "_refunded_item_id":
            value = str(replayer.items.get(int(value), int(value)))
        out.append((m["key"], value))
    return out


def assert_values(expected: dict[str, Any], body: dict[str, Any], replayer: Replayer) -> None:
    """One recorded object against the sandbox's: the values the quirks are about, order lines and meta."""
    assert body["id"] == replayer.ids.get(expected["id"], expected["id"])
    for key in VALUE_KEYS:
        if key in expected:
            assert body[key] == expected[key], key
    for key in MAPPED_KEYS:
        if isinstance(expected.get(key), int):
            assert body[key] == replayer.ids.get(expected[key], expected[key]), key
    for key in SET_OR_NOT_KEYS:
        if key in expected:
            assert (body[key] is None) == (expected[key] is None), key
    if "line_items" in expected and isinstance(expected.get("meta_data"), list):
        assert _meta(body["meta_data"], replayer) == _meta(expected["meta_data"], replayer), "meta_data"
    for part, keys in LINE_KEYS.items():
        for e, a in zip(expected.get(part, []), body.get(part, []), strict=True):
            assert {k: a[k] for k in keys} == {k: e[k] for k in keys}, part
            if "taxes" in e:
                assert [(t["total"], t["subtotal"]) for t in a["taxes"]] == \
                    [(t["total"], t["subtotal"]) for t in e["taxes"]], part
            if part == "line_items":
                assert a["variation_id"] == replayer.ids.get(e["variation_id"], e["variation_id"])
                assert a["product_id"] == replayer.ids.get(e["product_id"], e["product_id"])
                assert a["id"] == replayer.items.get(e["id"], e["id"])
                assert _meta(a["meta_data"], replayer) == _meta(e["meta_data"], replayer), part
