"""Exactly one WooCommerce order per HubSpot deal, even when a run dies between the create and its record.

The protocol (table ``order_intent``, one row per deal):

1. **Settle** the deals' earlier unsettled intents (state ``requested``, left by any run that died or got no
   answer): look their orders up by reference (:func:`find_deal_orders`) and *adopt* what is found (state
   ``adopted`` with the order id). An intent whose order is not found is *dropped* (the create never
   happened) once it is older than ``pending_grace``; a younger one is left ``requested`` (the store may
   still be working on it) and reported as ``AMBIGUOUS_WRITE``.
2. A deal with a settled intent (``created``/``adopted``) is never created again: its order is *existing*.
3. Intents for the remaining plans are written in **one transaction before anything is sent**.
4. The orders are created through ``orders/batch`` (at most 100 per call). WooCommerce makes no checks, so
   the caller passes only plans that passed its own.
5. Each answer is recorded: created -> ``created`` + order id; a per-item error -> the intent is deleted
   (nothing was created) and the failure returned; an ambiguous failure (timeout, dropped connection, 5xx:
   the store may have created the orders) -> step 1 again at once for those deals, without dropping;
   whatever is still unknown stays ``requested`` for the next run and is reported as ``AMBIGUOUS_WRITE``.

**References.** Each order carries ``transaction_id`` ``hubspot-deal-<id>`` (what ``search=`` finds;
it does not search meta values, recordings 172-179) and meta ``hubspot_deal_id``. ``search`` is a
*substring* match over the transaction id and the billing email and names, so ``hubspot-deal-12`` also
finds ``hubspot-deal-123``: an order is a deal's only when its meta ``hubspot_deal_id`` says so.

Failures are returned (``{source_key: deal id, error_code, error_message}``) for the caller's dead letters;
this module writes ``order_intent`` only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, select, update

from woohub.http.errors import AmbiguousWriteError, AuthenticationError, FatalHTTPError, RetryableHTTPError
from woohub.http.outcomes import RecordOutcome
from woohub.mapping.order_link import CREATED_VIA, DEAL_META_KEY, REFERENCE_PREFIX, order_reference
from woohub.staging.repository import chunks, utcnow
from woohub.staging.schema import order_intent
from woohub.woocommerce.hook import BATCH_LIMIT, WooCommerceHook, batch_outcomes, gmt_param

log = logging.getLogger(__name__)

REQUESTED, CREATED, ADOPTED = "requested", "created", "adopted"
SETTLED_STATES = (CREATED, ADOPTED)
AMBIGUOUS_WRITE = "AMBIGUOUS_WRITE"
UNREPORTED = "UNREPORTED"
#: up to this many unsettled deals are looked up one reference each; more by one walk of our orders
PER_REFERENCE_LIMIT = 3
#: how far before the earliest intent the walk starts: the store's clock is not the worker's
SETTLE_MARGIN = timedelta(days=1)
#: an intent not found in the store is dropped (and the deal created again) only once it is this old: a
#: create the store is still working on (a slow request whose client gave up) must not be made twice
PENDING_GRACE = timedelta(minutes=10)
#: order statuses searched when settling: ``any`` leaves trashed orders out, and a trashed order still is
#: the deal's order
SEARCH_STATUSES = ("any", "trash")


@dataclass(frozen=True)
class OrderPlan:
    """One order to create for a deal: the ``POST /orders`` payload and its hash (stored with the intent).

    :func:`create_orders` sets the payload's ``transaction_id`` to :func:`order_reference`, adds the meta
    ``hubspot_deal_id`` and defaults ``created_via`` to ``hubspot``; a payload that already holds another
    reference or deal id is refused (``ValueError``).
    """

    deal_id: str
    payload: dict[str, Any]
    payload_hash: str


@dataclass
class OrderLoadResult:
    """What :func:`create_orders` did, per deal id.

    :param created: orders this call created
    :param adopted: orders an earlier create (whose answer was lost) had made, found by reference
    :param existing: orders of deals that already had a settled intent (an order that no longer exists in
        the store is given as ``{"id": <order id>}`` only)
    :param failures: ``{source_key, error_code, error_message}`` per deal without an order: the store's
        per-item error, or ``AMBIGUOUS_WRITE`` when it is not known yet whether the order exists
    :param dropped: deals whose earlier unsettled intent had no order (the create never happened); this
        call planned them again
    :param would_create: in a dry run, the deals a real run would create (or settle first)
    :param api_calls: WooCommerce calls spent (every attempt)
    """

    created: dict[str, dict[str, Any]] = field(default_factory=dict)
    adopted: dict[str, dict[str, Any]] = field(default_factory=dict)
    existing: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    would_create: int = 0
    api_calls: int = 0
    dry_run: bool = False

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def counts(self) -> dict[str, int]:
        """The numbers of the result, for logs, run stats and XCom."""
        return {"created": len(self.created), "adopted": len(self.adopted), "existing": len(self.existing),
                "failed": self.failed, "dropped": len(self.dropped), "would_create": self.would_create,
                "api_calls": self.api_calls}

    def fail(self, deal_id: str, code: str, message: str) -> None:
        self.failures.append({"source_key": deal_id, "error_code": code, "error_message": message})


@dataclass(frozen=True)
class Intent:
    """One ``order_intent`` row."""

    deal_id: str
    reference: str
    state: str
    order_id: str | None
    payload_hash: str
    run_id: str
    requested_at: datetime
    settled_at: datetime | None


@dataclass
class Settlement:
    """What settling unsettled intents found: adopted orders, dropped intents, intents still unknown."""

    adopted: dict[str, dict[str, Any]] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    pending: dict[str, Intent] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchAnswer:
    """One item of a WooCommerce batch call: its outcome, and the store's answer for it (the record
    written, or the item's ``{id, error}``; ``None`` when there was no answer)."""

    outcome: RecordOutcome
    record: dict[str, Any] | None


