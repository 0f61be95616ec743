"""The store's state and its write rules (validation, totals, stock, refunds, trash).

Records are plain JSON-friendly dicts keyed by id; dates are epoch seconds (UTC). Products and variations
also keep the site-local wall-clock columns (``post_date``/``post_modified``) written at save time, as
WordPress posts do, because non-GMT date queries compare against them.
"""

from __future__ import annotations

import copy
import random
import re
import string
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from woohub.sandbox.woocommerce.clock import Clock, fmt_local
from woohub.sandbox.woocommerce.errors import WooError, invalid_param, missing_param
from woohub.sandbox.woocommerce.payloads import ADDRESS_KEYS, dec, money, plain_decimal, price_html, slugify
from woohub.sandbox.woocommerce.settings import (
    TAX_CLASSES,
    base_location,
    currencies,
    currency_symbol,
    defaults,
)
from woohub.sandbox.woocommerce.totals import TaxEnv, base_net_price, calculate_totals, plain

EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
ORDER_STATUS_SLUGS = ["pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed",
                      "checkout-draft", "trash"]
PAID_STATUSES = ("processing", "completed")
STOCK_STATUSES = ("processing", "completed", "on-hold")
PRODUCT_STATUSES = ("draft", "pending", "private", "publish", "future", "trash")
PRODUCT_TYPES = ("simple", "grouped", "external", "variable")

# where the id sequences of an empty store start (the recorded store's next ids)
START = {"post": 207, "user": 44, "item": 129, "meta": 1000, "term": 26, "tax_rate": 1}
TAX_RATE_FIELDS = ("country", "state", "postcode", "city", "rate", "name", "priority", "compound", "shipping", "order",
                   "class", "postcodes", "cities")


def valid_email(value: str) -> bool:
    return bool(EMAIL_RE.match(value or ""))


