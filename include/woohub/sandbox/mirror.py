"""A HubSpot portal that mirrors a WooCommerce store as ``woocommerce_to_hubspot``'s initial load leaves it,
built in seconds instead of hours: test and benchmark scaffolding (``scripts/bench_reconcile.py``), not
part of the sync.

:func:`read_shop` reads the store through the WooCommerce hook's list endpoints, as the extracts of a full
resync do (orders and products with trashed ones, the variations of every variable product, customers of
every role). :func:`mirror_shop` maps it with the sync's own mapping functions (``map_products``,
``map_contacts``, ``map_deals``, ``map_line_items``, ``guest_aliases``) and puts the result into the
HubSpot sandbox through its bulk-insert control endpoint (``POST /__sandbox__/records``, no rate limit),
with the properties, associations and ``id_map`` rows the loaders would have written:

* products: every product and variation the load upserts (a trashed product is never created by an
  initial load, so it is not mirrored); id map ``product`` with ``content_hash(properties)``;
* contacts: registered customers, then guest buyers (one per email, none for a customer's email), rows
  the mapping could not key (no usable email) left out as the load quarantines them; id map ``contact``
  with the hash of what the load sends, and for customers the two-way base (``synced_fields``) it saves;
* deals: one per order, associated with its contact (type 3, a guest order of a customer's email with
  the customer); id map ``deal`` (hash of properties + contact id) and ``deal_contact``;
* line items: one per order line (product, shipping, fee, tax), ``hs_product_id`` from the product id
  map, associated with the deal (type 20); id map ``line_item`` (hash of properties + deal id) and
  ``line_item_deal``.

:func:`prepare_portal` first gives the portal what the sync's ``check_hubspot_setup`` makes (the custom
``woo_*`` properties) and enables the store's currencies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from woohub.hubspot.hook import HubSpotHook
    from woohub.sandbox.control import SandboxControl
    from woohub.woocommerce.hook import WooCommerceHook

#: records per bulk-insert request
INSERT_CHUNK = 5000
DEAL_TO_CONTACT, LINE_ITEM_TO_DEAL = 3, 20  # HUBSPOT_DEFINED association type ids


@dataclass
class Shop:
    """A WooCommerce store as its REST API lists it: products (parents and simple products, trashed
    included), variations (with ``parent_id``), customers (every role) and orders (trashed included)."""

    products: list[dict[str, Any]] = field(default_factory=list)
    variations: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)

    def currencies(self) -> list[str]:
        """The ISO codes the orders are in, sorted."""
        return sorted({str(o.get("currency") or "").upper() for o in self.orders} - {""})

    def counts(self) -> dict[str, int]:
        """WooCommerce records per kind: ``orders``, ``customers``, ``products``, ``variations``, ``trashed_*``
        and ``order_lines_<kind>`` (product, shipping, fee lines and orders with tax)."""
        return {
            "orders": len(self.orders),
            "trashed_orders": sum(1 for o in self.orders if o.get("status") == "trash"),
            "customers": len(self.customers),
            "products": len(self.products),
            "trashed_products": sum(1 for p in self.products if p.get("status") == "trash"),
            "variations": len(self.variations),
            "order_lines_product": sum(len(o.get("line_items") or []) for o in self.orders),
            "order_lines_shipping": sum(len(o.get("shipping_lines") or []) for o in self.orders),
            "order_lines_fee": sum(len(o.get("fee_lines") or []) for o in self.orders),
            "orders_with_tax": sum(1 for o in self.orders if o.get("tax_lines")),
        }


def read_shop(hook: WooCommerceHook) -> Shop:
    """The whole store, read page by page (``per_page`` 100) with the same parameters as a full resync's
    extracts."""
    order = {"orderby": "id", "order": "asc"}
    products = list(hook.iter_records("products", order)) + list(hook.iter_records("products", {
        **order, "status": "trash"}))
    variations = [dict(v, parent_id=v.get("parent_id") or parent["id"])
                  for parent in products if parent.get("type") == "variable"
                  for v in hook.iter_records(f"products/{parent['id']}/variations", {"status": "any"})]
    customers = list(hook.iter_records("customers", {"role": "all", **order}))
    orders = list(hook.iter_records("orders", order)) + list(hook.iter_records("orders", {**order, "status": "trash"}))
    return Shop(products, variations, customers, orders)


def prepare_portal(hook: HubSpotHook, control: SandboxControl, shop: Shop, mapping: Any = None) -> dict[str, Any]:
    """Enable the shop's currencies (and USD) in the portal and create the custom properties the mapping
    needs, through the sync's own ``check_hubspot_setup`` (HubSpot API calls; best made with the
    sandbox's rate limits off)."""
    from woohub.sync.woocommerce_to_hubspot import check_hubspot_setup

    control.configure(enabled_currencies=sorted({"USD", *shop.currencies()}))
    return check_hubspot_setup(hook, mapping)


