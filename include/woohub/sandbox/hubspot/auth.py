"""HubSpot authentication: the private-app bearer token and the OAuth 2.0 app flow with scopes.

* **Install (consent)**: ``GET /oauth/authorize?client_id=&redirect_uri=&scope=&optional_scope=&state=``
  (HubSpot serves it on ``app.hubspot.com``; here on the API's host) checks the client id and that the
  redirect URL is one of the app's registered ones (setting ``oauth_redirect_uris``; HubSpot takes no IP
  addresses and needs https except for localhost), then stands in for the user clicking *Connect app*: it
  redirects at once to ``redirect_uri?code=…&state=…``. A required ``scope`` the account cannot grant (not in
  ``granted_scopes``) fails the install; an ``optional_scope`` it cannot grant is dropped. The code is
  single-use and expires after :data:`AUTH_CODE_TTL_SECONDS`.
* **Token endpoint** ``POST /oauth/v1/token`` (form-encoded): ``authorization_code`` (code, the same
  ``redirect_uri``) and ``refresh_token`` grants; with ``rotate_refresh_tokens`` every refresh answers a new
  refresh token and the old one stops working. Errors are HubSpot's 400 ``{"status": <code>, "message"}``.
* **Token info**: ``GET /oauth/v1/access-tokens/{token}`` (OAuth) and
  ``POST /oauth/v2/private-apps/get/access-token-info`` with ``{"tokenKey": …}`` (private apps) name the
  granted scopes.
* **Scopes**: a token's scopes are the ones it was installed with, less any the setting ``granted_scopes``
  no longer holds (so a test can take one away from every token at once); a CRM call without one of the
  scopes it accepts gets HubSpot's 403 ``MISSING_SCOPES`` naming them (:func:`accepted_scopes`).
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from woohub.sandbox.hubspot import schema
from woohub.sandbox.hubspot.errors import ApiError, correlation_id

PRIVATE_APP_TOKEN = "sandbox-token"
CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"
#: the OAuth app and the private app (the ids the webhook deliveries name, see webhooks.py)
APP_ID, PRIVATE_APP_ID = 1001, 2002
INITIAL_REFRESH_TOKEN = "sandbox-refresh-token"
AUTH_CODE_TTL_SECONDS = 600
#: every scope the sandbox's endpoints accept (the default grant of the private app and of OAuth installs)
ALL_SCOPES = sorted([
    "oauth", "e-commerce",
    *(f"crm.objects.{t}.{rw}" for t in ("contacts", "deals", "line_items", "products") for rw in ("read", "write")),
    *(f"crm.schemas.{t}.{rw}" for t in ("contacts", "deals") for rw in ("read", "write")),
    "crm.schemas.line_items.read",
])
#: kept for callers of the earlier module: the default scopes
SCOPES = ALL_SCOPES
#: the app's registered redirect URLs by default (the compose stack's API server)
DEFAULT_REDIRECT_URIS = ["http://localhost:8080/woohub/oauth/hubspot/callback"]
_NO_CREDENTIALS = ("Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                   "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
_MISSING_SCOPES = ("This app hasn't been granted all required scopes to make this call. Read more about required "
                   "scopes here: https://developers.hubspot.com/scopes.")
_ECOMMERCE = {"line_items", "products"}


class OAuthError(Exception):
    """A 400 from the token endpoint, with HubSpot's OAuth error body (``status`` holds the error code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.body = {"status": code, "message": message, "correlationId": correlation_id(),
                     "requestId": correlation_id()}


class AuthorizeError(Exception):
    """The install page's error (HubSpot shows it to the user and redirects nowhere)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_redirect_uris(value: Any) -> list[str]:
    """The setting ``oauth_redirect_uris``: absolute URLs with a domain (no IP address), https except for
    localhost, as HubSpot's app settings take them."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("oauth_redirect_uris must be a list of URLs")
    for uri in value:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            raise ValueError(f"{uri}: HubSpot takes no IP address in a redirect URL, use a domain (localhost)")
        if parts.scheme not in ("http", "https") or not host:
            raise ValueError(f"{uri}: not an absolute http(s) URL")
        if parts.scheme == "http" and host != "localhost":
            raise ValueError(f"{uri}: HubSpot needs https except for localhost")
    return list(value)


