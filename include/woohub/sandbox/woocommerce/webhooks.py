"""WooCommerce webhooks: the ``/wc/v3/webhooks`` resource and the deliveries, as WooCommerce 11 makes them.

The resource (``WC_REST_Webhooks_Controller`` -> V2 -> V1):

* list (``status`` all|active|paused|disabled, ``search``, ``include``/``exclude``, ``after``/``before``,
  ``orderby`` date|id|title, ``order``, paging headers), get, create, update, delete (``force=true`` only:
  501 ``woocommerce_rest_trash_not_supported`` otherwise) and batch (deletes forced, one error per item);
* the ``secret`` is write-only: no answer ever contains it (``prepare_item_for_response`` leaves it out);
* create: ``topic`` and ``delivery_url`` are required (400 ``rest_missing_callback_param``), the topic must be
  valid (400 ``woocommerce_rest_shop_webhook_invalid_topic``), the URL ``http(s)://`` (400
  ``..._invalid_delivery_url``); a missing secret becomes a random 50-character one; the new webhook is
  always ``active`` whatever ``status`` says (V1 ``create_item`` sets it from the post status, "publish");
  then WooCommerce pings the delivery URL (``deliver_ping``: POST ``webhook_id=<id>``, form-encoded, 5 s)
  and answers 201 **whatever the ping got**: the REST controller ignores the ping's result (only the admin
  screen shows "Error: Delivery URL returned response code: N"). The ping is in the delivery log with its
  result;
* get/update of an unknown id: 400 ``woocommerce_rest_shop_webhook_invalid_id`` "ID is invalid."; delete of
  an unknown id: 404 "Invalid ID.".

Deliveries (``WC_Webhook::process`` -> Action Scheduler -> ``deliver``): the topics' hooks fire on the
store's writes (:meth:`WooWebhooks.changed`, called by :class:`~woohub.sandbox.woocommerce.store.Store`):

* ``order.created`` / ``.updated`` (also a refund) / ``.deleted`` (trashed) / ``.restored`` (out of the
  trash); ``product.*`` likewise, variations included (resource ``product``); ``customer.created`` /
  ``.updated`` / ``.deleted`` (only a user with the customer role). A permanent delete (``force=true``) of
  an order or a product fires no topic (``delete_post`` is not among the topics' hooks); an update that
  takes a record out of the trash is delivered as ``.restored`` and ``.updated``.
* Only ``active`` webhooks deliver. A delivery is queued, not sent: ``delay_seconds`` later (setting
  ``webhook_delay_seconds``, default 1 s; Action Scheduler's queue runner) a background thread builds the
  payload **then** — the resource as ``GET /wc/v3/<resource>s/<id>`` renders it at that moment (view
  context), ``{"id": <id>}`` for a ``deleted`` event, the REST error body when the record is gone — and
  POSTs it. While a delivery for the same webhook and record waits, another change queues nothing (the
  ``as_next_scheduled_action`` check), so bursts coalesce into one delivery with the latest state.
* Headers: ``Content-Type: application/json``, ``User-Agent: WooCommerce/11.0.1 Hookshot (WordPress/6.9)``,
  ``X-WC-Webhook-Source`` (the site URL with a trailing slash), ``-Topic``, ``-Resource``, ``-Event``,
  ``-Signature`` (base64 HMAC-SHA256 of the raw body with the secret), ``-ID``, ``-Delivery-ID``. The body is
  ``wp_json_encode`` output (``\\/`` and ``\\uXXXX`` escapes). The delivery id is WooCommerce's
  ``wp_hash(webhook id . time())``: **the same for two deliveries of one webhook in the same second** (e.g.
  ``order.updated`` for two orders), so a receiver must not deduplicate on it alone.
* Success is 200-302 (``log_delivery``), which resets the failure count; any other answer, a timeout
  (``webhook_timeout_seconds``, default 60) or a refused connection is a failure: ``failed_delivery``
  disables the webhook (status ``disabled``) on a failure when the count already exceeds 5, i.e. on the 7th
  consecutive failure (the docs say "after 5"; the code counts ``> 5``), and counts it otherwise. Redirects
  are not followed.

Not emulated: ``wp_safe_remote_request`` refusing private addresses (a real store cannot deliver to
127.0.0.1 without the ``http_request_host_is_external`` filter; the sandbox delivers anywhere), coupon and
``action.*`` deliveries (accepted as topics, never fired), the legacy API versions.

No webhooks, no work: :meth:`WooWebhooks.changed` returns at once when no active webhook exists, and the
delivery thread starts with the first queued delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from werkzeug.wrappers import Request, Response

from woohub.sandbox.woocommerce import payloads as P
from woohub.sandbox.woocommerce.clock import fmt_gmt, fmt_local
from woohub.sandbox.woocommerce.errors import WooError, invalid_param
from woohub.sandbox.woocommerce.listing import DateWindow, bool_param, enum_param, ids_param

if TYPE_CHECKING:
    from woohub.sandbox.woocommerce.api import WooCommerceApi

WC_VERSION, WP_VERSION = "11.0.1", "6.9"
USER_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})"
STATUSES = ("active", "paused", "disabled")
MAX_FAILURES = 5  # woocommerce_max_webhook_delivery_failures
DELIVERY_LOG_LIMIT = 2000
#: WC_Webhook::get_default_topic_hooks (11.x)
TOPIC_HOOKS: dict[str, list[str]] = {
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer", "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded", "woocommerce_delete_order_refund"],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product",
                        "woocommerce_new_product_variation"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product",
                        "woocommerce_update_product_variation"],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
    "product.published": ["woocommerce_product_published"],
}
SETTINGS_DEFAULTS: dict[str, float] = {
    "webhook_delay_seconds": 1.0, "webhook_timeout_seconds": 60.0, "webhook_ping_timeout_seconds": 5.0,
}
_INVALID_ID = {"order": "woocommerce_rest_shop_order_invalid_id", "product": "woocommerce_rest_product_invalid_id",
               "customer": "woocommerce_rest_invalid_id"}
_PASSWORD_CHARS = string.ascii_letters + string.digits + "!@#$%^&*()-_ []{}<>~`+=,.;:/?|"


def valid_topic(topic: str) -> bool:
    """``wc_is_webhook_valid_topic``: a default topic, or ``action.<hook>``."""
    if topic.startswith("action."):
        return len(topic) > len("action.")
    return topic in TOPIC_HOOKS


def valid_url(url: Any) -> bool:
    """``wc_is_valid_url``: starts with http:// or https:// and parses as a URL with a host."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.netloc) and " " not in url


