"""A deterministic, messy store: categories, simple and variable products (some out of stock, drafts, a
trashed one), customers from :func:`woohub.sandbox.people.people` (a few subscribers), repeat buyers, ~20%
guest orders, every order status, refunds, EUR/GBP orders, coupons, shipping and fee lines, a line whose
product was later deleted, dates over the past ~90 days. SKUs are optional as in real catalogues: every
tenth simple product has none, and the "M" variation of every variable product (plus "L" of every other
one) has no SKU of its own, so it shows its parent's.

Taxed stores: the vendor setting ``seed_taxes`` (``POST /__sandbox__/config`` with
``{"seed_taxes": "exclusive"}`` or ``"inclusive"``; ``"off"``, the default, turns it off again) makes every
following reset (seeded or empty) start from a store with taxes on (``woocommerce_calc_taxes`` "yes",
``woocommerce_prices_include_tax`` "no"/"yes"), a standard rate US/CA "CA Tax" 8.25 % (shipping too) and a
reduced-rate US-wide 5 %; in a seeded store every fifth simple product is in the ``reduced-rate`` class
and a quarter of the US customers and guests live in California.
Orders are then taxed by WooCommerce's rules from their addresses. From a test:
``SandboxControl.configure(seed_taxes="inclusive")`` then ``SandboxControl.reset(seed=..., ...)``; set it
back with ``configure(seed_taxes="off")``."""

from __future__ import annotations

import random
from dataclasses import asdict, replace
from typing import Any

from woohub.sandbox.people import Person, people
from woohub.sandbox.server import SeedOptions
from woohub.sandbox.woocommerce.store import Store

_CATEGORIES = ["Apparel", "Home & Living", "Accessories", "Stationery", "Electronics"]
_NOUNS = ["T-Shirt", "Mug", "Tote Bag", "Candle", "Poster", "Earbuds", "Notebook", "Keychain", "Sticker", "Scarf",
          "Lamp", "Socks", "Cap", "Backpack", "Pen Set", "Blanket", "Crème Brûlée Candle", "Água Bottle"]
_ADJECTIVES = ["Classic", "Organic", "Vintage", "Deluxe", "Eco", "Handmade", "Mini", "Premium", "Retro", "Nordic"]
_STATUS_WEIGHTS = {"completed": 45, "processing": 18, "pending": 8, "on-hold": 6, "cancelled": 7, "failed": 5,
                   "refunded": 5, "trash": 3, "checkout-draft": 1}
_DAY = 86400


def _address(person: Person) -> dict[str, str]:
    data = asdict(person)
    return {k: data[k] for k in ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
                                 "postcode", "country")}


def seed_tax_setup(store: Store, mode: str) -> None:
    """Taxes on, prices entered ``mode`` ("exclusive"/"inclusive") of tax, and the two rates of the
    recorded tax store (standard US/CA 8.25 %, reduced-rate US 5 %)."""
    store.settings["woocommerce_calc_taxes"] = "yes"
    store.settings["woocommerce_prices_include_tax"] = "yes" if mode == "inclusive" else "no"
    store.create_tax_rate({"country": "US", "state": "CA", "rate": "8.2500", "name": "CA Tax", "shipping": True})
    store.create_tax_rate({"country": "US", "rate": "5.0000", "name": "US Reduced", "shipping": True,
                           "class": "reduced-rate"})


