"""What both API hooks share: the ``ApiHook`` base on the HTTP provider's ``HttpHook`` (retries, typed
errors, redacted logging), the client-side rate limiter, and the per-record outcome of a batch write.
The hooks themselves live with their systems: :mod:`woohub.hubspot` and :mod:`woohub.woocommerce`."""

from woohub.http.errors import (
    AmbiguousWriteError,
    ApiHTTPError,
    AuthenticationError,
    DailyLimitError,
    FatalHTTPError,
    RateLimitedError,
    RetryableHTTPError,
)
from woohub.http.outcomes import RecordOutcome
from woohub.http.retry import RetryPolicy

__all__ = [
    "AmbiguousWriteError",
    "ApiHTTPError",
    "AuthenticationError",
    "DailyLimitError",
    "FatalHTTPError",
    "RateLimitedError",
    "RecordOutcome",
    "RetryPolicy",
    "RetryableHTTPError",
]
