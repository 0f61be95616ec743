"""Object shapes exactly as WooCommerce 11.0.1 renders them (key order and JSON types from the recordings)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from woohub.sandbox.woocommerce.clock import fmt_gmt, fmt_local
from woohub.sandbox.woocommerce.settings import currency_symbol_text

NS = "/wp-json/wc/v3"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ORDER_STATUSES = [
    ("pending", "Pending payment"), ("processing", "Processing"), ("on-hold", "On hold"),
    ("completed", "Completed"), ("cancelled", "Cancelled"), ("refunded", "Refunded"),
    ("failed", "Failed"), ("checkout-draft", "Draft"),
]
ADDRESS_KEYS = ["first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                "country"]
# customers render their addresses with postcode/country before state (orders keep the order above)
CUSTOMER_ADDRESS_KEYS = ["first_name", "last_name", "company", "address_1", "address_2", "city", "postcode",
                         "country", "state"]


@dataclass(frozen=True)
class Ctx:
    """What rendering needs from the request and the settings: base URL, site timezone, edit context."""

    base: str
    tz: ZoneInfo
    edit: bool = False
    decimals: int = 2  # woocommerce_price_num_decimals: how order amounts are formatted on read


def fmt(value: Any, decimals: int) -> str:
    """``wc_format_decimal($value, $dp)``: a stored amount formatted with the decimals in force."""
    return money(dec(value), decimals)


def money(value: Decimal | str | int | float, places: int = 2) -> str:
    q = Decimal(1).scaleb(-places)
    return str(Decimal(str(value)).quantize(q, rounding=ROUND_HALF_UP))


def dec(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    return Decimal(str(value))


def plain_decimal(value: Decimal) -> str:
    """``wc_format_decimal`` without a fixed precision: "4.8", "0", "10"."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def number(value: Decimal) -> int | float:
    """A JSON number the way PHP encodes a float: 47 for 47.0, 12.5 for 12.5."""
    value = value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP).normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def slugify(name: str) -> str:
    import unicodedata

    out = []
    for ch in name.lower():
        folded = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        if ch.isascii():
            out.append(ch if ch.isalnum() else "-")
        elif folded and folded.isalnum():
            out.append(folded)
        elif unicodedata.category(ch)[0] in "LSN":
            out.append(quote(ch.encode("utf-8"), safe="").lower())
        else:
            out.append("-")
    slug = "".join(out)
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug.strip("-")


def _self_links(ctx: Ctx, path: str, collection: str, allow: list[str], **extra: str) -> dict[str, Any]:
    links: dict[str, Any] = {
        "self": [{"href": f"{ctx.base}{NS}/{path}", "targetHints": {"allow": allow}}],
        "collection": [{"href": f"{ctx.base}{NS}/{collection}"}],
    }
    for rel, href in extra.items():
        links[rel] = [{"href": f"{ctx.base}{NS}/{href}"}]
    return links


def _price_span(amount: str, hidden: bool = False, decimals: int = 2, symbol: str = "&#36;") -> str:
    amount = fmt(amount, decimals) if amount else amount
    aria = ' aria-hidden="true"' if hidden else ""
    return (f'<span class="woocommerce-Price-amount amount"{aria}><bdi><span class="woocommerce-Price-currencySymbol" '
            f'translate="no">{symbol}</span>{amount}</bdi></span>')


def price_html(regular: str, price: str, on_sale: bool, low: str | None = None, high: str | None = None,
               decimals: int = 2, symbol: str = "&#36;") -> str:
    """``get_price_html``: a price (on sale: struck-through regular price, then the price) or a range, with
    the store currency's symbol (the screen-reader texts spell ``&#36;`` as ``&#036;``)."""
    d = decimals
    plain_symbol = "&#036;" if symbol == "&#36;" else symbol
    if low is not None and high is not None:
        if low == high:
            return _price_span(low, decimals=d, symbol=symbol)
        return (f'{_price_span(low, True, d, symbol)} <span aria-hidden="true">&ndash;</span> '
                f'{_price_span(high, True, d, symbol)}<span class="screen-reader-text">Price range: '
                f'{symbol}{fmt(low, d)} through {symbol}{fmt(high, d)}</span>')
    if price == "":
        return ""
    if on_sale:
        return (f'<del aria-hidden="true">{_price_span(regular, decimals=d, symbol=symbol)}</del> '
                f'<span class="screen-reader-text">Original price was: {plain_symbol}{fmt(regular, d)}.</span>'
                f'<ins aria-hidden="true">{_price_span(price, decimals=d, symbol=symbol)}</ins>'
                f'<span class="screen-reader-text">Current price is: {plain_symbol}{fmt(price, d)}.</span>')
    return _price_span(price, decimals=d, symbol=symbol)