# -- the protocol ---------------------------------------------------------------------------------------

def create_orders(hook: WooCommerceHook, engine: Engine, plans: Sequence[OrderPlan], run_id: str, *,
                  dry_run: bool = False, pending_grace: timedelta = PENDING_GRACE) -> OrderLoadResult:
    """Create one order per plan's deal, exactly once (see the module docstring for the protocol).

    Raises only on systemic errors (authentication, the store refusing calls until the retries ran out),
    after deleting the intents of the creates that were never applied; intents of creates already answered
    are recorded first.
    """
    plans = _unique(plans)
    payloads = {p.deal_id: stamped_payload(p) for p in plans}  # a bad payload fails before anything is written
    result = OrderLoadResult(dry_run=dry_run)
    calls_at_start = hook.calls_spent()
    intents = load_intents(engine, [p.deal_id for p in plans])
    if dry_run:
        result.would_create = sum(1 for p in plans if p.deal_id not in intents
                                  or intents[p.deal_id].state == REQUESTED)
        return result
    unsettled = {d: i for d, i in intents.items() if i.state == REQUESTED}
    settlement = settle_intents(hook, engine, unsettled, drop_before=utcnow() - pending_grace)
    result.adopted.update(settlement.adopted)
    result.dropped.extend(settlement.dropped)
    for deal_id, intent in settlement.pending.items():
        result.fail(deal_id, AMBIGUOUS_WRITE, _pending_message(intent))
    settled = {d: i for d, i in intents.items() if i.state in SETTLED_STATES}
    result.existing.update(_existing_orders(hook, settled))
    handled = set(result.adopted) | set(settlement.pending) | set(settled)
    to_create = [p for p in plans if p.deal_id not in handled]
    if to_create:
        write_intents(engine, to_create, run_id)
        _send_creates(hook, engine, to_create, payloads, result)
    result.api_calls = hook.calls_spent() - calls_at_start
    log.info("orders for %d deal(s): %s", len(plans), ", ".join(f"{k}={v}" for k, v in result.counts.items()))
    return result


