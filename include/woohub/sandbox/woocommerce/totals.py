"""Order totals the way WooCommerce 11 computes them (``WC_Abstract_Order::calculate_totals``, ``WC_Tax``,
``WC_Discounts``): coupon discounts in the store's smallest unit, taxes per rate from the order's address,
per-line or at-subtotal rounding, and the store's number of decimals.

Amounts are ``Decimal``; stored amounts are plain decimal strings at full precision (WooCommerce keeps
``4.947525`` as an item tax and rounds only where it rounds), rendering formats them with the decimals in
force at read time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

ZERO = Decimal(0)


def dec(value: Any) -> Decimal:
    if value in (None, ""):
        return ZERO
    return Decimal(str(value))


def round_half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def plain(value: Decimal) -> str:
    """``wc_format_decimal`` without a precision: "4.947525", "7.01", "0"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


@dataclass(frozen=True)
class TaxEnv:
    """The settings and rates a calculation reads."""

    enabled: bool
    prices_include_tax: bool
    round_at_subtotal: bool
    decimals: int
    based_on: str
    shipping_tax_class: str
    rates: tuple[dict[str, Any], ...]
    base: dict[str, str]  # the store base address: country, state, postcode, city

    @property
    def precision(self) -> int:
        """``wc_get_rounding_precision``: what ``WC_Tax::calc_tax`` rounds each tax to."""
        return max(self.decimals + 2, 6)

    def round_tax(self, value: Decimal) -> Decimal:
        """``wc_round_tax_total``."""
        return round_half_up(value, self.decimals)

    def line_tax(self, value: Decimal) -> Decimal:
        """A line's tax as it enters sums: rounded per line unless rounding at subtotal."""
        return value if self.round_at_subtotal else self.round_tax(value)


def rate_class(item_class: str) -> str:
    return item_class or "standard"


def find_rates(env: TaxEnv, location: dict[str, str], tax_class: str, *, shipping: bool = False) -> list[dict[str, Any]]:
    """``WC_Tax::find_rates``: the best matching rate per priority for a location and class."""
    country, state = location.get("country", "").upper(), location.get("state", "").upper()
    postcode, city = location.get("postcode", "").upper(), location.get("city", "").upper()
    matching = []
    for r in env.rates:
        if r["class"] != rate_class(tax_class) or (shipping and not r["shipping"]):
            continue
        if r["country"] and r["country"].upper() != country:
            continue
        if r["state"] and r["state"].upper() != state:
            continue
        if r["postcodes"] and postcode not in [p.upper() for p in r["postcodes"]]:
            continue
        if r["cities"] and city not in [c.upper() for c in r["cities"]]:
            continue
        matching.append(r)
    matching.sort(key=lambda r: (r["priority"], -len(r["postcodes"]), -len(r["cities"]), -bool(r["state"]),
                                 -bool(r["country"]), r["order"], r["id"]))
    best: dict[int, dict[str, Any]] = {}
    for r in matching:
        best.setdefault(r["priority"], r)
    return [best[p] for p in sorted(best)]


def calc_tax(env: TaxEnv, price: Decimal, rates: list[dict[str, Any]], inclusive: bool = False) -> dict[int, Decimal]:
    """``WC_Tax::calc_tax``: tax per rate id, each rounded to the rounding precision."""
    taxes: dict[int, Decimal] = {}
    if inclusive:
        regular = [r for r in rates if not r["compound"]]
        compound = [r for r in rates if r["compound"]]
        compound_rate = Decimal(1)
        for r in compound:
            compound_rate *= 1 + dec(r["rate"]) / 100
        regular_rate = 1 + sum((dec(r["rate"]) / 100 for r in regular), ZERO)
        non_compound_price = price / compound_rate
        for r in compound[::-1]:
            amount = non_compound_price * (1 + dec(r["rate"]) / 100) - non_compound_price
            taxes[r["id"]] = amount
        for r in regular:
            taxes[r["id"]] = dec(r["rate"]) / 100 / regular_rate * non_compound_price
    else:
        pre_compound = ZERO
        for r in rates:
            if not r["compound"]:
                taxes[r["id"]] = price * dec(r["rate"]) / 100
                pre_compound += taxes[r["id"]]
        running = ZERO
        for r in rates:
            if r["compound"]:
                taxes[r["id"]] = (price + pre_compound + running) * dec(r["rate"]) / 100
                running += taxes[r["id"]]
    return {rid: round_half_up(v, env.precision) for rid, v in taxes.items()}


