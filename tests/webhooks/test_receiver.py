"""The webhook routes of the plugin app in process (FastAPI's TestClient, the app mounted at ``/woohub`` as
Airflow mounts it) on a real migrated SQLite staging database, the secrets read from Airflow connections
(``AIRFLOW_CONN_*``): what is recorded, what is refused and what is logged. The Asset event is replaced by
a recorder here; ``test_receiver_airflow.py`` shows the real one in a running Airflow API server."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select

from tests.helpers import migrated_staging
from woohub.report_ui.app import create_app
from woohub.staging.schema import webhook_event
from woohub.webhooks import HUBSPOT, WOOCOMMERCE, receiver, signatures
from woohub.webhooks.events import claim_pending

WOO_SECRET = "woo-webhook-secret-for-tests"
HUBSPOT_SECRET = "hubspot-client-secret-for-tests"
HUBSPOT_APP_ID = "777001"
WOO_URL = "/woohub/webhooks/woocommerce"
HUBSPOT_URL = "/woohub/webhooks/hubspot"
#: a value that must never reach a log line (it stands for the personal data in a delivery)
BODY_MARKER = "dana.private@example.org"
LOGGER = "woohub.webhooks.receiver"


@dataclass
class Receiver:
    client: TestClient
    staging: Engine
    emitted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        with self.staging.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(webhook_event).order_by(webhook_event.c.id))]


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_staging("sqlite", tmp_path_factory.mktemp("webhooks"), "webhooks") as (engine, _):
        yield engine


def _with_extra(variable: str, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any] | None) -> None:
    """The test session's connection (pointing at the sandboxes) with ``extra`` (``None``: none)."""
    import os

    connection = json.loads(os.environ[variable])
    connection.pop("extra", None)
    if extra is not None:
        connection["extra"] = extra
    monkeypatch.setenv(variable, json.dumps(connection))


@pytest.fixture
def woohub(staging: Engine, monkeypatch: pytest.MonkeyPatch) -> Receiver:
    """The plugin app at ``/woohub`` with the connections' webhook secrets set and an empty event table."""
    with staging.begin() as connection:
        connection.execute(delete(webhook_event))
    _with_extra("AIRFLOW_CONN_WOOCOMMERCE_DEFAULT", monkeypatch, {"webhook_secret": WOO_SECRET})
    _with_extra("AIRFLOW_CONN_HUBSPOT_DEFAULT", monkeypatch, {"webhook_secret": HUBSPOT_SECRET,
                                                              "app_id": HUBSPOT_APP_ID})
    monkeypatch.delenv(receiver.PUBLIC_URL_ENV, raising=False)
    monkeypatch.delenv(receiver.MAX_BYTES_ENV, raising=False)
    emitted: list[tuple[str, dict[str, Any]]] = []

    def emit(source: str, extra: Any) -> bool:
        emitted.append((source, dict(extra)))
        return True

    root = FastAPI()
    root.mount("/woohub", create_app(engine_factory=lambda: staging, webhook_emitter=emit))
    return Receiver(TestClient(root), staging, emitted)


def woo(receiver_: Receiver, topic: str, payload: Any, *, delivery: str = "9f2c1e", secret: str = WOO_SECRET,
        signature: str | None = None, extra_headers: dict[str, str] | None = None) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    resource, _, event = topic.partition(".")
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Source": "https://shop.example/",
               "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
               "X-WC-Webhook-ID": "12", "X-WC-Webhook-Delivery-ID": delivery,
               "X-WC-Webhook-Signature": signatures.woocommerce_signature(body, secret) if signature is None
               else signature, **(extra_headers or {})}
    return receiver_.client.post(WOO_URL, content=body, headers=headers)


def now_ms() -> int:
    return int(time.time() * 1000)


def hubspot(receiver_: Receiver, events: Any, *, timestamp: int | None = None, secret: str = HUBSPOT_SECRET,
            signed_url: str = f"http://testserver{HUBSPOT_URL}", signature: str | None = None) -> Any:
    body = events if isinstance(events, bytes) else json.dumps(events).encode()
    stamp = str(timestamp if timestamp is not None else now_ms())
    headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": stamp,
               "X-HubSpot-Signature-Version": "v3",
               "X-HubSpot-Signature-v3": signature if signature is not None
               else signatures.hubspot_signature_v3(secret, "POST", signed_url, body, stamp)}
    return receiver_.client.post(HUBSPOT_URL, content=body, headers=headers)