def check_scope_list(value: Any) -> list[str]:
    """The setting ``granted_scopes``: scope names."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("granted_scopes must be a list of scope names")
    return sorted(set(value))


def accepted_scopes(method: str, path: str) -> list[str] | None:
    """The scopes of which a CRM call needs one (HubSpot's per-endpoint lists, narrowed to the scopes the
    sandbox knows), or None for a path that needs none."""
    parts = path.strip("/").split("/")
    if len(parts) < 4 or parts[0] != "crm":
        return None
    kind = parts[2]
    if parts[1] == "v3" and kind in ("objects", "properties", "pipelines"):
        t = schema.object_type(parts[3])
        if t is None:  # the handler answers an unknown object type
            return None
        reading = method == "GET" or parts[-1] in ("search", "read")
        ecommerce = ["e-commerce"] if t in _ECOMMERCE else []
        if kind == "objects":
            return [f"crm.objects.{t}.{'read' if reading else 'write'}", *ecommerce]
        if kind == "pipelines":
            return [f"crm.objects.{t}.read", f"crm.objects.{t}.write", *ecommerce]
        if reading:  # properties
            return [f"crm.objects.{t}.read", f"crm.objects.{t}.write", f"crm.schemas.{t}.read", *ecommerce]
        return ecommerce if t in _ECOMMERCE else [f"crm.schemas.{t}.write"]
    if parts[1] == "v4" and len(parts) >= 5:
        rest = [p for p in parts[6:] if p != "default"]  # objects/{type}/{id}/associations/[default/]{to}/…
        named = parts[3:5] if kind == "associations" else [parts[3], rest[0] if rest else parts[3]]
        types = [schema.object_type(p) for p in named]
        if None in types:
            return None
        found = [f"crm.objects.{t}.{rw}" for t in dict.fromkeys(types) for rw in ("read", "write")]
        return found + (["e-commerce"] if set(types) & _ECOMMERCE else [])
    return None


def missing_scopes_error(accepted: list[str]) -> ApiError:
    """HubSpot's 403 for a token without any of the ``accepted`` scopes."""
    return ApiError(403, "MISSING_SCOPES", _MISSING_SCOPES, errors=[
        {"message": "One or more of the following scopes are required.",
         "context": {"requiredGranularScopes": list(accepted)}}])


