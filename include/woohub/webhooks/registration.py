"""Registering the webhooks woohub needs, idempotently: WooCommerce webhooks and HubSpot app subscriptions.

WooCommerce (:func:`register_woocommerce_webhooks`): one webhook per topic of :data:`WOOCOMMERCE_TOPICS`, named
``woohub <topic> (secret <fingerprint>)`` — the name is how woohub knows its own webhooks (others' are never
touched), and the fingerprint (6 hex digits of the secret's SHA-256) is how it sees a changed secret, since
WooCommerce never returns a webhook's secret. One ``GET /webhooks`` page walk, then at most one
``POST /webhooks/batch`` with the missing topics (created) and the own webhooks whose delivery URL, secret or
status (``active``; a webhook WooCommerce disabled after failed deliveries is re-activated) differ.
WooCommerce pings each new webhook's URL; the REST API creates the webhook whatever the ping got.

HubSpot (:func:`register_hubspot_subscriptions`): the app's webhook settings (``targetUrl``; the throttling
kept) and one active subscription per event of :func:`hubspot_event_types` — contact and deal creation and
deletion, and property changes of the properties the HubSpot -> WooCommerce sync reads (the contact fields
of ``mapping/hubspot_to_woocommerce/mapping.yaml`` and the deal properties that decide an order). The
webhooks API takes the developer account's API key (``?hapikey=``), not the portal token, so these calls go
through their own session to the hook's base URL; subscriptions of other event types are left alone.

The secret WooCommerce signs with lives in the WooCommerce connection's extra ``webhook_secret``
(:func:`woocommerce_webhook_secret`): generated with :func:`secrets.token_urlsafe` when absent and written
back with :func:`woohub.core.connections.update_connection_extra`; when that cannot store it (an
``AIRFLOW_CONN_*`` environment connection, a task without a way to write connections) nothing is
registered: :class:`WebhookSecretNotStored` carries the generated secret for the CLI to print to its terminal
(never to a log), :func:`register_from_params` (the DAG task) just asks for the secret to be set.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

log = logging.getLogger(__name__)

WOOCOMMERCE_TOPICS = (
    "order.created", "order.updated", "order.deleted", "order.restored",
    "customer.created", "customer.updated", "customer.deleted",
    "product.created", "product.updated", "product.deleted", "product.restored",
)
NAME_PREFIX = "woohub "
WOOCOMMERCE_PATH, HUBSPOT_PATH = "/woohub/webhooks/woocommerce", "/woohub/webhooks/hubspot"
#: deal properties whose change can change the order a deal makes (stage, money, pipeline, name, currency)
DEAL_PROPERTIES = ("dealstage", "amount", "pipeline", "dealname", "deal_currency_code", "closedate")
DEFAULT_THROTTLING = {"maxConcurrentRequests": 10, "period": "SECONDLY"}


class WebhookRegistrationError(Exception):
    """A registration call failed: the API, the call and the vendor's message (never a key or secret)."""


class WebhookSecretMissing(WebhookRegistrationError):
    """The WooCommerce connection has no ``webhook_secret`` and this process cannot store a new one."""


class WebhookSecretNotStored(WebhookSecretMissing):
    """A secret was generated but could not be stored in the connection; :attr:`secret` is for the CLI's
    terminal only (it is not in ``str(error)``)."""

    def __init__(self, message: str, secret: str) -> None:
        super().__init__(message)
        self.secret = secret

    def __repr__(self) -> str:
        return f"WebhookSecretNotStored({str(self)!r})"


@dataclass(frozen=True)
class SecretSource:
    secret: str
    generated: bool
    stored_in: str | None  # where a generated secret was stored ("metadata database", ...)

    def __repr__(self) -> str:
        return f"SecretSource(generated={self.generated}, stored_in={self.stored_in!r})"


def delivery_urls(base_url: str) -> tuple[str, str]:
    """The WooCommerce and HubSpot delivery URLs below the Airflow base URL."""
    base = base_url.rstrip("/")
    return base + WOOCOMMERCE_PATH, base + HUBSPOT_PATH


def secret_fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:6]


def webhook_name(topic: str, secret: str) -> str:
    return f"{NAME_PREFIX}{topic} (secret {secret_fingerprint(secret)})"


