"""Request-level tests of WooCommerceHook: auth shapes, redaction, paging stops, batch chunking."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.hooks.conftest import MakeConnection
from tests.hooks.policies import FAST_RETRIES
from woohub.http import AuthenticationError
from woohub.woocommerce import WooCommerceHook
from woohub.woocommerce.hook import modified_window

HTTP_ORDERS = "http://shop.test:8080/wp-json/wc/v3/orders"
HTTPS_ORDERS = "https://shop.test/wp-json/wc/v3/orders"


def _hook(make_connection: MakeConnection, conn_id: str, schema: str, **extra: object) -> WooCommerceHook:
    port = 8080 if schema == "http" else None
    make_connection(conn_id, host="shop.test", schema=schema, port=port, login="ck_live_key",
                    password="cs_live_secret", extra=extra)
    return WooCommerceHook(conn_id, retry_policy=FAST_RETRIES)


def test_plain_http_signs_with_oauth1_hmac_sha256_in_the_query(make_connection, requests_mock) -> None:
    hook = _hook(make_connection, "woo_http", "http")
    requests_mock.get(HTTP_ORDERS, json=[], headers={"X-WP-TotalPages": "0"})
    list(hook.iter_records("orders", {"status": "processing"}))
    sent = requests_mock.request_history[0]
    query = parse_qs(urlsplit(sent.url).query)  # requests_mock's .qs lower-cases values
    assert query["oauth_signature_method"] == ["HMAC-SHA256"]
    assert query["oauth_consumer_key"] == ["ck_live_key"] and "oauth_signature" in query
    assert "Authorization" not in sent.headers and "consumer_secret" not in query
    assert query["status"] == ["processing"] and query["per_page"] == ["100"]
    assert hook.auth_method == "oauth1"


def test_https_uses_basic_auth(make_connection, requests_mock) -> None:
    hook = _hook(make_connection, "woo_https", "https")
    requests_mock.get(HTTPS_ORDERS, json=[])
    list(hook.iter_records("orders"))
    sent = requests_mock.request_history[0]
    expected = base64.b64encode(b"ck_live_key:cs_live_secret").decode()
    assert sent.headers["Authorization"] == f"Basic {expected}"
    assert not any(key.startswith("oauth_") for key in sent.qs)


def test_query_keys_are_redacted_from_errors_and_logs(make_connection, requests_mock, captured_logs) -> None:
    hook = _hook(make_connection, "woo_query", "https", auth_method="query")
    requests_mock.get(HTTPS_ORDERS, status_code=401,
                      json={"code": "woocommerce_rest_authentication_error", "message": "Consumer key is invalid."})
    with pytest.raises(AuthenticationError) as caught:
        list(hook.iter_records("orders"))
    logs = captured_logs()
    assert requests_mock.request_history[0].qs["consumer_secret"] == ["cs_live_secret"]
    assert caught.value.error_id == "woocommerce_rest_authentication_error"
    assert "GET /orders failed: status=401 vendor_error_id=woocommerce_rest_authentication_error" in logs
    for text in (logs, str(caught.value), repr(caught.value)):
        assert "cs_live_secret" not in text and "ck_live_key" not in text


def test_modified_window_sends_naive_utc_with_dates_are_gmt() -> None:
    since = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    window = modified_window(since, datetime(2026, 3, 2, tzinfo=UTC))
    assert window == {"modified_after": "2026-03-01T10:30:00", "dates_are_gmt": "true",
                      "modified_before": "2026-03-02T00:00:00"}
    with pytest.raises(ValueError):
        modified_window(datetime(2026, 3, 1))


def test_paging_stops_at_total_pages_and_survives_past_the_end_400(make_connection, requests_mock) -> None:
    hook = _hook(make_connection, "woo_pages", "https")
    page = [{"id": n} for n in range(100)]
    requests_mock.get(HTTPS_ORDERS, [
        {"json": page, "headers": {"X-WP-TotalPages": "3"}},
        {"json": [{"id": n} for n in range(100, 200)], "headers": {"X-WP-TotalPages": "3"}},
        {"status_code": 400, "json": {"code": "rest_post_invalid_page_number", "message": "past the end"}},
    ])
    records = list(hook.iter_records("orders"))  # the store shrank to 2 pages while paging
    assert [r["id"] for r in records] == list(range(200))
    assert [r.qs["page"] for r in requests_mock.request_history] == [["1"], ["2"], ["3"]]


def test_batch_is_chunked_to_100_items_and_reports_item_errors(make_connection, requests_mock) -> None:
    hook = _hook(make_connection, "woo_batch", "https")

    def answer(request, context):
        body = request.json()
        created = [{"id": 1000 + n} if n % 50 else {"id": 0, "error": {"code": "product_invalid_sku",
                                                                       "message": "dup", "data": {"status": 400}}}
                   for n, _ in enumerate(body.get("create", []))]
        return {"create": created, "update": [{"id": u["id"]} for u in body.get("update", [])]}
    requests_mock.post("https://shop.test/wp-json/wc/v3/products/batch", json=answer)
    outcomes = hook.batch("products", create=[{"sku": f"s{n}"} for n in range(150)],
                          update=[{"id": n, "price": "1"} for n in range(60)])
    sizes = [sum(len(v) for v in r.json().values()) for r in requests_mock.request_history]
    assert sizes == [100, 100, 10]
    assert len(outcomes) == 210 and outcomes[-1].key == "update:59" and outcomes[-1].ok
    failed = [o.key for o in outcomes if not o.ok]
    assert failed == ["create:0", "create:50", "create:100"]
    assert {o.error_code for o in outcomes if not o.ok} == {"product_invalid_sku"}


def test_batch_with_creates_is_not_retried_after_a_dropped_connection(make_connection, requests_mock) -> None:
    hook = _hook(make_connection, "woo_drop", "https")
    requests_mock.post("https://shop.test/wp-json/wc/v3/orders/batch",
                       exc=requests.exceptions.ConnectionError("Connection aborted."))
    outcomes = hook.batch("orders", create=[{"status": "pending"}], update=[{"id": 7, "status": "completed"}])
    assert requests_mock.call_count == 1
    assert [(o.key, o.error_code) for o in outcomes] == [("create:0", "AMBIGUOUS_WRITE"), ("update:7", "AMBIGUOUS_WRITE")]