def _unique(plans: Sequence[OrderPlan]) -> list[OrderPlan]:
    seen: set[str] = set()
    for plan in plans:
        if plan.deal_id in seen:
            raise ValueError(f"deal {plan.deal_id} is planned twice")
        seen.add(plan.deal_id)
    return list(plans)


def _send_creates(hook: WooCommerceHook, engine: Engine, plans: Sequence[OrderPlan],
                  payloads: Mapping[str, dict[str, Any]], result: OrderLoadResult) -> None:
    """Steps 4 and 5, one batch call at a time: each call's answers are recorded before the next is sent."""
    batches = list(chunks(list(plans), BATCH_LIMIT))
    for number, batch in enumerate(batches):
        try:
            answers = batch_call(hook, "orders", create=[payloads[p.deal_id] for p in batch])
        except (RetryableHTTPError, AuthenticationError):
            # nothing of this call (nor of the later ones, never sent) reached the store
            drop_intents(engine, [p.deal_id for b in batches[number:] for p in b])
            raise
        ambiguous = _record_answers(engine, batch, answers, result)
        if ambiguous:
            again = settle_intents(hook, engine, ambiguous, drop_before=None)
            result.adopted.update(again.adopted)
            reasons = _ambiguous_reasons(answers, batch)
            for deal_id in again.pending:
                code, message = reasons[deal_id]
                result.fail(deal_id, AMBIGUOUS_WRITE, f"{message} ({code}); the order was not found yet; a later "
                            "run settles it by its reference")


def _record_answers(engine: Engine, plans: Sequence[OrderPlan], answers: Sequence[BatchAnswer],
                    result: OrderLoadResult) -> dict[str, Intent]:
    """Record one call's answers in one transaction; returns the intents whose fate is unknown."""
    now = utcnow()
    created: dict[str, dict[str, Any]] = {}
    rejected: list[str] = []
    unknown: list[str] = []
    for plan, answer in zip(plans, answers, strict=True):
        outcome = answer.outcome
        if outcome.ok and outcome.id is not None:
            created[plan.deal_id] = answer.record or {"id": int(outcome.id)}
        elif outcome.error_code in (AMBIGUOUS_WRITE, UNREPORTED) or outcome.ok:
            unknown.append(plan.deal_id)
        else:
            rejected.append(plan.deal_id)
            result.fail(plan.deal_id, str(outcome.error_code), str(outcome.error_message or ""))
    with engine.begin() as connection:
        for deal_id, order in created.items():
            connection.execute(update(order_intent).where(order_intent.c.deal_id == deal_id).values(
                state=CREATED, order_id=str(order["id"]), settled_at=now))
        for batch in chunks(rejected):
            connection.execute(delete(order_intent).where(and_(order_intent.c.deal_id.in_(batch),
                                                               order_intent.c.state == REQUESTED)))
    result.created.update(created)
    return load_intents(engine, unknown) if unknown else {}


def _ambiguous_reasons(answers: Sequence[BatchAnswer], plans: Sequence[OrderPlan]) -> dict[str, tuple[str, str]]:
    """``deal id -> (code, message)`` of the answers that leave the create's fate unknown."""
    return {p.deal_id: (str(a.outcome.error_code or UNREPORTED), str(a.outcome.error_message or ""))
            for p, a in zip(plans, answers, strict=True) if not a.outcome.ok or a.outcome.id is None}


