"""Webhook deliveries → :class:`~woohub.webhooks.events.WebhookEvent` lists (after the signature was checked).

**WooCommerce** sends one resource per delivery: the topic in ``X-WC-Webhook-Topic`` (``order.created``,
``customer.deleted``, ``product.restored`` …), the body the resource as the REST API renders it (a deleted
one as just ``{"id": N}``; a product variation with its ``parent_id``). ``order.*`` → ``woocommerce.orders``,
``customer.*`` → ``woocommerce.customers``, ``product.*`` → ``woocommerce.products``; any other topic
(``coupon.*``, ``action.*``) is ignored, and so is a REST error body (``{"code": …, "message": …}``: WooCommerce
renders the payload when it sends, and sends the error when the resource is gone by then; it names no id). The saved webhook's ping (``webhook_id=<id>``, form-encoded, no
``X-WC-Webhook-*`` headers, no signature) is :func:`is_woocommerce_ping`.

The event's delivery id is ``<X-WC-Webhook-Delivery-ID>:<record id>``: WooCommerce derives the delivery id
from the webhook id and the current *second* (``wp_hash(id . strtotime('now'))``), so two orders created in
the same second by one webhook carry the same delivery id; with the record id they stay two events, while a
replayed delivery is still the same one.

**HubSpot** sends a JSON array of up to 100 events. ``deal.*`` → ``hubspot.deals``, ``contact.*`` →
``hubspot.contacts`` (also the generic ``object.*`` form with ``objectTypeId`` ``0-3`` / ``0-1``). Kept:
``creation``, ``propertyChange``, ``restore`` and ``merge`` (the surviving record's ``objectId``). Ignored,
deliberately: ``deletion`` and ``privacyDeletion`` (the HubSpot → WooCommerce sync never deletes in the
store and a run could only re-read a record that is gone; the nightly reconciliation reports it),
``associationChange`` (no ``objectId``), other object types, and the integration's own echoes (below). The
delivery id is ``<portalId>:<eventId>:<subscriptionId>:<objectId>:<occurredAt>``: HubSpot does not promise
``eventId`` to be unique by itself, and a retry (higher ``attemptNumber``) repeats all five.

**Echo guard**: an event with ``changeSource`` ``INTEGRATION`` whose ``sourceId`` is the receiving app's id
(the event's ``appId``, or the HubSpot connection's ``app_id``) was written by this integration itself and is
dropped, saving a run. Dropping it loses nothing: the sync records each of its own writes in the ledger and
would skip the record as its own echo anyway (``woohub.core.ledger``). Changes through a private-app token
carry that private app's id instead and are simply recorded (the ledger then skips them).

Malformed JSON, or a body of the wrong shape, is :class:`DeliveryError` (the route answers 400, nothing is
recorded); a single incomplete HubSpot event in an otherwise good batch is ignored, not fatal (a 400 would
make HubSpot retry the whole batch for days).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from woohub.webhooks import HUBSPOT, WOOCOMMERCE
from woohub.webhooks.events import WebhookEvent

WOOCOMMERCE_STREAMS = {"order": "woocommerce.orders", "customer": "woocommerce.customers",
                       "product": "woocommerce.products"}
WOOCOMMERCE_EVENTS = frozenset({"created", "updated", "deleted", "restored"})
HUBSPOT_STREAMS = {"deal": "hubspot.deals", "contact": "hubspot.contacts"}
#: the generic ``object.*`` subscriptions name the object by type id
HUBSPOT_OBJECT_TYPE_IDS = {"0-1": "contact", "0-3": "deal"}
HUBSPOT_KEPT_ACTIONS = frozenset({"creation", "propertyChange", "restore", "merge"})
HUBSPOT_IGNORED_ACTIONS = frozenset({"deletion", "privacyDeletion", "associationChange"})
_PING = re.compile(rb"webhook_id=\d+")
_ID = re.compile(r"[1-9]\d{0,30}")


class DeliveryError(ValueError):
    """A signed delivery whose body is not what its sender sends (malformed JSON, wrong shape)."""


@dataclass
class Parsed:
    """The events of one delivery and why the rest was left out (``reason -> how many``)."""

    events: list[WebhookEvent] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)

    def ignore(self, reason: str) -> None:
        self.ignored[reason] = self.ignored.get(reason, 0) + 1


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value.strip()
    return ""


def is_woocommerce_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """The request WooCommerce sends when a webhook is saved (it must get a 200 or the save fails)."""
    return not _header(headers, "X-WC-Webhook-Signature") and not _header(headers, "X-WC-Webhook-Topic") \
        and _PING.fullmatch(body.strip()) is not None


def woocommerce_topic(headers: Mapping[str, str]) -> str:
    """The delivery's topic (``X-WC-Webhook-Topic``, else ``<Resource>.<Event>``), lower case."""
    topic = _header(headers, "X-WC-Webhook-Topic")
    if not topic and _header(headers, "X-WC-Webhook-Resource"):
        topic = f"{_header(headers, 'X-WC-Webhook-Resource')}.{_header(headers, 'X-WC-Webhook-Event')}"
    return topic.lower()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise DeliveryError(f"the body is not JSON ({type(error).__name__} at {getattr(error, 'pos', '?')})") \
            from None