def tax_location(env: TaxEnv, order: dict[str, Any]) -> dict[str, str]:
    """``WC_Abstract_Order::get_tax_location``: shipping, else billing, else the store base address."""
    based_on = env.based_on
    if based_on == "shipping" and not order["shipping"].get("country"):
        based_on = "billing"
    source = order["billing"] if based_on == "billing" else order["shipping"]
    location = {k: source.get(k, "") for k in ("country", "state", "postcode", "city")}
    if based_on == "base" or not location["country"]:
        location = dict(env.base)
    return location


def base_net_price(env: TaxEnv, line_price: Decimal, tax_class: str, taxable: bool) -> Decimal:
    """``wc_get_price_excluding_tax`` for an order line: with prices entered inclusive of tax, the base
    location's tax is taken out (whatever the customer's location)."""
    if not (env.enabled and env.prices_include_tax and taxable):
        return line_price
    removed = calc_tax(env, line_price, find_rates(env, env.base, tax_class), inclusive=True)
    return line_price - sum(removed.values(), ZERO)


# -- coupons ----------------------------------------------------------------------------------------


def apply_coupons(env: TaxEnv, items: list[dict[str, Any]], coupons: list[dict[str, Any]]) -> list[dict[str, Decimal]]:
    """``WC_Discounts`` for an order: per coupon, the discount per item (index -> amount), in the store's
    smallest unit (10^-decimals) and never more than what is left of an item's price."""
    unit = Decimal(1).scaleb(-env.decimals)
    prices = [dec(i["subtotal"]) / unit for i in items]
    order_ = sorted(range(len(items)), key=lambda n: -(prices[n] * items[n]["quantity"]))  # stable, price desc
    given = [ZERO] * len(items)
    result = []

    def left(n: int) -> Decimal:
        return prices[n] - given[n]

    def remainder(per_coupon: dict[int, Decimal], amount: Decimal) -> Decimal:
        total = ZERO
        for n in order_:
            for _ in range(max(1, items[n]["quantity"])):
                d = min(left(n), Decimal(1))
                if d <= 0:
                    break
                given[n] += d
                per_coupon[n] = per_coupon.get(n, ZERO) + d
                total += d
                if total >= amount:
                    return total
        return total

    def fixed_product(per_coupon: dict[int, Decimal], amount: Decimal) -> Decimal:
        total = ZERO
        for n in order_:
            d = max(ZERO, min(left(n), amount * items[n]["quantity"]))
            given[n] += d
            per_coupon[n] = per_coupon.get(n, ZERO) + d
            total += d
        return total

    def fixed_cart(per_coupon: dict[int, Decimal], amount: Decimal) -> Decimal:
        count = sum(items[n]["quantity"] for n in order_ if prices[n] > 0)
        if not count or amount <= 0:
            return ZERO
        per_item = (amount / count).to_integral_value(rounding=ROUND_FLOOR)
        if per_item > 0:
            total = fixed_product(per_coupon, per_item)
            if 0 < total < amount:
                total += fixed_cart(per_coupon, amount - total)
            return total
        return remainder(per_coupon, amount)

    for coupon in coupons:
        per_coupon: dict[int, Decimal] = {}
        amount = dec(coupon["amount"])
        if coupon["discount_type"] == "percent":
            total, cart_total = ZERO, ZERO
            for n in order_:
                price_to_discount = round_half_up(prices[n], 0)
                d = max(ZERO, min(left(n), (price_to_discount * amount / 100).to_integral_value(rounding=ROUND_FLOOR)))
                given[n] += d
                per_coupon[n] = per_coupon.get(n, ZERO) + d
                total += d
                cart_total += price_to_discount
            wanted = round_half_up(cart_total * amount / 100, 0)
            if total < wanted:
                remainder(per_coupon, wanted - total)
        elif coupon["discount_type"] == "fixed_product":
            fixed_product(per_coupon, amount / unit)
        else:
            fixed_cart(per_coupon, amount / unit)
        result.append({n: v * unit for n, v in per_coupon.items()})
    return result