def stamped_payload(plan: OrderPlan) -> dict[str, Any]:
    """The plan's payload with its reference, the deal meta and ``created_via`` (see :class:`OrderPlan`)."""
    payload = dict(plan.payload)
    reference = order_reference(plan.deal_id)
    if payload.get("transaction_id") not in (None, "", reference):
        raise ValueError(f"deal {plan.deal_id}: the payload's transaction_id {payload['transaction_id']!r} is "
                         f"not its reference {reference!r}")
    payload["transaction_id"] = reference
    meta = [dict(m) for m in payload.get("meta_data") or []]
    named = [m for m in meta if m.get("key") == DEAL_META_KEY]
    if any(str(m.get("value")) != str(plan.deal_id) for m in named):
        raise ValueError(f"deal {plan.deal_id}: the payload's meta {DEAL_META_KEY} names another deal")
    if not named:
        meta.append({"key": DEAL_META_KEY, "value": str(plan.deal_id)})
    payload["meta_data"] = meta
    payload.setdefault("created_via", CREATED_VIA)
    return payload


def _pending_message(intent: Intent) -> str:
    return (f"the create of run {intent.run_id} (requested {intent.requested_at.isoformat(timespec='seconds')} "
            "UTC) got no answer and its order is not in the store yet; it is settled by a later run, not sent "
            "again now")


def _existing_orders(hook: WooCommerceHook, settled: Mapping[str, Intent]) -> dict[str, dict[str, Any]]:
    """The current orders of settled intents (``{"id": ...}`` only for one the store no longer has)."""
    if not settled:
        return {}
    orders = find_orders(hook, [int(i.order_id) for i in settled.values() if i.order_id])
    return {deal_id: orders.get(int(i.order_id or 0)) or {"id": int(i.order_id or 0)}
            for deal_id, i in settled.items()}


# -- settling -------------------------------------------------------------------------------------------

def settle_pending_orders(hook: WooCommerceHook, engine: Engine, deal_ids: Iterable[str] | None = None, *,
                          pending_grace: timedelta = PENDING_GRACE) -> Settlement:
    """Step 1 on its own, for the unsettled intents of ``deal_ids`` (all unsettled intents when ``None``).

    Run it before checking deals against the catalogue: an order whose create answer was lost has already
    taken its stock, so the deal it belongs to could fail the stock check it passed before. After it,
    :func:`orders_for_deals` knows the adopted orders.
    """
    if deal_ids is None:
        with engine.connect() as connection:
            rows = connection.execute(select(order_intent).where(order_intent.c.state == REQUESTED))
            unsettled = {row.deal_id: Intent(**dict(row._mapping)) for row in rows}
    else:
        unsettled = {d: i for d, i in load_intents(engine, deal_ids).items() if i.state == REQUESTED}
    return settle_intents(hook, engine, unsettled, drop_before=utcnow() - pending_grace)


def settle_intents(hook: WooCommerceHook, engine: Engine, intents: Mapping[str, Intent], *,
                   drop_before: datetime | None) -> Settlement:
    """Look the orders of unsettled ``intents`` up by reference: found ones are adopted; intents requested
    before ``drop_before`` (naive UTC) whose order is not found are deleted; the rest stay ``requested``
    (``drop_before`` ``None``: none is deleted)."""
    settlement = Settlement()
    if not intents:
        return settlement
    earliest = min(i.requested_at for i in intents.values())
    found = find_deal_orders(hook, list(intents), since=earliest.replace(tzinfo=UTC))
    now = utcnow()
    with engine.begin() as connection:
        for deal_id, intent in intents.items():
            order = found.get(deal_id)
            condition = and_(order_intent.c.deal_id == deal_id, order_intent.c.state == REQUESTED)
            if order is not None:
                connection.execute(update(order_intent).where(condition).values(
                    state=ADOPTED, order_id=str(order["id"]), settled_at=now))
                settlement.adopted[deal_id] = order
                log.info("deal %s: adopted order %s, created by run %s whose answer was lost", deal_id,
                         order["id"], intent.run_id)
            elif drop_before is not None and intent.requested_at <= drop_before:
                connection.execute(delete(order_intent).where(condition))
                settlement.dropped.append(deal_id)
                log.info("deal %s: no order with reference %s; the create of run %s never happened", deal_id,
                         intent.reference, intent.run_id)
            else:
                settlement.pending[deal_id] = intent
    return settlement


