"""HubSpot -> WooCommerce customer writes: reading customers as they are now, updating linked customers
in batches, creating customers without ever making a second account for one email.

WooCommerce allows one account per email and says so differently per call (recordings 100, 184, 190):
a create answers ``registration-error-email-exists``; an update answers 400
``woocommerce_rest_customer_invalid_email`` "Email address is invalid." (an email that is merely malformed
gives ``rest_invalid_param`` there, 185; a batch item skips the REST schema and meets ``WC_Customer``'s
setters instead: ``customer_invalid_email``, ``customer_invalid_billing_email``). WooCommerce compares
account emails case-insensitively but refuses a PUT of the account's own email in another case, so such a
change is not sent. The ``email=`` filter of ``GET /customers`` is exact,
case-insensitive and matches the account email only, never ``billing.email`` (191, 192).

An update that would give a customer an email another customer has is an **email conflict**: nothing of
that update is sent (the check runs before the batch; the store's own refusal, a race, is classified the
same way), and the conflict is returned naming both customers. Partial ``billing``/``shipping`` objects
merge into the customer's (187): keys not sent are kept.

Failures (not conflicts) are booked as dead letters of object type ``customer`` under the caller's
``source_key`` (with its ``source_ref``), in one transaction, and a later successful write resolves them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from woohub.core.dead_letters import record_failures, resolve_dead_letters
from woohub.staging.repository import chunks
from woohub.woocommerce.hook import BATCH_LIMIT, WooCommerceHook
from woohub.woocommerce.load.orders import AMBIGUOUS_WRITE, UNREPORTED, BatchAnswer, batch_call

log = logging.getLogger(__name__)

#: the dead letters' object type of this direction's customer writes (``contact`` is the other direction's)
DEAD_LETTER_TYPE = "customer"
EMAIL_CONFLICT, INVALID_FIELD, CUSTOMER_NOT_FOUND = "EMAIL_CONFLICT", "INVALID_FIELD", "CUSTOMER_NOT_FOUND"
#: WooCommerce's answer to an update whose email another customer has (184, 190)
EMAIL_TAKEN_ON_UPDATE = "woocommerce_rest_customer_invalid_email"
#: WooCommerce's answer to a create whose email another customer has (100)
EMAIL_TAKEN_ON_CREATE = "registration-error-email-exists"
INVALID_PARAM = "rest_invalid_param"
#: ``WC_Customer``'s setters (what a batch item meets instead of the REST schema's ``rest_invalid_param``)
SETTER_ERROR_PREFIX = "customer_invalid_"
UNKNOWN_CUSTOMER = "wc_user_invalid_id"


@dataclass(frozen=True)
class CustomerUpdate:
    """A change to one customer: ``payload`` is the ``PUT /customers/{id}`` body (``id`` is added);
    ``new_email`` the account email it sets, if it changes it; ``source_key`` names the change in results
    and dead letters, ``source_ref`` the staged record a later run re-processes."""

    customer_id: int
    payload: dict[str, Any]
    source_key: str
    new_email: str | None = None
    source_ref: str | None = None


@dataclass(frozen=True)
class CustomerCreate:
    """A customer to create (``payload`` with its ``email``), named ``source_key`` in the answer."""

    source_key: str
    payload: dict[str, Any]
    source_ref: str | None = None


@dataclass
class CustomerLoadResult:
    """What :func:`update_customers` did.

    :param updated: ``customer id -> customer`` as the store answered the update
    :param conflicts: ``{customer_id, email, other_customer_id, source_key, message}`` per update left
        unsent because another customer has its email (``other_customer_id`` ``None`` when the store refused
        the email and no owner could be found afterwards)
    :param failures: ``{source_key, error_code, error_message, source_ref}`` per update the store refused
    :param api_calls: WooCommerce calls spent (every attempt)
    """

    updated: dict[int, dict[str, Any]] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    api_calls: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {"updated": len(self.updated), "conflicts": len(self.conflicts), "failed": len(self.failures),
                "api_calls": self.api_calls}


def find_customers(hook: WooCommerceHook, *, ids: Iterable[int] = (),
                   emails: Iterable[str] = ()) -> dict[int | str, dict[str, Any]]:
    """The current customers (any role) with these ids, keyed by id (``int``), and with these account
    emails, keyed by the lower-cased email; who is not found is absent.

    Ids cost one call per 100; emails one call each (``GET /customers?email=``), so ask only for what is
    needed.
    """
    found: dict[int | str, dict[str, Any]] = {}
    for batch in chunks(sorted({int(i) for i in ids}), BATCH_LIMIT):
        params = {"include": ",".join(str(i) for i in batch), "per_page": BATCH_LIMIT, "role": "all"}
        found.update({int(c["id"]): c for c in hook.iter_records("customers", params)})
    for email in sorted({normal_email(e) for e in emails} - {""}):
        for customer in hook.iter_records("customers", {"email": email, "role": "all"}):
            if normal_email(customer.get("email")) == email:
                found[email] = customer
                break
    return found


def normal_email(value: object) -> str:
    """An email as WooCommerce compares account emails: trimmed, case-insensitive (lower-cased)."""
    return str(value or "").strip().lower()


# -- updates ------------------------------------------------------------------------------------------------

def update_customers(hook: WooCommerceHook, engine: Engine, updates: Sequence[CustomerUpdate],
                     run_id: str) -> CustomerLoadResult:
    """Apply ``updates`` through ``customers/batch`` (100 per call) after checking their new emails (see
    the module docstring); per-item errors are classified: the store refusing an email -> email conflict,
    ``rest_invalid_param`` -> ``INVALID_FIELD``, an unknown customer -> ``CUSTOMER_NOT_FOUND``."""
    _unique([u.customer_id for u in updates], "customer")
    result = CustomerLoadResult()
    calls_at_start = hook.calls_spent()
    owners = find_customers(hook, emails=[_email_of(u) for u in updates if u.new_email])
    sendable = []
    for change in updates:
        email = _email_of(change)
        owner = owners.get(email) if change.new_email and email else None
        if owner is not None and int(owner["id"]) != int(change.customer_id):
            result.conflicts.append(_conflict(change, email, int(owner["id"]), refused_by_store=False))
        elif owner is not None and "email" in change.payload and owner.get("email") != change.payload["email"]:
            sendable.append(_without_email(change))  # its own email in another case: WooCommerce would refuse it
        else:
            sendable.append(change)
    refused: list[CustomerUpdate] = []
    for batch in chunks(sendable, BATCH_LIMIT):
        answers = batch_call(hook, "customers", update=[_update_payload(u) for u in batch])
        for change, answer in zip(batch, answers, strict=True):
            if answer.outcome.ok:
                result.updated[int(change.customer_id)] = answer.record or {"id": int(change.customer_id)}
            elif answer.outcome.error_code == EMAIL_TAKEN_ON_UPDATE and "email" in change.payload:
                refused.append(change)
            else:
                result.failures.append(_classified_failure(change, answer))
    if refused:  # a race: the email was free when checked; name who has it now
        now_owners = find_customers(hook, emails=[_email_of(u) for u in refused])
        for change in refused:
            owner = now_owners.get(_email_of(change))
            if owner is not None and int(owner["id"]) == int(change.customer_id):
                result.failures.append(_update_failure(change, INVALID_FIELD, "WooCommerce refused the "
                                                       "customer's own email in another case"))
                continue
            result.conflicts.append(_conflict(change, _email_of(change), int(owner["id"]) if owner else None,
                                              refused_by_store=True))
    record_failures(engine, DEAD_LETTER_TYPE, result.failures, run_id)
    done = [u.source_key for u in updates if int(u.customer_id) in result.updated]
    if done:
        resolve_dead_letters(engine, DEAD_LETTER_TYPE, done)
    result.api_calls = hook.calls_spent() - calls_at_start
    log.info("customer updates: %s", ", ".join(f"{k}={v}" for k, v in result.counts.items()))
    return result


def _email_of(change: CustomerUpdate) -> str:
    return normal_email(change.new_email or change.payload.get("email"))


def _update_payload(change: CustomerUpdate) -> dict[str, Any]:
    payload = dict(change.payload)
    if int(payload.get("id") or change.customer_id) != int(change.customer_id):
        raise ValueError(f"update of customer {change.customer_id} carries id {payload['id']}")
    payload["id"] = int(change.customer_id)
    return payload


def _conflict(change: CustomerUpdate, email: str, other: int | None, *, refused_by_store: bool) -> dict[str, Any]:
    who = f"customer {other} has it" if other is not None else "another customer has it"
    how = "WooCommerce refused it" if refused_by_store else "not sent"
    message = (f"customer {change.customer_id}: email {email} not written ({how}): {who}, and WooCommerce "
               "allows one account per email; nothing of this update was written")
    return {"customer_id": int(change.customer_id), "email": email, "other_customer_id": other,
            "source_key": change.source_key, "message": message}


def _without_email(change: CustomerUpdate) -> CustomerUpdate:
    payload = {k: v for k, v in change.payload.items() if k != "email"}
    log.info("customer %s: email %s differs from the account's only in case; not sent", change.customer_id,
             change.payload.get("email"))
    return CustomerUpdate(customer_id=change.customer_id, payload=payload, source_key=change.source_key,
                          new_email=None, source_ref=change.source_ref)


def _classified_failure(change: CustomerUpdate, answer: BatchAnswer) -> dict[str, Any]:
    """A refused update: the schema's ``rest_invalid_param`` (single calls) and ``WC_Customer``'s setter
    errors (batch items) -> ``INVALID_FIELD``; an unknown customer -> ``CUSTOMER_NOT_FOUND``."""
    code = str(answer.outcome.error_code or "error")
    message = str(answer.outcome.error_message or "")
    if code == INVALID_PARAM:
        code, message = INVALID_FIELD, _with_params(message, answer.record)
    elif code.startswith(SETTER_ERROR_PREFIX):
        code, message = INVALID_FIELD, f"{message} ({answer.outcome.error_code})"
    elif code == UNKNOWN_CUSTOMER:
        code = CUSTOMER_NOT_FOUND
    return _update_failure(change, code, message)


def _update_failure(change: CustomerUpdate, code: str, message: str) -> dict[str, Any]:
    return {"source_key": change.source_key, "error_code": code,
            "error_message": f"customer {change.customer_id}: {message}", "source_ref": change.source_ref}


def _with_params(message: str, record: Mapping[str, Any] | None) -> str:
    """The message with WooCommerce's per-parameter reasons (``data.params``) appended."""
    data = ((record or {}).get("error") or {}).get("data") or {}
    params = data.get("params") if isinstance(data, dict) else None
    if not isinstance(params, dict) or not params:
        return message
    return f"{message} ({'; '.join(f'{k}: {v}' for k, v in params.items())})"