def order(order_id: int) -> dict[str, Any]:
    return {"id": order_id, "status": "processing", "total": "29.90", "date_modified_gmt": "2026-12-01T09:30:00",
            "billing": {"email": BODY_MARKER, "first_name": "Dana"}, "line_items": [{"product_id": 5, "quantity": 1}]}


# ------------------------------------------------------------------------------------------- WooCommerce


def test_a_woocommerce_delivery_is_recorded_once_and_its_replay_changes_nothing(woohub: Receiver) -> None:
    first = woo(woohub, "order.created", order(4711))
    assert first.status_code == 200, first.text
    assert first.json() == {"recorded": 1, "duplicates": 0, "ignored": 0, "signalled": True}
    replay = woo(woohub, "order.created", order(4711))
    assert replay.status_code == 200 and replay.json() == {"recorded": 0, "duplicates": 1, "ignored": 0,
                                                           "signalled": False}
    [row] = woohub.rows()
    assert (row["source"], row["delivery_id"], row["topic"], row["stream"], row["record_id"], row["parent_id"],
            row["state"]) == (WOOCOMMERCE, "9f2c1e:4711", "order.created", "woocommerce.orders", "4711", None,
                              "pending")
    assert row["occurred_at"].isoformat() == "2026-12-01T09:30:00"
    assert woohub.emitted == [(WOOCOMMERCE, {"source": "woohub woocommerce webhook", "new_events": 1})]


def test_every_synced_woocommerce_topic_names_its_stream(woohub: Receiver) -> None:
    """Variations carry their product; a deleted resource is just its id; WooCommerce's delivery id is per
    webhook and second, so two orders in one second stay two events; other topics, and the REST error body
    WooCommerce sends when the resource was gone by delivery time, are answered and ignored."""
    deliveries = [("order.updated", order(1), "same-second"), ("order.restored", order(2), "same-second"),
                  ("order.deleted", {"id": 3}, "d3"),
                  ("customer.created", {"id": 7, "email": BODY_MARKER, "role": "customer"}, "d4"),
                  ("customer.deleted", {"id": 8}, "d5"),
                  ("product.updated", {"id": 55, "parent_id": 50, "type": "variation"}, "d6"),
                  ("product.created", {"id": 50, "parent_id": 0, "type": "variable"}, "d7"),
                  ("product.deleted", {"id": 56}, "d8")]
    for topic, payload, delivery in deliveries:
        answer = woo(woohub, topic, payload, delivery=delivery)
        assert answer.status_code == 200 and answer.json()["recorded"] == 1, (topic, answer.text)
    assert [(r["topic"], r["stream"], r["record_id"], r["parent_id"]) for r in woohub.rows()] == [
        ("order.updated", "woocommerce.orders", "1", None), ("order.restored", "woocommerce.orders", "2", None),
        ("order.deleted", "woocommerce.orders", "3", None),
        ("customer.created", "woocommerce.customers", "7", None),
        ("customer.deleted", "woocommerce.customers", "8", None),
        ("product.updated", "woocommerce.products", "55", "50"),
        ("product.created", "woocommerce.products", "50", None),
        ("product.deleted", "woocommerce.products", "56", None)]
    gone = {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}}
    for topic, payload in (("coupon.created", {"id": 9}), ("action.woocommerce_add_to_cart", {"id": 9}),
                           ("order.updated", gone)):
        ignored = woo(woohub, topic, payload)
        assert ignored.status_code == 200 and ignored.json() == {"recorded": 0, "duplicates": 0, "ignored": 1,
                                                                 "signalled": False}
    assert len(woohub.rows()) == len(deliveries)


def test_woocommerces_ping_gets_200_and_records_nothing(woohub: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """``WC_Webhook::deliver_ping``: ``webhook_id=<id>`` form-encoded, no signature; answered even before a
    secret is configured (saving the webhook in WooCommerce comes first)."""
    _with_extra("AIRFLOW_CONN_WOOCOMMERCE_DEFAULT", monkeypatch, None)
    ping = woohub.client.post(WOO_URL, content=b"webhook_id=12", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "WooCommerce/11.0.1 Hookshot (WordPress/6.9)"})
    assert ping.status_code == 200 and ping.json() == {"ping": "ok"}
    assert woohub.rows() == [] and woohub.emitted == []


