"""The webhook routes of the plugin app: ``POST /woohub/webhooks/woocommerce`` and ``POST /woohub/webhooks/hubspot``.

They are not behind the Airflow login (WooCommerce and HubSpot cannot log in) and accept only signed
requests (:mod:`.signatures`). Each request, in order:

1. **Size**: a body over ``WOOHUB_WEBHOOK_MAX_BYTES`` (default 1 MiB) is refused with 413 before it is
   parsed: first by its ``Content-Length``, and the streamed read stops at the limit too (a chunked body has
   none). A WooCommerce order is tens of KB, a HubSpot batch of 100 events about 40 KB.
2. **WooCommerce's ping** (``webhook_id=<id>``, no signature, sent when a webhook is saved; the save fails
   unless it gets exactly 200) is answered 200 and records nothing.
3. **Signature**: the secret comes from the Airflow connection (``woocommerce_default`` /
   ``hubspot_default``, ids overridable by ``WOOHUB_WOOCOMMERCE_CONN_ID`` / ``WOOHUB_HUBSPOT_CONN_ID``):
   extra ``webhook_secret``; for HubSpot, without it and with ``auth_type`` ``oauth2``, the connection's
   password (the app's client secret). Looked up at most once a minute per source. No secret → 503. A
   missing or wrong signature, or a HubSpot timestamp older (or newer) than 5 minutes → 401, logged with the
   source, topic, size and client address, never the body, the signature or the secret. HubSpot signs the
   URL it called: behind a proxy set ``WOOHUB_WEBHOOK_PUBLIC_URL`` to the public base URL (scheme, host and
   any path prefix the proxy strips, e.g. ``https://airflow.example.com``); default: the URL the request
   reached the API server with.
4. **Parse** (:mod:`.parse`): malformed JSON → 400, nothing recorded. Topics and event types this package
   does not sync are answered 200 and ignored (logged), so WooCommerce does not disable the webhook after
   five failures.
5. **Record** (:func:`woohub.webhooks.events.record_events`): each event once by delivery id; a replayed
   delivery changes nothing. When it says ``signal``, one Asset event on the source's changes asset
   (:func:`woohub.webhooks.assets.emit_changes`), so a burst wakes the sync DAG once. If emitting fails the
   events stay recorded and the next scheduled run takes them.

The answer is 200 with ``{"recorded", "duplicates", "ignored", "signalled"}``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from woohub.webhooks import HUBSPOT, WOOCOMMERCE, assets, parse, signatures
from woohub.webhooks.events import Recorded, record_events

log = logging.getLogger(__name__)

MAX_BYTES_ENV = "WOOHUB_WEBHOOK_MAX_BYTES"
DEFAULT_MAX_BYTES = 1024 * 1024
PUBLIC_URL_ENV = "WOOHUB_WEBHOOK_PUBLIC_URL"
#: how long a looked-up secret (or its absence) is reused
SECRET_TTL_SECONDS = 60.0
#: the routes below the plugin app's mount point (``/woohub``)
PATHS = {WOOCOMMERCE: "/webhooks/woocommerce", HUBSPOT: "/webhooks/hubspot"}

#: ``emit(source, extra) -> whether an Asset event was made``
Emitter = Callable[[str, Mapping[str, Any]], bool]


@dataclass(frozen=True)
class WebhookSecret:
    """What a source's signatures are checked with; ``app_ids``: HubSpot app ids whose writes are echoes."""

    secret: str = field(repr=False)
    app_ids: tuple[str, ...] = ()


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def connection_conn_id(source: str) -> str:
    """The Airflow connection holding ``source``'s secret (the sync DAGs' connection ids)."""
    from woohub.sync import dag_support

    return dag_support.WOOCOMMERCE_CONN_ID if source == WOOCOMMERCE else dag_support.HUBSPOT_CONN_ID


