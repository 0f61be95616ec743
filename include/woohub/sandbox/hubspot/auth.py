"""Private-app bearer token and OAuth 2.0 (refresh-token grant) with expiring access tokens."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from woohub.sandbox.hubspot import schema
from woohub.sandbox.hubspot.errors import ApiError, correlation_id

PRIVATE_APP_TOKEN = "sandbox-token"
CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"
INITIAL_REFRESH_TOKEN = "sandbox-refresh-token"
SCOPES = ["crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.deals.read",
          "crm.objects.deals.write", "crm.objects.line_items.read", "crm.objects.line_items.write",
          "crm.schemas.contacts.write", "crm.schemas.deals.write", "e-commerce", "oauth"]
_NO_CREDENTIALS = ("Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                   "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")


class OAuthError(Exception):
    """A 400 from the token endpoint, with HubSpot's OAuth error body (``status`` holds the error code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.body = {"status": code, "message": message, "correlationId": correlation_id(),
                     "requestId": correlation_id()}


class Auth:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.refresh_tokens: set[str] = {INITIAL_REFRESH_TOKEN}
            self.access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"refresh_tokens": sorted(self.refresh_tokens), "access_tokens": dict(self.access_tokens)}

    def restore(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.refresh_tokens = set(data.get("refresh_tokens", [INITIAL_REFRESH_TOKEN]))
            self.access_tokens = {k: float(v) for k, v in data.get("access_tokens", {}).items()}

    def authenticate(self, header: str | None) -> tuple[str, bool]:
        """(rate-limit bucket, is OAuth) for an ``Authorization`` header; raises the 401."""
        if not header or not header.lower().startswith("bearer "):
            raise ApiError(401, "INVALID_AUTHENTICATION", _NO_CREDENTIALS)
        token = header[7:].strip()
        if token == PRIVATE_APP_TOKEN:
            return "private-app", False
        with self._lock:
            expiry = self.access_tokens.get(token)
        if expiry is None:
            raise ApiError(401, "INVALID_AUTHENTICATION", _NO_CREDENTIALS)
        now = time.time()
        if now >= expiry:
            ago = int(now - expiry)
            raise ApiError(401, "EXPIRED_AUTHENTICATION",
                           f"The OAuth token used to make this call expired {ago} second(s) ago.",
                           context={"expiredAt": [str(int(expiry * 1000))]})
        return f"oauth:{CLIENT_ID}", True

    def token(self, form: dict[str, str], settings: dict[str, Any]) -> dict[str, Any]:
        """``POST /oauth/v1/token``: an ``AccessTokenResponse`` or an :class:`OAuthError`."""
        grant = form.get("grant_type")
        if grant not in ("refresh_token", "authorization_code", "client_credentials"):
            raise OAuthError("BAD_GRANT_TYPE", "missing or unknown grant type")
        if form.get("client_id") != CLIENT_ID:
            raise OAuthError("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != CLIENT_SECRET:
            raise OAuthError("BAD_CLIENT_SECRET", "missing or invalid client secret")
        if grant != "refresh_token":
            raise OAuthError("BAD_AUTH_CODE", "the sandbox only supports the refresh_token grant")
        refresh = form.get("refresh_token") or ""
        ttl = float(settings["access_token_ttl_seconds"])
        with self._lock:
            if refresh not in self.refresh_tokens:
                raise OAuthError("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
            if settings["rotate_refresh_tokens"]:
                self.refresh_tokens.discard(refresh)
                refresh = "sandbox-rt-" + secrets.token_urlsafe(24)
                self.refresh_tokens.add(refresh)
            access = "sandbox-at-" + secrets.token_urlsafe(32)
            now = time.time()
            self.access_tokens = {k: v for k, v in self.access_tokens.items() if v > now - 86_400}
            self.access_tokens[access] = now + ttl
        return {"access_token": access, "refresh_token": refresh, "expires_in": int(ttl), "token_type": "bearer",
                "token_use": "access_token", "hub_id": schema.PORTAL_ID, "scopes": SCOPES, "user_id": 1}

    def access_token_info(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            expiry = self.access_tokens.get(token)
        if expiry is None:
            return None
        return {"token": token, "user": "sandbox@example.com", "user_id": 1, "hub_id": schema.PORTAL_ID,
                "hub_domain": "sandbox.hubspot.example", "app_id": 1, "scopes": SCOPES, "token_type": "access",
                "expires_in": max(0, int(expiry - time.time())), "is_private_distribution": False}

    def refresh_token_info(self, token: str, *, delete: bool = False) -> dict[str, Any] | None:
        with self._lock:
            if token not in self.refresh_tokens:
                return None
            if delete:
                self.refresh_tokens.discard(token)
        return {"token": token, "user": "sandbox@example.com", "user_id": 1, "hub_id": schema.PORTAL_ID,
                "hub_domain": "sandbox.hubspot.example", "client_id": CLIENT_ID, "scopes": SCOPES,
                "token_type": "refresh"}