def find_deal_orders(hook: WooCommerceHook, deal_ids: Sequence[str], *,
                     since: datetime | None = None) -> dict[str, dict[str, Any]]:
    """``deal id -> order`` for the deals whose order exists (trashed ones included), found by reference
    and confirmed by the meta ``hubspot_deal_id``; the lowest order id when a deal has several.

    Up to :data:`PER_REFERENCE_LIMIT` deals (or without ``since``) are searched one reference each; more by
    one walk of every order whose reference starts with ``hubspot-deal-``, created after ``since`` (an aware
    time; :data:`SETTLE_MARGIN` earlier, because the store's clock is not the worker's).
    """
    wanted = {str(d) for d in deal_ids}
    if not wanted:
        return {}
    if since is None or len(wanted) <= PER_REFERENCE_LIMIT:
        candidates = [o for deal_id in sorted(wanted) for o in _search_orders(hook, order_reference(deal_id))]
    else:
        after = {"after": gmt_param(since - SETTLE_MARGIN), "dates_are_gmt": "true"}
        candidates = list(_search_orders(hook, REFERENCE_PREFIX, after))
    by_deal: dict[str, list[dict[str, Any]]] = {}
    for order in candidates:
        deal_id = deal_of(order)
        if deal_id in wanted and all(o["id"] != order["id"] for o in by_deal.get(deal_id, [])):
            by_deal.setdefault(deal_id, []).append(order)
    found = {}
    for deal_id, orders in by_deal.items():
        orders.sort(key=lambda o: int(o["id"]))
        if len(orders) > 1:
            log.warning("deal %s has %d orders (%s); keeping the first", deal_id, len(orders),
                        ", ".join(str(o["id"]) for o in orders))
        found[deal_id] = orders[0]
    return found


def _search_orders(hook: WooCommerceHook, text: str,
                   params: Mapping[str, str] | None = None) -> Iterable[dict[str, Any]]:
    for status in SEARCH_STATUSES:
        yield from hook.iter_records("orders", {**(params or {}), "search": text, "status": status})


def deal_of(order: Mapping[str, Any]) -> str | None:
    """The deal id the order's meta ``hubspot_deal_id`` names, if any."""
    for meta in order.get("meta_data") or []:
        if meta.get("key") == DEAL_META_KEY and meta.get("value") not in (None, ""):
            return str(meta["value"])
    return None


