"""HubSpot deals -> WooCommerce orders: which deals qualify, the deal's line requests, the checks the
WooCommerce REST API does not make, and the order create payload. Pure: dicts in, dicts out.

WooCommerce accepts any order through REST (recordings 155-162: overselling, draft, private and
out-of-stock products, a variable parent without variation), so every rule is checked here against the
store's current catalogue (:class:`Catalog`, from ``woohub.woocommerce.catalog.fetch_catalog``):

- the line's product exists (by the HubSpot product's ``woo_product_id``, else by SKU), is published (a
  variation's product too), is not a variable parent, and is purchasable;
- managed stock covers the deal's quantities summed per stock holder (the product, or the variation that
  manages its own stock, or the variable product whose stock a variation shares: ``manage_stock``
  ``"parent"``), unless the holder allows backorders; unmanaged stock must not be ``outofstock``;
- with ``price_policy`` ``woocommerce``, each line's net unit price in HubSpot is WooCommerce's current
  price within ``unit_price_tolerance``;
- deal and line currencies are the store currency (an empty code, as in a single-currency portal, is);
- the deal amount (when set) equals its lines within ``amount_tolerance`` (see the YAML for taxes).

Messages name the SKU when the product has one of its own, else its id, and the numbers
("SKU TEE-M: 5 requested, 2 in stock").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from woohub.mapping.hubspot_to_woocommerce.config import H2WMapping
from woohub.mapping.hubspot_to_woocommerce.config import mapping_or_packaged as _mapping
from woohub.mapping.hubspot_to_woocommerce.customers import contact_addresses
from woohub.mapping.order_link import CREATED_VIA, DEAL_META_KEY, order_reference
from woohub.mapping.transforms import minor_units

PUBLISHED = "publish"
VARIATION, VARIABLE = "variation", "variable"
BACKORDERS_ALLOWED = ("notify", "yes")
OUT_OF_STOCK = "outofstock"
#: decimals a shown unit price keeps beyond the currency's when it does not divide evenly
SHOWN_PLACES = 6


def customer_policy(mapping: H2WMapping | None = None) -> str:
    """``deals.customer``: ``create`` or ``guest`` (what a deal contact without a customer gets)."""
    return _mapping(mapping).deals.customer


# -- qualification ----------------------------------------------------------------------------------------


def deal_skip_reason(deal: Mapping[str, Any], mapping: H2WMapping | None = None) -> str | None:
    """``None`` when the deal qualifies to become an order (``deals.qualify``), else why not: it came from
    a WooCommerce order (``woo_order_id`` set), or its pipeline or stage does not qualify."""
    properties = _properties(deal)
    order_id = _text(properties.get("woo_order_id"))
    if order_id and order_id != "0":
        return f"came from WooCommerce order {order_id} (woo_order_id)"
    qualify = _mapping(mapping).deals.qualify
    pipeline, stage = _text(properties.get("pipeline")), _text(properties.get("dealstage"))
    if pipeline not in qualify:
        return f"pipeline {pipeline or '(none)'} does not qualify"
    if stage not in qualify[pipeline]:
        return f"stage {stage or '(none)'} does not qualify"
    return None


# -- line requests ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRequest:
    """One HubSpot line item of a deal, as an order line request.

    ``woo_product_id`` comes from the line's HubSpot product (``woo_product_id``, via ``hs_product_id``);
    ``sku`` is the line's ``hs_sku``, else the product's. ``unit_price`` is HubSpot's ``price``,
    ``unit_discount`` its per-unit ``discount``, ``net_total`` HubSpot's ``amount`` when present, else
    ``quantity x (price - discount)`` (or ``x (1 - hs_discount_percentage / 100)``). ``problem`` is set
    when the line cannot be ordered as it is (missing, no price, a quantity that is not a positive whole
    number); its other fields may then be ``None``."""

    line_item_id: str
    name: str | None
    quantity: int | None
    unit_price: Decimal | None
    unit_discount: Decimal
    net_total: Decimal | None
    woo_product_id: int | None
    sku: str | None
    hubspot_product_id: str | None
    currency: str | None = None
    problem: str | None = None

    @property
    def net_unit_price(self) -> Decimal | None:
        """``net_total / quantity``: the unit price the line is sold at in HubSpot."""
        if self.net_total is None or not self.quantity:
            return None
        return self.net_total / self.quantity

    @property
    def label(self) -> str:
        """"line item 9 (SKU X)" for messages."""
        return f"line item {self.line_item_id}" + (f" (SKU {self.sku})" if self.sku else "")


def deal_lines(deal: Mapping[str, Any], line_items: Mapping[str, Mapping[str, Any]],
               hubspot_products: Mapping[str, Mapping[str, Any]]) -> list[LineRequest]:
    """The deal's line items (``associations.line_items``) as :class:`LineRequest`, ordered by line item id
    (numerically). A line item the deal names but ``line_items`` lacks gets a ``problem``."""
    ids = sorted({_association_id(i) for i in (deal.get("associations") or {}).get("line_items") or []} - {""},
                 key=_id_order)
    return [_line_request(i, line_items.get(i), hubspot_products) for i in ids]


def _line_request(line_item_id: str, item: Mapping[str, Any] | None,
                  products: Mapping[str, Mapping[str, Any]]) -> LineRequest:
    """One line item as a :class:`LineRequest`."""
    if item is None:
        return LineRequest(line_item_id, None, None, None, Decimal(0), None, None, None, None,
                           problem=f"line item {line_item_id} was not read from HubSpot")
    properties = _properties(item)
    product_id = _text(properties.get("hs_product_id")) or None
    product = _properties(products.get(product_id) or {}) if product_id else {}
    woo_id = _text(product.get("woo_product_id"))
    sku = _text(properties.get("hs_sku")) or _text(product.get("hs_sku")) or None
    quantity, price = _decimal(properties.get("quantity")), _decimal(properties.get("price"))
    discount = _decimal(properties.get("discount")) or Decimal(0)
    percentage = _decimal(properties.get("hs_discount_percentage"))
    amount = _decimal(properties.get("amount"))
    request = LineRequest(
        line_item_id=line_item_id, name=_text(properties.get("name")) or None, quantity=None, unit_price=price,
        unit_discount=discount, net_total=amount, woo_product_id=_int(woo_id) if (_int(woo_id) or 0) > 0 else None, sku=sku,
        hubspot_product_id=product_id, currency=_text(properties.get("hs_line_item_currency_code")) or None,
    )
    if quantity is None or quantity != quantity.to_integral_value() or quantity <= 0:
        shown = _text(properties.get("quantity")) or "(none)"
        return replace(request, problem=f"{request.label}: quantity {shown} is not a positive whole number")
    count = int(quantity)
    if price is None:
        return replace(request, quantity=count, problem=f"{request.label}: no price")
    if amount is None:
        unit = price - discount if discount else price * (1 - (percentage or Decimal(0)) / 100)
        amount = unit * count
    return replace(request, quantity=count, net_total=amount)


# -- the catalogue ----------------------------------------------------------------------------------------


class Catalog:
    """The store's current products and variations (REST payloads), by id and by their own SKU.

    A variation without a SKU of its own shows its parent's SKU in the API; that SKU names the parent only
    (as the API's ``sku=`` filter does)."""

    def __init__(self, products: Iterable[Mapping[str, Any]]):
        self.by_id: dict[int, dict[str, Any]] = {}
        for product in products:
            product_id = _int(product.get("id"))
            if product_id:
                self.by_id.setdefault(product_id, dict(product))
        self.by_sku: dict[str, list[dict[str, Any]]] = {}
        for product in self.by_id.values():
            sku = own_sku(product, self)
            if sku:
                self.by_sku.setdefault(sku, []).append(product)

    def get(self, product_id: Any) -> dict[str, Any] | None:
        """The product or variation with this id, ``None`` when the store has none."""
        number = _int(product_id)
        return self.by_id.get(number) if number else None

    def parent(self, product: Mapping[str, Any]) -> dict[str, Any] | None:
        """A variation's variable product (``None`` for others, or when it was not read)."""
        return self.get(product.get("parent_id")) if product.get("type") == VARIATION else None

    def resolve(self, line: LineRequest) -> tuple[dict[str, Any] | None, str | None]:
        """``(product, None)`` for the line's product, or ``(None, why not)``."""
        source = f"HubSpot product {line.hubspot_product_id}" if line.hubspot_product_id else f"line item {line.line_item_id}"
        sku = f" (SKU {line.sku})" if line.sku else ""
        if line.woo_product_id:
            found = self.get(line.woo_product_id)
            if found is None:
                return None, f"no WooCommerce product {line.woo_product_id} for {source}{sku}"
            return found, None
        if not line.sku:
            return None, f"{source} names no WooCommerce product: no woo_product_id and no SKU"
        matches = self.by_sku.get(line.sku, [])
        if not matches:
            return None, f"no WooCommerce product for {source}{sku}"
        if len(matches) > 1:
            ids = ", ".join(str(m["id"]) for m in matches)
            return None, f"SKU {line.sku} of {source} names several WooCommerce products ({ids})"
        return matches[0], None


def own_sku(product: Mapping[str, Any], catalog: Catalog | None = None) -> str | None:
    """The product's own SKU: ``None`` when empty, or for a variation showing its parent's SKU."""
    sku = _text(product.get("sku")) or None
    if sku and catalog is not None and product.get("type") == VARIATION:
        parent = catalog.get(product.get("parent_id"))
        if parent is not None and _text(parent.get("sku")) == sku:
            return None
    return sku


def product_label(product: Mapping[str, Any], catalog: Catalog | None = None) -> str:
    """"SKU TEE-M" when the product has a SKU of its own, else "product 55" / "variation 24"."""
    sku = own_sku(product, catalog)
    return f"SKU {sku}" if sku else _described(product, catalog, with_sku=False)


def _described(product: Mapping[str, Any], catalog: Catalog | None, *, with_sku: bool = True) -> str:
    """"product 55 (SKU X)" / "variation 24 (SKU X)"."""
    kind = VARIATION if product.get("type") == VARIATION else "product"
    sku = own_sku(product, catalog) if with_sku else None
    return f"{kind} {product.get('id')}" + (f" (SKU {sku})" if sku else "")


# -- the checks --------------------------------------------------------------------------------------------


def check_deal(deal: Mapping[str, Any], lines: Sequence[LineRequest], catalog: Catalog, *, store_currency: str,
               mapping: H2WMapping | None = None) -> list[str]:
    """Every reason the deal cannot become an order now (empty: it can), in a stable order: currency, the
    lines one by one, stock, the amount."""
    rules = _mapping(mapping).deals
    places = minor_units(store_currency)
    store = store_currency.strip().upper()
    properties = _properties(deal)
    problems: list[str] = []
    currency = _text(properties.get("deal_currency_code")).upper()
    if currency and currency != store:
        problems.append(f"deal currency {currency} is not the store currency {store}")
    amount = _decimal(properties.get("amount"))
    if not lines:
        return problems + _without_lines_problems(amount, rules.without_line_items, places)
    resolved: list[tuple[LineRequest, dict[str, Any]]] = []
    for line in lines:
        if line.problem:
            problems.append(line.problem)
            continue
        if line.currency and line.currency.upper() != store:
            problems.append(f"{line.label}: currency {line.currency.upper()} is not the store currency {store}")
        product, why = catalog.resolve(line)
        if product is None:
            problems.append(why or f"{line.label}: no WooCommerce product")
            continue
        problems.extend(product_problems(product, catalog))
        if rules.price_policy == "woocommerce":
            problems.extend(_price_problems(line, product, catalog, rules.unit_price_tolerance, places))
        resolved.append((line, product))
    problems.extend(stock_problems(resolved, catalog))
    if len(resolved) == len(lines) and amount is not None:
        problems.extend(_amount_problems(amount, resolved, rules.price_policy, rules.amount_tolerance, places))
    return list(dict.fromkeys(problems))


def _without_lines_problems(amount: Decimal | None, rule: str, places: int) -> list[str]:
    """A deal without line items: rejected (``reject``), or one fee line that needs a positive amount."""
    if rule == "reject":
        return ["deal has no line items"]
    if amount is None:
        return ["deal has no line items and no amount: there is nothing to order"]
    if amount <= 0:
        return [f"deal has no line items and its amount {_money(amount, places)} is not positive"]
    return []


def product_problems(product: Mapping[str, Any], catalog: Catalog) -> list[str]:
    """Why the product cannot be ordered: not published (nor its variable product), a variable parent, not
    purchasable."""
    described = _described(product, catalog)
    problems = []
    status = _text(product.get("status")) or "(no status)"
    if status != PUBLISHED:
        problems.append(f"{described} is {status}, not published")
    parent = catalog.parent(product)
    if parent is not None and _text(parent.get("status")) != PUBLISHED:
        problems.append(f"{described} belongs to product {parent.get('id')}, which is "
                        f"{_text(parent.get('status')) or '(no status)'}, not published")
    if product.get("type") == VARIABLE:
        problems.append(f"{described} is a variable product; the line must name a variation")
    elif product.get("purchasable") is False:
        reason = " (it has no price)" if _text(product.get("price")) == "" else ""
        problems.append(f"{described} is not purchasable{reason}")
    return problems


def _price_problems(line: LineRequest, product: Mapping[str, Any], catalog: Catalog, tolerance: Decimal,
                    places: int) -> list[str]:
    """The line's net unit price in HubSpot against WooCommerce's current price."""
    woo_price, hub_price = _decimal(product.get("price")), line.net_unit_price
    if woo_price is None or hub_price is None or abs(hub_price - woo_price) <= tolerance:
        return []
    return [f"{product_label(product, catalog)}: price {_shown(hub_price, places)} in HubSpot, "
            f"{_money(woo_price, places)} in WooCommerce"]


def stock_holder(product: Mapping[str, Any], catalog: Catalog) -> dict[str, Any] | None:
    """The record whose managed stock an order of ``product`` takes: the product itself when it manages
    stock; for a variation that does not (``manage_stock`` ``"parent"``, or false while its variable
    product manages stock) the variable product, whose stock all such variations share (the variation
    itself when the parent was not read: the API then shows the parent's numbers on it); ``None`` when
    the stock is not managed."""
    manage = product.get("manage_stock")
    if product.get("type") == VARIATION and manage is not True:
        parent = catalog.parent(product)
        if parent is not None and parent.get("manage_stock") is True:
            return parent
        return dict(product) if manage == "parent" else None
    return dict(product) if manage is True else None


def backorders_allowed(product: Mapping[str, Any]) -> bool:
    """Whether the product takes orders beyond its stock (``backorders`` notify or yes)."""
    return product.get("backorders_allowed") is True or product.get("backorders") in BACKORDERS_ALLOWED


def stock_problems(resolved: Sequence[tuple[LineRequest, Mapping[str, Any]]], catalog: Catalog) -> list[str]:
    """Managed stock against the quantities summed per stock holder across the deal (unless it allows
    backorders); an unmanaged product that is out of stock."""
    requested: dict[int, int] = {}
    holders: dict[int, tuple[dict[str, Any], bool]] = {}
    problems = []
    for line, product in resolved:
        if product.get("type") == VARIABLE:
            continue  # rejected as such; its stock status only sums its variations'
        holder = stock_holder(product, catalog)
        if holder is None:
            if product.get("stock_status") == OUT_OF_STOCK:
                problems.append(f"{product_label(product, catalog)}: out of stock")
            continue
        key = int(holder["id"])
        requested[key] = requested.get(key, 0) + int(line.quantity or 0)
        shared = holders.get(key, (holder, False))[1] or key != _int(product.get("id"))
        holders[key] = (holder, shared)
    for key, quantity in requested.items():
        holder, shared = holders[key]
        stock = _int(holder.get("stock_quantity")) or 0
        if quantity > stock and not backorders_allowed(holder):
            note = " (stock shared by its variations)" if shared else ""
            problems.append(f"{product_label(holder, catalog)}: {quantity} requested, {stock} in stock{note}")
    return problems


def _amount_problems(amount: Decimal, resolved: Sequence[tuple[LineRequest, Mapping[str, Any]]],
                     price_policy: str, tolerance: Decimal, places: int) -> list[str]:
    """The deal amount against its lines: at WooCommerce's prices, or HubSpot's line totals as sent."""
    if price_policy == "woocommerce":
        prices = [_decimal(p.get("price")) for _, p in resolved]
        if any(p is None for p in prices):
            return []
        total = sum((int(ln.quantity or 0) * p for (ln, _), p in zip(resolved, prices, strict=True)), Decimal(0))
        basis = "at WooCommerce prices"
    else:
        total = sum((_rounded(ln.net_total or Decimal(0), places) for ln, _ in resolved), Decimal(0))
        basis = "as priced in HubSpot"
    if abs(amount - total) <= tolerance:
        return []
    return [f"deal amount {_money(amount, places)} does not equal its line items {_money(total, places)} ({basis})"]


# -- the order --------------------------------------------------------------------------------------------


def build_order(deal: Mapping[str, Any], lines: Sequence[LineRequest], catalog: Catalog, *,
                contact: Mapping[str, Any] | None, customer_id: int | None, mapping: H2WMapping | None = None,
                store_currency: str) -> dict[str, Any]:
    """The ``POST /orders`` payload for a deal that passed :func:`check_deal`.

    ``customer_id`` (0 for a guest order); ``billing`` and ``shipping`` from the contact (WooCommerce copies
    no address from the customer, recording 146); product lines by id (a variation as its product's id
    plus ``variation_id``) and quantity, with ``price_policy`` ``hubspot`` also ``subtotal`` (quantity x
    price) and ``total`` (the net line amount); a deal without line items one fee line for its amount;
    the store currency; status and ``set_paid`` from ``deals.order_status``; ``created_via``,
    ``transaction_id`` (:func:`order_reference`), meta ``hubspot_deal_id`` and a ``customer_note`` naming
    the deal. Money is always text in the currency's decimals (the API refuses numbers). Raises
    ``ValueError`` for a deal the checks would reject (a line without product, a stage without status)."""
    rules = _mapping(mapping)
    deal_id = str(deal.get("id"))
    properties = _properties(deal)
    stage = _text(properties.get("dealstage"))
    status = rules.deals.order_status.get(stage)
    if status is None:
        raise ValueError(f"deal {deal_id}: stage {stage!r} has no deals.order_status entry")
    places = minor_units(store_currency)
    billing, shipping = contact_addresses(contact, rules)
    name = _text(properties.get("dealname")) or f"deal {deal_id}"
    payload: dict[str, Any] = {
        "status": status.status,
        "set_paid": status.set_paid,
        "currency": store_currency.strip().upper(),
        "customer_id": int(customer_id or 0),
        "billing": billing,
        "shipping": shipping,
        "line_items": [_order_line(line, catalog, rules.deals.price_policy, places, deal_id) for line in lines],
        "created_via": CREATED_VIA,
        "transaction_id": order_reference(deal_id),
        "meta_data": [{"key": DEAL_META_KEY, "value": deal_id}],
        "customer_note": f"Order for HubSpot deal {deal_id}: {name}",
    }
    if not lines:
        amount = _decimal(properties.get("amount"))
        if amount is None:
            raise ValueError(f"deal {deal_id}: no line items and no amount")
        fee = rules.deals.fee_line
        payload["fee_lines"] = [{"name": fee.name.format(dealname=name, id=deal_id), "total": _money(amount, places),
                                 "tax_status": fee.tax_status}]
    return payload


def _order_line(line: LineRequest, catalog: Catalog, price_policy: str, places: int, deal_id: str) -> dict[str, Any]:
    """One ``line_items`` entry of the order."""
    product, why = catalog.resolve(line)
    if product is None or not line.quantity:
        raise ValueError(f"deal {deal_id}: {why or line.problem or line.label + ': no quantity'}")
    if product.get("type") == VARIATION:
        entry: dict[str, Any] = {"product_id": int(product["parent_id"]), "variation_id": int(product["id"]),
                                 "quantity": line.quantity}
    else:
        entry = {"product_id": int(product["id"]), "quantity": line.quantity}
    if price_policy == "hubspot":
        net = _rounded(line.net_total or Decimal(0), places)
        gross = _rounded((line.unit_price or Decimal(0)) * line.quantity, places)
        entry["subtotal"] = _money(max(gross, net), places)
        entry["total"] = _money(net, places)
    return entry


# -- line summaries ---------------------------------------------------------------------------------------


def order_lines_summary(order: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The product lines of an order (a create payload or the store's answer) as sorted ``(product or
    variation id, quantity)`` pairs, quantities summed per id; fee and shipping lines are not counted."""
    totals: dict[str, int] = {}
    for line in order.get("line_items") or []:
        quantity = _int(line.get("quantity")) or 0
        if quantity <= 0:
            continue
        key = str(_int(line.get("variation_id")) or _int(line.get("product_id")) or 0)
        totals[key] = totals.get(key, 0) + quantity
    return sorted(totals.items())


def deal_lines_summary(lines: Sequence[LineRequest], catalog: Catalog | None = None, *,
                       order: Mapping[str, Any] | None = None) -> list[tuple[str, int]]:
    """The deal's lines in the form of :func:`order_lines_summary`, so that the two compare equal while
    the deal still matches the order made from it. A line is keyed by its WooCommerce id: the catalogue's
    record when ``catalog`` is given, else ``woo_product_id``, else (a line known only by SKU) the id of
    the ``order`` line with that SKU when an order is given, else ``"sku:<SKU>"``. A line that cannot be
    ordered is ``"line_item:<id>"`` with quantity 0. Both of these last differ from any order."""
    by_sku = _order_line_ids_by_sku(order) if order is not None else {}
    totals: dict[str, int] = {}
    for line in lines:
        product = catalog.resolve(line)[0] if catalog is not None and not line.problem else None
        if line.problem or not line.quantity:
            key, quantity = f"line_item:{line.line_item_id}", 0
        elif product is not None:
            key, quantity = str(product["id"]), line.quantity
        elif line.woo_product_id:
            key, quantity = str(line.woo_product_id), line.quantity
        else:
            key, quantity = by_sku.get(line.sku or "", f"sku:{line.sku}"), line.quantity
        totals[key] = totals.get(key, 0) + quantity
    return sorted(totals.items())


def _order_line_ids_by_sku(order: Mapping[str, Any]) -> dict[str, str]:
    """``SKU -> variation or product id`` of an order's product lines (the store's answer names each line's
    SKU); a SKU on lines of different products names none."""
    found: dict[str, set[str]] = {}
    for line in order.get("line_items") or []:
        sku = _text(line.get("sku"))
        if sku:
            found.setdefault(sku, set()).add(str(_int(line.get("variation_id")) or _int(line.get("product_id")) or 0))
    return {sku: next(iter(ids)) for sku, ids in found.items() if len(ids) == 1}


# -- helpers ----------------------------------------------------------------------------------------------


def _properties(record: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = record.get("properties")
    return inner if isinstance(inner, Mapping) else {}


def _association_id(value: Any) -> str:
    """An associated record's id: ``"9"``, ``9`` or ``{"id": "9"}``."""
    if isinstance(value, Mapping):
        value = value.get("id") or value.get("toObjectId")
    return _text(value)


def _id_order(value: str) -> tuple[int, int | str]:
    return (0, int(value)) if value.isdigit() else (1, value)


def _text(value: Any) -> str:
    """A value as stripped text ("" for ``None``)."""
    return "" if value is None else str(value).strip()


def _int(value: Any) -> int | None:
    """A whole number from a JSON number or numeric text, else ``None``."""
    number = _decimal(value)
    return int(number) if number is not None and number == number.to_integral_value() else None


def _decimal(value: Any) -> Decimal | None:
    """A JSON number or numeric text as ``Decimal`` (``None`` for empty, bools and non-numbers)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _rounded(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _money(value: Decimal, places: int) -> str:
    """Money as text with exactly the currency's decimals ("12.50", JPY "1500")."""
    return f"{_rounded(value, places):f}"


def _shown(value: Decimal, places: int) -> str:
    """A unit price for a message: the currency's decimals, more (up to 6) when it does not divide evenly."""
    if value == _rounded(value, places):
        return _money(value, places)
    return f"{_rounded(value, SHOWN_PLACES).normalize():f}"
