"""Routing for ``/wp-json/wc/v3/``: the :class:`WooCommerceApi` vendor emulator served by SandboxServer."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.wrappers import Request, Response

from woohub.sandbox.server import SeedOptions
from woohub.sandbox.woocommerce import payloads as P
from woohub.sandbox.woocommerce import schema
from woohub.sandbox.woocommerce import settings as S
from woohub.sandbox.woocommerce.auth import Authenticator, AuthError
from woohub.sandbox.woocommerce.clock import Clock
from woohub.sandbox.woocommerce.errors import WooError
from woohub.sandbox.woocommerce.listing import (
    DateWindow,
    bool_param,
    enum_param,
    ids_param,
    list_param,
    page_slice,
    paging_headers,
    sort_key_text,
)
from woohub.sandbox.woocommerce.store import ORDER_STATUS_SLUGS, Store
from woohub.sandbox.woocommerce.webhooks import SETTINGS_DEFAULTS as WEBHOOK_SETTINGS
from woohub.sandbox.woocommerce.webhooks import WooWebhooks

SEED_TAXES = ("off", "exclusive", "inclusive")

BATCH_LIMIT = 100
_COMMON_HEADERS = {
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Access-Control-Expose-Headers": "X-WP-Total, X-WP-TotalPages, Link",
    "Access-Control-Allow-Headers": "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type",
    "Expires": "Wed, 11 Jan 1984 05:00:00 GMT",
    "Cache-Control": "no-cache, must-revalidate, max-age=0, no-store, private",
}
_NOT_ALLOWED = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource."),
    "batch": ("woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource."),
}


def wp_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON the way WordPress prints it: ``\\/`` for ``/`` and ``\\uXXXX`` for non-ASCII."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")
    response = Response(text, status=status, content_type="application/json; charset=UTF-8")
    for name, value in {**_COMMON_HEADERS, **(headers or {})}.items():
        response.headers[name] = value
    return response


class WooCommerceApi:
    """A WooCommerce 11 store's REST API v3 (see the package docstring)."""

    name = "woocommerce"

    def __init__(self) -> None:
        self.clock = Clock()
        self.store = Store(self.clock)
        self.auth = Authenticator()
        self._lock = threading.RLock()
        self.webhooks = WooWebhooks(self)
        self.store.on_change = self.webhooks.changed
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Response], str]] = []
        route = self._route
        route("GET", r"products", self.list_products, "list")
        route("POST", r"products", self.create_product, "create")
        route("POST", r"products/batch", self.batch_products, "batch")
        route("GET", r"products/categories", self.list_categories, "list")
        route("POST", r"products/categories", self.create_category, "create")
        route("GET", r"products/categories/(\d+)", self.get_category, "view")
        route("GET", r"products/(\d+)", self.get_product, "view")
        route("PUT|PATCH|POST", r"products/(\d+)", self.update_product, "edit")
        route("DELETE", r"products/(\d+)", self.delete_product, "delete")
        route("GET", r"products/(\d+)/variations", self.list_variations, "list")
        route("POST", r"products/(\d+)/variations", self.create_variation, "create")
        route("POST", r"products/(\d+)/variations/batch", self.batch_variations, "batch")
        route("GET", r"products/(\d+)/variations/(\d+)", self.get_variation, "view")
        route("PUT|PATCH|POST", r"products/(\d+)/variations/(\d+)", self.update_variation, "edit")
        route("DELETE", r"products/(\d+)/variations/(\d+)", self.delete_variation, "delete")
        route("GET", r"orders", self.list_orders, "list")
        route("POST", r"orders", self.create_order, "create")
        route("POST", r"orders/batch", self.batch_orders, "batch")
        route("GET", r"orders/statuses", self.order_statuses, "list")
        route("GET", r"orders/(\d+)", self.get_order, "view")
        route("PUT|PATCH|POST", r"orders/(\d+)", self.update_order, "edit")
        route("DELETE", r"orders/(\d+)", self.delete_order, "delete")
        route("GET", r"orders/(\d+)/refunds", self.list_order_refunds, "list")
        route("POST", r"orders/(\d+)/refunds", self.create_refund, "create")
        route("GET", r"orders/(\d+)/refunds/(\d+)", self.get_refund, "view")
        route("GET", r"refunds", self.list_refunds, "list")
        route("GET", r"customers", self.list_customers, "list")
        route("POST", r"customers", self.create_customer, "create")
        route("POST", r"customers/batch", self.batch_customers, "batch")
        route("GET", r"customers/(\d+)", self.get_customer, "view")
        route("PUT|PATCH|POST", r"customers/(\d+)", self.update_customer, "edit")
        route("DELETE", r"customers/(\d+)", self.delete_customer, "delete")
        route("GET", r"coupons", self.list_coupons, "list")
        route("POST", r"coupons", self.create_coupon, "create")
        route("GET", r"coupons/(\d+)", self.get_coupon, "view")
        route("GET", r"taxes", self.list_taxes, "list")
        route("POST", r"taxes", self.create_tax, "create")
        route("GET", r"taxes/classes", self.list_tax_classes, "list")
        route("GET", r"taxes/(\d+)", self.get_tax, "view")
        route("PUT|PATCH|POST", r"taxes/(\d+)", self.update_tax, "edit")
        route("DELETE", r"taxes/(\d+)", self.delete_tax, "delete")
        route("GET", r"settings/(general|tax)", self.list_settings, "list")
        route("GET", r"settings/(general|tax)/([a-z_0-9]+)", self.get_setting, "view")
        route("PUT|PATCH|POST", r"settings/(general|tax)/([a-z_0-9]+)", self.update_setting, "edit")
        route("GET", r"data/currencies/current", self.current_currency, "view")
        route("GET", r"data/currencies/([A-Za-z]{3})", self.get_currency, "view")
        route("GET", r"webhooks", self.webhooks.list, "list")
        route("POST", r"webhooks", self.webhooks.create, "create")
        route("POST|PUT|PATCH", r"webhooks/batch", self.webhooks.batch, "batch")
        route("GET", r"webhooks/(\d+)", self.webhooks.get, "view")
        route("PUT|PATCH|POST", r"webhooks/(\d+)", self.webhooks.update, "edit")
        route("DELETE", r"webhooks/(\d+)", self.webhooks.delete, "delete")
        self.seed_taxes = "off"
        self.currency = "USD"

    def _route(self, methods: str, pattern: str, handler: Callable[..., Response], permission: str) -> None:
        self._routes.append((methods, re.compile(f"^{P.NS}/{pattern}/?$"), handler, permission))

    # -- VendorApi --------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        match = None
        path_known = False
        for methods, pattern, handler, permission in self._routes:
            m = pattern.match(request.path)
            if m:
                path_known = True
                if request.method in methods.split("|"):
                    match = (handler, permission, m.groups())
                    break
        try:
            with self._lock:
                try:
                    authed = self.auth.authenticate(request, int(time.time()))
                except AuthError as exc:
                    raise WooError(401, exc.code, exc.message) from None
                if match is None:
                    if path_known:
                        raise WooError(404, "rest_no_route", "No route was found matching the URL and request method.")
                    raise WooError(404, "rest_no_route", "No route was found matching the URL and request method.")
                handler, permission, groups = match
                if not authed:
                    code, message = _NOT_ALLOWED[permission]
                    raise WooError(401, code, message)
                self.webhooks.base = self._ctx(request).base  # home_url() for X-WC-Webhook-Source
                return handler(request, *[int(g) if g.isdigit() else g for g in groups])
        except WooError as exc:
            return wp_json(exc.body(), exc.status,
                           {"Link": f'<{request.host_url.rstrip("/")}/wp-json/>; rel="https://api.w.org/"'})

    def error_response(self, status: int, *, retry_after: float | None = None) -> Response:
        if status == 429:
            body = {"code": "woocommerce_rest_too_many_requests", "message": "Too many requests.",
                    "data": {"status": 429}}
        elif status >= 500:
            body = {"code": "internal_server_error",
                    "message": "<p>There has been a critical error on this website.</p>",
                    "data": {"status": status}, "additional_errors": []}
        else:
            body = {"code": "rest_error", "message": "Injected error.", "data": {"status": status}}
        headers = {"Retry-After": str(int(retry_after) if float(retry_after).is_integer() else retry_after)} \
            if retry_after is not None else {}
        return wp_json(body, status, headers)

    def reset(self, options: SeedOptions) -> None:
        from woohub.sandbox.woocommerce.seed import seed_store, seed_tax_setup

        with self._lock:
            self.webhooks.clear()
            tz = self.store.tz
            self.store.clear()
            self.store.tz = tz
            self.store.settings["woocommerce_currency"] = self.currency
            if self.seed_taxes != "off":
                seed_tax_setup(self.store, self.seed_taxes)
            if not options.empty:
                seed_store(self.store, options)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"store": self.store.snapshot(), "clock": self.clock.frozen,
                    "webhooks": self.webhooks.snapshot()}

    def restore(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.store.restore(data["store"])
            self.clock.frozen = data.get("clock")
            self.webhooks.restore(data.get("webhooks"))

    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        """``timezone`` (site timezone), ``clock`` (freeze at a UTC time, ``None`` to unfreeze),
        ``advance_seconds`` (move a frozen clock), ``seed_taxes`` ("off" | "exclusive" | "inclusive": later
        resets start from a taxed store; it stays in force until set back to "off") and ``currency`` (the
        store currency, ``woocommerce_currency``: set now and by every later reset until set back to "USD";
        ``PUT /settings/general/woocommerce_currency`` changes it for the current store only); the webhook
        delivery settings ``webhook_delay_seconds``, ``webhook_timeout_seconds`` and
        ``webhook_ping_timeout_seconds`` (kept across resets, see :mod:`.webhooks`)."""
        unknown = set(settings) - {"timezone", "clock", "advance_seconds", "seed_taxes", "currency",
                                   *WEBHOOK_SETTINGS}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        if "seed_taxes" in settings and settings["seed_taxes"] not in SEED_TAXES:
            raise ValueError(f"seed_taxes must be one of {', '.join(SEED_TAXES)}")
        if "currency" in settings and settings["currency"] not in S.currencies():
            raise ValueError(f"currency {settings['currency']!r} is not a currency WooCommerce knows")
        with self._lock:
            webhook_settings = self.webhooks.configure({k: v for k, v in settings.items() if k in WEBHOOK_SETTINGS})
            if "seed_taxes" in settings:
                self.seed_taxes = settings["seed_taxes"]
            if "currency" in settings:
                self.currency = self.store.settings["woocommerce_currency"] = settings["currency"]
            if "timezone" in settings:
                self.store.tz = ZoneInfo(settings["timezone"] or "UTC")
            if "clock" in settings:
                self.clock.freeze(settings["clock"])
            if "advance_seconds" in settings:
                self.clock.advance(settings["advance_seconds"])
            from woohub.sandbox.woocommerce.clock import fmt_gmt

            return {"timezone": str(self.store.tz), "clock": fmt_gmt(self.clock.frozen),
                    "now": fmt_gmt(self.clock.now()), "seed_taxes": self.seed_taxes,
                    "currency": self.store.settings["woocommerce_currency"], **webhook_settings}

    def admin_action(self, method: str, action: str) -> Callable[[Request, dict[str, Any]], Any] | None:
        """Sandbox control actions of this API (``/__sandbox__/<action>``): ``GET webhook-deliveries``
        (the delivery log, see :meth:`WooWebhooks.deliveries_view`), ``DELETE webhook-deliveries``."""
        if action == "webhook-deliveries" and method == "GET":
            return lambda request, body: self.webhooks.deliveries_view(request.args)
        if action == "webhook-deliveries" and method == "DELETE":
            return lambda request, body: self.webhooks.clear_deliveries()
        return None

    # -- helpers ----------------------------------------------------------------------------------

    def _ctx(self, request: Request, edit: bool = False) -> P.Ctx:
        return P.Ctx(base=request.host_url.rstrip("/").replace("http://", "https://")
                     if request.headers.get("X-Forwarded-Proto") == "https" else request.host_url.rstrip("/"),
                     tz=self.store.tz, edit=edit, decimals=self.store.decimals)

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        if not request.data:
            return dict(request.form.items()) if request.form else {}
        try:
            data = json.loads(request.data)
        except ValueError:
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
        if not isinstance(data, dict):
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
        return data

    def _checked(self, request: Request, fields: dict[str, schema.Schema]) -> dict[str, Any]:
        """The body of a single-object write, after WordPress's schema type checks."""
        body = self._body(request)
        schema.check_types(body, fields)
        return body

    @staticmethod
    def _fields(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        wanted = request.args.get("_fields")
        if not wanted:
            return body
        keep = {f.strip().split(".")[0] for f in wanted.split(",")} | {"_links"}
        return {k: v for k, v in body.items() if k in keep}

    def _one(self, request: Request, body: dict[str, Any], status: int = 200, location: str | None = None) -> Response:
        headers = {"Link": f'<{self._ctx(request).base}/wp-json/>; rel="https://api.w.org/"'}
        if location:
            headers["Location"] = f"{self._ctx(request).base}{P.NS}/{location}"
        return wp_json(self._fields(request, body), status, headers)

    def _collection(self, request: Request, route: str, ids: list[Any], render: Callable[[Any], dict[str, Any]],
                    *, orders: bool = False) -> Response:
        page_ids, page, per_page, total = page_slice(ids, request.args)
        headers = paging_headers(self._ctx(request).base, route, request.args, total, page, per_page, orders=orders,
                                 offset_used="offset" in request.args)
        headers["Allow"] = "GET, POST"
        return wp_json([self._fields(request, render(i)) for i in page_ids], 200, headers)

    @staticmethod
    def _order_by(records: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any], desc: bool) -> list[int]:
        records.sort(key=lambda r: (key(r), r["id"]), reverse=desc)
        return [r["id"] for r in records]

    # -- products ---------------------------------------------------------------------------------

    def _product(self, pid: int, status: int = 404) -> dict[str, Any]:
        p = self.store.products.get(pid)
        if p is None or p["type"] == "variation":
            raise WooError(status, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return p

    def render_product(self, p: dict[str, Any], ctx: P.Ctx) -> dict[str, Any]:
        derived = self.store.product_derived(p)
        if p["type"] == "variation":
            return P.render_variation_as_product(p, self.store.products[p["parent_id"]], ctx, derived)
        cats = [self.store.categories[c] for c in p["categories"] if c in self.store.categories]
        derived["categories"] = [{"id": c["id"], "name": c["name"], "slug": c["slug"]} for c in cats]
        derived["related_ids"] = self.store.related_ids(p)
        return P.render_product(p, ctx, derived)

    def list_products(self, request: Request) -> Response:
        args = request.args
        window = DateWindow(args, self.store.tz)
        statuses = list_param(args, "status") or ["any"]
        include, exclude = ids_param(args, "include"), ids_param(args, "exclude")
        skus = list_param(args, "sku")
        ptype, stock_status = args.get("type"), args.get("stock_status")
        category = args.get("category")
        search = args.get("search", "").casefold()
        orderby = enum_param(args, "orderby", "date",
                             ["date", "id", "include", "title", "slug", "price", "popularity", "rating", "menu_order",
                              "modified"])
        order = enum_param(args, "order", "desc", ["asc", "desc"])
        compiled = window.compile(local_columns=True)
        rows = []
        for p in self.store.products.values():
            if p["type"] == "variation" and (skus is None or p["sku"] not in skus or include is not None):
                continue
            if "any" in statuses:
                if p["status"] == "trash":
                    continue
            elif p["status"] not in statuses:
                continue
            if include is not None and p["id"] not in include:
                continue
            if exclude and p["id"] in exclude:
                continue
            if skus is not None and p["sku"] not in skus:
                continue
            if ptype and p["type"] != ptype:
                continue
            if stock_status and self.store.product_derived(p)["stock_status"] != stock_status:
                continue
            if category and not {int(c) for c in category.split(",") if c.isdigit()} & set(p["categories"]):
                continue
            if search and search not in p["name"].casefold():
                continue
            if compiled and not DateWindow.match(p, compiled):
                continue
            rows.append(p)
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "date": lambda r: r["created_local"], "modified": lambda r: r["modified_local"],
            "id": lambda r: r["id"], "title": lambda r: sort_key_text(r["name"]), "slug": lambda r: r["slug"],
            "price": lambda r: P.dec(self.store.product_derived(r)["price"]), "popularity": lambda r: r["total_sales"],
            "rating": lambda r: 0, "menu_order": lambda r: 0,
            "include": lambda r: (include or []).index(r["id"]) if include and r["id"] in include else 0,
        }
        ids = self._order_by(rows, keys[orderby], order == "desc")
        ctx = self._ctx(request)
        return self._collection(request, "products", ids, lambda i: self.render_product(self.store.products[i], ctx))

    def get_product(self, request: Request, pid: int) -> Response:
        v = self.store.products.get(pid)
        if v is not None and v["type"] == "variation" and v["parent_id"] in self.store.products:
            return self._one(request, self.render_product(v, self._ctx(request)))
        return self._one(request, self.render_product(self._product(pid), self._ctx(request)))

    def create_product(self, request: Request) -> Response:
        p = self.store.create_product(self._checked(request, schema.PRODUCT))
        return self._one(request, self.render_product(p, self._ctx(request, True)), 201, f"products/{p['id']}")

    def update_product(self, request: Request, pid: int) -> Response:
        p = self.store.update_product(self._product(pid, 400), self._checked(request, schema.PRODUCT))
        return self._one(request, self.render_product(p, self._ctx(request, True)))

    def delete_product(self, request: Request, pid: int) -> Response:
        p = self._product(pid)
        before = self.render_product(p, self._ctx(request, True))
        if bool_param(request.args, "force"):
            self.store.delete_product(p)
        elif p["status"] == "trash":
            raise WooError(410, "woocommerce_rest_already_trashed", "The product has already been deleted.")
        else:
            self.store.trash_product(p)
        return self._one(request, before)

    def _batch(self, request: Request, create: Callable[[dict[str, Any]], dict[str, Any]],
               update: Callable[[dict[str, Any]], dict[str, Any]], delete: Callable[[int], dict[str, Any]]) -> Response:
        body = self._body(request)
        total = sum(len(body.get(k) or []) for k in ("create", "update", "delete"))
        if total > BATCH_LIMIT:
            raise WooError(413, "woocommerce_rest_request_entity_too_large",
                           f"Unable to accept more than {BATCH_LIMIT} items for this request.")
        out: dict[str, list[Any]] = {}

        def run(kind: str, fn: Callable[[Any], dict[str, Any]], item: Any, item_id: int) -> dict[str, Any]:
            try:
                return fn(item)
            except WooError as exc:
                return {"id": item_id, "error": {"code": exc.code, "message": exc.message,
                                                 "data": exc.body()["data"]}}

        if "create" in body:
            out["create"] = [run("create", create, item, 0) for item in body["create"]]
        if "update" in body:
            out["update"] = [run("update", update, item, int(item.get("id", 0))) for item in body["update"]]
        if "delete" in body:
            out["delete"] = [run("delete", delete, int(i), int(i)) for i in body["delete"]]
        return self._one(request, out)

    def batch_products(self, request: Request) -> Response:
        ctx = self._ctx(request, True)

        def delete(pid: int) -> dict[str, Any]:
            p = self._product(pid)
            before = self.render_product(p, ctx)
            self.store.delete_product(p)
            return before

        return self._batch(
            request,
            lambda b: self.render_product(self.store.create_product(b), ctx),
            lambda b: self.render_product(self.store.update_product(self._product(int(b.get("id", 0)), 400), b), ctx),
            delete,
        )

    # -- categories and coupons ---------------------------------------------------------------------

    def list_categories(self, request: Request) -> Response:
        ctx = self._ctx(request)
        ids = sorted(self.store.categories, key=lambda i: sort_key_text(self.store.categories[i]["name"]))
        counts: dict[int, int] = {}
        for p in self.store.products.values():
            if p["type"] != "variation" and p["status"] == "publish":
                for c in p["categories"]:
                    counts[c] = counts.get(c, 0) + 1

        def render(i: int) -> dict[str, Any]:
            return P.render_category({**self.store.categories[i], "count": counts.get(i, 0)}, ctx)

        return self._collection(request, "products/categories", ids, render)

    def create_category(self, request: Request) -> Response:
        cat = self.store.create_category(self._body(request))
        return self._one(request, P.render_category(cat, self._ctx(request, True)), 201,
                         f"products/categories/{cat['id']}")

    def get_category(self, request: Request, cid: int) -> Response:
        cat = self.store.categories.get(cid)
        if cat is None:
            raise WooError(404, "woocommerce_rest_term_invalid", "Resource does not exist.")
        return self._one(request, P.render_category(cat, self._ctx(request)))

    def list_coupons(self, request: Request) -> Response:
        ctx = self._ctx(request)
        ids = sorted(self.store.coupons, reverse=True)
        return self._collection(request, "coupons", ids, lambda i: P.render_coupon(self.store.coupons[i], ctx))

    def create_coupon(self, request: Request) -> Response:
        c = self.store.create_coupon(self._checked(request, schema.COUPON))
        return self._one(request, P.render_coupon(c, self._ctx(request, True)), 201, f"coupons/{c['id']}")

    def get_coupon(self, request: Request, cid: int) -> Response:
        c = self.store.coupons.get(cid)
        if c is None:
            raise WooError(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
        return self._one(request, P.render_coupon(c, self._ctx(request)))

    # -- taxes and settings -------------------------------------------------------------------------

    def _tax_rate(self, rid: int) -> dict[str, Any]:
        rate = self.store.tax_rates.get(rid)
        if rate is None:
            raise WooError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        return rate

    def list_taxes(self, request: Request) -> Response:
        ctx = self._ctx(request)
        rows = sorted(self.store.tax_rates.values(), key=lambda r: (r["order"], r["id"]))
        tax_class = request.args.get("class")
        ids = [r["id"] for r in rows if tax_class is None or r["class"] == tax_class]
        return self._collection(request, "taxes", ids, lambda i: P.render_tax_rate(self.store.tax_rates[i], ctx))

    def create_tax(self, request: Request) -> Response:
        rate = self.store.create_tax_rate(self._checked(request, schema.TAX_RATE))
        return self._one(request, P.render_tax_rate(rate, self._ctx(request, True)), 201, f"taxes/{rate['id']}")

    def get_tax(self, request: Request, rid: int) -> Response:
        return self._one(request, P.render_tax_rate(self._tax_rate(rid), self._ctx(request)))

    def update_tax(self, request: Request, rid: int) -> Response:
        rate = self.store.update_tax_rate(self._tax_rate(rid), self._checked(request, schema.TAX_RATE))
        return self._one(request, P.render_tax_rate(rate, self._ctx(request, True)))

    def delete_tax(self, request: Request, rid: int) -> Response:
        rate = self._tax_rate(rid)
        if not bool_param(request.args, "force"):
            raise WooError(501, "woocommerce_rest_trash_not_supported", "Taxes do not support trashing.")
        before = P.render_tax_rate(rate, self._ctx(request, True))
        del self.store.tax_rates[rid]
        return self._one(request, before)

    def list_tax_classes(self, request: Request) -> Response:
        ctx = self._ctx(request)
        classes = dict(S.TAX_CLASSES)
        return self._collection(request, "taxes/classes", list(classes),
                                lambda slug: P.render_tax_class(slug, classes[slug], ctx))

    def list_settings(self, request: Request, group: str) -> Response:
        base = self._ctx(request).base
        body = [S.render_setting(d, self.store.settings[d["id"]], base, group, single=False)
                for d in S.groups()[group]]
        return self._one(request, body)  # type: ignore[arg-type]

    def current_currency(self, request: Request) -> Response:
        """``/data/currencies/current``: the store currency (symbol as HTML, ``&#36;``)."""
        return self._one(request, S.render_currency(self.store.settings["woocommerce_currency"],
                                                    self._ctx(request).base))

    def get_currency(self, request: Request, code: str) -> Response:
        if code.upper() not in S.currencies():
            raise WooError(404, "woocommerce_rest_data_invalid_currency",
                           "There are no currencies matching these parameters.")
        return self._one(request, S.render_currency(code.upper(), self._ctx(request).base))

    def get_setting(self, request: Request, group: str, setting_id: str) -> Response:
        d = S.definition(group, setting_id)
        return self._one(request, S.render_setting(d, self.store.settings[d["id"]], self._ctx(request).base, group,
                                                   single=True))

    def update_setting(self, request: Request, group: str, setting_id: str) -> Response:
        d = S.definition(group, setting_id)
        body = self._body(request)
        if "value" in body:
            self.store.settings[d["id"]] = S.validated_value(d, body["value"])
        return self._one(request, S.render_setting(d, self.store.settings[d["id"]], self._ctx(request).base, group,
                                                   single=True))

    # -- variations -------------------------------------------------------------------------------

    def _variation(self, pid: int, vid: int, status: int = 404) -> tuple[dict[str, Any], dict[str, Any]]:
        parent = self._product(pid)
        v = self.store.products.get(vid)
        if v is None or v["type"] != "variation" or v["parent_id"] != pid:
            raise WooError(status, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        return parent, v

    def render_variation(self, v: dict[str, Any], parent: dict[str, Any], ctx: P.Ctx) -> dict[str, Any]:
        return P.render_variation(v, parent, ctx, self.store.product_derived(v))

    def list_variations(self, request: Request, pid: int) -> Response:
        parent = self._product(pid)
        window = DateWindow(request.args, self.store.tz)
        compiled = window.compile(local_columns=True)
        statuses = list_param(request.args, "status") or ["any"]  # as /products: "any" leaves the trash out
        rows = [self.store.products[v] for v in parent["variations"] if v in self.store.products]
        rows = [v for v in rows if (v["status"] != "trash" if "any" in statuses else v["status"] in statuses)]
        rows = [v for v in rows if not compiled or DateWindow.match(v, compiled)]
        include = ids_param(request.args, "include")  # as /products (the variations controller extends it)
        rows = [v for v in rows if include is None or v["id"] in include]
        order = enum_param(request.args, "order", "desc", ["asc", "desc"])
        orderby = enum_param(request.args, "orderby", "date", ["date", "id", "include", "title", "slug", "modified",
                                                                 "menu_order"])
        key = {"date": lambda r: r["created_local"], "modified": lambda r: r["modified_local"]}.get(
            orderby, lambda r: r["id"])
        ids = self._order_by(rows, key, order == "desc")
        ctx = self._ctx(request)
        return self._collection(request, f"products/{pid}/variations", ids,
                                lambda i: self.render_variation(self.store.products[i], parent, ctx))

    def get_variation(self, request: Request, pid: int, vid: int) -> Response:
        parent, v = self._variation(pid, vid)
        return self._one(request, self.render_variation(v, parent, self._ctx(request)))

    def create_variation(self, request: Request, pid: int) -> Response:
        parent = self._product(pid)
        v = self.store.create_product(self._checked(request, schema.VARIATION), parent=parent)
        return self._one(request, self.render_variation(v, parent, self._ctx(request, True)), 201,
                         f"products/{pid}/variations/{v['id']}")

    def update_variation(self, request: Request, pid: int, vid: int) -> Response:
        parent, v = self._variation(pid, vid, 400)
        self.store.update_product(v, self._checked(request, schema.VARIATION))
        return self._one(request, self.render_variation(v, parent, self._ctx(request, True)))

    def delete_variation(self, request: Request, pid: int, vid: int) -> Response:
        parent, v = self._variation(pid, vid)
        if not bool_param(request.args, "force"):
            raise WooError(501, "woocommerce_rest_trash_not_supported", "Variations do not support trashing.")
        before = self.render_variation(v, parent, self._ctx(request, True))
        self.store.delete_product(v)
        return self._one(request, before)

    def batch_variations(self, request: Request, pid: int) -> Response:
        parent = self._product(pid)
        ctx = self._ctx(request, True)

        def update(b: dict[str, Any]) -> dict[str, Any]:
            _, v = self._variation(pid, int(b.get("id", 0)), 400)
            return self.render_variation(self.store.update_product(v, b), parent, ctx)

        def delete(vid: int) -> dict[str, Any]:
            _, v = self._variation(pid, vid)
            before = self.render_variation(v, parent, ctx)
            self.store.delete_product(v)
            return before

        return self._batch(request, lambda b: self.render_variation(self.store.create_product(b, parent), parent, ctx),
                           update, delete)

    # -- orders -----------------------------------------------------------------------------------

    def _order(self, oid: int, status: int = 404, message: str = "Invalid ID.") -> dict[str, Any]:
        o = self.store.orders.get(oid)
        if o is None:
            raise WooError(status, "woocommerce_rest_shop_order_invalid_id", message)
        return o

    def render_order(self, o: dict[str, Any], ctx: P.Ctx) -> dict[str, Any]:
        refunds = sorted((self.store.refunds[r] for r in o["refund_ids"] if r in self.store.refunds),
                         key=lambda r: (r["created"], r["id"]), reverse=True)
        items = []
        for item in o["line_items"]:
            if item["product_id"] and (item["product_id"] not in self.store.products or (
                    item["variation_id"] and item["variation_id"] not in self.store.products)):
                item = {**item, "product_id": 0, "variation_id": 0, "sku": None}  # the product was deleted
            items.append(item)
        return P.render_order({**o, "line_items": items, "needs_processing": self.store.needs_processing(o)}, ctx,
                              refunds)

    def list_orders(self, request: Request) -> Response:
        args = request.args
        window = DateWindow(args, self.store.tz)
        statuses = list_param(args, "status") or ["any"]
        for s in statuses:
            if s not in ["any", *ORDER_STATUS_SLUGS]:
                raise WooError(400, "rest_invalid_param", "Invalid parameter(s): status",
                               params={"status": f"status[0] is not one of any, {', '.join(ORDER_STATUS_SLUGS)}."})
        include, exclude = ids_param(args, "include"), ids_param(args, "exclude")
        customer = args.get("customer")
        product = args.get("product")
        parent = ids_param(args, "parent")
        search = args.get("search", "")
        orderby = enum_param(args, "orderby", "date", ["date", "id", "include", "title", "slug", "modified"])
        order = enum_param(args, "order", "desc", ["asc", "desc"])
        compiled = window.compile(local_columns=False)
        rows = []
        for o in self.store.orders.values():
            if "any" in statuses:  # wc_get_order_statuses() (capture 118, checkout-draft included), not the trash
                if o["status"] == "trash":
                    continue
            elif o["status"] not in statuses:
                continue
            if include is not None and o["id"] not in include:
                continue
            if exclude and o["id"] in exclude:
                continue
            if customer is not None and str(o["customer_id"]) != customer:
                continue
            if product is not None and not any(str(i["product_id"]) == product for i in o["line_items"]):
                continue
            if parent is not None and o["parent_id"] not in parent:
                continue
            if search and not self.store.search_order(o, search):
                continue
            if compiled and not DateWindow.match(o, compiled):
                continue
            rows.append(o)
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "date": lambda r: r["created"], "modified": lambda r: r["modified"], "id": lambda r: r["id"],
            "title": lambda r: r["id"], "slug": lambda r: r["id"],
            "include": lambda r: (include or []).index(r["id"]) if include and r["id"] in include else 0,
        }
        ids = self._order_by(rows, keys[orderby], order == "desc")
        ctx = self._ctx(request)
        return self._collection(request, "orders", ids, lambda i: self.render_order(self.store.orders[i], ctx),
                                orders=True)

    def order_statuses(self, request: Request) -> Response:
        return self._one(request, [{"slug": s, "name": n} for s, n in P.ORDER_STATUSES])  # type: ignore[arg-type]

    def get_order(self, request: Request, oid: int) -> Response:
        return self._one(request, self.render_order(self._order(oid), self._ctx(request)))

    def create_order(self, request: Request) -> Response:
        o = self.store.create_order(self._checked(request, schema.ORDER))
        return self._one(request, self.render_order(o, self._ctx(request, True)), 201, f"orders/{o['id']}")

    def update_order(self, request: Request, oid: int) -> Response:
        o = self.store.update_order(self._order(oid, 400, "ID is invalid."), self._checked(request, schema.ORDER))
        return self._one(request, self.render_order(o, self._ctx(request, True)))

    def delete_order(self, request: Request, oid: int) -> Response:
        o = self._order(oid)
        before = self.render_order(o, self._ctx(request, True))
        if bool_param(request.args, "force"):
            self.store.delete_order(o)
        elif o["status"] == "trash":
            raise WooError(410, "woocommerce_rest_already_trashed", "The order has already been deleted.")
        else:
            self.store.trash_order(o)
        return self._one(request, before)

    def batch_orders(self, request: Request) -> Response:
        ctx = self._ctx(request, True)

        def delete(oid: int) -> dict[str, Any]:
            o = self._order(oid)
            before = self.render_order(o, ctx)
            self.store.delete_order(o)
            return before

        return self._batch(
            request,
            lambda b: self.render_order(self.store.create_order(b, batch=True), ctx),
            lambda b: self.render_order(self.store.update_order(
                self._order(int(b.get("id", 0)), 400, "ID is invalid."), b, batch=True), ctx),
            delete,
        )

    # -- refunds ----------------------------------------------------------------------------------

    def list_order_refunds(self, request: Request, oid: int) -> Response:
        o = self._order(oid)
        ctx = self._ctx(request)
        rows = [self.store.refunds[r] for r in o["refund_ids"] if r in self.store.refunds]
        ids = self._order_by(rows, lambda r: r["created"], True)
        return self._collection(request, f"orders/{oid}/refunds", ids,
                                lambda i: P.render_refund(self.store.refunds[i], ctx))

    def create_refund(self, request: Request, oid: int) -> Response:
        o = self._order(oid)
        r = self.store.create_refund(o, self._checked(request, schema.REFUND))
        return self._one(request, P.render_refund(r, self._ctx(request, True)), 201, f"orders/{oid}/refunds/{r['id']}")

    def get_refund(self, request: Request, oid: int, rid: int) -> Response:
        r = self.store.refunds.get(rid)
        if r is None or r["order_id"] != oid:
            raise WooError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        return self._one(request, P.render_refund(r, self._ctx(request)))

    def list_refunds(self, request: Request) -> Response:
        ctx = self._ctx(request)
        window = DateWindow(request.args, self.store.tz)
        compiled = window.compile(local_columns=False)
        rows = [r for r in self.store.refunds.values() if not compiled or DateWindow.match(r, compiled)]
        ids = self._order_by(rows, lambda r: r["created"], enum_param(request.args, "order", "desc",
                                                                      ["asc", "desc"]) == "desc")
        response = self._collection(request, "refunds", ids,
                                    lambda i: P.render_refund(self.store.refunds[i], ctx, with_parent=True))
        response.headers["Allow"] = "GET"
        return response

    # -- customers --------------------------------------------------------------------------------

    def _customer(self, cid: int) -> dict[str, Any]:
        c = self.store.customers.get(cid)
        if c is None:
            raise WooError(404, "wc_user_invalid_id", "Invalid user ID.")
        return c

    def list_customers(self, request: Request) -> Response:
        args = request.args
        role = args.get("role", "customer")
        email = args.get("email")
        search = args.get("search", "").casefold().strip("*")
        include, exclude = ids_param(args, "include"), ids_param(args, "exclude")
        orderby = enum_param(args, "orderby", "name", ["id", "include", "name", "registered_date"])
        order = enum_param(args, "order", "asc", ["asc", "desc"])
        rows = []
        for c in self.store.customers.values():
            if role != "all" and c["role"] != role:
                continue
            if email is not None and c["email"].casefold() != email.casefold():
                continue
            if include is not None and c["id"] not in include:
                continue
            if exclude and c["id"] in exclude:
                continue
            if search and not (any(search in s.casefold() for s in self._customer_search_columns(c, search))
                               or search == str(c["id"])):
                continue
            rows.append(c)
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "name": lambda r: sort_key_text(self.store.display_name(r)), "id": lambda r: r["id"],
            "registered_date": lambda r: r["created"],
            "include": lambda r: (include or []).index(r["id"]) if include and r["id"] in include else 0,
        }
        # WP_User_Query has no id tie-break: equal keys keep id ascending whatever the direction
        rows.sort(key=lambda r: r["id"])
        rows.sort(key=keys[orderby], reverse=order == "desc")
        ctx = self._ctx(request)
        return self._collection(request, "customers", [r["id"] for r in rows],
                                lambda i: P.render_customer(self.store.customers[i], ctx))

    def _customer_search_columns(self, c: dict[str, Any], search: str) -> list[str]:
        """``WP_User_Query`` search (``*term*``: a substring): a term with "@" looks at the email only, a
        number at the login (and the id, exactly), anything else at login, email, nicename and display name."""
        if "@" in search:
            return [c["email"]]
        if search.isdigit():
            return [c["username"]]
        return [c["email"], c["username"], self.store.display_name(c)]

    def get_customer(self, request: Request, cid: int) -> Response:
        return self._one(request, P.render_customer(self._customer(cid), self._ctx(request)))

    def create_customer(self, request: Request) -> Response:
        body = self._body(request)
        schema.check_customer_emails(body, creating=True)
        c = self.store.create_customer(body)
        return self._one(request, P.render_customer(c, self._ctx(request, True)), 201, f"customers/{c['id']}")

    def update_customer(self, request: Request, cid: int) -> Response:
        customer = self._customer(cid)
        body = self._body(request)
        schema.check_customer_emails(body, creating=False)
        c = self.store.update_customer(customer, body)
        return self._one(request, P.render_customer(c, self._ctx(request, True)))

    def _delete_customer(self, c: dict[str, Any], ctx: P.Ctx) -> dict[str, Any]:
        """Delete a customer; the answer is the customer as it was, its self link without targetHints (the
        user is gone when the links are made)."""
        if c["role"] not in ("customer", "subscriber"):
            raise WooError(403, "woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
        before = P.render_customer(c, ctx)
        self.store.delete_customer(c)
        before["_links"]["self"] = [{"href": before["_links"]["self"][0]["href"]}]
        return before

    def delete_customer(self, request: Request, cid: int) -> Response:
        c = self._customer(cid)
        if not bool_param(request.args, "force"):
            raise WooError(501, "woocommerce_rest_trash_not_supported", "Customers do not support trashing.")
        return self._one(request, self._delete_customer(c, self._ctx(request, True)))

    def batch_customers(self, request: Request) -> Response:
        ctx = self._ctx(request, True)

        def delete(cid: int) -> dict[str, Any]:
            return self._delete_customer(self._customer(cid), ctx)

        return self._batch(
            request,
            lambda b: P.render_customer(self.store.create_customer(b), ctx),
            lambda b: P.render_customer(self.store.update_customer(self._customer(int(b.get("id", 0))), b), ctx),
            delete,
        )