@dataclass
class Mirror:
    """What :func:`mirror_shop` put into HubSpot: records per object type, the HubSpot id of each
    WooCommerce key per id-map object type, and what it left out (and why)."""

    hubspot: dict[str, int] = field(default_factory=dict)
    ids: dict[str, dict[str, str]] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)
    woocommerce: dict[str, int] = field(default_factory=dict)

    @property
    def records(self) -> int:
        """HubSpot records mirrored (deals + contacts + products + line items): each stands for one
        WooCommerce order, customer or guest buyer, product or variation, or order line."""
        return sum(self.hubspot.values())


def mirror_shop(shop: Shop, control: SandboxControl, engine: Engine, *, run_id: str = "sandbox_mirror",
                mapping: Any = None, chunk: int = INSERT_CHUNK) -> Mirror:
    """Put the HubSpot side of ``shop`` into the portal ``control`` talks to and the matching ``id_map``
    rows into ``engine``'s staging (see the module docstring). The portal must hold no records of the shop
    yet and have the custom properties (:func:`prepare_portal`)."""
    from woohub.mapping.woocommerce_to_hubspot import load_mapping

    mapping = mapping or load_mapping()
    mirror = Mirror(woocommerce=shop.counts())
    insert = _Inserter(control, engine, run_id, chunk)
    products = _mirror_products(insert, shop, mapping, mirror)
    contacts, aliases = _mirror_contacts(insert, engine, shop, mapping, mirror)
    deals = _mirror_deals(insert, shop, mapping, contacts, aliases, mirror)
    _mirror_line_items(insert, shop, mapping, products, deals, mirror)
    mirror.ids = {"product": products, "contact": contacts, "deal": deals}
    return mirror


@dataclass
class _Inserter:
    control: SandboxControl
    engine: Engine
    run_id: str
    chunk: int

    def __call__(self, object_type: str, id_map_type: str, rows: Sequence[tuple[str, dict[str, Any], str]],
                 associate: Mapping[str, tuple[str, int]] | None = None) -> dict[str, str]:
        """Insert ``(source key, properties, content hash)`` rows (associated with ``associate[key]`` =
        (HubSpot id, type id) when given), record them in the id map; ``source key -> HubSpot id``."""
        from woohub.core.ledger import save_id_map
        from woohub.hubspot.load.frames import wire_properties

        ids: dict[str, str] = {}
        for start in range(0, len(rows), self.chunk):
            part = rows[start:start + self.chunk]
            records = []
            for key, properties, _ in part:
                record: dict[str, Any] = {"properties": wire_properties(properties)}
                target = (associate or {}).get(key)
                if target is not None:
                    record["associations"] = [{"to": {"id": target[0]}, "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": target[1]}]}]
                records.append(record)
            new_ids = self.control.insert_records(object_type, records)
            ids.update({key: str(i) for (key, _, _), i in zip(part, new_ids, strict=True)})
            save_id_map(self.engine, id_map_type, [{"source_key": key, "hubspot_id": ids[key], "content_hash": digest}
                                                   for key, _, digest in part], self.run_id)
        return ids

    def links(self, link_type: str, targets: Mapping[str, str | None]) -> None:
        """Link rows (``deal_contact``, ``line_item_deal``): source key -> the HubSpot id it is linked to."""
        from woohub.core.ledger import save_id_map

        entries = [{"source_key": key, "hubspot_id": target, "content_hash": None} for key, target in targets.items()]
        for start in range(0, len(entries), self.chunk):
            save_id_map(self.engine, link_type, entries[start:start + self.chunk], self.run_id)


def _with_key(properties: Mapping[str, Any], id_property: str, key: str) -> dict[str, Any]:
    """The properties an upsert by ``id_property`` sends (the source key when the mapping left it out)."""
    props = dict(properties)
    if not props.get(id_property):
        props[id_property] = key
    return props


def _mirror_products(insert: _Inserter, shop: Shop, mapping: Any, mirror: Mirror) -> dict[str, str]:
    from woohub.hubspot.load.frames import frame_records
    from woohub.mapping.woocommerce_to_hubspot import map_products
    from woohub.staging.repository import content_hash

    rows = frame_records(map_products(shop.products, shop.variations, mapping), ["action", "properties"])
    upserts = [r for r in rows if r["action"] != "archive"]
    mirror.left_out["products_archived_before_first_sync"] = len(rows) - len(upserts)
    ids = insert("products", "product", [(r["source_key"], _with_key(r["properties"], "woo_product_id",
                                                                      r["source_key"]),
                                          content_hash(r["properties"])) for r in upserts])
    mirror.hubspot["products"] = len(ids)
    return ids


