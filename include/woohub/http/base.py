"""``ApiHook``: the request machinery shared by :class:`HubSpotHook` and :class:`WooCommerceHook`.

It subclasses the HTTP provider's :class:`~airflow.providers.http.hooks.http.HttpHook` for the connection
handling (base URL from host/schema/port, TLS and proxy options, keep-alive adapter) and adds what the
provider lacks: one reused session per hook, (connect, read) timeouts on every request, typed errors
instead of ``check_response``'s bare ``AirflowException``, tenacity retries that honour ``Retry-After``,
a WARNING log line per failed attempt without secrets, and a count of calls per method and route.

Retry and duplication policy: GET/PUT/PATCH/DELETE and POSTs that the caller marks ``idempotent`` (search,
batch read/update/upsert/archive, association create) are retried on 429, 423, 500/502/503/504, timeouts
and connection errors. Other POSTs (creates) are retried only when the server provably did not apply them:
429 and 423 (rejected before processing) and connection failures before the request was sent. A create
that fails with a 5xx, a read timeout or a connection dropped mid-request raises
:class:`~woohub.http.errors.AmbiguousWriteError` and is not retried, because a retry could duplicate
records; the sync writes through upserts (or checks natural keys) instead.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook
from requests import Response, Session
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from woohub.core import secrets
from woohub.http.errors import (
    AmbiguousWriteError,
    ApiHTTPError,
    AuthenticationError,
    FatalHTTPError,
    RateLimitedError,
    RetryableHTTPError,
)
from woohub.http.retry import RetryPolicy

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
_RETRYABLE_STATUSES = frozenset({423, 429, 500, 502, 503, 504})
_NOT_APPLIED_STATUSES = frozenset({423, 429})  # the server refused before processing: safe to resend a create
_NUMERIC_SEGMENT = re.compile(r"/\d+(?=/|$)")
_DEFAULT_TIMEOUT = (10.0, 60.0)


def redact(text: str) -> str:
    """``text`` with the values of secret query parameters (WooCommerce keys, OAuth fields) and
    ``Authorization`` values masked (:func:`woohub.core.secrets.redact_text`)."""
    return secrets.redact_text(text)


def route_of(method: str, path: str) -> str:
    """``"METHOD /path"`` with numeric path segments replaced by ``{id}``: the key of ``api_calls``."""
    return f"{method} {_NUMERIC_SEGMENT.sub('/{id}', path)}"


def parse_timeout(value: Any) -> tuple[float, float]:
    """A (connect, read) timeout from a connection extra value: a number (both) or a two-item list."""
    if value is None:
        return _DEFAULT_TIMEOUT
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return float(value[0]), float(value[1])
    return float(value), float(value)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` if absent/invalid."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _request_never_sent(error: requests.RequestException) -> bool:
    """Whether the request failed before any byte reached the server (connect timeout or refusal)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, (ConnectTimeoutError, NewConnectionError))