def _dates(record: dict[str, Any], ctx: Ctx, *names: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        out[f"date_{name}"] = fmt_local(record.get(name), ctx.tz)
        out[f"date_{name}_gmt"] = fmt_gmt(record.get(name))
    return out


def render_category(cat: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    return {
        "id": cat["id"], "name": cat["name"], "slug": cat["slug"], "parent": cat.get("parent", 0),
        "description": cat.get("description", ""), "display": "default", "image": None, "menu_order": 0,
        "count": cat.get("count", 0),
        "_links": _self_links(ctx, f"products/categories/{cat['id']}", "products/categories", ALL_METHODS),
    }


def render_product(p: dict[str, Any], ctx: Ctx, derived: dict[str, Any]) -> dict[str, Any]:
    """``derived`` carries what the store computes: price, stock_status, categories, variations, related."""
    on_sale = derived["on_sale"]
    body: dict[str, Any] = {
        "id": p["id"], "name": p["name"], "slug": p["slug"],
        "permalink": f"{ctx.base}/product/{p['slug']}/" if p["slug"] else f"{ctx.base}/?post_type=product&p={p['id']}",
    }
    body.update(_dates(p, ctx, "created", "modified"))
    body.update({
        "type": p["type"], "status": p["status"], "featured": p["featured"],
        "catalog_visibility": p["catalog_visibility"], "description": p["description"],
        "short_description": p["short_description"], "sku": p["sku"], "price": derived["price"],
        "regular_price": p["regular_price"] if p["type"] != "variable" else "",
        "sale_price": p["sale_price"] if p["type"] != "variable" else "",
        "date_on_sale_from": None, "date_on_sale_from_gmt": None, "date_on_sale_to": None,
        "date_on_sale_to_gmt": None, "on_sale": on_sale, "purchasable": derived["price"] != "",
        "total_sales": p["total_sales"], "virtual": p["virtual"], "downloadable": p["downloadable"],
        "downloads": [], "download_limit": -1, "download_expiry": -1, "external_url": "", "button_text": "",
        "tax_status": p["tax_status"], "tax_class": p["tax_class"], "manage_stock": p["manage_stock"],
        "stock_quantity": p["stock_quantity"] if p["manage_stock"] else None, "backorders": p["backorders"],
        "backorders_allowed": p["backorders"] != "no", "backordered": derived["backordered"],
        "low_stock_amount": p["low_stock_amount"], "sold_individually": p["sold_individually"],
        "weight": p["weight"], "dimensions": dict(p["dimensions"]), "shipping_required": not p["virtual"],
        "shipping_taxable": not p["virtual"], "shipping_class": "", "shipping_class_id": 0,
        # the rating meta reads back as "0.00"; a product just saved still holds the number 0
        "reviews_allowed": True, "average_rating": "0" if ctx.edit else "0.00", "rating_count": 0, "upsell_ids": [],
        "cross_sell_ids": [], "parent_id": p.get("parent_id", 0), "purchase_note": "",
        "categories": derived["categories"], "brands": [], "tags": [], "images": [],
        "attributes": [
            {"id": 0, "name": a["name"], "slug": a["name"], "position": i, "visible": a.get("visible", True),
             "variation": a.get("variation", False), "options": list(a.get("options", []))}
            for i, a in enumerate(p["attributes"])
        ],
        "default_attributes": [], "variations": derived["variations"], "grouped_products": [], "menu_order": 0,
        "price_html": derived["price_html"], "related_ids": derived["related_ids"],
        "meta_data": [dict(m) for m in p["meta_data"]], "stock_status": derived["stock_status"],
        "has_options": p["type"] == "variable", "post_password": "", "global_unique_id": "",
    })
    if ctx.edit:
        body["permalink_template"] = f"{ctx.base}/product/%pagename%/"
        body["generated_slug"] = p["slug"].removesuffix("__trashed") or p.get("generated_slug", "")
    body["_links"] = _self_links(ctx, f"products/{p['id']}", "products", ALL_METHODS)
    return body


def render_variation(v: dict[str, Any], parent: dict[str, Any], ctx: Ctx, derived: dict[str, Any]) -> dict[str, Any]:
    query = "&".join(f"attribute_{a['name'].lower()}={a['option']}" for a in v["attributes"])
    body: dict[str, Any] = {"id": v["id"], "type": "variation"}
    body.update(_dates(v, ctx, "created", "modified"))
    body.update({
        "description": v["description"], "permalink": f"{ctx.base}/product/{parent['slug']}/?{query}",
        "sku": derived["sku"], "global_unique_id": "", "price": derived["price"], "regular_price": v["regular_price"],
        "sale_price": v["sale_price"], "date_on_sale_from": None, "date_on_sale_from_gmt": None,
        "date_on_sale_to": None, "date_on_sale_to_gmt": None, "on_sale": derived["on_sale"],
        "status": v["status"], "purchasable": derived["price"] != "", "virtual": v["virtual"],
        "downloadable": False, "downloads": [], "download_limit": -1, "download_expiry": -1,
        "tax_status": v["tax_status"], "tax_class": v["tax_class"] if ctx.edit else derived["tax_class"],
        "manage_stock": v["manage_stock"],
        "stock_quantity": v["stock_quantity"] if v["manage_stock"] else None,
        "stock_status": derived["stock_status"], "backorders": v["backorders"],
        "backorders_allowed": v["backorders"] != "no", "backordered": derived["backordered"],
        "low_stock_amount": v["low_stock_amount"], "weight": v["weight"], "dimensions": dict(v["dimensions"]),
        "shipping_class": "", "shipping_class_id": 0, "image": None, "gallery_image_ids": [],
        "attributes": [{"id": 0, "name": a["name"], "slug": a["name"].lower(), "option": a["option"]}
                       for a in v["attributes"]],
        "menu_order": 0, "meta_data": [dict(m) for m in v["meta_data"]],
        "name": " / ".join(a["option"] for a in v["attributes"]) or parent["name"], "parent_id": parent["id"],
    })
    body["_links"] = _self_links(ctx, f"products/{parent['id']}/variations/{v['id']}",
                                 f"products/{parent['id']}/variations", ALL_METHODS, up=f"products/{parent['id']}")
    return body


def render_variation_as_product(v: dict[str, Any], parent: dict[str, Any], ctx: Ctx,
                                derived: dict[str, Any]) -> dict[str, Any]:
    """``GET /products/{variation id}``: the products endpoint serving a variation (product shape, type
    "variation", name "Parent - S", total_sales as a string, no categories, ``_links.up``)."""
    name = f"{parent['name']} - " + ", ".join(a["option"] for a in v["attributes"])
    query = "&".join(f"attribute_{a['name'].lower()}={a['option']}" for a in v["attributes"])
    row = {**v, "name": name, "slug": slugify(name), "attributes": [], "categories": []}
    body = render_product(row, ctx, {**derived, "categories": [], "related_ids": [], "variations": []})
    body.update({
        "permalink": f"{ctx.base}/product/{parent['slug']}/?{query}", "total_sales": str(v["total_sales"]),
        "sku": derived["sku"],
        "reviews_allowed": False, "has_options": False,
        "tax_class": v["tax_class"] if ctx.edit else derived["tax_class"],
        "attributes": [{"id": 0, "name": a["name"], "slug": a["name"].lower(), "option": a["option"]}
                       for a in v["attributes"]],
    })
    body.pop("permalink_template", None)
    body.pop("generated_slug", None)
    body["_links"]["up"] = [{"href": f"{ctx.base}{NS}/products/{parent['id']}"}]
    return body


def render_tax_rate(rate: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    body = {"id": rate["id"], **{k: rate[k] for k in ("country", "state", "postcode", "city", "rate", "name",
                                                       "priority", "compound", "shipping", "order", "class")}}
    body["postcodes"] = list(rate["postcodes"])
    body["cities"] = list(rate["cities"])
    body["_links"] = _self_links(ctx, f"taxes/{rate['id']}", "taxes", ALL_METHODS)
    return body


def render_tax_class(slug: str, name: str, ctx: Ctx) -> dict[str, Any]:
    return {"slug": slug, "name": name, "_links": {"collection": [{"href": f"{ctx.base}{NS}/taxes/classes"}]}}


def avatar_url(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?s=96&d=mm&r=g"


def render_customer(c: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    body: dict[str, Any] = {"id": c["id"]}
    body.update(_dates(c, ctx, "created", "modified"))
    allow = ALL_METHODS if c["role"] in ("customer", "subscriber") else ["GET", "POST", "PUT", "PATCH"]
    body.update({
        "email": c["email"], "first_name": c["first_name"], "last_name": c["last_name"], "role": c["role"],
        "username": c["username"],
        "billing": {k: c["billing"].get(k, "") for k in [*CUSTOMER_ADDRESS_KEYS, "email", "phone"]},
        "shipping": {k: c["shipping"].get(k, "") for k in [*CUSTOMER_ADDRESS_KEYS, "phone"]},
        "is_paying_customer": c["is_paying_customer"], "avatar_url": avatar_url(c["email"]),
        "meta_data": [dict(m) for m in c["meta_data"]],
        "_links": _self_links(ctx, f"customers/{c['id']}", "customers", allow),
    })
    return body


def _taxes(taxes: dict[str, Any] | None, d: int, *, with_subtotal: bool) -> list[dict[str, Any]]:
    if not taxes:
        return []
    subtotals = taxes.get("subtotal", {})
    return [{"id": int(rid), "total": fmt(v, d),
             "subtotal": fmt(subtotals[rid], d) if with_subtotal and rid in subtotals else ""}
            for rid, v in taxes["total"].items()]


def render_line_item(item: dict[str, Any], decimals: int = 2) -> dict[str, Any]:
    d = decimals
    qty = item["quantity"]
    price_value = float(dec(item["total"])) / abs(qty) if qty else 0
    price: int | float = int(price_value) if float(price_value).is_integer() else price_value
    return {
        "id": item["id"], "name": item["name"], "product_id": item["product_id"],
        "variation_id": item["variation_id"], "quantity": qty, "tax_class": item.get("tax_class", ""),
        "subtotal": fmt(item["subtotal"], d), "subtotal_tax": fmt(item.get("subtotal_tax", 0), d),
        "total": fmt(item["total"], d), "total_tax": fmt(item.get("total_tax", 0), d),
        "taxes": _taxes(item.get("taxes"), d, with_subtotal=True),
        "meta_data": [dict(m) for m in item["meta_data"]], "sku": item["sku"],
        "global_unique_id": "" if item["sku"] is not None else None, "price": abs(price) if price else price,
        "image": {"id": 0 if item["variation_id"] or not item["product_id"] else "", "src": ""},
        "parent_name": item.get("parent_name"),
    }


def _rate_percent(value: str) -> int | float:
    number_ = float(value)
    return int(number_) if number_.is_integer() else number_


def order_meta_listed(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An order's meta in the order HPOS reads it back: by key, then value (the table's
    order_id/meta_key/meta_value index), not by id: ``_hubspot_deal_id`` before ``hubspot_deal_id``."""
    return sorted(entries, key=lambda m: (m["key"].casefold(), str(m["value"]).casefold(), m["id"]))


def render_order(o: dict[str, Any], ctx: Ctx, refunds: list[dict[str, Any]]) -> dict[str, Any]:
    oid = o["id"]
    status = o["status"]
    d = ctx.decimals
    body: dict[str, Any] = {
        "id": oid, "parent_id": o["parent_id"], "status": status, "currency": o["currency"], "version": "11.0.1",
        "prices_include_tax": o.get("prices_include_tax", False), "date_created": fmt_local(o["created"], ctx.tz),
        "date_modified": fmt_local(o["modified"], ctx.tz), "discount_total": fmt(o["discount_total"], d),
        "discount_tax": fmt(o.get("discount_tax", 0), d), "shipping_total": fmt(o["shipping_total"], d),
        "shipping_tax": fmt(o.get("shipping_tax", 0), d), "cart_tax": fmt(o.get("cart_tax", 0), d),
        "total": fmt(o["total"], d), "total_tax": fmt(o.get("total_tax", 0), d), "customer_id": o["customer_id"],
        "order_key": o["order_key"],
        "billing": {k: o["billing"].get(k, "") for k in [*ADDRESS_KEYS, "email", "phone"]},
        "shipping": {k: o["shipping"].get(k, "") for k in [*ADDRESS_KEYS, "phone"]},
        "payment_method": o["payment_method"], "payment_method_title": o["payment_method_title"],
        "transaction_id": o["transaction_id"], "customer_ip_address": "", "customer_user_agent": "",
        "created_via": o["created_via"], "customer_note": o["customer_note"],
        "date_completed": fmt_local(o["completed"], ctx.tz), "date_paid": fmt_local(o["paid"], ctx.tz),
        "cart_hash": "", "number": str(oid), "meta_data": [dict(m) for m in order_meta_listed(o["meta_data"])],
        "line_items": [render_line_item(i, d) for i in o["line_items"]],
        "tax_lines": [
            {"id": t["id"], "rate_code": t.get("rate_code", ""), "rate_id": t["rate_id"], "label": t.get("label", ""),
             "compound": t.get("compound", False), "tax_total": fmt(t["tax_total"], d),
             "shipping_tax_total": fmt(t["shipping_tax_total"], d),
             "rate_percent": _rate_percent(t.get("rate_percent", "0")), "meta_data": []}
            for t in o.get("tax_lines", [])
        ],
        "shipping_lines": [
            {"id": s["id"], "method_title": s["method_title"], "method_id": s["method_id"], "instance_id": "",
             "total": fmt(s["total"], d), "total_tax": fmt(s.get("total_tax", 0), d),
             "taxes": _taxes(s.get("taxes"), d, with_subtotal=False), "tax_status": "taxable",
             "meta_data": []} for s in o["shipping_lines"]
        ],
        "fee_lines": [
            {"id": f["id"], "name": f["name"], "tax_class": f.get("tax_class", ""), "tax_status": f["tax_status"],
             "amount": "", "total": fmt(f["total"], d), "total_tax": fmt(f.get("total_tax", 0), d),
             "taxes": _taxes(f.get("taxes"), d, with_subtotal=False), "meta_data": []} for f in o["fee_lines"]
        ],
        "coupon_lines": [
            {"id": c["id"], "code": c["code"], "discount": plain_decimal(dec(c["discount"])),
             "discount_tax": plain_decimal(dec(c.get("discount_tax", 0))),
             "meta_data": [dict(m) for m in c["meta_data"]], "discount_type": c["discount_type"],
             "nominal_amount": c["nominal_amount"], "free_shipping": False} for c in o["coupon_lines"]
        ],
        "refunds": [{"id": r["id"], "reason": r["reason"], "total": "-" + fmt(r["amount"], d),
                     "total_tax": fmt(0, d)} for r in refunds],
        "payment_url": f"{ctx.base}/checkout/order-pay/{oid}/?pay_for_order=true&key={o['order_key']}",
        "is_editable": status in ("pending", "on-hold", "auto-draft", "checkout-draft"),
        "needs_payment": status in ("pending", "failed") and dec(o["total"]) > 0,
        "needs_processing": o.get("needs_processing", True),
        "date_created_gmt": fmt_gmt(o["created"]), "date_modified_gmt": fmt_gmt(o["modified"]),
        "date_completed_gmt": fmt_gmt(o["completed"]), "date_paid_gmt": fmt_gmt(o["paid"]),
        "currency_symbol": currency_symbol_text(o["currency"]),
    }
    links = _self_links(ctx, f"orders/{oid}", "orders", ALL_METHODS)
    links["email_templates"] = [{"embeddable": True, "href": f"{ctx.base}{NS}/orders/{oid}/actions/email_templates"}]
    if o["customer_id"]:
        links["customer"] = [{"href": f"{ctx.base}{NS}/customers/{o['customer_id']}"}]
    body["_links"] = links
    return body


def render_refund(r: dict[str, Any], ctx: Ctx, with_parent: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"id": r["id"]}
    if with_parent:
        body["parent_id"] = r["order_id"]
    body.update(_dates(r, ctx, "created"))
    body.update({
        "amount": r["amount"], "reason": r["reason"], "refunded_by": 1, "refunded_payment": False,
        "meta_data": [dict(m) for m in r["meta_data"]],
        "line_items": [render_line_item(i) for i in r["line_items"]], "shipping_lines": [], "tax_lines": [],
        "fee_lines": [],
    })
    oid = r["order_id"]
    body["_links"] = _self_links(ctx, f"orders/{oid}/refunds/{r['id']}", f"orders/{oid}/refunds", ["GET", "DELETE"],
                                 up=f"orders/{oid}")
    return body


def render_coupon(c: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    body: dict[str, Any] = {"id": c["id"], "code": c["code"], "amount": c["amount"], "status": "publish"}
    body.update(_dates(c, ctx, "created", "modified"))
    body.update({
        "discount_type": c["discount_type"], "description": c["description"], "date_expires": None,
        "date_expires_gmt": None, "usage_count": len(c["used_by"]), "individual_use": c["individual_use"],
        "product_ids": [], "excluded_product_ids": [], "usage_limit": None, "usage_limit_per_user": None,
        "limit_usage_to_x_items": None, "free_shipping": False, "product_categories": [],
        "excluded_product_categories": [], "exclude_sale_items": False, "minimum_amount": "0.00",
        "maximum_amount": "0.00", "email_restrictions": [], "used_by": list(c["used_by"]), "meta_data": [],
        "_links": _self_links(ctx, f"coupons/{c['id']}", "coupons", ALL_METHODS),
    })
    return body