# -- the whole order ------------------------------------------------------------------------------------


def _item_taxes(env: TaxEnv, location: dict[str, str], item: dict[str, Any], subtotal: bool) -> None:
    if env.enabled and item.get("tax_status", "taxable") == "taxable":
        rates = find_rates(env, location, item.get("tax_class", ""))
        total = calc_tax(env, dec(item["total"]), rates)
        item["taxes"] = {"total": {str(k): plain(v) for k, v in total.items()}}
        if subtotal:
            sub = calc_tax(env, dec(item["subtotal"]), rates)
            if sum(sub.values(), ZERO) < sum(total.values(), ZERO):
                sub = dict(total)
            item["taxes"]["subtotal"] = {str(k): plain(v) for k, v in sub.items()}
    else:
        item["taxes"] = {"total": {}, "subtotal": {}} if subtotal else {"total": {}}
    for part in ("total", "subtotal") if subtotal else ("total",):
        values = [env.line_tax(dec(v)) for v in item["taxes"][part].values()]
        item[f"{part}_tax"] = plain(sum(values, ZERO))


def _shipping_class(env: TaxEnv, order: dict[str, Any]) -> str | None:
    if env.shipping_tax_class != "inherit":
        return env.shipping_tax_class
    found = {i.get("tax_class", "") for i in order["line_items"]}
    for candidate in ("", "reduced-rate", "zero-rate"):
        if candidate in found:
            return candidate
    return None


