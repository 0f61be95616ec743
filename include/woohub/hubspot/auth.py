"""HubSpot authentication: a static private-app token or OAuth 2.0 access tokens renewed from a refresh token.

:class:`OAuthTokenSource` fetches an access token from ``POST /oauth/v1/token``
(``grant_type=refresh_token``, form-encoded), renews it ``refresh_margin_seconds`` (at most half the lifetime) before
``expires_in`` runs out and on demand after a 401, and follows refresh-token rotation: when the token response carries a new
refresh token, every later refresh uses it and ``on_rotated`` is called so the hook can persist it.
Neither class puts a token into a log line, an exception or a ``repr``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests
from requests.auth import AuthBase

from woohub.core import secrets
from woohub.http.errors import AuthenticationError, RetryableHTTPError

_TOKEN_PATH = "/oauth/v1/token"


class BearerAuth(AuthBase):
    """Sets ``Authorization: Bearer <token>`` with the token from ``token_getter`` on each request."""

    def __init__(self, token_getter: Callable[[], str]) -> None:
        self._token_getter = token_getter

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token_getter()}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(<redacted>)"


class OAuthTokenSource:
    """Thread-safe source of HubSpot OAuth access tokens (see the module docstring)."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        timeout: tuple[float, float],
        refresh_margin_seconds: float = 300.0,
        on_rotated: Callable[[str], None] | None = None,
        on_call: Callable[[], None] | None = None,
    ) -> None:
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._timeout = timeout
        self._margin = refresh_margin_seconds
        self._on_rotated = on_rotated
        self._on_call = on_call
        self._access_token: str | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()
        self._session = requests.Session()
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"OAuthTokenSource(token_url={self.token_url!r}, client_id=<set>, tokens=<redacted>)"

    def access_token(self) -> str:
        """A valid access token, refreshed first when it expires within the margin."""
        with self._lock:
            if self._access_token is None or time.monotonic() >= self._refresh_at:
                self._refresh_locked()
            assert self._access_token is not None
            return self._access_token

    def invalidate(self, rejected_token: str | None = None) -> None:
        """Forget the access token (after a 401) so the next request refreshes it; a no-op if another
        thread already replaced ``rejected_token``."""
        with self._lock:
            if rejected_token is None or rejected_token == self._access_token:
                self._access_token = None

    def current_token(self) -> str | None:
        """The access token now cached, without refreshing."""
        with self._lock:
            return self._access_token

    def _refresh_locked(self) -> None:
        form = {"grant_type": "refresh_token", "client_id": self._client_id,
                "client_secret": self._client_secret, "refresh_token": self._refresh_token}
        if self._on_call:
            self._on_call()
        try:
            response = self._session.post(self.token_url, data=form, timeout=self._timeout)
        except requests.RequestException as error:
            raise RetryableHTTPError(f"token refresh failed: {type(error).__name__}", method="POST",
                                     path=_TOKEN_PATH) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableHTTPError("token refresh failed", method="POST", path=_TOKEN_PATH,
                                     status=response.status_code)
        if response.status_code != 200:
            raise AuthenticationError(_oauth_error_text(response), method="POST", path=_TOKEN_PATH,
                                      status=response.status_code)
        self._store_locked(response.json())

    def _store_locked(self, body: dict) -> None:
        self._access_token = str(body["access_token"])
        secrets.mask(self._access_token)  # made at run time: Airflow cannot know it
        lifetime = float(body.get("expires_in", 1800))
        self._refresh_at = time.monotonic() + lifetime - min(self._margin, lifetime / 2)
        self.refreshes += 1
        new_refresh = body.get("refresh_token")
        if new_refresh and new_refresh != self._refresh_token:
            self._refresh_token = str(new_refresh)
            secrets.mask(self._refresh_token)
            if self._on_rotated:
                self._on_rotated(self._refresh_token)


def _oauth_error_text(response: requests.Response) -> str:
    """The OAuth error's name and description, which never contain the submitted secrets."""
    try:
        body = response.json()
    except ValueError:
        return "token refresh rejected"
    return f"token refresh rejected: {body.get('status') or body.get('error')}: {body.get('message', '')}"[:200]