def _mirror_contacts(insert: _Inserter, engine: Engine, shop: Shop, mapping: Any,
                     mirror: Mirror) -> tuple[dict[str, str], dict[str, str]]:
    from woohub.core.conflicts import save_base_values
    from woohub.hubspot.load.contacts import contact_row
    from woohub.hubspot.load.frames import frame_records
    from woohub.mapping.hubspot_to_woocommerce import contact_fields
    from woohub.mapping.hubspot_to_woocommerce import load_mapping as load_h2w_mapping
    from woohub.mapping.woocommerce_to_hubspot import guest_aliases, map_contacts

    frame = map_contacts(shop.customers, [o for o in shop.orders if not o.get("customer_id")], mapping)
    usable = frame[frame["error"].isna()]
    mirror.left_out["contacts_without_usable_email"] = len(frame) - len(usable)
    rows = [contact_row(r) for r in frame_records(usable, ["email", "properties"])]
    ids = insert("contacts", "contact", [(r.key, r.plan.properties, r.plan.content_hash) for r in rows])
    h2w = load_h2w_mapping()
    bases = {r.key: {k: v for k, v in contact_fields(r.plan.properties, h2w).items() if v is not None}
             for r in rows if r.customer_id}
    for batch in _chunks(sorted(bases), insert.chunk):
        save_base_values(engine, "contact", {key: bases[key] for key in batch})
    kinds = Counter("customers" if r.customer_id else "guest_buyers" for r in rows)
    mirror.woocommerce["guest_buyers"] = kinds["guest_buyers"]
    mirror.hubspot["contacts"] = len(ids)
    return ids, guest_aliases(usable)


def _mirror_deals(insert: _Inserter, shop: Shop, mapping: Any, contacts: dict[str, str],
                  aliases: dict[str, str], mirror: Mirror) -> dict[str, str]:
    from woohub.hubspot.load.frames import frame_records
    from woohub.mapping.woocommerce_to_hubspot import map_deals
    from woohub.staging.repository import content_hash

    rows = frame_records(map_deals(shop.orders, mapping), ["contact_source_key", "properties", "hubspot_deal_id"])
    made_from_deals = [r["source_key"] for r in rows if r["hubspot_deal_id"]]
    if made_from_deals:
        raise ValueError(f"orders made from HubSpot deals cannot be mirrored as an initial load: {made_from_deals[:5]}")
    contact_of = {r["source_key"]: contacts.get(aliases.get(r["contact_source_key"] or "", r["contact_source_key"] or ""))
                  for r in rows}
    planned = [(r["source_key"], _with_key(r["properties"], "woo_order_id", r["source_key"]),
                content_hash({"properties": r["properties"], "contact_id": contact_of[r["source_key"]]}))
               for r in rows]
    ids = insert("deals", "deal", planned, {key: (cid, DEAL_TO_CONTACT) for key, cid in contact_of.items() if cid})
    insert.links("deal_contact", contact_of)
    mirror.hubspot["deals"] = len(ids)
    mirror.left_out["deals_without_contact"] = sum(1 for cid in contact_of.values() if not cid)
    return ids


def _mirror_line_items(insert: _Inserter, shop: Shop, mapping: Any, products: dict[str, str],
                       deals: dict[str, str], mirror: Mirror) -> None:
    from woohub.hubspot.load.frames import frame_records
    from woohub.mapping.woocommerce_to_hubspot import map_line_items
    from woohub.staging.repository import content_hash

    rows = frame_records(map_line_items(shop.orders, mapping), ["deal_source_key", "product_source_key", "properties"])
    planned, deal_of, unlinked = [], {}, 0
    for row in rows:
        properties = dict(row["properties"])
        product_id = products.get(row["product_source_key"] or "")
        if product_id:
            properties["hs_product_id"] = product_id
        elif properties.get("woo_line_item_type") == "product":
            unlinked += 1
        deal_of[row["source_key"]] = deals[row["deal_source_key"]]
        planned.append((row["source_key"], _with_key(properties, "woo_line_item_id", row["source_key"]),
                        content_hash({"properties": properties, "deal_id": deal_of[row["source_key"]]})))
    ids = insert("line_items", "line_item", planned, {key: (deal, LINE_ITEM_TO_DEAL) for key, deal in deal_of.items()})
    insert.links("line_item_deal", deal_of)
    mirror.hubspot["line_items"] = len(ids)
    mirror.left_out["product_lines_without_hubspot_product"] = unlinked
    kinds = Counter(str(r["properties"].get("woo_line_item_type")) for r in rows)
    mirror.woocommerce.update({f"line_items_{kind}": n for kind, n in sorted(kinds.items())})


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