class ApiHook(HttpHook):
    """Shared base of the vendor hooks; not used directly.

    :param conn_id: the Airflow connection id
    :param retry_policy: overrides the policy read from the connection extra
    """

    api_prefix_default: ClassVar[str] = ""
    _woohub_extra_keys: ClassVar[frozenset[str]] = frozenset()
    #: whether the connection's login is a credential too (the WooCommerce consumer key), masked in logs
    _login_is_secret: ClassVar[bool] = False

    def __init__(self, conn_id: str, *, retry_policy: RetryPolicy | None = None) -> None:
        super().__init__(method="GET", http_conn_id=conn_id)
        setattr(self, self.conn_name_attr, conn_id)
        self._retry_policy_override = retry_policy
        self._session: Session | None = None
        self._session_lock = threading.RLock()
        self._extra: dict[str, Any] | None = None
        self._calls_lock = threading.Lock()
        self.api_calls: Counter[str] = Counter()

    # -- connection and session -------------------------------------------------------------------

    @property
    def extra(self) -> dict[str, Any]:
        """The connection's extra as a dict (read once per hook)."""
        if self._extra is None:
            self.get_conn()
        assert self._extra is not None
        return self._extra

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry_policy_override or RetryPolicy.from_extra(self.extra)

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) seconds from the extra ``timeout`` (default 10, 60)."""
        return parse_timeout(self.extra.get("timeout"))

    @property
    def api_prefix(self) -> str:
        """The path every API route hangs below (extra ``api_path``; ``""`` for HubSpot)."""
        path = str(self.extra.get("api_path", self.api_prefix_default)).strip("/")
        return f"/{path}" if path else ""

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None) -> Session:
        """The hook's one ``requests.Session``, built from the connection on first use and then reused.

        Unlike ``HttpHook.get_conn`` it does not turn unknown extra keys into headers (they may be secrets);
        headers come only from the extra ``headers`` object.
        """
        with self._session_lock:
            if self._session is None:
                self._session = self._build_session(self.get_connection(self.http_conn_id))
        if headers:
            self._session.headers.update(headers)
        return self._session

    def _build_session(self, connection: Any) -> Session:
        secrets.mask_connection(connection, login_is_secret=self._login_is_secret)
        self._extra = dict(connection.extra_dejson)
        self._set_base_url(connection)
        session = Session()
        session.verify = self._extra.get("verify", True)
        if self._extra.get("proxies"):
            session.proxies = dict(self._extra["proxies"])
        session.headers.update({"Accept": "application/json", **dict(self._extra.get("headers") or {})})
        self._configure_auth(session, connection)
        return self._configure_session_from_mount_adapters(session)

    def _configure_auth(self, session: Session, connection: Any) -> None:
        """Attach the vendor's authentication to ``session``; subclasses override."""

    # -- requests ---------------------------------------------------------------------------------

    def run(
        self,
        endpoint: str | None = None,
        data: dict[str, Any] | str | None = None,
        headers: dict[str, Any] | None = None,
        extra_options: dict[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> Response:
        """``HttpHook.run`` compatibility: ``self.method`` to ``endpoint`` (below the API prefix) with this
        hook's auth, retries and typed errors; GET ``data`` becomes the query, other methods send ``json``."""
        params = data if self.method == "GET" else None
        return self.request(self.method, endpoint or "/", params=params, json=request_kwargs.get("json"))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Response:
        """Send one API call with retries and return the successful response.

        :param path: the path below the API prefix, e.g. ``/crm/v3/objects/contacts`` or ``/orders``
        :param idempotent: whether resending is harmless; defaults to ``True`` for every method but POST
        :raises FatalHTTPError: on a non-retryable failure (subclasses tell which)
        :raises RetryableHTTPError: when the retries are spent
        """
        method = method.upper()
        safe = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        retrying = self.retry_policy.retrying(before_sleep=self._log_retry)
        try:
            return retrying(self._attempt, method, path, params, json, safe)
        except ApiHTTPError as error:
            attempt = retrying.statistics.get("attempt_number", 1)
            outcome = "retries exhausted" if isinstance(error, RetryableHTTPError) else "not retried"
            self._log_failed_attempt(error, attempt, f"{outcome}, giving up")
            raise

    def _attempt(self, method: str, path: str, params: Any, json: Any, idempotent: bool) -> Response:
        response = self._send_counted(method, path, params, json, idempotent)
        if response.status_code == 401 and self._refresh_after_unauthorized():
            response = self._send_counted(method, path, params, json, idempotent)
        error = self._classify_response(response, method, path, idempotent)
        if error is not None:
            raise error
        return response

    def _send_counted(self, method: str, path: str, params: Any, json: Any, idempotent: bool) -> Response:
        session = self.get_conn()
        with self._calls_lock:
            self.api_calls[route_of(method, path)] += 1
        self._before_send(method, path)
        request = requests.Request(method, self.url_from_endpoint(self.api_prefix + path), params=params, json=json)
        try:
            response = session.send(session.prepare_request(request), timeout=self.timeout, allow_redirects=True)
        except requests.RequestException as error:
            raise self._transport_error(error, method, path, idempotent) from None
        self._after_response(method, path, response)
        return response

    def _before_send(self, method: str, path: str) -> None:
        """Called before each request is sent (rate limiting); subclasses override."""

    def _after_response(self, method: str, path: str, response: Response) -> None:
        """Called with each response (rate-limit headers); subclasses override."""

    def _refresh_after_unauthorized(self) -> bool:
        """On a 401, renew credentials and return ``True`` to resend once; subclasses override."""
        return False

    # -- errors -----------------------------------------------------------------------------------

    def _error_details(self, response: Response) -> tuple[str | None, str | None, str]:
        """(vendor error id, category/code, message) from an error response; subclasses override."""
        return None, None, response.reason or "error"

    def _classify_response(
        self, response: Response, method: str, path: str, idempotent: bool
    ) -> ApiHTTPError | None:
        """The error to raise for ``response``, or ``None`` when it succeeded."""
        status = response.status_code
        if status < 400:
            return None
        error_id, category, message = self._error_details(response)
        fields: dict[str, Any] = {"method": method, "path": path, "status": status, "error_id": error_id,
                                  "category": category}
        if status in (401, 403):
            return AuthenticationError(message, **fields)
        if status not in _RETRYABLE_STATUSES:
            return FatalHTTPError(message, **fields)
        if not idempotent and status not in _NOT_APPLIED_STATUSES:
            return AmbiguousWriteError(f"{message} (a create may have been applied; not retried)", **fields)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        kind = RateLimitedError if status == 429 else RetryableHTTPError
        return kind(message, retry_after=retry_after, **fields)

    def _transport_error(
        self, error: requests.RequestException, method: str, path: str, idempotent: bool
    ) -> ApiHTTPError:
        """A typed error for a request that got no response; the text is redacted of query secrets."""
        message = f"{type(error).__name__}: {redact(str(error))}"
        if not isinstance(error, (requests.ConnectionError, requests.Timeout)):
            return FatalHTTPError(message, method=method, path=path)
        if idempotent or _request_never_sent(error):
            return RetryableHTTPError(message, method=method, path=path)
        return AmbiguousWriteError(f"{message} (a create may have been applied; not retried)",
                                   method=method, path=path)

    # -- logging ----------------------------------------------------------------------------------

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        if isinstance(error, ApiHTTPError):
            self._log_failed_attempt(error, retry_state.attempt_number, f"retrying in {wait:.2f} s")

    def _log_failed_attempt(self, error: ApiHTTPError, attempt: int, what_next: str) -> None:
        self.log.warning(
            "%s %s failed: status=%s vendor_error_id=%s category=%s attempt=%d: %s; %s",
            error.method, error.path, error.status if error.status is not None else "no-response",
            error.error_id or "-", error.category or "-", attempt, redact(error.message)[:300], what_next,
        )

    def calls_spent(self) -> int:
        """The number of API calls this hook has sent (every attempt counts)."""
        with self._calls_lock:
            return sum(self.api_calls.values())
