"""The HubSpot OAuth app flow, end to end, and the scope check every run starts with.

**Install.** :func:`authorize_url` builds HubSpot's install URL (``https://app.hubspot.com/oauth/authorize``;
the connection extra ``authorize_url`` points it at the sandbox) with the app's client id, the redirect URL,
the scopes the DAGs need (:func:`install_scopes`) and a ``state``. The user consents in HubSpot, which sends
the browser back to the redirect URL with ``code`` and ``state``; :func:`exchange_code` trades the code
(``POST /oauth/v1/token``, ``grant_type=authorization_code``, form-encoded: client id and secret, the same
redirect URL, the code; single-use, short-lived) for tokens, and :func:`store_tokens` writes the refresh
token, the client id and ``auth_type: oauth2`` into the connection (:mod:`woohub.core.connections`). The
access token is not stored: the hook fetches one from the refresh token and follows rotation
(:mod:`woohub.hubspot.auth`, :meth:`HubSpotHook._persist_refresh_token`).

The OAuth app's settings come from the HubSpot connection (:meth:`OAuthApp.from_connection`): the client
secret in the password, extra ``client_id``, optional ``redirect_uri``, ``optional_scopes`` (a list),
``authorize_url`` and ``token_url``.

**Scopes.** :data:`REQUIRED_SCOPES` names, per DAG, the scopes HubSpot checks on the endpoints the DAG
calls (taken from HubSpot's per-endpoint security lists): each :class:`ScopeRequirement` is one scope or an
alternative HubSpot accepts in its place (``e-commerce`` for products and line items). :func:`granted_scopes`
asks HubSpot what the connection's token holds (``GET /oauth/v1/access-tokens/{token}`` for OAuth,
``POST /oauth/v2/private-apps/get/access-token-info`` for a private app) and :func:`check_scopes` raises
:class:`MissingScopesError` naming every missing scope, so a run fails in its first task, not half way
through its writes. No function here puts a token or secret into a log line, an exception or a repr.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import requests
from airflow.sdk.exceptions import AirflowFailException

from woohub.core.secrets import mask

log = logging.getLogger(__name__)

AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
TOKEN_PATH = "/oauth/v1/token"
ACCESS_TOKEN_INFO_PATH = "/oauth/v1/access-tokens/"
PRIVATE_APP_TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
#: the scope every OAuth app holds
BASE_SCOPE = "oauth"
_TIMEOUT = (10.0, 30.0)


class OAuthSetupError(Exception):
    """The OAuth app flow or the scope check could not complete (the message says what to fix)."""


class TokenExchangeError(OAuthSetupError):
    """HubSpot refused a code exchange: ``status`` is HubSpot's error code (``BAD_AUTH_CODE``, …)."""

    def __init__(self, message: str, *, status: str | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.status, self.http_status = status, http_status


class MissingScopesError(OAuthSetupError, AirflowFailException):
    """The token lacks scopes a DAG needs; ``missing`` lists them (as the app's settings name them). A task
    raising it fails without retries: the scopes do not come back by waiting."""

    def __init__(self, conn_id: str, missing: Sequence[ScopeRequirement], purpose: str) -> None:
        self.conn_id, self.missing, self.purpose = conn_id, tuple(missing), purpose
        named = ", ".join(r.describe() for r in self.missing)
        super().__init__(
            f"the HubSpot token of connection {conn_id!r} lacks {len(self.missing)} scope(s) {purpose} needs: "
            f"{named}. Add them to the app's scopes (private app: Settings > Integrations > Private apps > "
            "Scopes; OAuth app: its Auth settings, then install it again: python -m woohub hubspot-oauth "
            "authorize-url)")


@dataclass(frozen=True)
class ScopeRequirement:
    """One scope a DAG needs, or ``alternatives`` HubSpot accepts in its place; ``why`` for the table."""

    scope: str
    why: str
    alternatives: tuple[str, ...] = ()

    def met_by(self, granted: Iterable[str]) -> bool:
        have = set(granted)
        return self.scope in have or any(a in have for a in self.alternatives)

    def describe(self) -> str:
        return self.scope + "".join(f" (or {a})" for a in self.alternatives)


def _objects(kind: str, *, write: bool, why: str) -> list[ScopeRequirement]:
    alternatives = ("e-commerce",) if kind in ("products", "line_items") else ()
    found = [ScopeRequirement(f"crm.objects.{kind}.read", f"read {why}", alternatives)]
    if write:
        found.append(ScopeRequirement(f"crm.objects.{kind}.write", f"write {why}", alternatives))
    return found


#: the custom woo_* properties both sync DAGs create when missing (POST /crm/v3/properties/<object>):
#: contacts and deals need their schemas scope; products and line items only e-commerce
_PROPERTY_SCOPES = [
    ScopeRequirement("crm.schemas.contacts.write", "create the woo_* contact properties"),
    ScopeRequirement("crm.schemas.deals.write", "create the woo_* deal properties"),
    ScopeRequirement("e-commerce", "create the woo_* product and line item properties"),
]

REQUIRED_SCOPES: dict[str, tuple[ScopeRequirement, ...]] = {
    "woocommerce_to_hubspot": (
        *_objects("contacts", write=True, why="contacts (customers, guest buyers)"),
        *_objects("deals", write=True, why="deals (orders), the deal pipelines and currencies"),
        *_objects("line_items", write=True, why="line items (order lines)"),
        *_objects("products", write=True, why="products (the catalogue)"),
        *_PROPERTY_SCOPES,
    ),
    "hubspot_to_woocommerce": (
        *_objects("contacts", write=False, why="contacts"),
        *_objects("deals", write=True, why="deals, and write their woo_sync_status back"),
        *_objects("line_items", write=True, why="line items, and adopt them (woo_line_item_id)"),
        *_objects("products", write=False, why="the line items' products"),
        *_PROPERTY_SCOPES,
    ),
    "reconciliation": (
        *_objects("contacts", write=False, why="every contact"),
        *_objects("deals", write=False, why="every deal"),
        *_objects("line_items", write=False, why="every line item"),
        *_objects("products", write=False, why="every product"),
    ),
}


def install_scopes(dag_ids: Iterable[str] | None = None) -> list[str]:
    """The ``scope`` an install asks for: ``oauth`` and the first choice of every requirement of the DAGs
    (all of them by default), sorted."""
    wanted = {BASE_SCOPE}
    for dag_id in dag_ids or REQUIRED_SCOPES:
        wanted.update(r.scope for r in REQUIRED_SCOPES[dag_id])
    return sorted(wanted)


def authorize_url(client_id: str, redirect_uri: str, scopes: Sequence[str], state: str,
                  optional_scopes: Sequence[str] = (), *, base_url: str = AUTHORIZE_URL) -> str:
    """HubSpot's install URL: the scopes space-separated (``%20``), the optional ones in ``optional_scope``
    (HubSpot drops those the account cannot grant)."""
    query = {"client_id": client_id, "redirect_uri": redirect_uri, "scope": " ".join(scopes)}
    if optional_scopes:
        query["optional_scope"] = " ".join(optional_scopes)
    query["state"] = state
    return f"{base_url}?{urlencode(query, quote_via=quote)}"


@dataclass(frozen=True)
class TokenGrant:
    """The answer of a code exchange (tokens never in the repr)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    scopes: tuple[str, ...] = ()
    hub_id: int | None = None


@dataclass(frozen=True)
class OAuthApp:
    """The OAuth app of a HubSpot connection (see the module docstring)."""

    conn_id: str
    client_id: str
    client_secret: str = field(repr=False)
    api_base_url: str
    authorize_base: str = AUTHORIZE_URL
    redirect_uri: str | None = None
    optional_scopes: tuple[str, ...] = ()
    token_url: str | None = None

    @classmethod
    def from_connection(cls, conn_id: str) -> OAuthApp:
        """Read the app's settings from the connection (a process with access to connections: the API
        server, the CLI, a task)."""
        connection = _get_connection(conn_id)
        extra = dict(connection.extra_dejson)
        if not extra.get("client_id") or not connection.password:
            raise OAuthSetupError(f"connection {conn_id!r} needs the OAuth app's client id in extra client_id and "
                                  "its client secret in the password")
        return cls(conn_id=conn_id, client_id=str(extra["client_id"]), client_secret=str(connection.password),
                   api_base_url=base_url_of(connection),
                   authorize_base=str(extra.get("authorize_url") or AUTHORIZE_URL),
                   redirect_uri=extra.get("redirect_uri") or None,
                   optional_scopes=tuple(extra.get("optional_scopes") or ()),
                   token_url=extra.get("token_url") or None)

    def install_url(self, redirect_uri: str, state: str, dag_ids: Iterable[str] | None = None) -> str:
        return authorize_url(self.client_id, redirect_uri, install_scopes(dag_ids), state, self.optional_scopes,
                             base_url=self.authorize_base)

    def exchange(self, code: str, redirect_uri: str) -> TokenGrant:
        return exchange_code(self.client_id, self.client_secret, code, redirect_uri,
                             token_url=self.token_url or self.api_base_url.rstrip("/") + TOKEN_PATH)


def exchange_code(client_id: str, client_secret: str, code: str, redirect_uri: str, *,
                  token_url: str = "https://api.hubapi.com" + TOKEN_PATH,
                  timeout: tuple[float, float] = _TIMEOUT) -> TokenGrant:
    """Trade an authorization code for tokens; :class:`TokenExchangeError` with HubSpot's error code."""
    form = {"grant_type": "authorization_code", "client_id": client_id, "client_secret": client_secret,
            "redirect_uri": redirect_uri, "code": code}
    try:
        response = requests.post(token_url, data=form, timeout=timeout,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    except requests.RequestException as error:
        raise TokenExchangeError(f"the code exchange did not reach HubSpot: {type(error).__name__}") from None
    body = _json(response)
    if response.status_code != 200 or not body.get("refresh_token"):
        status = body.get("status") or body.get("category") or body.get("error")
        raise TokenExchangeError(f"HubSpot refused the code exchange ({response.status_code}): {status}: "
                                 f"{str(body.get('message', ''))[:200]}", status=status,
                                 http_status=response.status_code)
    grant = TokenGrant(access_token=str(body.get("access_token", "")), refresh_token=str(body["refresh_token"]),
                       expires_in=int(body.get("expires_in", 0)), scopes=tuple(body.get("scopes") or ()),
                       hub_id=body.get("hub_id"))
    mask(grant.access_token)  # from here on any log line that repeats a token shows *** instead
    mask(grant.refresh_token)
    return grant


def store_tokens(conn_id: str, grant: TokenGrant, client_id: str) -> str | None:
    """Write the refresh token, client id and ``auth_type: oauth2`` (and the account id) into the
    connection's extra; where it stored them, or ``None`` (see :func:`update_connection_extra`)."""
    from woohub.core.connections import update_connection_extra

    updates: dict[str, Any] = {"auth_type": "oauth2", "client_id": client_id, "refresh_token": grant.refresh_token}
    if grant.hub_id is not None:
        updates["hub_id"] = grant.hub_id
    return update_connection_extra(conn_id, updates)


def exchange_into_connection(conn_id: str, code: str, redirect_uri: str) -> tuple[TokenGrant, str | None]:
    """The callback's work: exchange ``code`` with the connection's app and store the tokens in it."""
    app = OAuthApp.from_connection(conn_id)
    grant = app.exchange(code, redirect_uri)
    return grant, store_tokens(conn_id, grant, app.client_id)


# -- granted scopes ------------------------------------------------------------------------------------------

def granted_scopes(hook: Any) -> list[str]:
    """The scopes the hook's token holds, as HubSpot reports them (OAuth: the current access token's
    metadata; private app: the token-info endpoint, with the token in the body, never in the URL)."""
    hook.get_conn()
    if getattr(hook, "token_source", None) is not None:
        token = hook.token_source.access_token()
        url = hook.url_from_endpoint(ACCESS_TOKEN_INFO_PATH + quote(token, safe=""))
        try:
            response = hook.get_conn().get(url, timeout=hook.timeout)
        except requests.RequestException as error:
            raise OAuthSetupError(f"could not read the access token's scopes: {type(error).__name__}") from None
        path = ACCESS_TOKEN_INFO_PATH + "<token>"
    else:
        token = str(hook.get_connection(hook.hubspot_conn_id).password or "")
        response = hook.request("POST", PRIVATE_APP_TOKEN_INFO_PATH, json={"tokenKey": token}, idempotent=True)
        path = PRIVATE_APP_TOKEN_INFO_PATH
    body = _json(response)
    if response.status_code != 200 or not isinstance(body.get("scopes"), list):
        raise OAuthSetupError(f"HubSpot did not name the token's scopes (GET/POST {path}: {response.status_code} "
                              f"{body.get('category') or body.get('status') or ''})")
    return sorted(str(s) for s in body["scopes"])


def missing_scopes(granted: Iterable[str], required: Iterable[ScopeRequirement]) -> list[ScopeRequirement]:
    have = set(granted)
    return [r for r in required if not r.met_by(have)]


def check_scopes(hook: Any, required: str | Iterable[ScopeRequirement | str]) -> None:
    """Fail (:class:`MissingScopesError`) unless the hook's token holds every scope ``required`` names: a
    DAG id of :data:`REQUIRED_SCOPES`, or requirements (plain strings are one scope each)."""
    if isinstance(required, str):
        purpose, requirements = f"the DAG {required}", list(REQUIRED_SCOPES[required])
    else:
        purpose = "this task"
        requirements = [r if isinstance(r, ScopeRequirement) else ScopeRequirement(str(r), "") for r in required]
    granted = granted_scopes(hook)
    missing = missing_scopes(granted, requirements)
    conn_id = str(getattr(hook, "hubspot_conn_id", "hubspot"))
    if missing:
        raise MissingScopesError(conn_id, missing, purpose)
    log.info("HubSpot connection %r holds every scope %s needs (%d granted)", conn_id, purpose, len(granted))


# -- helpers ---------------------------------------------------------------------------------------------

def scopes_table() -> list[tuple[str, str, str]]:
    """(DAG, scope, why) rows, for the README and the CLI."""
    return [(dag_id, r.describe(), r.why) for dag_id, reqs in REQUIRED_SCOPES.items() for r in reqs]


def base_url_of(connection: Any) -> str:
    """The API base URL of a HubSpot connection (``host`` may be a full URL; else ``schema://host[:port]``)."""
    host = str(connection.host or "api.hubapi.com").rstrip("/")
    if "://" in host:
        return host if not connection.port or host.count(":") > 1 else f"{host}:{connection.port}"
    port = f":{connection.port}" if connection.port else ""
    return f"{connection.schema or 'https'}://{host}{port}"


def _get_connection(conn_id: str) -> Any:
    from airflow.models.connection import Connection

    return Connection.get_connection_from_secrets(conn_id)


def _json(response: requests.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


__all__ = ["AUTHORIZE_URL", "REQUIRED_SCOPES", "MissingScopesError", "OAuthApp", "OAuthSetupError",
           "ScopeRequirement", "TokenExchangeError", "TokenGrant", "authorize_url", "check_scopes",
           "exchange_code", "exchange_into_connection", "granted_scopes", "install_scopes", "store_tokens"]