def connection_secret(source: str) -> WebhookSecret | None:
    """``source``'s webhook secret from its Airflow connection (see the module), ``None`` when there is none."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    conn_id = connection_conn_id(source)
    try:
        connection = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        return None
    extra = connection.extra_dejson or {}
    secret = str(extra.get("webhook_secret") or "")
    if not secret and source == HUBSPOT and extra.get("auth_type") == "oauth2":
        secret = connection.password or ""
    app_ids = (str(extra["app_id"]),) if source == HUBSPOT and extra.get("app_id") else ()
    return WebhookSecret(secret, app_ids) if secret else None


class CachedSecrets:
    """``lookup`` per source, each answer (also "none") reused for ``ttl`` seconds."""

    def __init__(self, lookup: Callable[[str], WebhookSecret | None] = connection_secret, *,
                 ttl: float = SECRET_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup, self._ttl, self._clock = lookup, ttl, clock
        self._cache: dict[str, tuple[float, WebhookSecret | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, source: str) -> WebhookSecret | None:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(source)
            if cached and cached[0] > now:
                return cached[1]
        found = self._lookup(source)
        with self._lock:
            self._cache[source] = (now + self._ttl, found)
        return found

    def __repr__(self) -> str:
        return f"CachedSecrets(sources={sorted(self._cache)})"


def max_bytes() -> int:
    """``WOOHUB_WEBHOOK_MAX_BYTES`` (default 1 MiB)."""
    configured = os.getenv(MAX_BYTES_ENV, "")
    return int(configured) if configured.strip().isdigit() and int(configured) > 0 else DEFAULT_MAX_BYTES


def signed_url(request: Request, public_base: str | None = None) -> str:
    """The URL HubSpot called, as it signed it: ``public_base`` (default ``WOOHUB_WEBHOOK_PUBLIC_URL``, else
    the request's own scheme and host) + the path as sent + the query string."""
    base = (public_base if public_base is not None else os.getenv(PUBLIC_URL_ENV, "")).strip().rstrip("/")
    if not base:
        base = f"{request.url.scheme}://{request.url.netloc}"
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.scope["path"]
    query = request.scope.get("query_string", b"").decode("latin-1")
    return base + path + (f"?{query}" if query else "")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused (413) past ``limit`` bytes by its ``Content-Length`` or while it streams in."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise _Refused(400, "invalid Content-Length")
        if int(declared) > limit:
            raise _Refused(413, f"the body is over the {limit} byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Refused(413, f"the body is over the {limit} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _shown(value: str) -> str:
    """A header value for a log line: short, no control characters."""
    return repr(value[:64])


def webhook_router(engine: Callable[[], Engine], *, emit: Emitter = assets.emit_changes,
                   secrets: Callable[[str], WebhookSecret | None] | None = None) -> APIRouter:
    """The two webhook routes; ``engine`` opens staging, ``emit`` makes the Asset event, ``secrets`` looks up
    a source's secret (default: its Airflow connection, cached)."""
    router = APIRouter()
    lookup = secrets or CachedSecrets()

    async def secret_of(source: str) -> WebhookSecret:
        found = await run_in_threadpool(lookup, source)
        if found is None:
            raise _Refused(503, f"the {source} webhook secret is not configured (connection "
                                f"{connection_conn_id(source)}, extra webhook_secret)")
        return found

    async def accept(source: str, label: str, parsed: parse.Parsed) -> JSONResponse:
        recorded: Recorded = await run_in_threadpool(lambda: record_events(engine(), parsed.events)) \
            if parsed.events else Recorded(0, 0, False)
        signalled = False
        if recorded.signal:
            try:
                signalled = await run_in_threadpool(emit, source, {"source": f"woohub {source} webhook",
                                                                   "new_events": recorded.new})
            except Exception:  # the events are recorded: the next scheduled run takes them
                log.exception("webhooks: could not emit the %s changes Asset event; the events stay recorded",
                              source)
        ignored = sum(parsed.ignored.values())
        log.info("webhooks: %s %s: %d new, %d duplicate, %d ignored%s%s", source, label, recorded.new,
                 recorded.duplicates, ignored, f" ({', '.join(sorted(parsed.ignored))})" if ignored else "",
                 ", Asset event emitted" if signalled else "")
        return JSONResponse({"recorded": recorded.new, "duplicates": recorded.duplicates, "ignored": ignored,
                             "signalled": signalled})

    def refused(source: str, error: _Refused, request: Request, detail: str) -> JSONResponse:
        log.log(logging.ERROR if error.status == 503 else logging.WARNING,
                "webhooks: refused a %s delivery with %d: %s (%s, Content-Length %s, from %s)", source,
                error.status, error.detail, detail, request.headers.get("content-length", "-"), _client(request))
        return JSONResponse({"detail": error.detail}, status_code=error.status)

    @router.post(PATHS[WOOCOMMERCE], include_in_schema=False)
    async def woocommerce(request: Request) -> JSONResponse:
        topic = parse.woocommerce_topic(request.headers)
        try:
            body = await read_body(request, max_bytes())
            if parse.is_woocommerce_ping(request.headers, body):
                log.info("webhooks: answered WooCommerce's ping for a saved webhook (from %s)", _client(request))
                return JSONResponse({"ping": "ok"})
            secret = await secret_of(WOOCOMMERCE)
            if not signatures.verify_woocommerce(body, secret.secret, request.headers.get("x-wc-webhook-signature")):
                raise _Refused(401, "missing or invalid X-WC-Webhook-Signature")
            try:
                parsed = parse.woocommerce_events(request.headers, body)
            except parse.DeliveryError as error:
                raise _Refused(400, str(error)) from None
        except _Refused as error:
            return refused(WOOCOMMERCE, error, request, f"topic {_shown(topic)}")
        return await accept(WOOCOMMERCE, topic, parsed)

    @router.post(PATHS[HUBSPOT], include_in_schema=False)
    async def hubspot(request: Request) -> JSONResponse:
        try:
            body = await read_body(request, max_bytes())
            secret = await secret_of(HUBSPOT)
            timestamp = request.headers.get("x-hubspot-request-timestamp")
            if not signatures.hubspot_timestamp_fresh(timestamp):
                raise _Refused(401, "missing or stale X-HubSpot-Request-Timestamp")
            if not signatures.verify_hubspot_v3(secret.secret, request.method, signed_url(request), body, timestamp,
                                                request.headers.get("x-hubspot-signature-v3")):
                raise _Refused(401, "missing or invalid X-HubSpot-Signature-v3")
            try:
                parsed = parse.hubspot_events(body, own_app_ids=secret.app_ids)
            except parse.DeliveryError as error:
                raise _Refused(400, str(error)) from None
        except _Refused as error:
            return refused(HUBSPOT, error, request, "batch")
        return await accept(HUBSPOT, "batch", parsed)

    return router


__all__ = ["DEFAULT_MAX_BYTES", "MAX_BYTES_ENV", "PATHS", "PUBLIC_URL_ENV", "SECRET_TTL_SECONDS", "CachedSecrets",
           "Emitter", "WebhookSecret", "connection_conn_id", "connection_secret", "max_bytes",
           "read_body", "signed_url", "webhook_router"]