def woocommerce_webhook_secret(conn_id: str, extra: Mapping[str, Any]) -> SecretSource:
    """The connection's ``webhook_secret``, or a new one stored into the connection; raises
    :class:`WebhookSecretNotStored` when the new one could not be stored."""
    existing = extra.get("webhook_secret")
    if existing:
        return SecretSource(str(existing), generated=False, stored_in=None)
    from woohub.core.connections import update_connection_extra

    secret = secrets.token_urlsafe(32)
    stored = update_connection_extra(conn_id, {"webhook_secret": secret})
    if stored is None:
        raise WebhookSecretNotStored(
            f"connection {conn_id!r} has no extra 'webhook_secret' and this process cannot write the connection "
            "(an AIRFLOW_CONN_* environment variable, or no access to Airflow's connections): put a secret into "
            f"its extra as \"webhook_secret\" and register again", secret)
    return SecretSource(secret, generated=True, stored_in=stored)


# -- WooCommerce ------------------------------------------------------------------------------------------


def _woocommerce_webhooks(hook: Any) -> list[dict[str, Any]]:
    return list(hook.iter_records("webhooks", {"status": "all"}))


def register_woocommerce_webhooks(hook: Any, delivery_url: str, secret: str, *,
                                  dry_run: bool = False) -> list[dict[str, Any]]:
    """Make the store's webhooks match :data:`WOOCOMMERCE_TOPICS` (see the module docstring); one row per
    topic: ``{"topic", "action": "create" | "update" | "keep", "id", "changes"}`` (``id`` None for a create
    in a dry run). ``hook`` is a :class:`~woohub.woocommerce.WooCommerceHook`."""
    own: dict[str, dict[str, Any]] = {}
    for w in _woocommerce_webhooks(hook):
        if str(w.get("name", "")).startswith(NAME_PREFIX) and w.get("topic") in WOOCOMMERCE_TOPICS:
            own.setdefault(w["topic"], w)
    rows, create, update = [], [], []
    for topic in WOOCOMMERCE_TOPICS:
        name = webhook_name(topic, secret)
        current = own.get(topic)
        if current is None:
            rows.append({"topic": topic, "action": "create", "id": None, "changes": ["new"]})
            create.append({"name": name, "topic": topic, "delivery_url": delivery_url, "secret": secret})
            continue
        changes = [field for field, differs in (("delivery_url", current.get("delivery_url") != delivery_url),
                                                ("secret", current.get("name") != name),
                                                ("status", current.get("status") != "active")) if differs]
        rows.append({"topic": topic, "action": "update" if changes else "keep", "id": current["id"],
                     "changes": changes})
        if changes:
            update.append({"id": current["id"], "name": name, "delivery_url": delivery_url, "secret": secret,
                           "status": "active"})
    if dry_run or not (create or update):
        return rows
    body: dict[str, Any] = {}
    if create:
        body["create"] = create
    if update:
        body["update"] = update
    answer = hook.request("POST", "/webhooks/batch", json=body, idempotent=not create).json()
    failures = [item["error"] for part in ("create", "update") for item in answer.get(part, [])
                if isinstance(item, dict) and "error" in item]
    if failures:
        raise WebhookRegistrationError(
            "WooCommerce refused webhook changes: " + "; ".join(f"{e.get('code')}: {e.get('message')}"
                                                                for e in failures))
    created = iter(answer.get("create", []))
    for row in rows:
        if row["action"] == "create":
            row["id"] = next(created)["id"]
    return rows


def list_woocommerce_webhooks(hook: Any) -> list[dict[str, Any]]:
    """Every webhook of the store (woohub's and others'): id, name, status, topic, delivery_url."""
    return [{k: w.get(k) for k in ("id", "name", "status", "topic", "delivery_url")}
            for w in _woocommerce_webhooks(hook)]


# -- HubSpot ----------------------------------------------------------------------------------------------