class Auth:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.refresh_tokens: dict[str, list[str]] = {INITIAL_REFRESH_TOKEN: list(ALL_SCOPES)}
            self.access_tokens: dict[str, tuple[float, list[str]]] = {}  # token -> (expiry epoch s, scopes)
            self.codes: dict[str, dict[str, Any]] = {}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"refresh_tokens": dict(self.refresh_tokens),
                    "access_tokens": {k: [v[0], v[1]] for k, v in self.access_tokens.items()},
                    "codes": dict(self.codes)}

    def restore(self, data: dict[str, Any]) -> None:
        with self._lock:
            refresh = data.get("refresh_tokens", [INITIAL_REFRESH_TOKEN])
            self.refresh_tokens = ({k: list(v) for k, v in refresh.items()} if isinstance(refresh, dict)
                                   else {k: list(ALL_SCOPES) for k in refresh})
            self.access_tokens = {k: ((float(v[0]), list(v[1])) if isinstance(v, list) else (float(v), list(ALL_SCOPES)))
                                  for k, v in data.get("access_tokens", {}).items()}
            self.codes = dict(data.get("codes", {}))

    @staticmethod
    def _effective(scopes: list[str], settings: dict[str, Any]) -> list[str]:
        granted = set(settings["granted_scopes"])
        return [s for s in scopes if s in granted]

    def authenticate(self, header: str | None) -> tuple[str, bool]:
        """(rate-limit bucket, is OAuth) for an ``Authorization`` header; raises the 401."""
        token = self._bearer(header)
        if token == PRIVATE_APP_TOKEN:
            return "private-app", False
        self._access_entry(token)
        return f"oauth:{CLIENT_ID}", True

    def token_scopes(self, header: str | None, settings: dict[str, Any]) -> list[str]:
        """The scopes of an authenticated request's token."""
        token = self._bearer(header)
        if token == PRIVATE_APP_TOKEN:
            return list(settings["granted_scopes"])
        return self._effective(self._access_entry(token)[1], settings)

    @staticmethod
    def _bearer(header: str | None) -> str:
        if not header or not header.lower().startswith("bearer "):
            raise ApiError(401, "INVALID_AUTHENTICATION", _NO_CREDENTIALS)
        return header[7:].strip()

    def _access_entry(self, token: str) -> tuple[float, list[str]]:
        with self._lock:
            entry = self.access_tokens.get(token)
        if entry is None:
            raise ApiError(401, "INVALID_AUTHENTICATION", _NO_CREDENTIALS)
        now = time.time()
        if now >= entry[0]:
            ago = int(now - entry[0])
            raise ApiError(401, "EXPIRED_AUTHENTICATION",
                           f"The OAuth token used to make this call expired {ago} second(s) ago.",
                           context={"expiredAt": [str(int(entry[0] * 1000))]})
        return entry

    # -- install ------------------------------------------------------------------------------------

    def authorize(self, args: dict[str, str], settings: dict[str, Any]) -> str:
        """The URL the install page sends the browser to after the user consents (see the module docstring)."""
        if args.get("client_id") != CLIENT_ID:
            raise AuthorizeError("This app could not be found: the client_id is missing or unknown.")
        redirect_uri = args.get("redirect_uri") or ""
        if redirect_uri not in settings["oauth_redirect_uris"]:
            raise AuthorizeError(f"Authorization failed as the redirect URL '{redirect_uri}' doesn't match the "
                                 "app's registered redirect URL.")
        required = args.get("scope", "").split()
        if not required:
            raise AuthorizeError("The authorization URL names no scope: the scope parameter is required.")
        granted = set(settings["granted_scopes"])
        refused = [s for s in required if s not in granted]
        if refused:
            raise AuthorizeError("This account can't grant the scopes this app requires: " + ", ".join(refused))
        optional = [s for s in args.get("optional_scope", "").split() if s in granted]
        code = "sandbox-code-" + secrets.token_urlsafe(24)
        with self._lock:
            now = time.time()
            self.codes = {k: v for k, v in self.codes.items() if v["expires"] > now}
            self.codes[code] = {"redirect_uri": redirect_uri, "expires": now + AUTH_CODE_TTL_SECONDS,
                                "scopes": sorted({"oauth", *required, *optional})}
        query = {"code": code, **({"state": args["state"]} if args.get("state") else {})}
        return redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(query)

    # -- token endpoint -----------------------------------------------------------------------------

    def token(self, form: dict[str, str], settings: dict[str, Any]) -> dict[str, Any]:
        """``POST /oauth/v1/token``: an ``AccessTokenResponse`` or an :class:`OAuthError`."""
        grant = form.get("grant_type")
        if grant not in ("refresh_token", "authorization_code", "client_credentials"):
            raise OAuthError("BAD_GRANT_TYPE", "missing or unknown grant type")
        if form.get("client_id") != CLIENT_ID:
            raise OAuthError("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != CLIENT_SECRET:
            raise OAuthError("BAD_CLIENT_SECRET", "missing or invalid client secret")
        if grant == "client_credentials":
            raise OAuthError("BAD_GRANT_TYPE", "this app cannot use the client_credentials grant")
        ttl = float(settings["access_token_ttl_seconds"])
        with self._lock:
            if grant == "authorization_code":
                refresh, scopes = self._redeem_code_locked(form)
            else:
                refresh = form.get("refresh_token") or ""
                if refresh not in self.refresh_tokens:
                    raise OAuthError("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
                scopes = self.refresh_tokens[refresh]
                if settings["rotate_refresh_tokens"]:
                    del self.refresh_tokens[refresh]
                    refresh = "sandbox-rt-" + secrets.token_urlsafe(24)
                    self.refresh_tokens[refresh] = scopes
            access = "sandbox-at-" + secrets.token_urlsafe(32)
            now = time.time()
            self.access_tokens = {k: v for k, v in self.access_tokens.items() if v[0] > now - 86_400}
            self.access_tokens[access] = (now + ttl, list(scopes))
        return {"access_token": access, "refresh_token": refresh, "expires_in": int(ttl), "token_type": "bearer",
                "token_use": "access_token", "hub_id": schema.PORTAL_ID,
                "scopes": self._effective(scopes, settings), "user_id": 1}

    def _redeem_code_locked(self, form: dict[str, str]) -> tuple[str, list[str]]:
        issued = self.codes.pop(form.get("code") or "", None)  # single use, even when the rest is wrong
        if issued is None or issued["expires"] <= time.time():
            raise OAuthError("BAD_AUTH_CODE", "missing or unknown auth code")
        if form.get("redirect_uri") != issued["redirect_uri"]:
            raise OAuthError("BAD_REDIRECT_URI", "redirect_uri does not match the one the auth code was issued for")
        refresh = "sandbox-rt-" + secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = list(issued["scopes"])
        return refresh, list(issued["scopes"])

    # -- token info ---------------------------------------------------------------------------------

    def access_token_info(self, token: str, settings: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            entry = self.access_tokens.get(token)
        if entry is None or entry[0] <= time.time():
            return None
        return {"token": token, "user": "sandbox@example.com", "user_id": 1, "hub_id": schema.PORTAL_ID,
                "hub_domain": "sandbox.hubspot.example", "app_id": APP_ID,
                "scopes": self._effective(entry[1], settings), "token_type": "access",
                "expires_in": max(0, int(entry[0] - time.time())), "is_private_distribution": False}

    def refresh_token_info(self, token: str, settings: dict[str, Any], *,
                           delete: bool = False) -> dict[str, Any] | None:
        with self._lock:
            scopes = self.refresh_tokens.get(token)
            if scopes is None:
                return None
            if delete:
                del self.refresh_tokens[token]
        return {"token": token, "user": "sandbox@example.com", "user_id": 1, "hub_id": schema.PORTAL_ID,
                "hub_domain": "sandbox.hubspot.example", "client_id": CLIENT_ID,
                "scopes": self._effective(scopes, settings), "token_type": "refresh"}

    @staticmethod
    def private_app_token_info(body: Any, settings: dict[str, Any]) -> dict[str, Any]:
        """``POST /oauth/v2/private-apps/get/access-token-info``: the private app's user, account, app and
        scopes for ``{"tokenKey": <token>}``; raises the 401 for another token."""
        token = body.get("tokenKey") if isinstance(body, dict) else None
        if token != PRIVATE_APP_TOKEN:
            raise ApiError(401, "INVALID_AUTHENTICATION", "The access token provided is invalid or is not a "
                                                          "private app access token.")
        return {"userId": 1, "hubId": schema.PORTAL_ID, "appId": PRIVATE_APP_ID,
                "scopes": list(settings["granted_scopes"])}