class Store:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.tz = ZoneInfo("UTC")
        # the webhook topics' hooks: (resource, event, id) on every write a topic fires on (see webhooks.py)
        self.on_change: Callable[[str, str, int], None] | None = None
        self.clear()

    def _changed(self, resource: str, event: str, record_id: int) -> None:
        if self.on_change is not None:
            self.on_change(resource, event, record_id)

    # -- state ------------------------------------------------------------------------------------

    def clear(self) -> None:
        self.seq = dict(START)
        self.products: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.refunds: dict[int, dict[str, Any]] = {}
        self.customers: dict[int, dict[str, Any]] = {}
        self.coupons: dict[int, dict[str, Any]] = {}
        self.categories: dict[int, dict[str, Any]] = {
            15: {"id": 15, "name": "Uncategorized", "slug": "uncategorized", "parent": 0, "description": ""}
        }
        now = self.clock.now() - 86400 * 120
        self.customers[1] = {
            "id": 1, "created": now, "modified": None, "email": "admin@example.test", "first_name": "",
            "last_name": "", "role": "administrator", "username": "admin", "billing": {}, "shipping": {},
            "is_paying_customer": False, "meta_data": [],
        }
        self.settings: dict[str, str] = defaults()
        self.tax_rates: dict[int, dict[str, Any]] = {}
        self.rng = random.Random(0)

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({
            "seq": self.seq, "timezone": str(self.tz),
            "products": list(self.products.values()), "orders": list(self.orders.values()),
            "refunds": list(self.refunds.values()), "customers": list(self.customers.values()),
            "coupons": list(self.coupons.values()), "categories": list(self.categories.values()),
            "settings": self.settings, "tax_rates": list(self.tax_rates.values()),
        })

    def restore(self, data: dict[str, Any]) -> None:
        data = copy.deepcopy(data)
        self.seq = {**START, **data["seq"]}
        self.settings = {**defaults(), **data.get("settings", {})}
        self.tax_rates = {int(r["id"]): r for r in data.get("tax_rates", [])}
        self.tz = ZoneInfo(data.get("timezone", "UTC"))
        for name in ("products", "orders", "refunds", "customers", "coupons", "categories"):
            setattr(self, name, {int(r["id"]): r for r in data[name]})

    # -- settings and tax rates ----------------------------------------------------------------------

    @property
    def decimals(self) -> int:
        return int(self.settings["woocommerce_price_num_decimals"])

    def tax_env(self) -> TaxEnv:
        s = self.settings
        return TaxEnv(enabled=s["woocommerce_calc_taxes"] == "yes",
                      prices_include_tax=s["woocommerce_prices_include_tax"] == "yes",
                      round_at_subtotal=s["woocommerce_tax_round_at_subtotal"] == "yes",
                      decimals=self.decimals, based_on=s["woocommerce_tax_based_on"],
                      shipping_tax_class=s["woocommerce_shipping_tax_class"],
                      rates=tuple(sorted(self.tax_rates.values(), key=lambda r: (r["order"], r["id"]))),
                      base=base_location(s))

    def _apply_tax_rate(self, rate: dict[str, Any], body: dict[str, Any]) -> None:
        classes = [slug for slug, _ in TAX_CLASSES]
        if "class" in body and body["class"] not in classes:
            raise invalid_param("class", f"class is not one of {', '.join(classes[:-1])}, and {classes[-1]}.",
                                "rest_not_in_enum")
        for key in ("country", "state", "postcode", "city", "name"):
            if key in body:
                rate[key] = str(body[key] or "").upper() if key in ("country", "state") else str(body[key] or "")
        if "rate" in body:
            rate["rate"] = f"{float(dec(body['rate'])):.4f}"
        for key in ("priority", "order"):
            if key in body:
                rate[key] = int(body[key])
        for key in ("compound", "shipping"):
            if key in body:
                rate[key] = bool(body[key])
        if "class" in body:
            rate["class"] = body["class"]
        for single, many in (("postcode", "postcodes"), ("city", "cities")):
            if many in body:
                rate[many] = [str(v).upper() for v in body[many]]
            elif single in body:
                rate[many] = [v.strip().upper() for v in rate[single].split(";") if v.strip()]

    def create_tax_rate(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("id"):
            raise WooError(400, "woocommerce_rest_tax_exists", "Cannot create existing resource.")
        rate: dict[str, Any] = {"id": 0, "country": "", "state": "", "postcode": "", "city": "", "rate": "",
                                "name": "", "priority": 1, "compound": False, "shipping": True, "order": 0,
                                "class": "standard", "postcodes": [], "cities": []}
        self._apply_tax_rate(rate, body)
        rate["id"] = self.next_id("tax_rate")
        self.tax_rates[rate["id"]] = rate
        return rate

    def update_tax_rate(self, rate: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        self._apply_tax_rate(rate, body)
        return rate

    def next_id(self, kind: str) -> int:
        value = self.seq[kind]
        self.seq[kind] += 1
        return value

    def meta(self, key: str, value: Any, display: bool = False) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self.next_id("meta"), "key": key, "value": value}
        if display:
            entry["display_key"] = key
            entry["display_value"] = value
        return entry

    def local(self, epoch: int) -> str:
        return fmt_local(epoch, self.tz) or ""

    def _touch(self, record: dict[str, Any], now: int | None = None) -> None:
        now = self.clock.now() if now is None else now
        record["modified"] = now
        if "modified_local" in record:
            record["modified_local"] = self.local(now)

    # -- categories and coupons -----------------------------------------------------------------

    def create_category(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if not name:
            raise missing_param("name")
        escaped = name.replace("&", "&amp;")
        slug = body.get("slug") or slugify(name)
        if any(c["slug"] == slug for c in self.categories.values()):
            raise WooError(400, "term_exists", "A term with the name provided already exists with this parent.",
                           resource_id=next(c["id"] for c in self.categories.values() if c["slug"] == slug))
        cid = self.next_id("term")
        cat = {"id": cid, "name": escaped, "slug": slug, "parent": int(body.get("parent", 0)),
               "description": body.get("description", "")}
        self.categories[cid] = cat
        return cat

    def create_coupon(self, body: dict[str, Any]) -> dict[str, Any]:
        code = str(body.get("code", "")).strip().lower()
        if not code:
            raise missing_param("code")
        if any(c["code"] == code for c in self.coupons.values()):
            raise WooError(400, "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists")
        now = self.clock.now()
        cid = self.next_id("post")
        coupon = {"id": cid, "code": code, "amount": money(dec(body.get("amount", "0"))), "created": now,
                  "modified": now, "discount_type": body.get("discount_type", "fixed_cart"),
                  "description": body.get("description", ""), "individual_use": bool(body.get("individual_use")),
                  "used_by": []}
        self.coupons[cid] = coupon
        return coupon

    # -- products ---------------------------------------------------------------------------------

    def product_derived(self, p: dict[str, Any]) -> dict[str, Any]:
        """Price, stock status and friends as WooCommerce computes them on read."""
        symbol = currency_symbol(self.settings["woocommerce_currency"])
        if p["type"] == "variable":
            children = [self.products[v] for v in p["variations"] if v in self.products]
            prices = sorted(dec(self._effective_price(c)) for c in children if self._effective_price(c) != "")
            statuses = {self._stock_status(c) for c in children}
            stock_status = "instock" if "instock" in statuses else (
                "onbackorder" if "onbackorder" in statuses else "outofstock")
            price = money(prices[0]) if prices else ""
            html = price_html("", price, False, money(prices[0]), money(prices[-1]), self.decimals,
                              symbol) if prices else ""
            return {"price": price, "on_sale": False, "stock_status": stock_status, "backordered": False,
                    "price_html": html, "variations": sorted(  # get_children(): publish and private ones only
                        v for v in p["variations"] if v in self.products and self.products[v]["status"] != "trash"),
                    "sku": p["sku"], "tax_class": p["tax_class"]}
        price = self._effective_price(p)
        on_sale = p["sale_price"] != "" and dec(p["sale_price"]) < dec(p["regular_price"])
        stock_status = self._stock_status(p)
        # is_on_backorder: status onbackorder, or managed stock below zero with backorders allowed
        backordered = stock_status == "onbackorder" or bool(
            p["manage_stock"] and p["backorders"] != "no" and (p["stock_quantity"] or 0) < 0)
        return {"price": price, "on_sale": on_sale, "stock_status": stock_status, "backordered": backordered,
                "price_html": price_html(p["regular_price"], price, on_sale, decimals=self.decimals, symbol=symbol),
                "variations": [], "sku": self.effective_sku(p), "tax_class": self.effective_tax_class(p)}

    @staticmethod
    def _effective_price(p: dict[str, Any]) -> str:
        if p["sale_price"] != "":
            return p["sale_price"]
        return p["regular_price"]

    @staticmethod
    def _stock_status(p: dict[str, Any]) -> str:
        if p["manage_stock"]:
            qty = p["stock_quantity"] or 0
            if qty > 0:
                return "instock"
            return "onbackorder" if p["backorders"] != "no" else "outofstock"
        return p["stock_status"]

    def effective_sku(self, p: dict[str, Any]) -> str:
        """A variation without a SKU of its own shows its parent's (which still does not match ?sku=)."""
        if p["type"] == "variation" and not p["sku"] and p["parent_id"] in self.products:
            return str(self.products[p["parent_id"]]["sku"])
        return str(p["sku"])

    def effective_tax_class(self, p: dict[str, Any]) -> str:
        if p["type"] == "variation" and p["tax_class"] == "parent":
            parent = self.products.get(p["parent_id"])
            return str(parent["tax_class"]) if parent else ""
        return str(p["tax_class"])

    def product_by_sku(self, sku: str) -> dict[str, Any] | None:
        return next((q for q in self.products.values() if q["sku"] == sku and q["status"] != "trash"), None)

    def related_ids(self, p: dict[str, Any]) -> list[int]:
        pool = [q["id"] for q in self.products.values()
                if q["id"] != p["id"] and q["type"] != "variation" and q["status"] == "publish"
                and set(q["categories"]) & set(p["categories"])]
        random.Random(p["id"]).shuffle(pool)
        return pool[:5]

    def _check_sku(self, sku: str, own_id: int | None) -> None:
        if not sku:
            return
        for q in self.products.values():
            if q["sku"] == sku and q["id"] != own_id and q["status"] != "trash":
                n = 1
                taken = {x["sku"] for x in self.products.values()}
                while f"{sku}-{n}" in taken:
                    n += 1
                raise WooError(400, "product_invalid_sku", "Invalid or duplicated SKU.", resource_id=q["id"],
                               unique_sku=f"{sku}-{n}")

    def create_product(self, body: dict[str, Any], parent: dict[str, Any] | None = None) -> dict[str, Any]:
        if body.get("id"):
            code = "woocommerce_rest_product_variation_exists" if parent else "woocommerce_rest_product_exists"
            raise WooError(400, code, f"Cannot create existing {'product_variation' if parent else 'product'}.")
        ptype = "variation" if parent else body.get("type", "simple")
        if ptype not in (*PRODUCT_TYPES, "variation"):
            raise invalid_param("type", f"type is not one of {', '.join(PRODUCT_TYPES)}.", "rest_not_in_enum")
        status = body.get("status", "publish")
        if status not in PRODUCT_STATUSES[:-1] and status != "trash":
            raise invalid_param("status", "status is not one of draft, pending, private, publish, and future.",
                                "rest_not_in_enum")
        self._check_sku(body.get("sku", ""), None)
        now = self.clock.now()
        pid = self.next_id("post")
        name = body.get("name", "" if parent else "Product")
        p: dict[str, Any] = {
            "id": pid, "name": name, "slug": slugify(name) if not parent else "", "type": ptype, "status": status,
            "featured": False, "catalog_visibility": "visible", "description": "", "short_description": "",
            "sku": "", "regular_price": "", "sale_price": "", "total_sales": 0, "virtual": False,
            "downloadable": False, "tax_status": "taxable", "tax_class": "", "manage_stock": False,
            "stock_quantity": None, "backorders": "no", "low_stock_amount": None, "sold_individually": False,
            "weight": "", "dimensions": {"length": "", "width": "", "height": ""}, "categories": [15],
            "attributes": [], "variations": [], "meta_data": [], "stock_status": "instock",
            "parent_id": parent["id"] if parent else 0, "created": now, "modified": now,
            "created_local": self.local(now), "modified_local": self.local(now),
        }
        if parent:
            p["tax_class"] = "parent"
        self._apply_product(p, body)
        if not parent:
            p["slug"] = self._unique_slug(slugify(p["name"]))
            self._hold_draft_slug(p)
        self.products[pid] = p
        if parent:
            parent["variations"].append(pid)
            self._touch(parent, now)
        self._changed("product", "created", pid)
        return p

    def _apply_product(self, p: dict[str, Any], body: dict[str, Any]) -> None:
        for key in ("name", "status", "featured", "catalog_visibility", "description", "short_description", "sku",
                    "virtual", "downloadable", "tax_status", "tax_class", "manage_stock", "backorders",
                    "sold_individually", "weight", "stock_status"):
            if key in body:
                p[key] = body[key]
        for key in ("regular_price", "sale_price"):
            if key in body:
                p[key] = money(dec(body[key])) if body[key] not in ("", None) else ""
        if "stock_quantity" in body:
            p["stock_quantity"] = None if body["stock_quantity"] is None else int(body["stock_quantity"])
        if "low_stock_amount" in body:
            p["low_stock_amount"] = None if body["low_stock_amount"] in (None, "") else int(body["low_stock_amount"])
        if "dimensions" in body:
            p["dimensions"].update({k: str(v) for k, v in body["dimensions"].items()})
        if "categories" in body:
            ids = [int(c["id"]) for c in body["categories"] if int(c.get("id", 0)) in self.categories]
            p["categories"] = ids or [15]
        if "attributes" in body:
            if p["type"] == "variation":
                p["attributes"] = [{"name": a.get("name", ""), "option": a.get("option", "")} for a in body["attributes"]]
            else:
                p["attributes"] = [{"name": a.get("name", ""), "options": list(a.get("options", [])),
                                    "visible": a.get("visible", False), "variation": a.get("variation", False)}
                                   for a in body["attributes"]]
        if p["manage_stock"] and p["stock_quantity"] is None:
            p["stock_quantity"] = 0
        if not p["manage_stock"]:
            p["stock_quantity"] = None
        if p["type"] == "variation":
            p["categories"] = []

    def _unique_slug(self, slug: str) -> str:
        """``wp_unique_post_slug``: ``-2``, ``-3``... after a slug another product has."""
        taken = {q["slug"] for q in self.products.values()}
        candidate, n = slug, 2
        while candidate in taken:
            candidate = f"{slug}-{n}"
            n += 1
        return candidate

    @staticmethod
    def _hold_draft_slug(p: dict[str, Any]) -> None:
        """WordPress gives a draft or pending post no slug (``post_name`` "", permalink ``?post_type=product&p=ID``)
        until it is published; the slug it would get shows as ``generated_slug``."""
        if p["status"] in ("draft", "pending") and p["slug"]:
            p["generated_slug"], p["slug"] = p["slug"], ""
        elif p["status"] not in ("draft", "pending") and not p["slug"] and p.get("generated_slug"):
            p["slug"] = p.pop("generated_slug")

    def update_product(self, p: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        was_trashed = p["status"] == "trash"
        if "sku" in body:
            self._check_sku(body["sku"], p["id"])
        if "type" in body and body["type"] not in PRODUCT_TYPES:
            raise invalid_param("type", f"type is not one of {', '.join(PRODUCT_TYPES)}.", "rest_not_in_enum")
        if "type" in body and p["type"] != "variation":
            p["type"] = body["type"]
        self._apply_product(p, body)
        if p["type"] != "variation":
            self._hold_draft_slug(p)
        self._touch(p)
        if was_trashed and p["status"] != "trash":
            self._changed("product", "restored", p["id"])
        self._changed("product", "updated", p["id"])
        return p

    def trash_product(self, p: dict[str, Any]) -> None:
        """Trash a product; a variable product's variations go to the trash with it, as in WooCommerce
        (``WC_Post_Data::trash_post`` -> ``delete_variations($id, false)`` -> ``wp_trash_post`` per variation)."""
        p["meta_data"] += [self.meta("_wp_trash_meta_status", p["status"]),
                           self.meta("_wp_trash_meta_time", str(self.clock.now())),
                           self.meta("_wp_desired_post_slug", p["slug"])]
        p["status"] = "trash"
        p["slug"] = p["slug"] + "__trashed"
        self._touch(p)
        self._changed("product", "deleted", p["id"])
        for vid in p.get("variations") or []:
            v = self.products.get(vid)
            if v is not None and v["status"] != "trash":
                v["meta_data"] += [self.meta("_wp_trash_meta_status", v["status"]),
                                   self.meta("_wp_trash_meta_time", str(self.clock.now()))]
                v["status"] = "trash"
                self._touch(v)
                self._changed("product", "deleted", v["id"])

    def delete_product(self, p: dict[str, Any]) -> None:
        self.products.pop(p["id"], None)
        if p["type"] == "variable":
            for vid in p["variations"]:
                self.products.pop(vid, None)
        if p["type"] == "variation" and p["parent_id"] in self.products:
            parent = self.products[p["parent_id"]]
            parent["variations"] = [v for v in parent["variations"] if v != p["id"]]
            self._touch(parent)

    # -- customers --------------------------------------------------------------------------------

    def _email_owner(self, email: str) -> int | None:
        email = email.lower()
        for c in self.customers.values():
            if c["email"].lower() == email:
                return c["id"]
        return None

    def create_customer(self, body: dict[str, Any], *, now: int | None = None) -> dict[str, Any]:
        if body.get("id"):
            raise WooError(400, "woocommerce_rest_customer_exists", "Cannot create existing resource.")
        if "email" not in body:
            raise missing_param("email")
        email = str(body["email"]).strip()
        if not valid_email(email):
            raise WooError(400, "customer_invalid_email", "Invalid email address")
        if self._email_owner(email) is not None:
            raise WooError(400, "registration-error-email-exists",
                           f"An account is already registered with {email}. Please log in or use a different "
                           "email address.")
        username = body.get("username") or re.sub(r"[^a-z0-9._-]", "", email.split("@")[0].lower()) or "user"
        if any(c["username"] == username for c in self.customers.values()):
            if body.get("username"):
                raise WooError(400, "registration-error-username-exists",
                               "An account is already registered with that username. Please choose another.")
            base, n = username, 1
            while any(c["username"] == username for c in self.customers.values()):
                username = f"{base}-{n}"
                n += 1
        self._check_customer_billing_email(body)
        now = self.clock.now() if now is None else now
        cid = self.next_id("user")
        c: dict[str, Any] = {
            "id": cid, "created": now, "modified": now, "email": email, "first_name": body.get("first_name", ""),
            "last_name": body.get("last_name", ""), "role": body.get("role", "customer"), "username": username,
            "billing": {}, "shipping": {}, "is_paying_customer": False,
            "meta_data": [] if body.get("password") else [self.meta("default_password_nag", "1")],
        }
        for part in ("billing", "shipping"):
            c[part] = {k: str(v) for k, v in (body.get(part) or {}).items() if k in (*ADDRESS_KEYS, "email", "phone")}
        self.customers[cid] = c
        self._changed("customer", "created", cid)
        return c

    def update_customer(self, c: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """``update_item``: an email another account has (or this account's own in another case) is
        ``woocommerce_rest_customer_invalid_email``; then ``WC_Customer``'s setters (an invalid email, an
        invalid billing email). The account email and billing.email never follow each other, the top-level
        names do not touch the addresses' names, and address objects merge into what is there."""
        if body.get("email") and self._email_owner(str(body["email"])) is not None and body["email"] != c["email"]:
            raise WooError(400, "woocommerce_rest_customer_invalid_email", "Email address is invalid.")
        if "username" in body and body["username"] != c["username"]:
            raise WooError(400, "woocommerce_rest_customer_invalid_argument", "Username isn't editable.")
        if body.get("email"):
            email = str(body["email"]).strip()
            if not valid_email(email):
                raise WooError(400, "customer_invalid_email", "Invalid email address")
            c["email"] = email
        for key in ("first_name", "last_name"):
            if key in body:
                c[key] = str(body[key])
        self._check_customer_billing_email(body)
        for part in ("billing", "shipping"):
            if isinstance(body.get(part), dict):
                c[part].update({k: str(v) for k, v in body[part].items() if k in (*ADDRESS_KEYS, "email", "phone")})
        self._touch(c)
        self._changed("customer", "updated", c["id"])
        return c

    @staticmethod
    def _check_customer_billing_email(body: dict[str, Any]) -> None:
        """``WC_Customer::set_billing_email``: a non-empty billing email must be valid."""
        billing = body.get("billing")
        if isinstance(billing, dict) and billing.get("email") and not valid_email(str(billing["email"])):
            raise WooError(400, "customer_invalid_billing_email", "Invalid billing email address")

    def delete_customer(self, c: dict[str, Any]) -> None:
        """``wp_delete_user``; WooCommerce then sets the customer's orders to guest orders (customer_id 0,
        billing kept), which bumps their date_modified."""
        if c["role"] == "customer":  # delete_user: only a user with the customer role is delivered
            self._changed("customer", "deleted", c["id"])
        del self.customers[c["id"]]
        for order in self.orders.values():
            if order["customer_id"] == c["id"]:
                order["customer_id"] = 0
                self._touch(order)

    def display_name(self, c: dict[str, Any]) -> str:
        if c["first_name"] and c["last_name"]:
            return f"{c['first_name']} {c['last_name']}"
        return c["first_name"] or c["last_name"] or c["username"]

    # -- orders -----------------------------------------------------------------------------------

    def _line_product(self, spec: dict[str, Any]) -> tuple[int, int]:
        """``get_product_id``: ``sku`` first, then ``variation_id``, then ``product_id``; none -> 400."""
        if spec.get("sku"):
            found = self.product_by_sku(str(spec["sku"]))
            if found is None:
                return 0, 0
            if found["type"] == "variation":
                return found["parent_id"], found["id"]
            return found["id"], 0
        if spec.get("variation_id"):
            variation = self.products.get(int(spec["variation_id"]))
            if variation is not None and variation["type"] == "variation":
                return variation["parent_id"], variation["id"]
            return int(spec.get("product_id") or 0), int(spec["variation_id"])
        if spec.get("product_id"):
            return int(spec["product_id"]), 0
        raise WooError(400, "woocommerce_rest_required_product_reference", "Product ID or SKU is required.")

    def _set_line_product(self, item: dict[str, Any], pid: int, vid: int) -> dict[str, Any] | None:
        """``WC_Order_Item_Product::set_product``: product and variation ids, name, SKU, tax class and, for a
        variation, its attributes as line meta (``color`` = "Red"); an unknown product leaves an empty line
        (product_id 0). Returns the product that prices the line (the variation, else the product), or None."""
        product = self.products.get(pid)
        variation = self.products.get(vid) if vid else None
        if product is None or product["type"] == "variation" or (vid and variation is None):
            item.update({"product_id": 0, "variation_id": 0, "sku": None})
            return None
        source = variation or product
        item.update({"name": product["name"], "product_id": pid, "variation_id": vid, "parent_name": None,
                     "sku": self.effective_sku(source), "tax_class": self.effective_tax_class(source),
                     "tax_status": product["tax_status"]})
        if variation:
            item["name"] = f"{product['name']} - " + ", ".join(a["option"] for a in variation["attributes"])
            item["parent_name"] = product["name"]
            for a in variation["attributes"]:
                self.update_meta(item["meta_data"], a["name"].lower(), a["option"], display_key=a["name"])
        return source

    def _catalogue_line_price(self, source: dict[str, Any] | None, item: dict[str, Any], qty: int) -> Decimal:
        """``wc_get_price_excluding_tax($product, qty)``: what a new line costs before any override."""
        if source is None:
            return Decimal(0)
        price = self.product_derived(source)["price"] if source["type"] == "variable" else \
            self._effective_price(source)
        return base_net_price(self.tax_env(), dec(price) * qty, item["tax_class"], item["tax_status"] == "taxable")

    def _line_from_product(self, spec: dict[str, Any]) -> dict[str, Any]:
        """``prepare_line_items`` creating a line: the product's price x quantity as subtotal and total, then
        whatever the request sets of name, quantity, total, subtotal, tax_class (``price`` is read-only and
        ignored), then its meta_data."""
        qty = int(spec.get("quantity", 1))
        pid, vid = self._line_product(spec)
        item: dict[str, Any] = {"id": self.next_id("item"), "name": "", "quantity": qty, "meta_data": [],
                                "parent_name": None, "tax_class": "", "tax_status": "taxable"}
        source = self._set_line_product(item, pid, vid)
        line_price = self._catalogue_line_price(source, item, qty)
        item["subtotal"] = item["total"] = plain(line_price)
        self._set_line_props(item, spec)
        return item

    def _set_line_props(self, item: dict[str, Any], spec: dict[str, Any]) -> None:
        """``maybe_set_item_props`` (name, quantity, total, subtotal, tax_class: only those sent) and
        ``maybe_set_item_meta_data``."""
        if spec.get("name") is not None:
            item["name"] = str(spec["name"])
        if spec.get("quantity") is not None:
            item["quantity"] = int(spec["quantity"])
        for key in ("total", "subtotal"):
            if spec.get(key) is not None:
                item[key] = plain(dec(spec[key]))
        if spec.get("tax_class") is not None and item["product_id"]:
            item["tax_class"] = str(spec["tax_class"])
        if isinstance(spec.get("meta_data"), list):
            for m in spec["meta_data"]:
                if isinstance(m, dict) and "key" in m:
                    key = str(m["key"])
                    self.update_meta(item["meta_data"], key, m.get("value"), m.get("id"), display_key=key)

    def _update_line(self, order: dict[str, Any], item: dict[str, Any], spec: dict[str, Any]) -> None:
        """``prepare_line_items`` editing a line (an entry with ``id``): a product reference sent re-points the
        line but does not re-price it, sent props are set as they are (a new quantity keeps subtotal and
        total), then the product's stock follows the quantity (``wc_maybe_adjust_line_item_product_stock``)."""
        if spec.get("sku") or spec.get("product_id") or spec.get("variation_id"):
            pid, vid = self._line_product(spec)
            self._set_line_product(item, pid, vid)
        self._set_line_props(item, spec)
        self._adjust_line_stock(order, item)

    def _adjust_line_stock(self, order: dict[str, Any], item: dict[str, Any]) -> None:
        """``wc_maybe_adjust_line_item_product_stock``: in an order whose stock was reduced (processing,
        completed, on-hold), a managed-stock product gives or takes back the difference between the line's
        quantity (less refunded units) and what ``_reduced_stock`` says was taken; the meta follows."""
        target = self._stock_products(item)
        if order["status"] not in STOCK_STATUSES or target is None or not target["manage_stock"]:
            return
        reduced = next((m for m in item["meta_data"] if m["key"] == "_reduced_stock"), None)
        if not order["stock_reduced"] and reduced is None:
            return
        already = int(reduced["value"]) if reduced is not None else 0
        wanted = item["quantity"] - self._refunded_quantity(order, item)
        if wanted != already:
            self._change_stock(target, already - wanted)
        self.update_meta(item["meta_data"], "_reduced_stock", str(wanted), display_key="_reduced_stock")

    def _refunded_quantity(self, order: dict[str, Any], item: dict[str, Any]) -> int:
        """``get_qty_refunded_for_item``: units of a line given back by refunds (a positive count)."""
        total = 0
        for rid in order["refund_ids"]:
            for line in self.refunds.get(rid, {}).get("line_items", []):
                if any(m["key"] == "_refunded_item_id" and m["value"] == str(item["id"]) for m in line["meta_data"]):
                    total += abs(int(line["quantity"]))
        return total

    def update_meta(self, entries: list[dict[str, Any]], key: str, value: Any, meta_id: Any = None,
                    *, display_key: str | None = None) -> None:
        """``WC_Data::update_meta_data``: the entry with ``meta_id`` if given, else the first entry with the
        key (further entries with that key are dropped), else a new entry. ``display_key``: an order line's
        meta, which also carries display_key/display_value."""
        found = next((m for m in entries if meta_id and m["id"] == meta_id), None)
        if found is None and not meta_id:
            same = [m for m in entries if m["key"] == key]
            found = same[0] if same else None
            for extra in same[1:]:
                entries.remove(extra)
        if found is None:
            found = {"id": self.next_id("meta")}
            entries.append(found)
        found.update({"key": key, "value": value})
        if display_key is not None:
            found.update({"display_key": display_key, "display_value": value})

    def _coupon_lines(self, specs: list[dict[str, Any]], order: dict[str, Any]) -> None:
        order["coupon_lines"] = []
        for spec in specs:
            code = str(spec.get("code", "")).lower()
            coupon = next((c for c in self.coupons.values() if c["code"] == code), None)
            if coupon is None:
                raise WooError(400, "woocommerce_rest_invalid_coupon", f'Coupon "{code}" does not exist!')
            amount = dec(coupon["amount"])
            info = f'[{coupon["id"]},"{coupon["code"]}","{coupon["discount_type"]}",{plain_decimal(amount)}]'
            order["coupon_lines"].append({
                "id": self.next_id("item"), "code": code, "coupon_id": coupon["id"], "discount": "0",
                "discount_tax": "0", "discount_type": coupon["discount_type"],
                "nominal_amount": int(amount) if amount == int(amount) else float(amount),
                "meta_data": [{"id": self.next_id("meta"), "key": "coupon_info", "value": info,
                               "display_key": "coupon_info", "display_value": info}],
            })

    def _recalculate(self, order: dict[str, Any]) -> None:
        """``calculate_totals``: coupons, taxes (when enabled) and totals, with the settings now in force."""
        coupons = []
        for line in order["coupon_lines"]:
            coupon = self.coupons.get(line["coupon_id"])
            coupons.append(coupon if coupon is not None else {"amount": "0", "discount_type": "fixed_cart"})
        calculate_totals(self.tax_env(), order, coupons, lambda: self.next_id("item"))

    def _check_billing_email(self, body: dict[str, Any], batch: bool) -> None:
        billing = body.get("billing")
        if not isinstance(billing, dict) or "email" not in billing:
            return
        email = billing["email"]
        if batch:
            if email and not valid_email(email):
                raise WooError(400, "order_invalid_billing_email", "Invalid billing email address")
        elif not valid_email(email):
            raise invalid_param("billing", "Invalid email address.", "rest_invalid_email")

    def _check_status(self, body: dict[str, Any]) -> None:
        if "status" in body and body["status"] not in ORDER_STATUS_SLUGS:
            raise invalid_param("status", "status is not one of " + ", ".join(ORDER_STATUS_SLUGS) + ".",
                                "rest_not_in_enum")

    @staticmethod
    def _check_currency(body: dict[str, Any], batch: bool) -> None:
        """``currency`` must be one WooCommerce knows: the schema's enum for a single request,
        ``WC_Order::set_currency`` in a batch."""
        code = body.get("currency")
        if code is None or code in currencies():
            return
        if batch:
            raise WooError(400, "order_invalid_currency", "Invalid currency code")
        codes = list(currencies())
        raise invalid_param("currency", f"currency is not one of {', '.join(codes[:-1])}, and {codes[-1]}.",
                            "rest_not_in_enum")

    def order_key(self) -> str:
        return "wc_order_" + "".join(self.rng.choices(string.ascii_letters + string.digits, k=13))

    def create_order(self, body: dict[str, Any], *, batch: bool = False) -> dict[str, Any]:
        if body.get("id"):
            raise WooError(400, "woocommerce_rest_shop_order_exists", "Cannot create existing shop_order.")
        self._check_billing_email(body, batch)
        self._check_status(body)
        self._check_currency(body, batch)
        customer_id = int(body.get("customer_id") or 0)
        if customer_id and customer_id not in self.customers:
            raise WooError(400, "woocommerce_rest_invalid_customer_id", "Customer ID is invalid.")
        now = self.clock.now()
        oid = self.next_id("post")
        order: dict[str, Any] = {
            "id": oid, "parent_id": int(body.get("parent_id", 0)), "status": "pending",
            "currency": self.settings["woocommerce_currency"], "created": now, "modified": now, "paid": None,
            "completed": None, "discount_total": "0", "discount_tax": "0", "shipping_total": "0", "shipping_tax": "0",
            "cart_tax": "0", "total_tax": "0", "total": "0", "tax_lines": [],
            "prices_include_tax": self.settings["woocommerce_prices_include_tax"] == "yes",
            "customer_id": customer_id, "order_key": self.order_key(), "billing": {}, "shipping": {},
            "payment_method": "", "payment_method_title": "", "transaction_id": "",
            "created_via": body.get("created_via", "rest-api"), "customer_note": "", "meta_data": [],
            "line_items": [], "shipping_lines": [], "fee_lines": [], "coupon_lines": [], "refund_ids": [],
            "stock_reduced": False, "sales_recorded": False,
        }
        try:
            self._apply_order(order, body, creating=True)
        except WooError:
            if self.seq["post"] == oid + 1:  # a rejected create saves nothing, so it takes no id
                self.seq["post"] = oid
            raise
        self.orders[oid] = order
        self._changed("order", "created", oid)
        return order

    def _apply_order(self, order: dict[str, Any], body: dict[str, Any], creating: bool = False) -> None:
        """``prepare_object_for_database`` + ``save_object``: the writable fields in schema order, totals
        recalculated (always on create; on update when an address or items were sent), then the status, then
        ``set_paid``."""
        for key in ("currency", "customer_note", "payment_method", "payment_method_title", "transaction_id"):
            if body.get(key) is not None:
                order[key] = str(body[key])
        if "customer_id" in body and not creating:
            cid = int(body["customer_id"] or 0)
            if cid and cid not in self.customers:
                raise WooError(400, "woocommerce_rest_invalid_customer_id", "Customer ID is invalid.")
            order["customer_id"] = cid
        for part in ("billing", "shipping"):
            if isinstance(body.get(part), dict):
                order[part].update({k: str(v) for k, v in body[part].items() if k in (*ADDRESS_KEYS, "email", "phone")})
        if not order["billing"].get("email") and order["customer_id"] in self.customers:
            order["billing"]["email"] = self.customers[order["customer_id"]]["email"]
        if isinstance(body.get("meta_data"), list):
            for m in body["meta_data"]:
                if isinstance(m, dict) and "key" in m:
                    self.update_meta(order["meta_data"], str(m["key"]), m.get("value"), m.get("id"))
        for part in ("line_items", "shipping_lines", "fee_lines"):
            if isinstance(body.get(part), list):
                for spec in body[part]:
                    if isinstance(spec, dict):
                        self._set_order_item(order, part, spec)
        if "coupon_lines" in body:
            self._coupon_lines(body["coupon_lines"], order)
        if creating or any(k in body for k in ("billing", "shipping", "line_items", "shipping_lines", "fee_lines",
                                                "coupon_lines")):
            self._recalculate(order)
        if "coupon_lines" in body:
            for line in order["coupon_lines"]:
                coupon = self.coupons.get(line["coupon_id"])
                if coupon is not None:
                    coupon["used_by"].append(str(order["customer_id"]) if order["customer_id"]
                                             else order["billing"].get("email", ""))
        if body.get("status"):
            self.set_order_status(order, str(body["status"]))
        if body.get("set_paid") is True and (creating or self._needs_payment(order)):
            self.payment_complete(order, body.get("transaction_id"))

    @staticmethod
    def _needs_payment(order: dict[str, Any]) -> bool:
        """``WC_Order::needs_payment``: pending or failed, with something to pay."""
        return order["status"] in ("pending", "failed") and dec(order["total"]) > 0

    def payment_complete(self, order: dict[str, Any], transaction_id: Any = None) -> None:
        """``WC_Order::payment_complete``: only from pending, on-hold, failed or cancelled: transaction id,
        date_paid (if not set yet), status processing (completed if nothing needs processing), and the
        customer becomes a paying customer."""
        if order["status"] not in ("on-hold", "pending", "failed", "cancelled"):
            return
        if transaction_id:
            order["transaction_id"] = str(transaction_id)
        if order["paid"] is None:
            order["paid"] = self.clock.now()
        self.set_order_status(order, "processing" if self.needs_processing(order) else "completed")
        self._mark_paying_customer(order)

    def needs_processing(self, order: dict[str, Any]) -> bool:
        """``WC_Order::needs_processing``: a line whose product still exists and is not both virtual and
        downloadable. An order of fees only does not (paid, it goes straight to completed)."""
        for item in order["line_items"]:
            product = self._stock_products(item) if item["product_id"] else None
            if product is not None and not (product["virtual"] and product["downloadable"]):
                return True
        return False

    def _set_order_item(self, order: dict[str, Any], part: str, spec: dict[str, Any]) -> None:
        """One entry of ``line_items`` / ``shipping_lines`` / ``fee_lines``: with ``id`` it edits that item,
        without it adds one (nothing is replaced); ``quantity: 0`` (or a key such as ``product_id`` set to
        null) removes the item with that ``id``."""
        items = order[part]
        nulled = any(k in spec and spec[k] is None for k in ("product_id", "method_id", "method_title", "name"))
        quantity = spec.get("quantity")
        if nulled or (isinstance(quantity, int) and not isinstance(quantity, bool) and quantity == 0):
            order[part] = [i for i in items if i["id"] != spec.get("id")]
            return
        if not spec.get("id"):
            items.append({"line_items": self._line_from_product, "shipping_lines": self._new_shipping_line,
                          "fee_lines": self._new_fee_line}[part](spec))
            return
        item = next((i for i in items if i["id"] == spec["id"]), None)
        if item is None:
            raise WooError(400, "woocommerce_rest_invalid_item_id",
                           "Order item ID provided is not associated with order.")
        if part == "line_items":
            self._update_line(order, item, spec)
        else:
            self._set_simple_item_props(item, spec)

    def _new_shipping_line(self, spec: dict[str, Any]) -> dict[str, Any]:
        if not spec.get("method_id"):
            raise WooError(400, "woocommerce_rest_invalid_shipping_item", "Shipping method ID is required.")
        item = {"id": self.next_id("item"), "method_title": "", "method_id": "", "total": "0"}
        self._set_simple_item_props(item, spec)
        return item

    def _new_fee_line(self, spec: dict[str, Any]) -> dict[str, Any]:
        if not spec.get("name"):
            raise WooError(400, "woocommerce_rest_invalid_fee_item", "Fee name is required.")
        item = {"id": self.next_id("item"), "name": "", "tax_class": "", "tax_status": "taxable", "total": "0"}
        self._set_simple_item_props(item, spec)
        return item

    @staticmethod
    def _set_simple_item_props(item: dict[str, Any], spec: dict[str, Any]) -> None:
        """A shipping or fee line's props, those sent only (``method_id``, ``method_title`` / ``name``,
        ``tax_class``, ``tax_status``; ``total``)."""
        for key in ("method_id", "method_title", "name", "tax_class", "tax_status"):
            if key in item and spec.get(key) is not None:
                item[key] = str(spec[key])
        if spec.get("total") is not None:
            item["total"] = plain(dec(spec["total"]))

    def set_order_status(self, order: dict[str, Any], status: str) -> None:
        """A status change and what WooCommerce hooks to the transition: date_paid (processing, completed),
        date_completed, stock (reduced by processing/completed/on-hold, restored by cancelled/pending),
        total_sales (counted once by processing/completed/on-hold, taken back by cancelled), the paying
        customer flag (completed) and the automatic full refund (refunded). Same status: nothing happens."""
        old = order["status"]
        if status == old:
            return
        order["status"] = status
        now = self.clock.now()
        if status in PAID_STATUSES and order["paid"] is None:
            order["paid"] = now
        if status == "completed":
            order["completed"] = now
            self._mark_paying_customer(order)
        if status in STOCK_STATUSES:
            self._record_sales(order, True)
            self._reduce_stock(order)
        if status in ("cancelled", "pending"):
            self._restore_stock(order)
        if status == "cancelled":
            self._record_sales(order, False)
        if status == "refunded":
            remaining = dec(order["total"]) - self.refunded_total(order)
            if remaining > 0:
                self._add_refund(order, remaining, "Order fully refunded.", "full", [], False)

    def _mark_paying_customer(self, order: dict[str, Any]) -> None:
        """``wc_paying_customer`` (on payment_complete and on completed)."""
        customer = self.customers.get(order["customer_id"])
        if customer is not None and not customer["is_paying_customer"]:
            customer["is_paying_customer"] = True
            self._touch(customer)

    def _record_sales(self, order: dict[str, Any], counted: bool) -> None:
        """``wc_update_total_sales_counts``: every line's quantity added to its product's total_sales once
        (``counted``), or taken back (a cancelled, trashed or deleted order whose sales were counted)."""
        if order["sales_recorded"] == counted:
            return
        order["sales_recorded"] = counted
        for item in order["line_items"]:
            product = self.products.get(item["product_id"])
            if product is not None:
                product["total_sales"] += item["quantity"] if counted else -item["quantity"]

    def _change_stock(self, product: dict[str, Any], delta: int, now: int | None = None) -> None:
        """``wc_update_product_stock``: the quantity moves by ``delta`` and the product is saved (date_modified);
        a variation's parent is synced and saved too."""
        product["stock_quantity"] = (product["stock_quantity"] or 0) + delta
        self._touch(product, now)
        if product["type"] == "variation" and product["parent_id"] in self.products:
            self._touch(self.products[product["parent_id"]], now)

    def _stock_products(self, item: dict[str, Any]) -> dict[str, Any] | None:
        return self.products.get(item["variation_id"] or item["product_id"])

    def _reduce_stock(self, order: dict[str, Any]) -> None:
        """``wc_reduce_stock_levels`` (once per order): managed-stock products lose the line quantities, with
        no check at all (stock goes negative), and each such line records ``_reduced_stock``."""
        if order["stock_reduced"]:
            return
        order["stock_reduced"] = True
        now = self.clock.now()
        for item in order["line_items"]:
            target = self._stock_products(item)
            if target is None or not target["manage_stock"]:
                continue
            self._change_stock(target, -item["quantity"], now)
            item["meta_data"].append(self.meta("_reduced_stock", str(item["quantity"]), display=True))

    def _restore_stock(self, order: dict[str, Any]) -> None:
        """``wc_increase_stock_levels``: what ``_reduced_stock`` says was taken goes back; the meta goes."""
        if not order["stock_reduced"]:
            return
        order["stock_reduced"] = False
        now = self.clock.now()
        for item in order["line_items"]:
            reduced = next((m for m in item["meta_data"] if m["key"] == "_reduced_stock"), None)
            target = self._stock_products(item)
            if reduced is None:
                continue
            if target is not None and target["manage_stock"]:
                self._change_stock(target, int(reduced["value"]), now)
            item["meta_data"].remove(reduced)

    def update_order(self, order: dict[str, Any], body: dict[str, Any], *, batch: bool = False) -> dict[str, Any]:
        was_trashed = order["status"] == "trash"
        self._check_billing_email(body, batch)
        self._check_status(body)
        self._check_currency(body, batch)
        self._apply_order(order, body)
        self._touch(order)
        if was_trashed and order["status"] != "trash":
            self._changed("order", "restored", order["id"])
        self._changed("order", "updated", order["id"])
        return order

    def trash_order(self, order: dict[str, Any]) -> None:
        order["meta_data"] += [self.meta("_wp_trash_meta_status", "wc-" + order["status"]),
                               self.meta("_wp_trash_meta_time", str(self.clock.now()))]
        self._record_sales(order, False)
        order["status"] = "trash"
        self._touch(order)
        self._changed("order", "deleted", order["id"])

    def delete_order(self, order: dict[str, Any]) -> None:
        self._record_sales(order, False)
        self.orders.pop(order["id"], None)
        for rid in order["refund_ids"]:
            self.refunds.pop(rid, None)

    def search_order(self, order: dict[str, Any], term: str) -> bool:
        """The HPOS order search (``search=``): the order id (exact), the transaction id, the billing and
        shipping address fields (names, email, phone, address: the address index) and the names of the
        order's items, as case-insensitive substrings. Meta values and the customer note are not searched."""
        needle = term.casefold()
        if term.isdigit() and int(term) == order["id"]:
            return True
        billing_index = " ".join(order["billing"].get(k, "") for k in (*ADDRESS_KEYS, "email", "phone"))
        shipping_index = " ".join(order["shipping"].get(k, "") for k in (*ADDRESS_KEYS, "phone"))
        item_names = [*(i["name"] for i in [*order["line_items"], *order["fee_lines"]]),
                      *(s["method_title"] for s in order["shipping_lines"]),
                      *(c["code"] for c in order["coupon_lines"]), *(t.get("rate_code", "") for t in order["tax_lines"])]
        haystack = [order["transaction_id"], billing_index, shipping_index, *item_names]
        return any(needle in str(value).casefold() for value in haystack)

    # -- refunds ----------------------------------------------------------------------------------

    def refunded_total(self, order: dict[str, Any]) -> Decimal:
        return sum((dec(self.refunds[r]["amount"]) for r in order["refund_ids"] if r in self.refunds), Decimal(0))

    def create_refund(self, order: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        specs = body.get("line_items") or []
        amount = dec(body["amount"]) if body.get("amount") not in (None, "") else sum(
            (dec(s.get("refund_total", 0)) for s in specs), Decimal(0))
        if amount <= 0:
            raise WooError(400, "woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.")
        if amount > dec(order["total"]) - self.refunded_total(order):
            raise WooError(500, "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", bare_data=True)
        refund = self._add_refund(order, amount, str(body.get("reason", "")), "partial", specs,
                                  bool(body.get("restock_items")))
        if self.refunded_total(order) >= dec(order["total"]) and order["status"] != "refunded":
            refund["meta_data"][0]["value"] = "full"
            order["status"] = "refunded"
        return refund

    def _add_refund(self, order: dict[str, Any], amount: Decimal, reason: str, kind: str,
                    specs: list[dict[str, Any]], restock: bool) -> dict[str, Any]:
        now = self.clock.now()
        rid = self.next_id("post")
        lines = []
        for spec in specs:
            original = next((i for i in order["line_items"] if i["id"] == int(spec.get("id", 0))), None)
            if original is None:
                continue
            qty = int(spec.get("quantity", 0))
            total = dec(spec.get("refund_total", 0))
            lines.append({
                "id": self.next_id("item"), "name": original["name"], "product_id": original["product_id"],
                "variation_id": original["variation_id"], "quantity": -qty, "subtotal": money(-total),
                "total": money(-total), "sku": original["sku"], "parent_name": original.get("parent_name"),
                "meta_data": [self.meta("_refunded_item_id", str(original["id"]), display=True)],
            })
            if restock and qty:
                target = self._stock_products(original)
                reduced = next((m for m in original["meta_data"] if m["key"] == "_reduced_stock"), None)
                if target is not None and target["manage_stock"]:
                    self._change_stock(target, qty, now)
                if reduced is not None:
                    value = str(max(0, int(reduced["value"]) - qty))
                    reduced["value"] = reduced["display_value"] = value
                original["meta_data"].append(self.meta("_restock_refunded_items", str(qty), display=True))
        refund = {"id": rid, "order_id": order["id"], "created": now, "amount": money(amount), "reason": reason,
                  "meta_data": [{"id": self.next_id("meta"), "key": "_refund_type", "value": kind}],
                  "line_items": lines}
        self.refunds[rid] = refund
        order["refund_ids"].append(rid)
        self._touch(order, now)
        self._changed("order", "updated", order["id"])  # woocommerce_order_refunded
        return refund