def hubspot_event_types(mapping: Any = None) -> list[tuple[str, str | None]]:
    """``(eventType, propertyName)`` pairs woohub subscribes to: contact and deal creation/deletion and the
    property changes the HubSpot -> WooCommerce sync acts on."""
    from woohub.mapping.hubspot_to_woocommerce.config import mapping_or_packaged

    contact_fields = list(mapping_or_packaged(mapping).customers.fields)
    pairs: list[tuple[str, str | None]] = [("contact.creation", None), ("contact.deletion", None),
                                           ("deal.creation", None), ("deal.deletion", None)]
    pairs += [("contact.propertyChange", name) for name in contact_fields]
    pairs += [("deal.propertyChange", name) for name in DEAL_PROPERTIES]
    return pairs


class _DeveloperApi:
    """The webhooks API of one app, authenticated with the developer API key (kept out of every message)."""

    def __init__(self, session: requests.Session, base_url: str, app_id: int | str, key: str) -> None:
        self.session, self.base, self.app_id, self._key = session, base_url.rstrip("/"), app_id, key
        self.calls = 0

    def call(self, method: str, path: str, body: Any = None, *, missing_ok: bool = False) -> Any:
        self.calls += 1
        route = f"/webhooks/v3/{self.app_id}/{path}"
        try:
            response = self.session.request(method, self.base + route, params={"hapikey": self._key}, json=body,
                                            timeout=(10, 30))
        except requests.RequestException as exc:
            raise WebhookRegistrationError(f"HubSpot {method} {route}: {type(exc).__name__}") from None
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code >= 400:
            try:
                detail = response.json().get("message", "")
            except ValueError:
                detail = response.text[:200]
            raise WebhookRegistrationError(f"HubSpot {method} {route} answered {response.status_code}: {detail}")
        return response.json() if response.content else None


def _developer_api(hook_or_session: Any, app_id: int | str, developer_api_key: str,
                   base_url: str | None) -> _DeveloperApi:
    if isinstance(hook_or_session, requests.Session):
        if not base_url:
            raise ValueError("base_url is needed with a plain requests.Session")
        return _DeveloperApi(hook_or_session, base_url, app_id, developer_api_key)
    hook_or_session.get_conn()  # resolves the connection's base URL
    return _DeveloperApi(requests.Session(), base_url or hook_or_session.base_url, app_id, developer_api_key)


def register_hubspot_subscriptions(hook_or_session: Any, app_id: int | str, developer_api_key: str,
                                   target_url: str, *, dry_run: bool = False, base_url: str | None = None,
                                   event_types: Iterable[tuple[str, str | None]] | None = None,
                                   ) -> list[dict[str, Any]]:
    """Set the app's target URL and make sure each wanted subscription exists and is active; one row for the
    settings (``{"topic": "settings", ...}``) and one per ``(eventType, propertyName)``. ``hook_or_session``:
    a :class:`~woohub.hubspot.HubSpotHook` (its base URL) or a ``requests.Session`` with ``base_url``."""
    api = _developer_api(hook_or_session, app_id, developer_api_key, base_url)
    wanted = list(event_types) if event_types is not None else hubspot_event_types()
    rows: list[dict[str, Any]] = []
    settings = api.call("GET", "settings", missing_ok=True)
    if settings is None or settings.get("targetUrl") != target_url:
        rows.append({"topic": "settings", "action": "update" if settings else "create", "id": None,
                     "changes": ["targetUrl"]})
        if not dry_run:
            api.call("PUT", "settings", {"targetUrl": target_url,
                                         "throttling": (settings or {}).get("throttling") or DEFAULT_THROTTLING})
    else:
        rows.append({"topic": "settings", "action": "keep", "id": None, "changes": []})
    existing = {(s["eventType"], s.get("propertyName")): s
                for s in (api.call("GET", "subscriptions") or {}).get("results", [])}
    activate = []
    for event_type, name in wanted:
        label = event_type if name is None else f"{event_type}:{name}"
        current = existing.get((event_type, name))
        if current is None:
            rows.append({"topic": label, "action": "create", "id": None, "changes": ["new"]})
            if not dry_run:
                body: dict[str, Any] = {"eventType": event_type, "active": True}
                if name is not None:
                    body["propertyName"] = name
                rows[-1]["id"] = api.call("POST", "subscriptions", body)["id"]
        elif not current.get("active"):
            rows.append({"topic": label, "action": "update", "id": current["id"], "changes": ["active"]})
            activate.append({"id": int(current["id"]), "active": True})
        else:
            rows.append({"topic": label, "action": "keep", "id": current["id"], "changes": []})
    if activate and not dry_run:
        api.call("POST", "subscriptions/batch/update", {"inputs": activate})
    return rows


