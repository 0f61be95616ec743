"""The steps of the ``hubspot_to_woocommerce`` DAG as plain functions (each DAG task calls one), on the
direction-neutral core (:mod:`woohub.core`), like :mod:`woohub.sync.woocommerce_to_hubspot`.

**Deals -> orders.** The run's candidate deals (changed in the window, not yet synced, claimed retries, and
every deal rejected earlier that still waits in the ``hubspot_to_woocommerce.deals`` quarantine) that
qualify under the mapping's rule are checked against WooCommerce's *current* catalogue (the REST API
checks nothing: stock, status, purchasability, price, currency); a deal that fails is rejected with every
reason, written back to the deal (``woo_sync_status`` = ``rejected``, ``woo_sync_message``) and checked
again next run; a deal that passes becomes one order (exactly one: :mod:`woohub.woocommerce.load.orders`),
linked in the id map and written back (``woo_order_id``, ``synced``), its line items given their
WooCommerce line ids. A deal already turned into an order is owned by the shop: a later edit of its line
items is recorded as a conflict and the order is left alone.

**Contacts -> customers.** A changed contact linked to a WooCommerce customer is compared field by field
with the customer and with the values both sides held at the last sync (``id_map.synced_fields``); only
the fields HubSpot changed (or won under the ownership policy, :mod:`woohub.core.conflicts`) are written.
What this direction writes is recorded as the other direction's last write, so it is not echoed back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from woohub.core import quarantine, runs
from woohub.core.conflicts import modification_time
from woohub.core.ledger import id_map_rows, keys_linked_to, save_id_map
from woohub.core.locks import exclusive
from woohub.core.run_stats import record_counts
from woohub.core.runs import RunPlan
from woohub.staging import repository
from woohub.staging.repository import StagedRecord, content_hash

log = logging.getLogger(__name__)

DAG_ID = "hubspot_to_woocommerce"
DEALS, CONTACTS = "hubspot.deals", "hubspot.contacts"
LINE_ITEMS, PRODUCTS = "hubspot.line_items", "hubspot.products"
STREAMS = (DEALS, CONTACTS)
MARK_STREAMS = (DEALS, CONTACTS)
#: deals that failed the order checks, rechecked every run until they pass or stop qualifying
REJECTED_DEALS = "hubspot_to_woocommerce.deals"
CUSTOMER_PREFIX = "customer:"
#: the id map types this direction shares with WooCommerce -> HubSpot
DEAL, CONTACT = "deal", "contact"
#: dead letters of deals whose order could not be made (keyed by deal id; ``deal`` letters are keyed by order id)
DEAL_ORDER = "deal_order"


def plan_run(engine: Engine, run_id: str, run_type: str, interval_start: datetime | None,
             interval_end: datetime | None, params: Mapping[str, Any], *,
             overlap: timedelta | None = None, now: datetime | None = None) -> RunPlan:
    """The core plan (window, marks, claimed dead letters, claimed webhook events) plus the deals rejected
    earlier (read again every run that walks a window: a restock lets them through without anyone touching
    the deal; a webhook-triggered run reads only the records its events name)."""
    if params.get("requeue_dead_letters") and not params.get("dry_run"):
        from woohub.core.dead_letters import requeue

        log.info("requeued %d exhausted dead letter(s)", requeue(engine))
    plan = runs.plan_run(engine, run_id, run_type, interval_start, interval_end, params,
                         mark_streams=MARK_STREAMS, event_streams=STREAMS, overlap=overlap, now=now)
    if not plan.walks_window:
        return plan
    rejected = sorted(quarantine.open_versions(engine, REJECTED_DEALS))
    return RunPlan.from_dict({**plan.as_dict(), "recheck": {DEALS: rejected}})


def check_setup(hubspot: Any, woocommerce: Any, *, dry_run: bool = False) -> dict[str, Any]:
    """The scopes this DAG needs (a missing one fails the run here, named), the custom HubSpot properties
    both directions write (created when missing, a dry run only names them) and the store's currency, read
    once for the run's checks."""
    from woohub.hubspot.oauth import check_scopes
    from woohub.sync.woocommerce_to_hubspot import check_hubspot_setup
    from woohub.woocommerce.catalog import store_currency

    check_scopes(hubspot, DAG_ID)
    setup = check_hubspot_setup(hubspot, dry_run=dry_run, required_scopes=None)
    currency = store_currency(woocommerce)
    log.info("WooCommerce store currency: %s", currency)
    return {"created": setup["created"], "store_currency": currency}


