"""Typed errors raised by the woohub API hooks.

Every error carries what an operator needs to find the failed call in the vendor's logs: the HTTP method,
the path (never the query string, which may hold WooCommerce keys), the status (``None`` when no response
arrived), the vendor's error id (HubSpot ``correlationId`` or WooCommerce error ``code``) and the vendor's
error category/message. No error ever carries a token, key or secret.

The class says what the caller may do next:

* :class:`RetryableHTTPError`: the call failed transiently (429, 423, 5xx, timeout, connection error) and the
  hooks' retry policy retries it; raised to the caller only once the attempts or the time budget run out.
* :class:`RateLimitedError`: a retryable 429, with the ``Retry-After`` seconds when the server sent them.
* :class:`FatalHTTPError`: retrying the same request cannot help (validation error, not found, ...).
* :class:`AuthenticationError`: 401/403: bad or expired credentials or missing scopes.
* :class:`DailyLimitError`: HubSpot's daily budget is spent; retrying before midnight is pointless.
* :class:`AmbiguousWriteError`: a non-idempotent write (a create) failed in a way that leaves it unknown
  whether the server applied it (5xx, read timeout, connection dropped after the request was sent). The
  hooks never retry these, because a retry could create duplicates; reconcile by reading or upserting.
"""

from __future__ import annotations


class ApiHTTPError(Exception):
    """A failed API call: method, path, status and the vendor's error identifiers, without secrets."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        error_id: str | None = None,
        category: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.error_id = error_id
        self.category = category

    def __str__(self) -> str:
        status = self.status if self.status is not None else "no response"
        details = ", ".join(f"{k}={v}" for k, v in (("category", self.category), ("id", self.error_id)) if v)
        suffix = f" ({details})" if details else ""
        return f"{self.method} {self.path} -> {status}: {self.message}{suffix}"


class RetryableHTTPError(ApiHTTPError):
    """A transient failure that the retry policy retries."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class RateLimitedError(RetryableHTTPError):
    """HTTP 429 from a short-window limit; ``retry_after`` holds the server's ``Retry-After`` seconds."""


class FatalHTTPError(ApiHTTPError):
    """A failure that the same request cannot recover from."""


class AuthenticationError(FatalHTTPError):
    """HTTP 401/403: the credentials are invalid, expired or lack a scope."""


class DailyLimitError(FatalHTTPError):
    """HubSpot's daily request budget is exhausted (429 with ``policyName`` ``DAILY``)."""


class AmbiguousWriteError(FatalHTTPError):
    """A create may or may not have been applied; it is not retried, to avoid duplicate records."""
