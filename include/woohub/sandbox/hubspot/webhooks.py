"""HubSpot's Webhooks API v3 for one public app, and the event deliveries it makes.

The app: id :data:`APP_ID` (1001, the OAuth app whose client id/secret the sandbox knows: ``sandbox-client-id``
/ ``sandbox-client-secret``), managed with the developer account's API key :data:`DEVELOPER_API_KEY` in
``?hapikey=`` (HubSpot's webhooks API takes the developer key, not an access token):

``GET|PUT|DELETE /webhooks/v3/{appId}/settings``       ``{"targetUrl", "throttling": {"maxConcurrentRequests",
                                                         "period"}, "createdAt", "updatedAt"}``
``GET|POST /webhooks/v3/{appId}/subscriptions``        ``{"results": [...]}`` / create one
``GET|PATCH|DELETE /webhooks/v3/{appId}/subscriptions/{id}``
``POST /webhooks/v3/{appId}/subscriptions/batch/update`` ``{"inputs": [{"id", "active"}]}``

A subscription: ``{"id": "<n>", "eventType": "contact.propertyChange", "propertyName": "email", "active",
"createdAt", "updatedAt"}``; ``active`` is false unless the create says true. Errors as HubSpot's usual body
(401 for a missing or wrong hapikey, 400 VALIDATION_ERROR for an unknown event type, a propertyChange without
``propertyName`` or with a property the portal does not have, 409 for a second subscription of the same
event type and property, 404 for an unknown app or subscription).

Events (fired: ``contact``/``deal`` ``.creation``, ``.propertyChange``, ``.deletion``; other event types
are accepted and never fire): the portal calls :meth:`HubSpotWebhooks.record_changed` on every create, update
and archive (not for seeding, nor for ``/__sandbox__/records``). A property change is an event only when
the value changes; a create is a ``creation`` event plus a ``propertyChange`` for each subscribed property it
sets. Each event: ``eventId``, ``subscriptionId``, ``portalId``, ``appId``, ``occurredAt`` (ms),
``subscriptionType``, ``attemptNumber`` (0 on the first try), ``objectId``, ``changeFlag`` (CREATED /
DELETED), ``propertyName`` / ``propertyValue`` (propertyChange), ``changeSource`` and ``sourceId``: a
change through the CRM API is ``"INTEGRATION"`` with the app id that made it (:data:`PRIVATE_APP_ID` for
the private-app token, :data:`APP_ID` for an OAuth token), a person in HubSpot's UI (control action
``POST /__sandbox__/ui-edit``) is ``"CRM_UI"`` with ``"userId:<n>"``. A receiver that must ignore its own
writes compares ``sourceId``.

Delivery: events wait ``webhook_batch_window_seconds`` (sandbox setting, default 1 s) after the first one,
then go as JSON arrays of at most 100 to the target URL, one request at a time (within any
``maxConcurrentRequests``), with ``Content-Type: application/json``, ``X-HubSpot-Signature-Version: v1``,
``X-HubSpot-Signature`` (v1: hex SHA-256 of client secret + body), ``X-HubSpot-Signature-v3`` (base64
HMAC-SHA256, keyed with the client secret, of ``POST`` + target URL + body + timestamp) and
``X-HubSpot-Request-Timestamp`` (ms). A refused connection, a timeout (``webhook_timeout_seconds``, default
5 s, HubSpot's limit), a 5xx or a 429 is retried (``attemptNumber`` + 1) up to ``webhook_max_attempts``
attempts in all (HubSpot: 10 over 24 hours; the sandbox compresses the schedule to
``webhook_retry_base_seconds`` * 2^(n-1), default 1 s, 2 s, 4 s ...); other 4xx answers are not retried.

No subscriptions, no work: :meth:`HubSpotWebhooks.record_changed` returns at once without a target URL or
an active subscription, and the delivery thread starts with the first queued event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import re
import threading
import time
from typing import TYPE_CHECKING, Any

import requests
from werkzeug.wrappers import Request, Response

from woohub.sandbox.hubspot import schema
from woohub.sandbox.hubspot.auth import CLIENT_SECRET
from woohub.sandbox.hubspot.errors import ApiError, correlation_id, validation
from woohub.sandbox.hubspot.values import iso, now_ms
from woohub.sandbox.server import json_response

if TYPE_CHECKING:
    from woohub.sandbox.hubspot.api import HubSpotApi
    from woohub.sandbox.hubspot.store import Record

log = logging.getLogger(__name__)

APP_ID = 1001
PRIVATE_APP_ID = 2002
DEVELOPER_API_KEY = "sandbox-developer-key"
UI_USER_ID = 1
USER_AGENT = ("HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio-http-client) - "
              "WebhooksExecutorDaemon-executor")
BATCH_LIMIT = 100
DELIVERY_LOG_LIMIT = 2000
SETTINGS_DEFAULTS: dict[str, Any] = {
    "webhook_batch_window_seconds": 1.0, "webhook_retry_base_seconds": 1.0, "webhook_max_attempts": 10,
    "webhook_timeout_seconds": 5.0,
}
_OBJECTS = ("contact", "company", "deal", "ticket", "product", "line_item")
_EVENTS = ("creation", "deletion", "propertyChange", "restore", "merge", "associationChange", "privacyDeletion")
EVENT_TYPES = {f"{o}.{e}" for o in _OBJECTS for e in _EVENTS if e != "privacyDeletion" or o == "contact"}
FIRED = {"contacts": "contact", "deals": "deal"}  # sandbox object type -> event type prefix
_ROUTE = re.compile(r"^/webhooks/v3/([^/]+)/(settings|subscriptions)(?:/(batch/update|[^/]+))?$")


def signature_v3(client_secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    """``X-HubSpot-Signature-v3``: base64 HMAC-SHA256 of method + URL + body + timestamp."""
    message = method.encode() + url.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(client_secret.encode(), message, hashlib.sha256).digest()).decode()


def signature_v1(client_secret: str, body: bytes) -> str:
    """``X-HubSpot-Signature`` (version v1): hex SHA-256 of the client secret followed by the body."""
    return hashlib.sha256(client_secret.encode() + body).hexdigest()


class HubSpotWebhooks:
    """The app's webhook settings and subscriptions, the event queue and the delivery log."""

    def __init__(self, api: HubSpotApi) -> None:
        self.api = api
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self.source: tuple[str, str] = ("INTEGRATION", str(PRIVATE_APP_ID))  # who makes the current change
        self._rng = random.Random()
        self.clear()

    @property
    def settings(self) -> dict[str, Any]:
        return self.api.settings

    # -- state ----------------------------------------------------------------------------------------

    def clear(self) -> None:
        with self._cond:
            self.app_settings: dict[str, Any] | None = None
            self.subscriptions: dict[int, dict[str, Any]] = {}
            self.next_id = 1
            self._events: list[dict[str, Any]] = []  # first tries, waiting for the batch window
            self._first_at: float | None = None
            self._retries: list[tuple[float, int, list[dict[str, Any]]]] = []  # (due, attempt, events)
            self.deliveries: list[dict[str, Any]] = []
            self._seq = 0

    def snapshot(self) -> dict[str, Any]:
        return {"settings": self.app_settings, "subscriptions": list(self.subscriptions.values()),
                "next_id": self.next_id}

    def restore(self, data: dict[str, Any] | None) -> None:
        self.clear()
        if data:
            self.app_settings = data.get("settings")
            self.subscriptions = {int(s["id"]): dict(s) for s in data.get("subscriptions", [])}
            self.next_id = int(data.get("next_id", 1))

    # -- the API --------------------------------------------------------------------------------------

    def dispatch(self, request: Request, path: str) -> Response:
        try:
            match = _ROUTE.match(path)
            if match is None:
                return Response("", status=404)
            self._authenticate(request)
            app, kind, rest = match.groups()
            if not app.isdigit() or int(app) != APP_ID:
                raise ApiError(404, "OBJECT_NOT_FOUND", f"App {app} was not found for this developer account.")
            with self.api._lock:
                status, body = self._handle(request, kind, rest)
        except ApiError as exc:
            status, body = exc.status, exc.body()
        return json_response(None if status == 204 else body, status)

    @staticmethod
    def _authenticate(request: Request) -> None:
        key = request.args.get("hapikey")
        if not key:
            raise ApiError(401, "INVALID_AUTHENTICATION",
                           "Any of the listed authentication credentials are missing: hapikey")
        if key != DEVELOPER_API_KEY:
            raise ApiError(401, "INVALID_AUTHENTICATION",
                           "The API key provided is invalid. View or manage your API key here: "
                           "https://app.hubspot.com/l/api-key/")

    def _handle(self, request: Request, kind: str, rest: str | None) -> tuple[int, Any]:
        method = request.method
        if kind == "settings" and rest is None:
            if method == "GET":
                if self.app_settings is None:
                    raise ApiError(404, "OBJECT_NOT_FOUND", f"No webhook settings found for app {APP_ID}")
                return 200, self.app_settings
            if method == "PUT":
                return 200, self._put_settings(self._json(request))
            if method == "DELETE":
                self.app_settings = None
                return 204, None
        if kind == "subscriptions" and rest is None:
            if method == "GET":
                return 200, {"results": [self._out(s) for s in self.subscriptions.values()]}
            if method == "POST":
                return 201, self._out(self._create(self._json(request)))
        if kind == "subscriptions" and rest == "batch/update" and method == "POST":
            return self._batch_update(self._json(request))
        if kind == "subscriptions" and rest is not None and rest.isdigit():
            sub = self.subscriptions.get(int(rest))
            if sub is None:
                raise ApiError(404, "OBJECT_NOT_FOUND", f"Subscription {rest} was not found for app {APP_ID}")
            if method == "GET":
                return 200, self._out(sub)
            if method == "PATCH":
                return 200, self._out(self._patch(sub, self._json(request)))
            if method == "DELETE":
                del self.subscriptions[sub["id"]]
                return 204, None
        raise ApiError(405, "VALIDATION_ERROR", f"{method} is not supported here")

    @staticmethod
    def _json(request: Request) -> Any:
        try:
            return json.loads(request.get_data(as_text=True) or "{}")
        except json.JSONDecodeError as exc:
            raise validation(f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}") from None

    def _put_settings(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("targetUrl"), str) or not re.match(
                r"^https?://[^/\s]+", body["targetUrl"]):
            raise validation("targetUrl is required and must be an absolute http(s) URL.")
        throttling = body.get("throttling") or {"maxConcurrentRequests": 10, "period": "SECONDLY"}
        limit = throttling.get("maxConcurrentRequests") if isinstance(throttling, dict) else None
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 5:
            raise validation("throttling.maxConcurrentRequests must be an integer of at least 5.")
        stamp = iso(now_ms())
        created = self.app_settings["createdAt"] if self.app_settings else stamp
        self.app_settings = {"createdAt": created, "targetUrl": body["targetUrl"],
                             "throttling": {"maxConcurrentRequests": limit,
                                            "period": throttling.get("period", "SECONDLY")},
                             "updatedAt": stamp}
        return self.app_settings

    def _create(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("eventType") not in EVENT_TYPES:
            raise validation(f"Invalid eventType: {body.get('eventType') if isinstance(body, dict) else None}. "
                             f"Valid event types: {', '.join(sorted(EVENT_TYPES))}")
        event_type, name = body["eventType"], body.get("propertyName")
        if event_type.endswith(".propertyChange"):
            if not isinstance(name, str) or not name:
                raise validation(f"propertyName is required for {event_type} subscriptions.")
            t = schema.object_type(event_type.split(".")[0])
            if t is not None and name not in self.api.portal.properties.get(t, {}):
                raise validation(f"Property {name} does not exist for object type {event_type.split('.')[0]}.")
        else:
            name = None
        if any(s["eventType"] == event_type and s.get("propertyName") == name for s in self.subscriptions.values()):
            raise ApiError(409, "CONFLICT", f"A subscription for {event_type}"
                           f"{f' ({name})' if name else ''} already exists for app {APP_ID}.")
        stamp = iso(now_ms())
        sub = {"id": self.next_id, "eventType": event_type, "propertyName": name,
               "active": bool(body.get("active", False)), "createdAt": stamp, "updatedAt": stamp}
        self.next_id += 1
        self.subscriptions[sub["id"]] = sub
        return sub

    def _patch(self, sub: dict[str, Any], body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("active"), bool):
            raise validation("active (true or false) is required.")
        sub["active"] = body["active"]
        sub["updatedAt"] = iso(now_ms())
        return sub

    def _batch_update(self, body: Any) -> tuple[int, Any]:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise validation("Invalid input JSON: the body needs inputs[].")
        started = iso(now_ms())
        results, errors = [], []
        for item in inputs:
            sid = item.get("id") if isinstance(item, dict) else None
            sub = self.subscriptions.get(int(sid)) if str(sid).isdigit() else None
            if sub is None:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "message": f"Subscription {sid} was not found", "context": {"id": [str(sid)]}})
                continue
            results.append(self._out(self._patch(sub, item)))
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                               "completedAt": iso(now_ms())}
        if errors:
            out.update(numErrors=len(errors), errors=errors)
            return 207, out
        return 200, out

    @staticmethod
    def _out(sub: dict[str, Any]) -> dict[str, Any]:
        out = {"active": sub["active"], "createdAt": sub["createdAt"], "eventType": sub["eventType"],
               "id": str(sub["id"]), "updatedAt": sub["updatedAt"]}
        if sub.get("propertyName"):
            out["propertyName"] = sub["propertyName"]
        return out

    # -- events ---------------------------------------------------------------------------------------

    def record_changed(self, kind: str, t: str, rec: Record, changes: dict[str, str | None]) -> None:
        """The portal created (``creation``), updated (``propertyChange``, ``changes`` = the properties whose
        value changed) or archived (``deletion``) a record: queue the events of the active subscriptions."""
        prefix = FIRED.get(t)
        if prefix is None or self.app_settings is None or not self.subscriptions:
            return
        active = [s for s in self.subscriptions.values() if s["active"] and s["eventType"].startswith(prefix + ".")]
        if not active:
            return
        now = now_ms()
        change_source, source_id = self.source
        events = []
        for sub in active:
            event = sub["eventType"].split(".", 1)[1]
            base = {"eventId": self._rng.randrange(10**9, 10**10), "subscriptionId": sub["id"],
                    "portalId": schema.PORTAL_ID, "appId": APP_ID, "occurredAt": now,
                    "subscriptionType": sub["eventType"], "attemptNumber": 0, "objectId": rec["id"]}
            tail = {"changeSource": change_source, "sourceId": source_id}
            if event == kind == "creation":
                events.append({**base, "changeFlag": "CREATED", **tail})
            elif event == kind == "deletion":
                events.append({**base, "changeFlag": "DELETED", **tail})
            elif event == "propertyChange" and kind in ("creation", "propertyChange") and \
                    sub["propertyName"] in changes:
                value = changes[sub["propertyName"]]
                events.append({**base, "propertyName": sub["propertyName"],
                               "propertyValue": "" if value is None else value, **tail})
        if not events:
            return
        with self._cond:
            if not self._events:
                self._first_at = time.monotonic()
            self._events.extend(events)
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="sandbox-hubspot-webhooks", daemon=True)
            self._thread.start()

    def _next_batch(self) -> tuple[int, list[dict[str, Any]]] | None:
        """Under the condition: the batch due now, or None (after waiting)."""
        now = time.monotonic()
        waits = []
        if self._events and self._first_at is not None:
            due = self._first_at + float(self.settings["webhook_batch_window_seconds"])
            if due <= now:
                batch, self._events = self._events[:BATCH_LIMIT], self._events[BATCH_LIMIT:]
                if not self._events:  # a remainder over 100 has waited its window: it goes right after
                    self._first_at = None
                return 0, batch
            waits.append(due - now)
        if self._retries:
            self._retries.sort(key=lambda r: r[0])
            due, attempt, events = self._retries[0]
            if due <= now:
                self._retries.pop(0)
                return attempt, events
            waits.append(due - now)
        if not waits:
            if not self._cond.wait(30.0) and not self._events and not self._retries:
                self._thread = None
                raise StopIteration
            return None
        self._cond.wait(min(waits))
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                try:
                    picked = self._next_batch()
                except StopIteration:
                    return
            if picked is None:
                continue
            try:
                self._deliver(*picked)
            except Exception:
                log.exception("HubSpot webhook delivery failed in the sandbox")

    def _deliver(self, attempt: int, events: list[dict[str, Any]]) -> None:
        with self.api._lock:
            if self.app_settings is None:
                return
            url = self.app_settings["targetUrl"]
            timeout = float(self.settings["webhook_timeout_seconds"])
            max_attempts = int(self.settings["webhook_max_attempts"])
            retry_base = float(self.settings["webhook_retry_base_seconds"])
        body = json.dumps([{**e, "attemptNumber": attempt} for e in events], separators=(",", ":")).encode()
        timestamp = str(now_ms())
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "X-HubSpot-Signature": signature_v1(CLIENT_SECRET, body), "X-HubSpot-Signature-Version": "v1",
                   "X-HubSpot-Signature-v3": signature_v3(CLIENT_SECRET, "POST", url, body, timestamp),
                   "X-HubSpot-Request-Timestamp": timestamp}
        code: int | None = None
        error: str | None = None
        try:
            code = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False).status_code
        except requests.Timeout:
            error = f"timeout after {timeout} s"
        except requests.RequestException as exc:
            error = f"connection failed: {type(exc).__name__}"
        ok = code is not None and 200 <= code < 300
        retry = not ok and (code is None or code >= 500 or code == 429) and attempt + 1 < max_attempts
        with self._cond:
            if retry:
                self._retries.append((time.monotonic() + retry_base * 2 ** attempt, attempt + 1, events))
                self._cond.notify_all()
            self._seq += 1
            self.deliveries.append({"seq": self._seq, "url": url, "attempt": attempt, "events": len(events),
                                    "status_code": code, "error": error, "ok": ok, "will_retry": retry,
                                    "request_headers": headers, "body": body.decode(), "at": time.time()})
            del self.deliveries[:-DELIVERY_LOG_LIMIT]

    # -- control API ----------------------------------------------------------------------------------

    def deliveries_view(self, args: Any) -> dict[str, Any]:
        since = int(args.get("since", 0) or 0)
        with self._cond:
            return {"deliveries": [dict(d) for d in self.deliveries if d["seq"] > since],
                    "pending": len(self._events) + sum(len(r[2]) for r in self._retries)}

    def clear_deliveries(self) -> dict[str, Any]:
        with self._cond:
            self.deliveries.clear()
        return {"deliveries": [], "pending": len(self._events) + sum(len(r[2]) for r in self._retries)}

    def ui_edit(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /__sandbox__/ui-edit``: a person changes (``id`` given) or creates a record in HubSpot's UI:
        ``{"object_type": "contacts", "id": 1001, "properties": {...}}``; events say ``CRM_UI``."""
        t = schema.object_type(str(body.get("object_type") or ""))
        if t is None or not isinstance(body.get("properties"), dict):
            raise ValueError("ui-edit takes {\"object_type\", \"id\"?, \"properties\": {...}}")
        portal = self.api.portal
        with self.api._lock:
            saved, self.source = self.source, ("CRM_UI", f"userId:{UI_USER_ID}")
            try:
                if body.get("id") is None:
                    rec = portal.create(t, body["properties"], now_ms())
                else:
                    found = portal.get(t, body["id"])
                    if found is None:
                        raise ValueError(f"no {t} record {body['id']}")
                    rec = portal.update(t, found, body["properties"], now_ms())
            except ApiError as exc:
                raise ValueError(exc.message) from None
            finally:
                self.source = saved
            return {"id": str(rec["id"]), "properties": dict(rec["properties"])}


__all__ = ["APP_ID", "DEVELOPER_API_KEY", "HubSpotWebhooks", "PRIVATE_APP_ID", "correlation_id",
           "signature_v1", "signature_v3"]