def _record_id(value: Any) -> str | None:
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return text if _ID.fullmatch(text) else None


def _woo_time(value: Any) -> datetime | None:
    """A REST ``*_gmt`` timestamp (``2026-01-02T03:04:05``) as naive UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def woocommerce_events(headers: Mapping[str, str], body: bytes) -> Parsed:
    """The event of one signed WooCommerce delivery (none for a topic this package does not sync)."""
    parsed = Parsed()
    topic = woocommerce_topic(headers)
    resource, _, event = topic.partition(".")
    if resource not in WOOCOMMERCE_STREAMS or event not in WOOCOMMERCE_EVENTS:
        parsed.ignore(f"topic {topic or '(none)'}")
        return parsed
    payload = _json(body)
    if not isinstance(payload, dict):
        raise DeliveryError(f"the {topic} delivery must be a JSON object, not {type(payload).__name__}")
    record_id = _record_id(payload.get("id"))
    if record_id is None and isinstance(payload.get("code"), str):
        parsed.ignore(f"{topic} REST error body")  # the resource was gone when WooCommerce built the payload
        return parsed
    if record_id is None:
        raise DeliveryError(f"the {topic} delivery must carry the resource's numeric id")
    parent_id = _record_id(payload.get("parent_id")) if resource == "product" else None
    delivery = _header(headers, "X-WC-Webhook-Delivery-ID") or "webhook-" + _header(headers, "X-WC-Webhook-ID")
    parsed.events.append(WebhookEvent(
        source=WOOCOMMERCE, delivery_id=f"{delivery}:{record_id}", topic=topic,
        stream=WOOCOMMERCE_STREAMS[resource], record_id=record_id, parent_id=parent_id,
        occurred_at=_woo_time(payload.get("date_modified_gmt")) if event != "deleted" else None))
    return parsed


def _hubspot_object(event: Mapping[str, Any]) -> tuple[str, str]:
    """``(object, action)`` of an event's ``subscriptionType`` (``deal.propertyChange`` → deal,
    propertyChange; ``object.creation`` with ``objectTypeId`` ``0-3`` → deal, creation)."""
    subscription = str(event.get("subscriptionType") or "")
    kind, _, action = subscription.partition(".")
    if kind == "object":
        kind = HUBSPOT_OBJECT_TYPE_IDS.get(str(event.get("objectTypeId") or ""), "object")
    return kind, action


def _hubspot_time(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC).replace(tzinfo=None)
    return None


def hubspot_events(body: bytes, *, own_app_ids: Collection[str] = ()) -> Parsed:
    """The events of one signed HubSpot batch (see the module for what is kept); ``own_app_ids``: app ids
    whose own writes are echoes (the events' ``appId`` always counts)."""
    batch = _json(body)
    if not isinstance(batch, list):
        raise DeliveryError(f"a HubSpot delivery must be a JSON array of events, not {type(batch).__name__}")
    parsed = Parsed()
    for event in batch:
        if not isinstance(event, dict):
            parsed.ignore("not an event object")
            continue
        kind, action = _hubspot_object(event)
        if kind not in HUBSPOT_STREAMS or action not in HUBSPOT_KEPT_ACTIONS:
            parsed.ignore(f"{kind}.{action}" if action in HUBSPOT_IGNORED_ACTIONS or kind in HUBSPOT_STREAMS
                          else "other subscription type")
            continue
        record_id, event_id = _record_id(event.get("objectId")), _record_id(event.get("eventId"))
        if record_id is None or event_id is None:
            parsed.ignore("event without objectId or eventId")
            continue
        mine = {str(event.get("appId") or ""), *map(str, own_app_ids)} - {""}
        if str(event.get("changeSource") or "").upper() == "INTEGRATION" and str(event.get("sourceId") or "") in mine:
            parsed.ignore("echo of this integration's own write")
            continue
        delivery = ":".join(str(event.get(key) or "") for key in ("portalId", "eventId", "subscriptionId",
                                                                   "objectId", "occurredAt"))
        parsed.events.append(WebhookEvent(
            source=HUBSPOT, delivery_id=delivery, topic=f"{kind}.{action}", stream=HUBSPOT_STREAMS[kind],
            record_id=record_id, occurred_at=_hubspot_time(event.get("occurredAt"))))
    return parsed


__all__ = ["HUBSPOT_STREAMS", "WOOCOMMERCE_STREAMS", "DeliveryError", "Parsed", "hubspot_events",
           "is_woocommerce_ping", "woocommerce_events", "woocommerce_topic"]