def signature(body: bytes, secret: str) -> str:
    """``WC_Webhook::generate_signature``: base64 of the raw HMAC-SHA256 of the body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def wp_json_encode(payload: Any) -> bytes:
    """``wp_json_encode`` with PHP's default flags: ``\\/`` and ``\\uXXXX`` escapes, compact."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


class WooWebhooks:
    """The store's webhooks, their delivery queue and the delivery log (state of one sandbox)."""

    def __init__(self, api: WooCommerceApi) -> None:
        self.api = api
        self.settings: dict[str, float] = dict(SETTINGS_DEFAULTS)
        self._salt = secrets.token_hex(16)  # wp_salt('auth'), for wp_hash
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self.base = ""  # the site URL the last vendor request came to (home_url)
        self.clear()

    # -- state ----------------------------------------------------------------------------------------

    def clear(self) -> None:
        with self._cond:
            self.webhooks: dict[int, dict[str, Any]] = {}
            self.next_id = 1
            self._queue: dict[tuple[int, int], dict[str, Any]] = {}  # (webhook id, record id) -> job
            self.deliveries: list[dict[str, Any]] = []
            self._seq = 0

    def snapshot(self) -> dict[str, Any]:
        return {"next_id": self.next_id, "webhooks": [dict(w) for w in self.webhooks.values()]}

    def restore(self, data: dict[str, Any] | None) -> None:
        self.clear()
        if data:
            self.next_id = int(data.get("next_id", 1))
            self.webhooks = {int(w["id"]): dict(w) for w in data.get("webhooks", [])}

    def configure(self, settings: dict[str, Any]) -> dict[str, float]:
        for key, value in settings.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a non-negative number of seconds")
            self.settings[key] = float(value)
        with self._cond:
            self._cond.notify_all()
        return dict(self.settings)

    # -- rendering ------------------------------------------------------------------------------------

    def render(self, w: dict[str, Any], ctx: P.Ctx) -> dict[str, Any]:
        resource, _, event = w["topic"].partition(".")
        hooks = [event] if resource == "action" else TOPIC_HOOKS.get(w["topic"], [])
        return {
            "id": w["id"], "name": w["name"], "status": w["status"], "topic": w["topic"], "resource": resource,
            "event": event, "hooks": hooks, "delivery_url": w["delivery_url"],
            "date_created": fmt_local(w["created"], ctx.tz), "date_created_gmt": fmt_gmt(w["created"]),
            "date_modified": fmt_local(w["modified"], ctx.tz), "date_modified_gmt": fmt_gmt(w["modified"]),
            "_links": P._self_links(ctx, f"webhooks/{w['id']}", "webhooks", P.ALL_METHODS),
        }

    def _webhook(self, wid: int, status: int = 400, message: str = "ID is invalid.") -> dict[str, Any]:
        w = self.webhooks.get(wid)
        if w is None:
            raise WooError(status, "woocommerce_rest_shop_webhook_invalid_id", message)
        return w

    # -- REST handlers (called by WooCommerceApi under its lock) -------------------------------------

    def list(self, request: Request) -> Response:
        args = request.args
        status = enum_param(args, "status", "all", ["all", *STATUSES])
        include, exclude = ids_param(args, "include"), ids_param(args, "exclude")
        search = args.get("search", "").casefold()
        orderby = enum_param(args, "orderby", "date", ["date", "id", "title"])
        order = enum_param(args, "order", "desc", ["asc", "desc"])
        compiled = DateWindow(args, self.api.store.tz).compile(local_columns=False)
        rows = [w for w in self.webhooks.values()
                if (status == "all" or w["status"] == status)
                and (not include or w["id"] in include) and not (exclude and w["id"] in exclude)
                and (not search or search in w["name"].casefold())
                and (not compiled or DateWindow.match(w, compiled))]
        key: Callable[[dict[str, Any]], Any] = {"date": lambda r: r["created"], "id": lambda r: r["id"],
                                                "title": lambda r: r["name"].casefold()}[orderby]
        ids = self.api._order_by(rows, key, order == "desc")
        ctx = self.api._ctx(request)
        return self.api._collection(request, "webhooks", ids, lambda i: self.render(self.webhooks[i], ctx))

    def get(self, request: Request, wid: int) -> Response:
        return self.api._one(request, self.render(self._webhook(wid), self.api._ctx(request)))

    def create(self, request: Request) -> Response:
        w = self._create(self._checked(request, creating=True))
        return self.api._one(request, self.render(w, self.api._ctx(request, True)), 201, f"webhooks/{w['id']}")

    def update(self, request: Request, wid: int) -> Response:
        w = self._update(self._webhook(wid), self._checked(request, creating=False))
        return self.api._one(request, self.render(w, self.api._ctx(request, True)))

    def delete(self, request: Request, wid: int) -> Response:
        if not bool_param(request.args, "force"):
            raise WooError(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
        return self.api._one(request, self._delete(wid, self.api._ctx(request, True)))

    def batch(self, request: Request) -> Response:
        ctx = self.api._ctx(request, True)
        # batch sub-requests skip the route's argument checks: the controller's own errors only
        return self.api._batch(
            request,
            lambda b: self.render(self._create(b), ctx),
            lambda b: self.render(self._update(self._webhook(int(b.get("id", 0))), b), ctx),
            lambda wid: self._delete(wid, ctx),
        )

    def _checked(self, request: Request, *, creating: bool) -> dict[str, Any]:
        return self._validated(self.api._body(request), creating=creating)

    @staticmethod
    def _validated(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        """The route's argument checks (WordPress, before the controller): required args on create, the
        ``status`` enum, string types."""
        if creating:
            missing = [name for name in ("topic", "delivery_url") if name not in body]
            if missing:
                raise WooError(400, "rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}",
                               params=missing)
        for name in ("name", "topic", "secret", "delivery_url"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise invalid_param(name, f"{name} is not of type string.", "rest_invalid_type")
        if body.get("status") is not None and body["status"] not in STATUSES:
            raise invalid_param("status", "status is not one of active, paused, and disabled.", "rest_not_in_enum")
        return body

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("id"):
            raise WooError(400, "woocommerce_rest_shop_webhook_exists", "Cannot create existing shop_webhook.")
        topic = str(body.get("topic") or "")
        if not topic or not valid_topic(topic.lower()):
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_topic",
                           "Webhook topic is required and must be valid.")
        if not body.get("delivery_url") or not valid_url(body["delivery_url"]):
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_delivery_url",
                           "Webhook delivery URL must be a valid URL starting with http:// or https://.")
        now = self.api.clock.now()
        wid = self.next_id
        self.next_id += 1
        name = body.get("name") or time.strftime("Webhook created on %b %d, %Y @ %I:%M %p", time.gmtime(now))
        w = {"id": wid, "name": name, "status": "active", "topic": topic if valid_topic(topic) else "",
             "delivery_url": body["delivery_url"],
             "secret": body.get("secret") or "".join(secrets.choice(_PASSWORD_CHARS) for _ in range(50)),
             "created": now, "modified": now, "failure_count": 0, "pending_delivery": True, "user_id": 1,
             "api_version": 3}
        self.webhooks[wid] = w
        self._ping(w)
        return w

    def _update(self, w: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if body.get("topic"):
            if not valid_topic(str(body["topic"]).lower()):
                raise WooError(400, "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic must be valid.")
            w["topic"] = body["topic"] if valid_topic(body["topic"]) else ""
        if body.get("delivery_url"):
            if not valid_url(body["delivery_url"]):
                raise WooError(400, "woocommerce_rest_shop_webhook_invalid_delivery_url",
                               "Webhook delivery URL must be a valid URL starting with http:// or https://.")
            w["delivery_url"] = body["delivery_url"]
        if body.get("secret"):
            w["secret"] = body["secret"]
        if body.get("status"):
            w["status"] = body["status"]
        if body.get("name"):
            w["name"] = body["name"]
        w["modified"] = self.api.clock.now()
        return w

    def _delete(self, wid: int, ctx: P.Ctx) -> dict[str, Any]:
        w = self._webhook(wid, 404, "Invalid ID.")
        before = self.render(w, ctx)
        del self.webhooks[wid]
        with self._cond:
            for key in [k for k in self._queue if k[0] == wid]:
                del self._queue[key]
        return before

    # -- ping and deliveries --------------------------------------------------------------------------

    def _log(self, entry: dict[str, Any]) -> None:
        with self._cond:
            self._seq += 1
            entry["seq"] = self._seq
            self.deliveries.append(entry)
            del self.deliveries[:-DELIVERY_LOG_LIMIT]

    def _ping(self, w: dict[str, Any]) -> None:
        """``deliver_ping``: synchronous, in the create request; success only on exactly 200."""
        body = f"webhook_id={w['id']}".encode()
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"}
        code, error = _post(w["delivery_url"], body, headers, self.settings["webhook_ping_timeout_seconds"])
        if error is None and code == 200:
            w["pending_delivery"] = False
            result = None
        elif error is not None:
            result = f"Error: Delivery URL cannot be reached: {error}"
        else:
            result = f"Error: Delivery URL returned response code: {code}"
        self._log({"kind": "ping", "webhook_id": w["id"], "topic": w["topic"], "url": w["delivery_url"],
                   "request_headers": headers, "body": body.decode(), "status_code": code, "error": result,
                   "at": time.time()})

    def changed(self, resource: str, event: str, record_id: int) -> None:
        """A topic's hook fired for ``record_id``: queue a delivery for each active webhook of the topic,
        unless one for the same webhook and record is already waiting."""
        if not self.webhooks:
            return
        topic = f"{resource}.{event}"
        targets = [w["id"] for w in self.webhooks.values() if w["status"] == "active" and w["topic"] == topic]
        if not targets:
            return
        due = time.monotonic() + self.settings["webhook_delay_seconds"]
        with self._cond:
            for wid in targets:
                self._queue.setdefault((wid, record_id), {"webhook_id": wid, "arg": record_id, "due": due,
                                                          "base": self.base})
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sandbox-woocommerce-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._queue:
                        key, job = min(self._queue.items(), key=lambda kv: kv[1]["due"])
                        wait = job["due"] - time.monotonic()
                        if wait <= 0:
                            del self._queue[key]
                            break
                        self._cond.wait(wait)
                    elif not self._cond.wait(30.0) and not self._queue:
                        self._thread = None  # idle: the next queued delivery starts a new thread
                        return
            try:
                self._deliver(job)
            except Exception:  # a sandbox bug must not kill the queue runner
                import logging

                logging.getLogger(__name__).exception("webhook delivery failed in the sandbox")

    def _payload(self, w: dict[str, Any], arg: int, base: str) -> Any:
        resource, _, event = w["topic"].partition(".")
        if event == "deleted":
            return {"id": arg}
        api, store = self.api, self.api.store
        ctx = P.Ctx(base=base, tz=store.tz, edit=False, decimals=store.decimals)
        if resource == "order" and arg in store.orders:
            return api.render_order(store.orders[arg], ctx)
        if resource == "customer" and arg in store.customers:
            return P.render_customer(store.customers[arg], ctx)
        if resource == "product" and arg in store.products:
            p = store.products[arg]
            if p["type"] != "variation" or p["parent_id"] in store.products:
                return api.render_product(p, ctx)
        return {"code": _INVALID_ID.get(resource, "woocommerce_rest_invalid_id"),
                "message": "Invalid ID." if resource != "customer" else "Invalid resource ID.",
                "data": {"status": 404}}

    def _deliver(self, job: dict[str, Any]) -> None:
        with self.api._lock:
            w = self.webhooks.get(job["webhook_id"])
            if w is None:  # wc_deliver_webhook_async does not look at the status again, only the webhook
                return
            body = wp_json_encode(self._payload(w, job["arg"], job["base"]))
            resource, _, event = w["topic"].partition(".")
            now = int(time.time())
            delivery_id = hmac.new(self._salt.encode(), f"{w['id']}{now}".encode(), hashlib.md5).hexdigest()
            headers = {
                "Content-Type": "application/json", "User-Agent": USER_AGENT,
                "X-WC-Webhook-Source": f"{job['base']}/", "X-WC-Webhook-Topic": w["topic"],
                "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": signature(body, w["secret"]), "X-WC-Webhook-ID": str(w["id"]),
                "X-WC-Webhook-Delivery-ID": delivery_id,
            }
            url, timeout = w["delivery_url"], self.settings["webhook_timeout_seconds"]
        started = time.monotonic()
        code, error = _post(url, body, headers, timeout)
        duration = round(time.monotonic() - started, 5)
        ok = error is None and code is not None and 200 <= code < 303
        with self.api._lock:
            w = self.webhooks.get(job["webhook_id"])
            if w is not None:
                if ok:
                    w["failure_count"] = 0
                elif w["failure_count"] > MAX_FAILURES:
                    w["status"] = "disabled"
                else:
                    w["failure_count"] += 1
            self._log({"kind": "delivery", "webhook_id": job["webhook_id"], "topic": headers["X-WC-Webhook-Topic"],
                       "resource": resource, "event": event, "arg": job["arg"], "delivery_id": delivery_id,
                       "url": url, "request_headers": headers, "body": body.decode(), "status_code": code,
                       "error": error, "ok": ok, "duration": duration, "at": time.time(),
                       "webhook_status": w["status"] if w is not None else None,
                       "failure_count": w["failure_count"] if w is not None else None})

    # -- control API (``/__sandbox__/webhook-deliveries``) --------------------------------------------

    def deliveries_view(self, args: Any) -> dict[str, Any]:
        """The delivery log (oldest first), optionally ``?since=<seq>``, ``?webhook_id=``, ``?kind=``;
        plus ``pending`` (queued, not yet sent)."""
        since = int(args.get("since", 0) or 0)
        with self._cond:
            rows = [d for d in self.deliveries if d["seq"] > since
                    and (args.get("webhook_id") is None or str(d["webhook_id"]) == args.get("webhook_id"))
                    and (args.get("kind") is None or d["kind"] == args.get("kind"))]
            return {"deliveries": [dict(d) for d in rows], "pending": len(self._queue)}

    def clear_deliveries(self) -> dict[str, Any]:
        with self._cond:
            self.deliveries.clear()
        return {"deliveries": [], "pending": len(self._queue)}


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST without following redirects: (status code, None) or (None, the transport error)."""
    try:
        response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        return None, f"cURL error 28: Operation timed out after {int(timeout * 1000)} milliseconds"
    except requests.RequestException as exc:
        return None, f"cURL error 7: {type(exc).__name__}"
    return response.status_code, None
