"""WooCommerce REST authentication as ``WC_REST_Authentication`` does it.

Over HTTPS (here: ``X-Forwarded-Proto: https``) Basic auth or ``consumer_key``/``consumer_secret`` query
parameters; otherwise (and also over HTTPS when those are absent) OAuth 1.0a one-legged, HMAC-SHA1 or
HMAC-SHA256, parameters in the ``Authorization: OAuth`` header or the query string, body not signed,
timestamp within 15 minutes, nonces single-use. Over plain HTTP Basic credentials are silently ignored.

Key permissions as ``WC_REST_Authentication::check_permissions``: a key is ``read``, ``write`` or
``read_write`` (:data:`KEYS`); GET/HEAD need read, POST/PUT/PATCH/DELETE need write (OPTIONS always passes),
else 401 ``woocommerce_rest_authentication_error`` "The API key provided does not have read|write
permissions." — checked before the route is matched, as WooCommerce does it in ``rest_pre_dispatch``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request

CONSUMER_KEY = "ck_sandbox"
CONSUMER_SECRET = "cs_sandbox"
READ_KEY, READ_SECRET = "ck_sandbox_read", "cs_sandbox_read"
WRITE_KEY, WRITE_SECRET = "ck_sandbox_write", "cs_sandbox_write"
#: consumer key -> (secret, permissions), as the store's woocommerce_api_keys table holds them
KEYS: dict[str, tuple[str, str]] = {
    CONSUMER_KEY: (CONSUMER_SECRET, "read_write"),
    READ_KEY: (READ_SECRET, "read"),
    WRITE_KEY: (WRITE_SECRET, "write"),
}
_READS, _WRITES = ("GET", "HEAD"), ("POST", "PUT", "PATCH", "DELETE")
TIMESTAMP_WINDOW = 15 * 60
_REQUIRED = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")


class AuthError(Exception):
    def __init__(self, message: str, code: str = "woocommerce_rest_authentication_error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_https(request: Request) -> bool:
    return request.headers.get("X-Forwarded-Proto", "").lower() == "https" or request.scheme == "https"


def _rawurlencode(value: str) -> str:
    return quote(value, safe="-._~")


def _parse_oauth_header(header: str) -> dict[str, str]:
    if header[:6].lower() != "oauth ":
        return {}
    params: dict[str, str] = {}
    for part in header[6:].split(","):
        if "=" not in part:
            continue
        key, value = part.split("=", 1)
        params[unquote(key.strip())] = unquote(value.strip().strip('"'))
    return params


class Authenticator:
    """Checks one request; remembers used nonces per consumer key."""

    def __init__(self) -> None:
        self._nonces: dict[str, int] = {}

    def authenticate(self, request: Request, now: int) -> bool:
        """True when authenticated (and the key may use the request's method), False when no (usable)
        credentials were sent; raises AuthError."""
        key = self._authenticated_key(request, now)
        if key is None:
            return False
        check_permissions(KEYS[key][1], request.method)
        return True

    def _authenticated_key(self, request: Request, now: int) -> str | None:
        if is_https(request):
            if request.authorization is not None and request.authorization.type == "basic":
                return self._check_key_secret(request.authorization.username, request.authorization.password)
            if "consumer_key" in request.args and "consumer_secret" in request.args:
                return self._check_key_secret(request.args["consumer_key"], request.args["consumer_secret"])
        return self._oauth(request, now)

    @staticmethod
    def _check_key_secret(key: str | None, secret: str | None) -> str:
        if key not in KEYS:
            raise AuthError("Consumer key is invalid.")
        if not hmac.compare_digest(secret or "", KEYS[key][0]):
            raise AuthError("Consumer secret is invalid.")
        return key

    def _oauth(self, request: Request, now: int) -> str | None:
        header = request.headers.get("Authorization", "")
        params = _parse_oauth_header(header) if header else {}
        if not params:
            params = {k: v for k, v in request.args.items() if k.startswith("oauth_")}
        if not any(k in params for k in _REQUIRED):
            return None
        for name in _REQUIRED:
            if not params.get(name):
                raise AuthError(f"Missing OAuth parameter {name}", "woocommerce_rest_authentication_missing_parameter")
        key = params["oauth_consumer_key"]
        if key not in KEYS:
            raise AuthError("Consumer key is invalid.")
        self._check_signature(request, params, KEYS[key][0])
        self._check_timestamp_and_nonce(params, now)
        return key

    def _check_signature(self, request: Request, oauth: dict[str, str], secret: str) -> None:
        method = oauth["oauth_signature_method"]
        if method not in ("HMAC-SHA1", "HMAC-SHA256"):
            raise AuthError("Invalid signature - signature method is invalid.")
        scheme = "https" if is_https(request) else "http"
        base_uri = f"{scheme}://{request.host}{request.path}"
        params: dict[str, str] = {}
        for key, value in request.args.items(multi=True):
            params[key] = value
        params.update(oauth)
        params.pop("oauth_signature", None)
        normalized = sorted(
            (_rawurlencode(unquote(k)), _rawurlencode(unquote(v))) for k, v in params.items()
        )
        # wc_rest_urlencode_rfc3986 on each key and value, then again on each "key=value" pair
        query = "%26".join(_rawurlencode(f"{k}={v}") for k, v in normalized)
        string_to_sign = f"{request.method}&{_rawurlencode(base_uri)}&{query}"
        algorithm = hashlib.sha1 if method == "HMAC-SHA1" else hashlib.sha256
        digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), algorithm).digest()
        expected = base64.b64encode(digest).decode()
        if not hmac.compare_digest(expected, oauth["oauth_signature"]):
            raise AuthError("Invalid signature - provided signature does not match.")

    def _check_timestamp_and_nonce(self, oauth: dict[str, str], now: int) -> None:
        try:
            timestamp = int(oauth["oauth_timestamp"])
        except ValueError:
            raise AuthError("Invalid timestamp.") from None
        if abs(now - timestamp) > TIMESTAMP_WINDOW:
            raise AuthError("Invalid timestamp.")
        for nonce, seen in list(self._nonces.items()):
            if seen < now - TIMESTAMP_WINDOW:
                del self._nonces[nonce]
        nonce = oauth["oauth_nonce"]
        if nonce in self._nonces:
            raise AuthError("Invalid nonce - nonce has already been used.")
        self._nonces[nonce] = timestamp


def check_permissions(permissions: str, method: str) -> None:
    """Refuse a method the key's permissions do not allow, with WooCommerce's 401."""
    if method in _READS:
        if permissions not in ("read", "read_write"):
            raise AuthError("The API key provided does not have read permissions.")
    elif method in _WRITES:
        if permissions not in ("write", "read_write"):
            raise AuthError("The API key provided does not have write permissions.")
    elif method != "OPTIONS":
        raise AuthError("Unknown request method.")