def record_extract(engine: Engine, run_id: str, result: Any) -> dict[str, Any]:
    """Record an extract's counts and HubSpot calls in ``run_stats`` (object ``hubspot_<object>_extract``,
    apart from the validation's ``hubspot_<object>`` row) and return them for XCom."""
    record_counts(engine, run_id, result.stream.replace(".", "_") + "_extract", extracted=result.staged,
                  api_calls=result.api_calls)
    return result.as_dict()


def commit_high_water_marks(engine: Engine, plan: RunPlan) -> list[str]:
    return runs.commit_marks(engine, plan, MARK_STREAMS)


def validate_stream(engine: Engine, stream: str, plan: RunPlan) -> dict[str, Any]:
    """The stream's Great Expectations suite on the run's candidates, as in the other direction."""
    from woohub.core.quality import validate_candidates, validate_chunk, validate_staged

    candidates = runs.candidate_ids(engine, stream, plan)

    def check(records: list[StagedRecord]) -> Any:
        known_items = None
        if stream == DEALS and records:  # the deals' line items that were staged (a missing one is a warning)
            named = {i for r in records for i in (r.payload.get("associations") or {}).get("line_items") or []}
            known_items = set(_staged_by_id(engine, LINE_ITEMS, named))
        return validate_staged(stream, [r.payload for r in records], run_id=plan.run_id,
                               known_line_item_ids=known_items)

    return validate_candidates(engine, stream, plan, candidates, check, object_type=stream.replace(".", "_"),
                               chunk_size=validate_chunk())


# -- contacts -> customers ----------------------------------------------------------------------------

