"""The signatures WooCommerce and HubSpot put on their webhook deliveries, and their checks (pure functions).

**WooCommerce** (``WC_Webhook::generate_signature``): ``X-WC-Webhook-Signature`` is
``base64(HMAC-SHA256(secret, raw body))`` over the body bytes exactly as sent (the JSON is encoded before it
is signed), with the webhook's secret (WooCommerce HTML-entity-decodes the stored secret first, so a secret
with ``&``, ``<``, ``>`` or quotes is best avoided).

**HubSpot** (``X-HubSpot-Signature-v3``): ``base64(HMAC-SHA256(client secret, method + uri + body +
timestamp))``, UTF-8, where ``timestamp`` is the ``X-HubSpot-Request-Timestamp`` header (milliseconds since
the epoch, as sent) and ``uri`` the full URL HubSpot called, with the percent-escapes of
:data:`HUBSPOT_DECODED_ESCAPES` decoded (HubSpot's "validating requests" rule). A request whose timestamp
is more than :data:`HUBSPOT_MAX_AGE_MS` (5 minutes) old, or that far in the future, is refused: a recorded
request cannot be replayed later.

Every comparison is constant-time (:func:`hmac.compare_digest`); nothing here logs or raises with a secret
or a signature in it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

#: how old (or how far ahead of this clock) a HubSpot request timestamp may be
HUBSPOT_MAX_AGE_MS = 5 * 60 * 1000
#: the escapes HubSpot's v3 rule decodes in the request URI before signing (any case of the hex digits)
HUBSPOT_DECODED_ESCAPES = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
                           "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
_ESCAPE = re.compile("|".join(HUBSPOT_DECODED_ESCAPES), re.IGNORECASE)


def _hmac_sha256_base64(key: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()).decode("ascii")


def _same(expected: str, header: str | None) -> bool:
    if not header:
        return False
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8", "replace"))


def woocommerce_signature(body: bytes, secret: str) -> str:
    """The ``X-WC-Webhook-Signature`` WooCommerce sends with ``body`` signed by ``secret``."""
    return _hmac_sha256_base64(secret, body)


def verify_woocommerce(body: bytes, secret: str, header: str | None) -> bool:
    """Whether ``header`` is ``body``'s signature under ``secret`` (``False`` without a secret or header)."""
    if not secret:
        return False
    return _same(woocommerce_signature(body, secret), header)


def hubspot_signed_uri(uri: str) -> str:
    """``uri`` as HubSpot signs it: the escapes of :data:`HUBSPOT_DECODED_ESCAPES` decoded, the rest as is."""
    return _ESCAPE.sub(lambda match: HUBSPOT_DECODED_ESCAPES[match.group(0).upper()], uri)


def hubspot_signature_v3(client_secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The ``X-HubSpot-Signature-v3`` of a request (``uri``: the full URL called, see :func:`hubspot_signed_uri`,
    applied here; ``timestamp``: the ``X-HubSpot-Request-Timestamp`` header as sent)."""
    message = method.upper().encode("utf-8") + hubspot_signed_uri(uri).encode("utf-8") + body \
        + timestamp.encode("utf-8")
    return _hmac_sha256_base64(client_secret, message)


def hubspot_timestamp_fresh(timestamp: str | None, *, now_ms: int | None = None,
                            max_age_ms: int = HUBSPOT_MAX_AGE_MS) -> bool:
    """Whether ``timestamp`` (ms since the epoch) is within ``max_age_ms`` of ``now_ms`` (default: now)."""
    if not timestamp or not timestamp.strip().isdigit():
        return False
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return abs(now - int(timestamp.strip())) <= max_age_ms


def verify_hubspot_v3(client_secret: str, method: str, uri: str, body: bytes, timestamp: str | None,
                      header: str | None, *, now_ms: int | None = None,
                      max_age_ms: int = HUBSPOT_MAX_AGE_MS) -> bool:
    """Whether ``header`` is the request's v3 signature and its ``timestamp`` is fresh (see the module)."""
    if not client_secret or not timestamp or not hubspot_timestamp_fresh(timestamp, now_ms=now_ms,
                                                                         max_age_ms=max_age_ms):
        return False
    return _same(hubspot_signature_v3(client_secret, method, uri, body, timestamp.strip()), header)


__all__ = ["HUBSPOT_DECODED_ESCAPES", "HUBSPOT_MAX_AGE_MS", "hubspot_signature_v3", "hubspot_signed_uri",
           "hubspot_timestamp_fresh", "verify_hubspot_v3", "verify_woocommerce", "woocommerce_signature"]