def list_hubspot_subscriptions(hook_or_session: Any, app_id: int | str, developer_api_key: str, *,
                               base_url: str | None = None) -> dict[str, Any]:
    api = _developer_api(hook_or_session, app_id, developer_api_key, base_url)
    settings = api.call("GET", "settings", missing_ok=True)
    return {"targetUrl": (settings or {}).get("targetUrl"),
            "subscriptions": (api.call("GET", "subscriptions") or {}).get("results", [])}


# -- both, from connections ---------------------------------------------------------------------------


def hubspot_app_credentials(extra: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(app_id, developer_api_key)`` from the HubSpot connection's extra, or None when either is missing."""
    app_id, key = extra.get("app_id"), extra.get("developer_api_key")
    return (str(app_id), str(key)) if app_id and key else None


def register_all(base_url: str, *, woocommerce_conn_id: str = "woocommerce_default",
                 hubspot_conn_id: str = "hubspot_default", dry_run: bool = False) -> dict[str, Any]:
    """Both systems from their connections: ``{"woocommerce": rows, "hubspot": rows | None,
    "secret": SecretSource | None, "hubspot_skipped": reason | None}``. Raises
    :class:`WebhookSecretMissing` / :class:`WebhookSecretNotStored` before any write when the WooCommerce
    secret is missing and cannot be stored (a dry run never generates one)."""
    from woohub.hubspot import HubSpotHook
    from woohub.woocommerce import WooCommerceHook

    woo_url, hubspot_url = delivery_urls(base_url)
    woo = WooCommerceHook(woocommerce_conn_id)
    woo.get_conn()
    extra = dict(woo.extra)
    if dry_run and not extra.get("webhook_secret"):
        source = None
        woo_rows = register_woocommerce_webhooks(woo, woo_url, "(not yet generated)", dry_run=True)
    else:
        source = woocommerce_webhook_secret(woocommerce_conn_id, extra)
        woo_rows = register_woocommerce_webhooks(woo, woo_url, source.secret, dry_run=dry_run)
    hubspot = HubSpotHook(hubspot_conn_id)
    hubspot.get_conn()
    credentials = hubspot_app_credentials(hubspot.extra)
    if credentials is None:
        return {"woocommerce": woo_rows, "hubspot": None, "secret": source,
                "hubspot_skipped": f"connection {hubspot_conn_id!r} has no extra app_id and developer_api_key"}
    hub_rows = register_hubspot_subscriptions(hubspot, *credentials, hubspot_url, dry_run=dry_run)
    return {"woocommerce": woo_rows, "hubspot": hub_rows, "secret": source, "hubspot_skipped": None}


def register_from_params(params: Mapping[str, Any], *, woocommerce_conn_id: str = "woocommerce_default",
                         hubspot_conn_id: str = "hubspot_default") -> dict[str, Any] | None:
    """The ``api_health_check`` task: register when ``params["register_webhooks"]`` is true (None otherwise,
    the task skips); a summary of counts per action. A missing secret that cannot be stored fails with a
    message asking for it; the generated secret is never logged."""
    if not params.get("register_webhooks"):
        return None
    base_url = str(params.get("webhook_base_url") or "").strip()
    if not base_url.startswith(("http://", "https://")):
        raise WebhookRegistrationError("register_webhooks needs webhook_base_url, the Airflow base URL "
                                       "(e.g. https://airflow.example.com)")
    try:
        result = register_all(base_url, woocommerce_conn_id=woocommerce_conn_id, hubspot_conn_id=hubspot_conn_id)
    except WebhookSecretNotStored as error:
        raise WebhookSecretMissing(str(error)) from None  # drops the generated secret with the exception
    summary: dict[str, Any] = {}
    for system in ("woocommerce", "hubspot"):
        counts: dict[str, int] = {}
        for row in result[system] or []:
            counts[row["action"]] = counts.get(row["action"], 0) + 1
        summary[system] = counts
    summary["hubspot_skipped"] = result["hubspot_skipped"]
    log.info("webhooks registered: %s", summary)
    return summary