def sync_contacts(hubspot: Any, woocommerce: Any, engine: Engine, plan: RunPlan, mapping: Any = None) -> dict[str, Any]:
    """Write the two-way fields HubSpot changed on linked contacts to their WooCommerce customers (see the
    module docstring); record conflicts; mark the contacts synced."""
    from woohub.core import conflicts
    from woohub.mapping.hubspot_to_woocommerce import load_mapping

    mapping = mapping or load_mapping()
    ids = runs.loadable_ids(engine, CONTACTS, plan)
    contacts = {r.source_id: r for r in repository.staged_records(engine, CONTACTS, ids)}
    links = customer_links(engine, {cid: r.payload for cid, r in contacts.items()})
    counts = {"contacts": len(contacts), "linked": len(links), "unchanged": 0, "updated": 0, "conflicts": 0,
              "email_conflicts": 0, "failed": 0, "created": 0}
    with exclusive(engine, "load.woocommerce.customers"):
        calls_before = woocommerce.calls_spent()
        if mapping.customers.create_unlinked and not plan.dry_run:  # off by default: only orders need customers
            unlinked = {c: r.payload for c, r in contacts.items() if c not in links}
            made = resolve_customers(woocommerce, engine, plan, mapping, unlinked, create=True)
            counts["created"] = sum(1 for c in unlinked if made.get(c) is not None)
        bases = conflicts.base_values(engine, CONTACT, [CUSTOMER_PREFIX + c for c in links.values()])
        changed = {}
        for contact_id, customer_id in links.items():
            fields = contact_two_way_fields(contacts[contact_id].payload, mapping)
            base = bases.get(CUSTOMER_PREFIX + customer_id)
            if base is not None and content_hash(fields) == content_hash(_two_way(base, mapping)) and not plan.rewrite:
                counts["unchanged"] += 1
                continue
            changed[contact_id] = fields
        result = _write_contact_changes(hubspot, woocommerce, engine, plan, mapping, contacts, links, changed,
                                        bases, counts)
        counts["api_calls"] = woocommerce.calls_spent() - calls_before
    if not plan.dry_run:
        repository.mark_synced(engine, CONTACTS, {cid: r.content_hash for cid, r in contacts.items()
                                                  if cid not in result["failed_ids"]})
    record_counts(engine, plan.run_id, "customers", extracted=len(contacts), updated=counts["updated"],
                  unchanged=counts["unchanged"] + len(contacts) - len(links), failed=counts["failed"],
                  api_calls=counts["api_calls"])
    log.info("contacts -> customers: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def customer_links(engine: Engine, contacts: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``contact id -> WooCommerce customer id`` for the contacts linked to a customer: through the id map
    (the pair both directions wrote), else the contact's ``woo_customer_id``."""
    linked = {hubspot_id: key.removeprefix(CUSTOMER_PREFIX)
              for key, hubspot_id in keys_linked_to(engine, CONTACT, list(contacts)).items()
              if key.startswith(CUSTOMER_PREFIX)}
    for contact_id, payload in contacts.items():
        own = str((payload.get("properties") or {}).get("woo_customer_id") or "")
        if contact_id not in linked and own.isdigit() and own != "0":
            linked[contact_id] = own
    return linked


def contact_two_way_fields(contact: Mapping[str, Any], mapping: Any) -> dict[str, str | None]:
    from woohub.mapping.hubspot_to_woocommerce import contact_fields

    return dict(contact_fields(contact.get("properties") or {}, mapping))


def _two_way(values: Mapping[str, Any], mapping: Any) -> dict[str, Any]:
    names = two_way_field_names(mapping)
    return {name: values.get(name) for name in names}


def two_way_field_names(mapping: Any) -> list[str]:
    from woohub.mapping.hubspot_to_woocommerce import two_way_fields

    return list(two_way_fields(mapping))


def _write_contact_changes(hubspot: Any, woocommerce: Any, engine: Engine, plan: RunPlan, mapping: Any,
                           contacts: Mapping[str, StagedRecord], links: Mapping[str, str],
                           changed: Mapping[str, dict[str, Any]], bases: Mapping[str, dict[str, Any]],
                           counts: dict[str, int]) -> dict[str, Any]:
    """Compare the changed contacts with their customers as they are now, write what HubSpot owns or won,
    record the conflicts and the new base values."""
    from woohub.core import conflicts
    from woohub.mapping.hubspot_to_woocommerce import customer_update_payload
    from woohub.woocommerce.load import CustomerUpdate, find_customers, update_customers

    failed_ids: set[str] = set()
    if not changed:
        return {"failed_ids": failed_ids}
    from woohub.mapping.hubspot_to_woocommerce import customers_fields
    from woohub.mapping.woocommerce_to_hubspot import load_mapping as load_w2h

    w2h = load_w2h()
    current = find_customers(woocommerce, ids=[int(links[c]) for c in changed])
    current_fields = customers_fields([c for k, c in current.items() if isinstance(k, int)], mapping, w2h)
    policies = conflicts.policies_from_mapping(mapping)
    updates, decided = [], {}
    for contact_id, hub in changed.items():
        customer_id = links[contact_id]
        customer = current.get(int(customer_id)) or current.get(customer_id)
        if customer is None:
            log.warning("contact %s is linked to WooCommerce customer %s, which no longer exists", contact_id,
                        customer_id)
            counts["failed"] += 1
            continue
        woo = current_fields[str(customer["id"])]
        key = CUSTOMER_PREFIX + customer_id
        decisions = conflicts.decide(
            woo, hub, bases.get(key), woocommerce_modified_at=modification_time(customer.get("date_modified_gmt")),
            hubspot_modified_at=modification_time((contacts[contact_id].payload.get("properties") or {})
                                            .get("lastmodifieddate")), policies=policies)
        found = [d.conflict for d in decisions if d.conflict is not None]
        if found and not plan.dry_run:
            counts["conflicts"] += conflicts.record_conflicts(
                engine, run_id=plan.run_id, dag_id=DAG_ID, object_type=CONTACT, woocommerce_key=key,
                hubspot_id=contact_id, conflicts=found)
        to_write = conflicts.writes_to(decisions, "woocommerce")
        decided[contact_id] = (customer, to_write, conflicts.applied_base(decisions, bases.get(key), "woocommerce"))
        if to_write:
            updates.append(CustomerUpdate(customer_id=int(customer_id),
                                          payload=customer_update_payload(int(customer_id), to_write, mapping),
                                          source_key=key, new_email=to_write.get("email")))
    if plan.dry_run:
        counts["would_update"] = len(updates)
        return {"failed_ids": failed_ids}
    result = update_customers(woocommerce, engine, updates, plan.run_id) if updates else None
    updated = dict(result.updated) if result else {}
    for conflict in (result.conflicts if result else []):
        counts["email_conflicts"] += 1
        contact_id = next(c for c in changed if links[c] == str(conflict["customer_id"]))
        customer = decided[contact_id][0]
        conflicts.record_conflicts(engine, run_id=plan.run_id, dag_id=DAG_ID, object_type=CONTACT,
                                   woocommerce_key=CUSTOMER_PREFIX + str(conflict["customer_id"]),
                                   hubspot_id=contact_id, conflicts=[conflicts.email_conflict(
                                       conflict, woocommerce_email=customer.get("email"),
                                       hubspot_modified_at=modification_time((contacts[contact_id].payload.get(
                                           "properties") or {}).get("lastmodifieddate")))])
        log.warning("email conflict: %s", conflict["message"])
    for failure in (result.failures if result else []):
        counts["failed"] += 1
        log.warning("customer %s not updated: %s %s", failure["source_key"], failure["error_code"],
                    failure["error_message"])
    blocked = {str(c["customer_id"]) for c in (result.conflicts if result else [])}
    blocked |= {f["source_key"].removeprefix(CUSTOMER_PREFIX) for f in (result.failures if result else [])}
    failed_ids |= {c for c in changed if links[c] in blocked and c in decided and decided[c][1]}
    new_bases, echoes, answers = {}, [], {}
    for contact_id, (customer, to_write, base_after) in decided.items():
        customer_id = links[contact_id]
        if customer_id in blocked and to_write:
            continue
        answers[contact_id] = updated.get(int(customer_id)) or updated.get(customer_id) or customer
        if to_write:
            counts["updated"] += 1
        new_bases[CUSTOMER_PREFIX + customer_id] = base_after
    hashes = hubspot_side_hashes(list(answers.values()), w2h)
    for contact_id, answer in answers.items():
        echoes.append({"source_key": CUSTOMER_PREFIX + links[contact_id], "hubspot_id": contact_id,
                       "content_hash": hashes.get(CUSTOMER_PREFIX + str(answer["id"]))})
    if new_bases:
        save_id_map(engine, CONTACT, echoes, plan.run_id)
        conflicts.save_base_values(engine, CONTACT, new_bases)
        save_id_map(engine, CONTACT, [{"source_key": key, "hubspot_id": e["hubspot_id"],
                                       "content_hash": content_hash(_two_way(new_bases[key], mapping))}
                                      for key, e in zip(new_bases, echoes, strict=True)],
                    plan.run_id, side="woocommerce")
    return {"failed_ids": failed_ids}


def hubspot_side_hashes(customers: Sequence[Mapping[str, Any]], w2h_mapping: Any) -> dict[str, str]:
    """``customer:<id> -> the hash WooCommerce -> HubSpot computes for that customer`` (what it would write
    to the contact), in one mapping pass: the customers this direction just wrote read back as already
    synced, so they are not echoed to HubSpot."""
    from woohub.hubspot.load.contacts import contact_row
    from woohub.mapping.woocommerce_to_hubspot import map_contacts

    if not customers:
        return {}
    frame = map_contacts([dict(c) for c in customers], [], w2h_mapping)
    return {row.key: row.plan.content_hash
            for row in (contact_row(r) for r in frame[frame["error"].isna()].to_dict("records"))}


# -- deals -> orders -----------------------------------------------------------------------------------

def sync_deals(hubspot: Any, woocommerce: Any, engine: Engine, plan: RunPlan, setup: Mapping[str, Any],
               mapping: Any = None) -> dict[str, Any]:
    """Turn the run's qualifying deals into WooCommerce orders (see the module docstring)."""
    from woohub.mapping.hubspot_to_woocommerce import deal_skip_reason, load_mapping

    mapping = mapping or load_mapping()
    ids = runs.loadable_ids(engine, DEALS, plan)
    deals = {r.source_id: r for r in repository.staged_records(engine, DEALS, ids)}
    from woohub.woocommerce.load import orders_for_deals, settle_pending_orders

    if not plan.dry_run:  # an order whose answer was lost already took its stock: find it before any check
        settled = settle_pending_orders(woocommerce, engine)
        if settled.adopted or settled.dropped:
            log.info("earlier order creates settled: %d found in the store, %d never made", len(settled.adopted),
                     len(settled.dropped))
    order_of = orders_for_deals(engine, list(deals))  # the deals this direction already made orders of
    counts = {"deals": len(deals), "skipped": 0, "rejected": 0, "created": 0, "adopted": 0, "existing": 0,
              "failed": 0, "line_item_conflicts": 0}
    qualifying: dict[str, StagedRecord] = {}
    for deal_id, record in deals.items():
        reason = f"already order {order_of[deal_id]}" if deal_id in order_of else deal_skip_reason(record.payload,
                                                                                                     mapping)
        if reason:
            counts["skipped"] += 1
            continue
        qualifying[deal_id] = record
    # a deal that stopped qualifying leaves the rejected list
    stopped = [d for d in plan.rechecked(DEALS) if d in deals and d not in qualifying]
    if stopped and not plan.dry_run:
        quarantine.release(engine, plan.run_id, REJECTED_DEALS, stopped)
    made = {d: r for d, r in deals.items() if d in order_of}
    with exclusive(engine, "load.woocommerce.orders"):
        calls_before = woocommerce.calls_spent(), hubspot.calls_spent()
        counts["line_item_conflicts"] = _order_conflicts(woocommerce, engine, plan, mapping, made, order_of)
        unsent = _missing_write_backs(made, order_of)  # a write-back an earlier run could not make
        failed_ids = _create_orders(hubspot, woocommerce, engine, plan, mapping, setup, qualifying, counts,
                                    unsent)
        counts["api_calls_woocommerce"] = woocommerce.calls_spent() - calls_before[0]
        counts["api_calls_hubspot"] = hubspot.calls_spent() - calls_before[1]
    if not plan.dry_run:
        repository.mark_synced(engine, DEALS, {d: r.content_hash for d, r in deals.items() if d not in failed_ids})
    record_counts(engine, plan.run_id, "orders", extracted=len(deals), created=counts["created"],
                  updated=counts["adopted"], unchanged=counts["skipped"] + counts["existing"],
                  quarantined=counts["rejected"], failed=counts["failed"],
                  api_calls=counts["api_calls_woocommerce"])
    log.info("deals -> orders: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def _staged_by_id(engine: Engine, stream: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {r.source_id: r.payload for r in repository.staged_records(engine, stream, sorted(set(ids)))}


def _deal_inputs(engine: Engine, deals: Mapping[str, StagedRecord]) -> tuple[dict, dict, dict]:
    """The staged line items, HubSpot products and contacts the deals name."""
    item_ids = {i for r in deals.values() for i in (r.payload.get("associations") or {}).get("line_items") or []}
    items = _staged_by_id(engine, LINE_ITEMS, item_ids)
    product_ids = {str((i.get("properties") or {}).get("hs_product_id")) for i in items.values()
                   if (i.get("properties") or {}).get("hs_product_id")}
    products = _staged_by_id(engine, PRODUCTS, product_ids)
    contact_ids = {c for r in deals.values() for c in (r.payload.get("associations") or {}).get("contacts") or []}
    contacts = _staged_by_id(engine, CONTACTS, contact_ids)
    return items, products, contacts


def _missing_write_backs(made: Mapping[str, StagedRecord], order_of: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The write-backs of deals turned into orders whose properties do not say so yet (the run that made
    the order died before writing back, or the write-back failed)."""
    from woohub.hubspot.load.writeback import SYNCED, deal_outcome_properties, needs_write_back

    wanted = {d: deal_outcome_properties(SYNCED, "", order_of[d]) for d in made}
    return {d: w for d, w in wanted.items() if needs_write_back(made[d].payload.get("properties") or {}, w)}


def _create_orders(hubspot: Any, woocommerce: Any, engine: Engine, plan: RunPlan, mapping: Any,
                   setup: Mapping[str, Any], deals: Mapping[str, StagedRecord], counts: dict[str, int],
                   write_back: dict[str, dict[str, str]]) -> set[str]:
    """Check, then create, link and write back (with ``write_back`` already due); returns the deals whose
    sync did not complete."""
    from woohub.hubspot.load.writeback import REJECTED, deal_outcome_properties, needs_write_back
    from woohub.mapping.hubspot_to_woocommerce import Catalog, check_deal, deal_lines
    from woohub.woocommerce.catalog import fetch_catalog

    if not deals:
        if not plan.dry_run:
            _write_back(hubspot, write_back, counts)
        return set()
    items, products, contacts = _deal_inputs(engine, deals)
    lines = {d: deal_lines(r.payload, items, products) for d, r in deals.items()}
    wanted_ids = {ln.woo_product_id for ls in lines.values() for ln in ls if ln.woo_product_id}
    wanted_skus = {ln.sku for ls in lines.values() for ln in ls if ln.sku and not ln.woo_product_id}
    catalog = Catalog(fetch_catalog(woocommerce, wanted_ids, wanted_skus))
    rejected, passing = {}, {}
    for deal_id, record in deals.items():
        problems = check_deal(record.payload, lines[deal_id], catalog, store_currency=setup["store_currency"],
                              mapping=mapping)
        if problems:
            rejected[deal_id] = problems
            wanted = deal_outcome_properties(REJECTED, "; ".join(problems))
            if needs_write_back(record.payload.get("properties") or {}, wanted):
                write_back[deal_id] = wanted
        else:
            passing[deal_id] = record
    counts["rejected"] = len(rejected)
    for deal_id, problems in sorted(rejected.items())[:50]:
        log.warning("deal %s rejected: %s", deal_id, "; ".join(problems))
    if plan.dry_run:
        counts["would_create"] = len(passing)
        return set()
    if rejected:
        quarantine.quarantine_records(engine, plan.run_id, REJECTED_DEALS, rejected,
                                      {d: deals[d].content_hash for d in rejected})
    failed = _place_orders(hubspot, woocommerce, engine, plan, mapping, setup, passing, lines, catalog,
                           contacts, write_back, counts)
    _write_back(hubspot, write_back, counts)
    return failed


def _place_orders(hubspot: Any, woocommerce: Any, engine: Engine, plan: RunPlan, mapping: Any,
                  setup: Mapping[str, Any], deals: Mapping[str, StagedRecord], lines: Mapping[str, list],
                  catalog: Any, contacts: Mapping[str, dict], write_back: dict[str, dict[str, str]],
                  counts: dict[str, int]) -> set[str]:
    """Resolve customers, create the orders (exactly once), link them and plan their write-back."""
    from woohub.core.dead_letters import record_failures, resolve_dead_letters
    from woohub.hubspot.load.writeback import SYNCED, adopt_line_items, deal_outcome_properties
    from woohub.mapping.hubspot_to_woocommerce import build_order, deal_lines_summary
    from woohub.woocommerce.load import OrderPlan, create_orders

    if not deals:
        return set()
    contact_of = {d: _first((r.payload.get("associations") or {}).get("contacts")) for d, r in deals.items()}
    customers = resolve_customers(woocommerce, engine, plan, mapping,
                                  {c: contacts[c] for c in contact_of.values() if c and c in contacts})
    plans = []
    for deal_id, record in deals.items():
        contact_id = contact_of[deal_id]
        contact = contacts.get(contact_id) if contact_id else None
        payload = build_order(record.payload, lines[deal_id], catalog, contact=contact,
                              customer_id=customers.get(contact_id) if contact_id else None, mapping=mapping,
                              store_currency=setup["store_currency"])
        plans.append(OrderPlan(deal_id=deal_id, payload=payload, payload_hash=content_hash(payload)))
    result = create_orders(woocommerce, engine, plans, plan.run_id)
    orders = {**result.existing, **result.adopted, **result.created}
    counts["created"] += len(result.created)
    counts["adopted"] += len(result.adopted)
    counts["existing"] += len(result.existing)
    counts["failed"] += len(result.failures)
    links, line_ids, line_orders = [], {}, {}
    for deal_id, order in orders.items():
        order_id = str(order["id"])
        links.append({"source_key": order_id, "hubspot_id": deal_id,
                      "content_hash": content_hash(deal_lines_summary(lines[deal_id]))})
        write_back[deal_id] = deal_outcome_properties(SYNCED, "", order_id)
        for item_id, line_id in matched_line_ids(lines[deal_id], order).items():
            line_ids[item_id], line_orders[item_id] = line_id, order_id
    save_id_map(engine, DEAL, links, plan.run_id, side="woocommerce")
    if line_ids:
        outcomes = adopt_line_items(hubspot, line_ids, line_orders)
        bad = [k for k, o in outcomes.items() if not o.ok]
        if bad:
            log.warning("%d line item(s) did not get their WooCommerce line id: %s", len(bad), ", ".join(bad[:20]))
    failures = [{**f, "source_ref": f"{DEALS}:{f['source_key']}"} for f in result.failures]
    record_failures(engine, DEAL_ORDER, failures, plan.run_id)
    if orders:
        resolve_dead_letters(engine, DEAL_ORDER, list(orders))
        quarantine.release(engine, plan.run_id, REJECTED_DEALS, list(orders))
    return {f["source_key"] for f in result.failures}


def matched_line_ids(lines: Sequence[Any], order: Mapping[str, Any]) -> dict[str, str]:
    """``HubSpot line item id -> WooCommerce line id``: the order's product lines were created from the
    deal's lines in the same order."""
    order_lines = [line for line in order.get("line_items") or []]
    return {str(ln.line_item_id): str(ol["id"]) for ln, ol in zip(lines, order_lines, strict=False)
            if ln.line_item_id and ol.get("id")}


def _first(values: Sequence[str] | None) -> str | None:
    return sorted(values, key=lambda v: (len(v), v))[0] if values else None


def resolve_customers(woocommerce: Any, engine: Engine, plan: RunPlan, mapping: Any,
                      contacts: Mapping[str, Mapping[str, Any]], *, create: bool | None = None) -> dict[str, int | None]:
    """``contact id -> WooCommerce customer id`` for the deals' contacts: the id map, ``woo_customer_id``,
    the customer with the contact's email as account email; otherwise, by the mapping's customer policy,
    a new customer (linked in the id map) or ``None`` (a guest order); ``create`` overrides the policy."""
    from woohub.mapping.hubspot_to_woocommerce import customer_create_payload, customer_policy
    from woohub.woocommerce.load import CustomerCreate, create_customers, find_customers

    found: dict[str, int | None] = {c: int(i) for c, i in customer_links(engine, contacts).items()}
    missing = {c: p for c, p in contacts.items() if c not in found}
    emails = {c: str((p.get("properties") or {}).get("email") or "").strip().lower() for c, p in missing.items()}
    by_email = find_customers(woocommerce, emails=[e for e in emails.values() if e]) if missing else {}
    new_links = []
    for contact_id, email in emails.items():
        customer = by_email.get(email)
        if customer:
            found[contact_id] = int(customer["id"])
            new_links.append({"source_key": f"{CUSTOMER_PREFIX}{customer['id']}", "hubspot_id": contact_id,
                              "content_hash": None})
    if create if create is not None else customer_policy(mapping) == "create":
        creates = [CustomerCreate(source_key=c, payload=customer_create_payload(missing[c], mapping))
                   for c in missing if c not in found and emails.get(c)]
        created = create_customers(woocommerce, engine, creates, plan.run_id) if creates else {}
        for contact_id, customer in created.items():
            found[contact_id] = int(customer["id"])
            new_links.append({"source_key": f"{CUSTOMER_PREFIX}{customer['id']}", "hubspot_id": contact_id,
                              "content_hash": None})
    if new_links:
        existing = id_map_rows(engine, CONTACT, [e["source_key"] for e in new_links])
        fresh = [e for e in new_links if not (existing.get(e["source_key"]) or {}).get("hubspot_id")]
        if fresh:
            save_id_map(engine, CONTACT, fresh, plan.run_id, side="woocommerce")
    return found


def _order_conflicts(woocommerce: Any, engine: Engine, plan: RunPlan, mapping: Any,
                     deals: Mapping[str, StagedRecord], order_of: Mapping[str, str]) -> int:
    """Deals already turned into orders whose line items no longer match the order: the shop owns the
    order, so nothing is rewritten; each difference is recorded as a conflict."""
    from woohub.core import conflicts
    from woohub.mapping.hubspot_to_woocommerce import deal_lines, deal_lines_summary, order_lines_summary
    from woohub.woocommerce.load import find_orders

    if not deals:
        return 0
    items, products, _contacts = _deal_inputs(engine, deals)
    orders = find_orders(woocommerce, [int(order_of[d]) for d in deals])
    recorded = 0
    for deal_id, record in deals.items():
        order = orders.get(int(order_of[deal_id]))
        if order is None:
            continue
        in_hubspot = deal_lines_summary(deal_lines(record.payload, items, products), order=order)
        in_shop = order_lines_summary(order)
        if in_hubspot == in_shop:
            continue
        conflict = conflicts.Conflict(
            field="line_items", woocommerce_value=json.dumps(in_shop), hubspot_value=json.dumps(in_hubspot),
            woocommerce_modified_at=modification_time(order.get("date_modified_gmt")),
            hubspot_modified_at=modification_time((record.payload.get("properties") or {}).get("hs_lastmodifieddate")),
            winner="woocommerce", policy="owner")
        if not plan.dry_run:
            recorded += conflicts.record_conflicts(engine, run_id=plan.run_id, dag_id=DAG_ID, object_type=DEAL,
                                                   woocommerce_key=order_of[deal_id], hubspot_id=deal_id,
                                                   conflicts=[conflict])
        log.warning("deal %s: its line items changed in HubSpot after order %s was made from it; the shop owns "
                    "the order, it is not rewritten (HubSpot %s, WooCommerce %s)", deal_id, order_of[deal_id],
                    in_hubspot, in_shop)
    return recorded


def _write_back(hubspot: Any, updates: Mapping[str, Mapping[str, str]], counts: dict[str, int]) -> None:
    from woohub.hubspot.load.writeback import write_back_deals

    outcomes = write_back_deals(hubspot, updates)
    counts["written_back"] = sum(1 for o in outcomes.values() if o.ok)
    bad = {k: o for k, o in outcomes.items() if not o.ok}
    for deal_id, outcome in list(bad.items())[:20]:
        log.warning("deal %s: write-back failed: %s %s", deal_id, outcome.error_code, outcome.error_message)
