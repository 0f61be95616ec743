"""The WooCommerce sandbox's webhooks over real HTTP: the ``/webhooks`` resource as WooCommerce 11 answers it,
the ping on create, signed deliveries to a real receiver on 127.0.0.1, coalescing, and the auto-disable after
consecutive failures. Signatures are recomputed here with :mod:`hmac`, not with the sandbox's code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1

from tests.sandbox._receiver import receiver

API = "/wp-json/wc/v3"
AUTH = OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256")
SECRET = "test-secret-\u00e9"


def send(box: Any, method: str, path: str, body: Any = None, **kw: Any) -> requests.Response:
    return requests.request(method, f"{box.woo_url}{API}/{path}", json=body, auth=AUTH, timeout=30, **kw)


def expected_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def woo(empty_sandbox: Any) -> Iterator[Any]:
    empty_sandbox.woo.configure(webhook_delay_seconds=0.05)
    yield empty_sandbox
    empty_sandbox.woo.reset(empty=True)  # drops the webhooks
    empty_sandbox.woo.configure(webhook_delay_seconds=1.0)


def test_webhook_resource_as_woocommerce_answers_it(woo: Any) -> None:
    # no webhooks: writes deliver nothing and queue nothing
    assert send(woo, "POST", "customers", {"email": "nobody@example.test"}).status_code == 201
    assert woo.woo.webhook_deliveries() == {"deliveries": [], "pending": 0}

    bad = send(woo, "POST", "webhooks", {"topic": "order.shipped", "delivery_url": "http://127.0.0.1:9/x"})
    assert (bad.status_code, bad.json()["code"]) == (400, "woocommerce_rest_shop_webhook_invalid_topic")
    missing = send(woo, "POST", "webhooks", {"name": "x"})
    assert missing.status_code == 400 and missing.json()["code"] == "rest_missing_callback_param"
    assert missing.json()["data"]["params"] == ["topic", "delivery_url"]
    bad_url = send(woo, "POST", "webhooks", {"topic": "order.created", "delivery_url": "ftp://example.test"})
    assert bad_url.json()["code"] == "woocommerce_rest_shop_webhook_invalid_delivery_url"
    bad_status = send(woo, "POST", "webhooks", {"topic": "order.created", "delivery_url": "http://a.test",
                                                "status": "sleeping"})
    assert bad_status.json()["code"] == "rest_invalid_param"

    with receiver() as hook:
        created = send(woo, "POST", "webhooks", {"name": "woohub order.created", "topic": "order.created",
                                                 "delivery_url": hook.url, "secret": SECRET, "status": "paused"})
        assert created.status_code == 201
        body = created.json()
        assert body["status"] == "active"  # create_item ignores the status it is sent
        assert "secret" not in body
        assert (body["resource"], body["event"], body["hooks"]) == ("order", "created", ["woocommerce_new_order"])
        assert set(body) >= {"id", "name", "topic", "delivery_url", "date_created", "date_created_gmt",
                             "date_modified", "date_modified_gmt", "_links"}
        assert created.headers["Location"].endswith(f"{API}/webhooks/{body['id']}")
        # the ping went synchronously, form-encoded, with WooCommerce's user agent
        assert [r.body for r in hook.requests] == [f"webhook_id={body['id']}".encode()]
        assert hook.requests[0].headers["User-Agent"].startswith("WooCommerce/11.0.1 Hookshot (WordPress/")

        # a ping that fails does not stop the REST API creating the webhook (only the admin screen refuses)
        hook.statuses = [503]
        second = send(woo, "POST", "webhooks", {"topic": "customer.updated", "delivery_url": hook.url})
        assert second.status_code == 201 and second.json()["name"].startswith("Webhook created on ")
        ping = woo.woo.webhook_deliveries(kind="ping")["deliveries"][-1]
        assert ping["error"] == "Error: Delivery URL returned response code: 503"

    batch = send(woo, "POST", "webhooks/batch", {
        "create": [{"topic": "product.updated", "delivery_url": "http://127.0.0.1:9/unreachable"},
                   {"topic": "nope", "delivery_url": "http://127.0.0.1:9/x"}],
        "update": [{"id": second.json()["id"], "status": "paused"}], "delete": [body["id"]]})
    assert batch.status_code == 200
    out = batch.json()
    assert out["create"][0]["status"] == "active"
    assert out["create"][1]["error"]["code"] == "woocommerce_rest_shop_webhook_invalid_topic"
    assert out["update"][0]["status"] == "paused" and out["delete"][0]["id"] == body["id"]

    listed = send(woo, "GET", "webhooks", params={"per_page": 1, "status": "all"})
    assert (listed.headers["X-WP-Total"], listed.headers["X-WP-TotalPages"]) == ("2", "2")
    assert 'rel="next"' in listed.headers["Link"]
    assert [w["status"] for w in send(woo, "GET", "webhooks", params={"status": "paused"}).json()] == ["paused"]
    unknown = send(woo, "GET", "webhooks/999")
    assert (unknown.status_code, unknown.json()["message"]) == (400, "ID is invalid.")
    trash = send(woo, "DELETE", f"webhooks/{second.json()['id']}")
    assert (trash.status_code, trash.json()["code"]) == (501, "woocommerce_rest_trash_not_supported")
    assert send(woo, "DELETE", f"webhooks/{second.json()['id']}", params={"force": "true"}).status_code == 200
    assert send(woo, "DELETE", "webhooks/999", params={"force": "true"}).status_code == 404


def test_deliveries_are_signed_rendered_late_and_coalesced(woo: Any) -> None:
    customer = send(woo, "POST", "customers", {"email": "ann@example.test", "first_name": "Ann"}).json()
    with receiver() as hook:
        ids = {}
        for topic in ("order.created", "order.updated", "customer.deleted"):
            made = send(woo, "POST", "webhooks", {"topic": topic, "delivery_url": hook.url, "secret": SECRET})
            ids[topic] = made.json()["id"]
        hook.requests.clear()
        order = send(woo, "POST", "orders", {"status": "processing"}).json()
        send(woo, "PUT", f"orders/{order['id']}", {"customer_note": "first"})
        send(woo, "PUT", f"orders/{order['id']}", {"customer_note": "second"})  # coalesces with the first
        send(woo, "DELETE", f"customers/{customer['id']}", params={"force": "true"})
        woo.woo.wait_for_webhook_deliveries(3, kind="delivery")

        by_topic = {r.headers["X-WC-Webhook-Topic"]: r for r in hook.requests}
        assert sorted(by_topic) == ["customer.deleted", "order.created", "order.updated"]
        assert len(hook.requests) == 3
        for topic, request in by_topic.items():
            headers = request.headers
            assert headers["Content-Type"] == "application/json"
            assert headers["X-WC-Webhook-Signature"] == expected_signature(request.body, SECRET)
            assert headers["X-WC-Webhook-Source"] == f"{woo.woo_url}/"
            assert (headers["X-WC-Webhook-Resource"], headers["X-WC-Webhook-Event"]) == tuple(topic.split("."))
            assert headers["X-WC-Webhook-ID"] == str(ids[topic])
            assert len(headers["X-WC-Webhook-Delivery-ID"]) == 32
            assert headers["User-Agent"].startswith("WooCommerce/11.0.1 Hookshot")
        # the payload is built when the delivery runs: the update carries the latest note, as GET renders it
        updated = json.loads(by_topic["order.updated"].body)
        assert updated["customer_note"] == "second"
        assert updated == send(woo, "GET", f"orders/{order['id']}").json()
        assert b"\\/wp-json\\/wc\\/v3\\/orders" in by_topic["order.updated"].body  # wp_json_encode escapes
        assert json.loads(by_topic["customer.deleted"].body) == {"id": customer["id"]}


def test_webhook_disabled_after_consecutive_failures(woo: Any) -> None:
    products = [send(woo, "POST", "products", {"name": f"P{n}", "regular_price": "1.00"}).json()["id"]
                for n in range(8)]
    with receiver() as hook:
        hook.default_status = 500
        wid = send(woo, "POST", "webhooks", {"topic": "product.updated", "delivery_url": hook.url}).json()["id"]
        for pid in products[:7]:
            send(woo, "PUT", f"products/{pid}", {"regular_price": "2.00"})
        seen = woo.woo.wait_for_webhook_deliveries(7, kind="delivery")
        # WC_Webhook::failed_delivery disables once the count of consecutive failures exceeds 5: the 7th
        assert [d["failure_count"] for d in seen] == [1, 2, 3, 4, 5, 6, 6]
        assert [d["webhook_status"] for d in seen] == ["active"] * 6 + ["disabled"]
        assert send(woo, "GET", f"webhooks/{wid}").json()["status"] == "disabled"
        send(woo, "PUT", f"products/{products[7]}", {"regular_price": "3.00"})
        assert woo.woo.webhook_deliveries(kind="delivery")["pending"] == 0  # a disabled webhook queues nothing
        assert len(hook.requests) == 1 + 7  # the ping and the seven failures


def test_trash_and_restore_deliver_deleted_and_restored(woo: Any) -> None:
    order = send(woo, "POST", "orders", {"status": "on-hold"}).json()
    with receiver() as hook:
        for topic in ("order.deleted", "order.restored"):
            send(woo, "POST", "webhooks", {"topic": topic, "delivery_url": hook.url, "secret": SECRET})
        hook.requests.clear()
        assert send(woo, "DELETE", f"orders/{order['id']}").json()["status"] == "on-hold"  # trashed
        send(woo, "PUT", f"orders/{order['id']}", {"status": "processing"})  # out of the trash
        woo.woo.wait_for_webhook_deliveries(2, kind="delivery")
    bodies = {r.headers["X-WC-Webhook-Topic"]: json.loads(r.body) for r in hook.requests}
    assert bodies["order.deleted"] == {"id": order["id"]}
    assert (bodies["order.restored"]["id"], bodies["order.restored"]["status"]) == (order["id"], "processing")