# -- creates ------------------------------------------------------------------------------------------------

def create_customers(hook: WooCommerceHook, engine: Engine, creates: Sequence[CustomerCreate],
                     run_id: str) -> dict[str, dict[str, Any]]:
    """Create customers through ``customers/batch`` (100 per call); ``source_key -> customer``.

    A create refused because the email has an account, or whose answer was lost, is answered with the
    customer that has the email (looked up by account email): never a second account. Other refusals are
    logged and booked as dead letters; their keys are absent from the answer.
    """
    _unique([c.source_key for c in creates], "source key")
    customers: dict[str, dict[str, Any]] = {}
    failures: list[dict[str, Any]] = []
    look_up: dict[str, tuple[CustomerCreate, BatchAnswer]] = {}
    for batch in chunks(list(creates), BATCH_LIMIT):
        answers = batch_call(hook, "customers", create=[dict(c.payload) for c in batch])
        for create, answer in zip(batch, answers, strict=True):
            code = answer.outcome.error_code
            if answer.outcome.ok and answer.record:
                customers[create.source_key] = answer.record
            elif answer.outcome.ok or code in (EMAIL_TAKEN_ON_CREATE, AMBIGUOUS_WRITE, UNREPORTED):
                look_up[create.source_key] = (create, answer)
            else:
                failures.append(_create_failure(create, answer, ""))
    if look_up:
        owners = find_customers(hook, emails=[normal_email(c.payload.get("email")) for c, _a in look_up.values()])
        for key, (create, answer) in look_up.items():
            owner = owners.get(normal_email(create.payload.get("email")))
            if owner is not None:
                customers[key] = owner
                log.info("%s: adopted customer %s, which has the email %s", key, owner["id"],
                         create.payload.get("email"))
            else:
                failures.append(_create_failure(create, answer, "; no customer has that email"))
    for failure in failures:
        log.warning("customer %s not created: %s %s", failure["source_key"], failure["error_code"],
                    failure["error_message"])
    record_failures(engine, DEAD_LETTER_TYPE, failures, run_id)
    if customers:
        resolve_dead_letters(engine, DEAD_LETTER_TYPE, list(customers))
    return customers


def _create_failure(create: CustomerCreate, answer: BatchAnswer, note: str) -> dict[str, Any]:
    return {"source_key": create.source_key, "error_code": str(answer.outcome.error_code or UNREPORTED),
            "error_message": f"{answer.outcome.error_message or ''}{note}", "source_ref": create.source_ref}


def _unique(keys: Sequence[Any], what: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if str(key) in seen:
            raise ValueError(f"{what} {key} appears twice")
        seen.add(str(key))