def find_orders(hook: WooCommerceHook, order_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """``order id -> order`` for the orders that exist (trashed ones included), 100 ids per call."""
    wanted = sorted({int(i) for i in order_ids})
    found: dict[int, dict[str, Any]] = {}
    for status in SEARCH_STATUSES:
        missing = [i for i in wanted if i not in found]
        for batch in chunks(missing, BATCH_LIMIT):
            params = {"include": ",".join(str(i) for i in batch), "per_page": BATCH_LIMIT, "status": status}
            found.update({int(o["id"]): o for o in hook.iter_records("orders", params)})
    return found


# -- the intent table -----------------------------------------------------------------------------------

def load_intents(engine: Engine, deal_ids: Iterable[str]) -> dict[str, Intent]:
    """``deal id -> intent`` for the deals that have one."""
    ids = sorted({str(d) for d in deal_ids})
    intents: dict[str, Intent] = {}
    with engine.connect() as connection:
        for batch in chunks(ids):
            for row in connection.execute(select(order_intent).where(order_intent.c.deal_id.in_(batch))):
                intents[row.deal_id] = Intent(**dict(row._mapping))
    return intents


def write_intents(engine: Engine, plans: Sequence[OrderPlan], run_id: str) -> None:
    """Intents (state ``requested``) for ``plans``, in one transaction; a deal that already has one makes
    the whole write fail (``IntegrityError``), before anything is sent."""
    now = utcnow()
    rows = [{"deal_id": p.deal_id, "reference": order_reference(p.deal_id), "state": REQUESTED, "order_id": None,
             "payload_hash": p.payload_hash, "run_id": run_id, "requested_at": now, "settled_at": None}
            for p in plans]
    with engine.begin() as connection:
        for batch in chunks(rows):
            connection.execute(order_intent.insert(), batch)


def drop_intents(engine: Engine, deal_ids: Iterable[str]) -> None:
    """Delete the still ``requested`` intents of ``deal_ids`` (their creates provably never happened)."""
    with engine.begin() as connection:
        for batch in chunks(sorted({str(d) for d in deal_ids})):
            connection.execute(delete(order_intent).where(and_(order_intent.c.deal_id.in_(batch),
                                                               order_intent.c.state == REQUESTED)))


def orders_for_deals(engine: Engine, deal_ids: Iterable[str]) -> dict[str, str]:
    """``deal id -> order id`` of the deals whose intent is settled (an order was created or adopted)."""
    return {d: str(i.order_id) for d, i in load_intents(engine, deal_ids).items()
            if i.state in SETTLED_STATES and i.order_id}


# -- batch calls with the store's answers -----------------------------------------------------------------

def batch_call(hook: WooCommerceHook, resource: str, *, create: Sequence[Mapping[str, Any]] = (),
               update: Sequence[Mapping[str, Any]] = ()) -> list[BatchAnswer]:
    """One ``/<resource>/batch`` call (at most 100 items), one answer per item in input order: creates
    first, then updates; outcomes keyed like :meth:`WooCommerceHook.batch` (``create:<position>``,
    ``update:<id>``) and with the store's record for each item.

    As in the hook, a call with creates is not retried after an ambiguous failure: every item then fails
    with ``AMBIGUOUS_WRITE``; another error of the whole call fails every item with its code; a
    transient error whose retries ran out and authentication errors are raised.
    """
    items = ([("create", f"create:{n}", dict(r)) for n, r in enumerate(create)]
             + [("update", f"update:{r['id']}", dict(r)) for r in update])
    if len(items) > BATCH_LIMIT:
        raise ValueError(f"a batch call takes at most {BATCH_LIMIT} items, not {len(items)}")
    if not items:
        return []
    body: dict[str, list[Any]] = {}
    for action, _key, payload in items:
        body.setdefault(action, []).append(payload)
    try:
        response = hook.request("POST", f"/{resource.strip('/')}/batch", json=body, idempotent=not create)
        answer = response.json()
        if not isinstance(answer, dict):
            raise ValueError("the batch answer is not an object")
    except AuthenticationError:
        raise
    except FatalHTTPError as error:
        code = AMBIGUOUS_WRITE if isinstance(error, AmbiguousWriteError) else (error.error_id or f"HTTP_{error.status}")
        return [BatchAnswer(RecordOutcome.failure(key, code, error.message), None) for _a, key, _p in items]
    except ValueError as error:  # a 2xx without a readable answer: applied or not, nobody knows
        code = AMBIGUOUS_WRITE if create else UNREPORTED
        return [BatchAnswer(RecordOutcome.failure(key, code, f"unreadable batch answer: {error}"), None)
                for _a, key, _p in items]
    outcomes = batch_outcomes(items, answer)
    records = {action: list(answer.get(action) or []) for action in ("create", "update")}
    position = {"create": 0, "update": 0}
    answers = []
    for (action, _key, _payload), outcome in zip(items, outcomes, strict=True):
        index = position[action]
        position[action] += 1
        record = records[action][index] if index < len(records[action]) else None
        answers.append(BatchAnswer(outcome, record if isinstance(record, dict) else None))
    return answers
