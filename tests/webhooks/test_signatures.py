"""The webhook signature checks against vectors computed elsewhere: the ones WooCommerce's and HubSpot's own
test suites publish, fixed values from OpenSSL's HMAC (``openssl dgst -sha256 -hmac <secret> -binary |
base64``) and the standard library's :mod:`hmac` here."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from woohub.webhooks import signatures

WOO_BODY = b'{"id":4711,"status":"processing","total":"29.90"}'
WOO_SECRET = "wc-webhook-secret"
#: printf '%s' "$WOO_BODY" | openssl dgst -sha256 -hmac wc-webhook-secret -binary | base64
WOO_SIGNATURE = "WnsjDcR7BfSQdnGLdyKjxnMD8Fe+3GFixIF+6B69d+w="

HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
HUBSPOT_URI = "https://airflow.example.com/woohub/webhooks/hubspot"
HUBSPOT_BODY = (b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
                b'"subscriptionType":"deal.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
                b'"appId":54321}]')
HUBSPOT_TIMESTAMP = "1564113600000"
#: printf '%s' "POST$HUBSPOT_URI$HUBSPOT_BODY$HUBSPOT_TIMESTAMP" | openssl dgst -sha256 -hmac "$HUBSPOT_SECRET" -binary | base64
HUBSPOT_SIGNATURE = "HroPJ3PrP3jesiUuymiDws1OF7nGxsw3lEsw9RV4dM8="
NOW_MS = int(HUBSPOT_TIMESTAMP) + 2_000


def _stdlib(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def test_the_published_vectors() -> None:
    """WooCommerce core's ``test_generate_signature`` (a new ``WC_Webhook``, whose secret is empty, signs the
    payload ``secret``) and the v3 vector of HubSpot's Python SDK tests (``tests/spec/utils/test_signature.py``)."""
    assert signatures.woocommerce_signature(b"secret", "") == "GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs="
    assert signatures.hubspot_signature_v3(
        "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", "POST", "https://www.example.com/webhook_uri",
        b"{'example_field':'example_value'}", "15000000") == "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="


def test_woocommerce_signature_matches_openssl_and_hmac() -> None:
    assert signatures.woocommerce_signature(WOO_BODY, WOO_SECRET) == WOO_SIGNATURE
    body = "{\"name\":\"Zoë \\/ Ünïcode\"}".encode()
    assert signatures.woocommerce_signature(body, "s3cr3t") == _stdlib("s3cr3t", body)


@pytest.mark.parametrize(("body", "secret", "header", "valid"), [
    (WOO_BODY, WOO_SECRET, WOO_SIGNATURE, True),
    (WOO_BODY, WOO_SECRET, f"  {WOO_SIGNATURE} ", True),
    (WOO_BODY + b" ", WOO_SECRET, WOO_SIGNATURE, False),  # the raw bytes are signed: any change breaks it
    (WOO_BODY, WOO_SECRET + "x", WOO_SIGNATURE, False),
    (WOO_BODY, WOO_SECRET, WOO_SIGNATURE.lower(), False),
    (WOO_BODY, WOO_SECRET, hashlib.sha256(WOO_BODY).hexdigest(), False),
    (WOO_BODY, WOO_SECRET, None, False),
    (WOO_BODY, WOO_SECRET, "", False),
    (WOO_BODY, "", WOO_SIGNATURE, False),
    (WOO_BODY, WOO_SECRET, "ü-not-ascii", False),
])
def test_verify_woocommerce(body: bytes, secret: str, header: str | None, valid: bool) -> None:
    assert signatures.verify_woocommerce(body, secret, header) is valid


def test_hubspot_v3_signature_matches_openssl_and_hmac() -> None:
    assert signatures.hubspot_signature_v3(HUBSPOT_SECRET, "POST", HUBSPOT_URI, HUBSPOT_BODY,
                                           HUBSPOT_TIMESTAMP) == HUBSPOT_SIGNATURE
    assert signatures.hubspot_signature_v3(HUBSPOT_SECRET, "post", HUBSPOT_URI, HUBSPOT_BODY,
                                           HUBSPOT_TIMESTAMP) == HUBSPOT_SIGNATURE
    body = '[{"propertyValue":"Zoë"}]'.encode()
    expected = _stdlib("other", b"POSThttps://h.example/x?a=1" + body + b"1700000000000")
    assert signatures.hubspot_signature_v3("other", "POST", "https://h.example/x?a=1", body,
                                           "1700000000000") == expected


def test_hubspot_signs_the_uri_with_its_listed_escapes_decoded() -> None:
    decoded = "https://h.example/hook/a:b@c!$'()*,;?next=/x?y"
    encoded = ("https://h.example/hook/a%3Ab%40c%21%24%27%28%29%2A%2C%3B?next=%2Fx%3fy")
    assert signatures.hubspot_signed_uri(encoded) == decoded
    assert signatures.hubspot_signature_v3("k", "POST", encoded, b"[]", "1") == \
        _stdlib("k", f"POST{decoded}[]1".encode())
    # escapes outside HubSpot's table stay as sent
    assert signatures.hubspot_signed_uri("https://h.example/a%20b%25c%3D") == "https://h.example/a%20b%25c%3D"


@pytest.mark.parametrize(("timestamp", "now_ms", "fresh"), [
    (HUBSPOT_TIMESTAMP, NOW_MS, True),
    (HUBSPOT_TIMESTAMP, int(HUBSPOT_TIMESTAMP) + 300_000, True),
    (HUBSPOT_TIMESTAMP, int(HUBSPOT_TIMESTAMP) + 300_001, False),  # older than 5 minutes
    (HUBSPOT_TIMESTAMP, int(HUBSPOT_TIMESTAMP) - 300_001, False),  # more than 5 minutes ahead
    (None, NOW_MS, False), ("", NOW_MS, False), ("1564113600.5", NOW_MS, False), ("-5", NOW_MS, False),
])
def test_hubspot_timestamp_window(timestamp: str | None, now_ms: int, fresh: bool) -> None:
    assert signatures.hubspot_timestamp_fresh(timestamp, now_ms=now_ms) is fresh


def test_verify_hubspot_v3() -> None:
    def verify(**changes: object) -> bool:
        arguments: dict[str, object] = {"client_secret": HUBSPOT_SECRET, "method": "POST", "uri": HUBSPOT_URI,
                                        "body": HUBSPOT_BODY, "timestamp": HUBSPOT_TIMESTAMP,
                                        "header": HUBSPOT_SIGNATURE, "now_ms": NOW_MS}
        return signatures.verify_hubspot_v3(**{**arguments, **changes})  # type: ignore[arg-type]

    assert verify()
    assert not verify(now_ms=NOW_MS + 10 * 60_000), "a replay ten minutes later"
    assert not verify(timestamp=str(int(HUBSPOT_TIMESTAMP) + 1)), "the timestamp is signed"
    assert not verify(uri=HUBSPOT_URI.replace("https:", "http:")), "the URL is signed, scheme included"
    assert not verify(body=HUBSPOT_BODY.replace(b"123", b"124"))
    assert not verify(client_secret="x" + HUBSPOT_SECRET)
    assert not verify(method="PUT")
    assert not verify(header=None) and not verify(header="") and not verify(client_secret="")