def seed_store(store: Store, options: SeedOptions) -> None:
    rng = random.Random(options.seed)
    clock = store.clock
    saved_clock = clock.frozen
    now = clock.now()
    start = now - 90 * _DAY
    try:
        clock.frozen = start - 5 * _DAY
        cats = [store.create_category({"name": n})["id"] for n in _CATEGORIES]
        coupon_ids = [store.create_coupon({"code": "WELCOME10", "discount_type": "percent", "amount": "10"})["id"],
                      store.create_coupon({"code": "FIVEOFF", "discount_type": "fixed_cart", "amount": "5"})["id"]]
        products = _seed_products(store, rng, options.products, cats, start)
        pool = people(options.seed, options.customers + max(5, options.customers // 2))
        if store.settings["woocommerce_calc_taxes"] == "yes":  # a Californian store: a quarter of US buyers in-state
            pool = [replace(p, state="CA") if p.country == "US" and n % 4 == 0 else p for n, p in enumerate(pool)]
        registered, guests = pool[: options.customers], pool[options.customers:]
        customer_ids = []
        for i, person in enumerate(registered):
            clock.frozen = start - rng.randint(0, 200) * _DAY + rng.randint(0, _DAY)
            billing = {**_address(person), "phone": person.phone,
                       "email": person.email if rng.random() < 0.7 else ""}
            shipping = _address(person) if rng.random() < 0.6 else {}
            body: dict[str, Any] = {"email": person.email, "first_name": person.first_name,
                                    "last_name": person.last_name, "billing": billing, "shipping": shipping}
            if i % 23 == 7:
                body["role"] = "subscriber"
            customer_ids.append(store.create_customer(body)["id"])
        _seed_orders(store, rng, options.orders, products, customer_ids, guests or registered, coupon_ids, start, now)
        # a product that sold and was later deleted: its order lines keep a dangling product_id
        if products:
            gone = store.products[products[-1]]
            clock.frozen = now - 2 * _DAY
            store.delete_product(gone)
    finally:
        clock.frozen = saved_clock


def _seed_products(store: Store, rng: random.Random, count: int, cats: list[int], start: int) -> list[int]:
    ids: list[int] = []
    for i in range(count):
        store.clock.frozen = start - rng.randint(1, 60) * _DAY + rng.randint(0, _DAY)
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        price = f"{rng.choice([4, 9, 12, 15, 19, 24, 29, 39, 49, 79])}.{rng.choice(['00', '50', '95', '99'])}"
        body: dict[str, Any] = {"name": name, "sku": f"SKU-{1000 + i}", "regular_price": price,
                                "categories": [{"id": rng.choice(cats)}]}
        if i % 10 == 9:  # a product nobody gave a SKU
            del body["sku"]
        if i % 5 == 2 and store.settings["woocommerce_calc_taxes"] == "yes":
            body["tax_class"] = "reduced-rate"
        if i % 6 == 3:  # variable product with S/M/L variations
            body = {"name": f"{name} (sizes)", "type": "variable", "sku": f"SKU-{1000 + i}",
                    "categories": [{"id": cats[0]}],
                    "attributes": [{"name": "Size", "options": ["S", "M", "L"], "visible": True, "variation": True}]}
            parent = store.create_product(body)
            for j, size in enumerate(["S", "M", "L"]):
                variation: dict[str, Any] = {"sku": f"SKU-{1000 + i}-{size}", "regular_price": f"{30 + 2 * j}.00",
                                             "attributes": [{"name": "Size", "option": size}],
                                             "manage_stock": j != 2, "stock_quantity": rng.choice([0, 2, 8, 25])}
                if j == 1 or (j == 2 and i % 12 == 9):  # no own SKU: the variation shows the parent's
                    del variation["sku"]
                store.create_product(variation, parent=parent)
            ids.append(parent["id"])
            continue
        if i % 4 == 0:
            body.update(manage_stock=True, stock_quantity=rng.choice([0, 1, 3, 12, 40, 150]), low_stock_amount=5)
        if i % 9 == 5:
            body.update(manage_stock=False, stock_status="outofstock")
        if i % 7 == 2:
            body["sale_price"] = f"{max(1, int(float(price) * 0.8))}.00"
        if i % 11 == 8:
            body["virtual"] = True
        if i % 13 == 10:
            body["status"] = "draft"
        ids.append(store.create_product(body)["id"])
    if len(ids) > 4:
        store.clock.frozen = start
        store.trash_product(store.products[ids[1]])
    return ids


def _seed_orders(store: Store, rng: random.Random, count: int, products: list[int], customers: list[int],
                 guests: list[Person], coupons: list[int], start: int, now: int) -> None:
    sellable = [p for p in products if store.products[p]["status"] == "publish"]
    if not sellable:
        return
    repeat = customers[: max(1, len(customers) // 5)]
    statuses = list(_STATUS_WEIGHTS)
    weights = list(_STATUS_WEIGHTS.values())
    created_times = sorted(rng.randint(start, now - 3600) for _ in range(count))
    codes = [store.coupons[c]["code"] for c in coupons]
    for n, created in enumerate(created_times):
        store.clock.frozen = created
        body: dict[str, Any] = {"payment_method": "stripe", "payment_method_title": "Credit card (Stripe)"}
        if customers and rng.random() >= 0.2:
            cid = rng.choice(repeat) if rng.random() < 0.4 else rng.choice(customers)
            c = store.customers[cid]
            body["customer_id"] = cid
            body["billing"] = {**c["billing"], "email": c["billing"].get("email") or c["email"]}
            if c["shipping"]:
                body["shipping"] = dict(c["shipping"])
        else:
            g = rng.choice(guests)
            body["billing"] = {**_address(g), "email": g.email, "phone": g.phone}
        lines = []
        for pid in rng.sample(sellable, k=min(len(sellable), rng.choice([1, 1, 1, 2, 2, 3]))):
            product = store.products[pid]
            line: dict[str, Any] = {"product_id": pid, "quantity": rng.choice([1, 1, 1, 2, 3])}
            if product["type"] == "variable" and product["variations"]:
                line["variation_id"] = rng.choice(product["variations"])
            lines.append(line)
        body["line_items"] = lines
        if rng.random() < 0.7:
            body["shipping_lines"] = [{"method_id": "flat_rate", "method_title": "Flat rate",
                                       "total": rng.choice(["5.00", "7.50", "0.00"])}]
        if rng.random() < 0.1:
            body["fee_lines"] = [{"name": "Gift wrap", "total": "2.50", "tax_status": "none"}]
        if rng.random() < 0.12:
            body["coupon_lines"] = [{"code": rng.choice(codes)}]
        roll = rng.random()
        if roll < 0.06:
            body["currency"] = "EUR"
        elif roll < 0.09:
            body["currency"] = "GBP"
        status = rng.choices(statuses, weights)[0]
        target = "completed" if status == "refunded" else status
        body["status"] = "pending" if target == "trash" else target
        body["set_paid"] = target in ("processing", "completed")
        order = store.create_order(body, batch=True)
        later = min(now - 60, created + rng.randint(0, 10 * _DAY))
        if status == "refunded":
            store.clock.frozen = later
            store.update_order(order, {"status": "refunded"})
        elif status == "trash":
            store.clock.frozen = later
            store.trash_order(order)
        elif status in ("completed", "processing") and n % 17 == 0 and float(order["total"]) > 2:
            store.clock.frozen = later
            store.create_refund(order, {"amount": "1.00", "reason": "Partial goodwill refund"})
        elif status == "processing" and rng.random() < 0.3:
            store.clock.frozen = later
            store.update_order(order, {"customer_note": "Called about delivery"})