def test_refused_woocommerce_deliveries_record_nothing_and_log_no_body(
        woohub: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    body = json.dumps(order(4711)).encode()
    wrong = signatures.woocommerce_signature(body, "not-the-secret")
    monkeypatch.setenv(receiver.MAX_BYTES_ENV, "4096")
    big = json.dumps({**order(4712), "note": "x" * 5000}).encode()
    answers = {
        "unsigned": woo(woohub, "order.created", body, signature=""),
        "wrong signature": woo(woohub, "order.created", body, signature=wrong),
        "signed for another body": woo(woohub, "order.created", body + b" ",
                                       signature=signatures.woocommerce_signature(body, WOO_SECRET)),
        "a ping with a topic": woo(woohub, "order.created", b"webhook_id=12", signature=""),
        "oversized": woo(woohub, "order.created", big),
        "oversized, chunked": woohub.client.post(WOO_URL, content=iter([big[:3000], big[3000:]]), headers={
            "X-WC-Webhook-Topic": "order.created",
            "X-WC-Webhook-Signature": signatures.woocommerce_signature(big, WOO_SECRET)}),
        "malformed JSON, signed": woo(woohub, "order.created", b'{"id": 4711, "billing": {"email": "' +
                                      BODY_MARKER.encode() + b'"'),
        "a JSON array, signed": woo(woohub, "order.created", b"[4711]"),
        "no id, signed": woo(woohub, "order.created", {"status": "processing"}),
    }
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "unsigned": 401, "wrong signature": 401, "signed for another body": 401, "a ping with a topic": 401,
        "oversized": 413, "oversized, chunked": 413, "malformed JSON, signed": 400, "a JSON array, signed": 400,
        "no id, signed": 400}
    assert "Content-Length" not in answers["oversized, chunked"].request.headers
    _with_extra("AIRFLOW_CONN_WOOCOMMERCE_DEFAULT", monkeypatch, {"webhook_secret": WOO_SECRET})
    assert woohub.rows() == [] and woohub.emitted == []
    refusals = [r for r in caplog.records if r.name == LOGGER and "refused" in r.getMessage()]
    assert len(refusals) == len(answers)
    for text in (BODY_MARKER, WOO_SECRET, wrong, signatures.woocommerce_signature(body, WOO_SECRET), '"total"'):
        assert text not in caplog.text, f"{text!r} was logged"


def test_without_a_configured_secret_deliveries_get_503(monkeypatch: pytest.MonkeyPatch, staging: Engine) -> None:
    _with_extra("AIRFLOW_CONN_WOOCOMMERCE_DEFAULT", monkeypatch, {"consumer_key_note": "no webhook secret"})
    root = FastAPI()
    root.mount("/woohub", create_app(engine_factory=lambda: staging, webhook_emitter=lambda *_: True))
    unconfigured = Receiver(TestClient(root), staging)
    assert woo(unconfigured, "order.created", order(1)).status_code == 503


def test_a_burst_of_deliveries_emits_one_asset_event_until_a_run_claims_them(woohub: Receiver) -> None:
    for number in range(1, 26):
        assert woo(woohub, "order.created", order(number), delivery=f"burst-{number}").status_code == 200
    assert len(woohub.rows()) == 25
    assert woohub.emitted == [(WOOCOMMERCE, {"source": "woohub woocommerce webhook", "new_events": 1})]
    claim = claim_pending(woohub.staging, ["woocommerce.orders"], "asset_triggered__1")  # a run takes them
    assert len(claim.ids["woocommerce.orders"]) == 25
    assert woo(woohub, "customer.updated", {"id": 7}, delivery="after-the-run").json()["signalled"] is True
    assert len(woohub.emitted) == 2, "a change after a run's claim wakes the next run"


# ---------------------------------------------------------------------------------------------- HubSpot


def hubspot_batch(attempt: int = 0) -> list[dict[str, Any]]:
    base = {"subscriptionId": 4242, "portalId": 62515, "appId": int(HUBSPOT_APP_ID), "attemptNumber": attempt,
            "changeSource": "CRM_UI", "sourceId": "userId:4501", "occurredAt": 1764581400000}
    return [
        {**base, "eventId": 1001, "subscriptionType": "deal.creation", "objectId": 9001, "changeFlag": "CREATED"},
        {**base, "eventId": 1002, "subscriptionType": "contact.propertyChange", "objectId": 8001,
         "propertyName": "email", "propertyValue": BODY_MARKER},
        {**base, "eventId": 1003, "subscriptionType": "object.propertyChange", "objectTypeId": "0-3",
         "objectId": 9002, "propertyName": "amount", "propertyValue": "10"},
        {**base, "eventId": 1004, "subscriptionType": "deal.deletion", "objectId": 9003},
        {**base, "eventId": 1005, "subscriptionType": "deal.propertyChange", "objectId": 9004,
         "propertyName": "amount", "propertyValue": "20", "changeSource": "INTEGRATION", "sourceId": HUBSPOT_APP_ID},
        {**base, "eventId": 1006, "subscriptionType": "company.creation", "objectId": 7001},
        {**base, "eventId": 1007, "subscriptionType": "contact.propertyChange"},
    ]