def calculate_totals(env: TaxEnv, order: dict[str, Any], coupons: list[dict[str, Any]],
                     next_item_id: Callable[[], int]) -> None:
    """Coupons, then taxes, then totals; updates ``order`` in place (its ``tax_lines`` keep their ids)."""
    items = order["line_items"]
    if order["coupon_lines"]:
        for item in items:
            item["total"] = item["subtotal"]
        per_coupon = apply_coupons(env, items, coupons)
        for line, discounts in zip(order["coupon_lines"], per_coupon, strict=True):
            line["_discounts"] = {n: plain(v) for n, v in discounts.items()}
            line["discount"] = plain(sum(discounts.values(), ZERO))
        for n, item in enumerate(items):
            cut = sum((dec(line["_discounts"].get(n, 0)) for line in order["coupon_lines"]), ZERO)
            item["total"] = plain(dec(item["subtotal"]) - cut)
    location = tax_location(env, order)
    for item in items:
        _item_taxes(env, location, item, subtotal=True)
    for fee in order["fee_lines"]:
        _item_taxes(env, location, fee, subtotal=False)
    ship_class = _shipping_class(env, order)
    for ship in order["shipping_lines"]:
        if env.enabled and ship_class is not None:
            rates = find_rates(env, location, ship_class, shipping=True)
            ship["taxes"] = {"total": {str(k): plain(v) for k, v in calc_tax(env, dec(ship["total"]), rates).items()}}
        else:
            ship["taxes"] = {"total": {}}
        ship["total_tax"] = plain(sum((env.line_tax(dec(v)) for v in ship["taxes"]["total"].values()), ZERO))
    for line in order["coupon_lines"]:
        tax = ZERO
        if env.enabled:
            for n, amount in line.pop("_discounts", {}).items():
                item = items[n]
                if item.get("tax_status", "taxable") != "taxable":
                    continue
                rates = find_rates(env, location, item.get("tax_class", ""))
                tax += env.line_tax(sum(calc_tax(env, dec(amount), rates, env.prices_include_tax).values(), ZERO))
        else:
            line.pop("_discounts", None)
        line["discount_tax"] = plain(env.round_tax(tax))
    # update_taxes: per rate, cart (lines + fees) and shipping
    cart: dict[str, Decimal] = {}
    shipping: dict[str, Decimal] = {}
    for item in [*items, *order["fee_lines"]]:
        for rid, v in item["taxes"]["total"].items():
            cart[rid] = cart.get(rid, ZERO) + env.line_tax(dec(v))
    for ship in order["shipping_lines"]:
        for rid, v in ship["taxes"]["total"].items():
            shipping[rid] = shipping.get(rid, ZERO) + env.line_tax(dec(v))
    rates_by_id = {str(r["id"]): r for r in env.rates}
    wanted = list(dict.fromkeys([*cart, *shipping]))
    kept = [t for t in order.get("tax_lines", []) if str(t["rate_id"]) in wanted]
    for rid in wanted:
        line = next((t for t in kept if str(t["rate_id"]) == rid), None)
        if line is None:
            line = {"id": next_item_id(), "rate_id": int(rid)}
            kept.append(line)
        rate = rates_by_id.get(rid)
        if rate is not None:
            line.update({"rate_code": rate_code(rate), "label": rate["name"] or "Tax", "compound": rate["compound"],
                         "rate_percent": str(dec(rate["rate"]))})
        line["tax_total"] = plain(cart.get(rid, ZERO))
        line["shipping_tax_total"] = plain(shipping.get(rid, ZERO))
    order["tax_lines"] = kept
    cart_tax, shipping_tax = sum(cart.values(), ZERO), sum(shipping.values(), ZERO)
    order["cart_tax"], order["shipping_tax"] = plain(cart_tax), plain(shipping_tax)
    order["total_tax"] = plain(cart_tax + shipping_tax)
    # calculate_totals
    dp = env.decimals

    def line_amount(value: Any) -> Decimal:
        # WC_Item_Totals::get_rounded_items_total: each line is rounded to the store's decimals before
        # the sum, unless taxes are rounded at subtotal (then the unrounded lines are summed)
        return dec(value) if env.round_at_subtotal else round_half_up(dec(value), dp)

    subtotal = sum((line_amount(i["subtotal"]) for i in items), ZERO)
    lines_total = sum((line_amount(i["total"]) for i in items), ZERO)
    shipping_total = sum((round_half_up(dec(s["total"]), dp) for s in order["shipping_lines"]), ZERO)
    fees = sum((dec(f["total"]) for f in order["fee_lines"]), ZERO)
    subtotal_tax = sum((dec(v) for i in items for v in i["taxes"].get("subtotal", {}).values()), ZERO)
    total_tax = sum((dec(v) for i in items for v in i["taxes"]["total"].values()), ZERO)
    order["shipping_total"] = plain(shipping_total)
    order["discount_total"] = plain(round_half_up(subtotal - lines_total, dp))
    order["discount_tax"] = plain(env.round_tax(subtotal_tax - total_tax))
    total = round_half_up(lines_total + fees + shipping_total + cart_tax + shipping_tax, dp)
    order["total"] = plain(max(total, ZERO))


def rate_code(rate: dict[str, Any]) -> str:
    """``WC_Tax::get_rate_code``: COUNTRY-STATE-NAME-PRIORITY, upper case, empty parts dropped."""
    parts = [rate["country"], rate["state"], rate["name"] or "TAX", str(rate["priority"])]
    return "-".join(p for p in parts if p).upper()
