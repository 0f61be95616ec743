"""The retry policy shared by both hooks: tenacity, exponential backoff with jitter, ``Retry-After``.

Only :class:`~woohub.http.errors.RetryableHTTPError` is retried; the hooks decide per request which
failures are retryable (see ``ApiHook._classify_response``), so this module knows nothing about HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import tenacity

from woohub.http.errors import RetryableHTTPError


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure.

    Connection extra keys (all optional): ``max_attempts`` (default 6, including the first),
    ``max_retry_seconds`` (default 120: no new attempt starts after this long), ``backoff_initial_seconds``
    (0.5), ``backoff_max_seconds`` (30), ``backoff_jitter_seconds`` (0.5). A server's ``Retry-After`` wins over
    the backoff, capped at ``max_retry_after_seconds`` (300).
    """

    max_attempts: int = 6
    max_retry_seconds: float = 120.0
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    backoff_jitter_seconds: float = 0.5
    max_retry_after_seconds: float = 300.0

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> RetryPolicy:
        """The policy from a connection's extra, defaults for missing keys."""
        names = {
            "max_attempts": int,
            "max_retry_seconds": float,
            "backoff_initial_seconds": float,
            "backoff_max_seconds": float,
            "backoff_jitter_seconds": float,
            "max_retry_after_seconds": float,
        }
        return replace(cls(), **{name: kind(extra[name]) for name, kind in names.items() if name in extra})

    def wait_seconds(self, retry_state: tenacity.RetryCallState) -> float:
        """Seconds to wait before the next attempt: ``Retry-After`` if the server sent it, else backoff."""
        error = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(max(float(retry_after), 0.0), self.max_retry_after_seconds)
        backoff = tenacity.wait_exponential_jitter(
            multiplier=self.backoff_initial_seconds, max=self.backoff_max_seconds, jitter=self.backoff_jitter_seconds
        )
        return float(backoff(retry_state))

    def retrying(self, before_sleep: Callable[[tenacity.RetryCallState], None]) -> tenacity.Retrying:
        """A tenacity ``Retrying`` that retries :class:`RetryableHTTPError` and re-raises the last error."""
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RetryableHTTPError),
            stop=tenacity.stop_after_attempt(self.max_attempts) | tenacity.stop_after_delay(self.max_retry_seconds),
            wait=self.wait_seconds,
            before_sleep=before_sleep,
            reraise=True,
        )