def test_a_hubspot_batch_is_recorded_once_per_event(woohub: Receiver) -> None:
    """Deals and contacts are kept (also in the generic ``object.*`` form); a deletion, this app's own write
    (its echo), another object type and an incomplete event are ignored; HubSpot's retry of the batch
    (``attemptNumber`` 1, a fresh timestamp and signature) records nothing new."""
    first = hubspot(woohub, hubspot_batch())
    assert first.status_code == 200, first.text
    assert first.json() == {"recorded": 3, "duplicates": 0, "ignored": 4, "signalled": True}
    retry = hubspot(woohub, hubspot_batch(attempt=1))
    assert retry.status_code == 200 and retry.json() == {"recorded": 0, "duplicates": 3, "ignored": 4,
                                                         "signalled": False}
    assert [(r["source"], r["topic"], r["stream"], r["record_id"], r["delivery_id"]) for r in woohub.rows()] == [
        (HUBSPOT, "deal.creation", "hubspot.deals", "9001", "62515:1001:4242:9001:1764581400000"),
        (HUBSPOT, "contact.propertyChange", "hubspot.contacts", "8001", "62515:1002:4242:8001:1764581400000"),
        (HUBSPOT, "deal.propertyChange", "hubspot.deals", "9002", "62515:1003:4242:9002:1764581400000")]
    assert woohub.rows()[0]["occurred_at"].isoformat() == "2025-12-01T09:30:00"
    assert woohub.emitted == [(HUBSPOT, {"source": "woohub hubspot webhook", "new_events": 3})]


def test_refused_hubspot_requests_record_nothing_and_log_no_body(
        woohub: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    batch = hubspot_batch()
    answers = {
        "stale": hubspot(woohub, batch, timestamp=now_ms() - 6 * 60_000),
        "from the future": hubspot(woohub, batch, timestamp=now_ms() + 6 * 60_000),
        "wrong secret": hubspot(woohub, batch, secret="not-the-client-secret"),
        "no signature": hubspot(woohub, batch, signature=""),
        "signed for another URL": hubspot(woohub, batch, signed_url="https://elsewhere.example/woohub/webhooks/hubspot"),
        "malformed JSON, signed": hubspot(woohub, b'[{"eventId": 1, "propertyValue": "' + BODY_MARKER.encode()),
        "an object, signed": hubspot(woohub, {"eventId": 1}),
    }
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "stale": 401, "from the future": 401, "wrong secret": 401, "no signature": 401,
        "signed for another URL": 401, "malformed JSON, signed": 400, "an object, signed": 400}
    assert woohub.rows() == [] and woohub.emitted == []
    assert BODY_MARKER not in caplog.text and HUBSPOT_SECRET not in caplog.text

    # behind a proxy HubSpot signs the public URL: WOOHUB_WEBHOOK_PUBLIC_URL names it
    public = "https://airflow.example.com/woohub/webhooks/hubspot"
    assert hubspot(woohub, batch, signed_url=public).status_code == 401
    monkeypatch.setenv(receiver.PUBLIC_URL_ENV, "https://airflow.example.com/")
    assert hubspot(woohub, batch, signed_url=public).status_code == 200
    assert len(woohub.rows()) == 3


def test_the_hubspot_secret_is_the_oauth_client_secret_without_a_webhook_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _with_extra("AIRFLOW_CONN_HUBSPOT_DEFAULT", monkeypatch, {"auth_type": "oauth2", "client_id": "c",
                                                              "refresh_token": "r"})
    found = receiver.connection_secret(HUBSPOT)
    assert found is not None and found.secret == "sandbox-token" and found.app_ids == ()
    assert "sandbox-token" not in repr(found)
    _with_extra("AIRFLOW_CONN_HUBSPOT_DEFAULT", monkeypatch, None)  # a private-app token is no client secret
    assert receiver.connection_secret(HUBSPOT) is None


def test_secrets_are_looked_up_once_per_ttl(tmp_path: Path) -> None:
    calls: list[str] = []
    clock = [100.0]
    cached = receiver.CachedSecrets(lambda source: calls.append(source) or receiver.WebhookSecret("s"),
                                    ttl=60, clock=lambda: clock[0])
    assert cached(WOOCOMMERCE) == cached(WOOCOMMERCE) == receiver.WebhookSecret("s")
    clock[0] += 61
    cached(WOOCOMMERCE)
    cached(HUBSPOT)
    assert calls == [WOOCOMMERCE, WOOCOMMERCE, HUBSPOT]
