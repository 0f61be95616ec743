"""Client-side rate limiters for rolling-window budgets (HubSpot's 10-second and search limits).

:class:`RollingWindowLimiter` keeps its budget in memory: one per process.
:class:`woohub.http.shared_budget.SharedRollingWindowLimiter` keeps it in a database that every process
of a deployment shares. Both implement :class:`RateLimiter`, so a hook uses either the same way.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

HUBSPOT_HEADER_PREFIX = "X-HubSpot-RateLimit"


class RateLimiter(Protocol):
    """What a hook needs from a limiter: wait before a call, learn from each response."""

    def acquire(self) -> float:
        """Block until one more call fits the budget, record it, and return the seconds waited."""
        ...

    def observe_headers(self, headers: Mapping[str, str], prefix: str = HUBSPOT_HEADER_PREFIX) -> None:
        """Take a response's rate-limit headers into account."""
        ...


@dataclass(frozen=True)
class ServerWindow:
    """What one response said about the server's rate-limit window (``<prefix>-Remaining``, ``-Max``,
    ``-Interval-Milliseconds``); each is ``None`` when the header was absent or not a number."""

    remaining: int | None
    limit: int | None
    interval_ms: int | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], prefix: str = HUBSPOT_HEADER_PREFIX) -> ServerWindow | None:
        """The window the headers describe, or ``None`` when they carry none of the three (search responses)."""
        window = cls(_header_int(headers, f"{prefix}-Remaining"), _header_int(headers, f"{prefix}-Max"),
                     _header_int(headers, f"{prefix}-Interval-Milliseconds"))
        return None if window == cls(None, None, None) else window


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None or not value.strip().lstrip("-").isdigit():
        return None
    return int(value)


class RollingWindowLimiter:
    """Admits at most ``limit - margin`` calls in any ``window_seconds`` rolling window; :meth:`acquire` blocks until
    a call may start. Thread-safe: calls from several threads share one budget.

    :meth:`observe` adapts to the server's view (``X-HubSpot-RateLimit-Remaining``): calls the server
    counted that this limiter did not make (another process on the same app) take up budget here too.
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        margin: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window_seconds > 0")
        self.limit = limit
        self.window_seconds = window_seconds
        self.margin = max(0, min(margin, limit - 1))
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    @property
    def budget(self) -> int:
        """Calls admitted per window: the limit minus the safety margin."""
        return self.limit - self.margin

    def acquire(self) -> float:
        """Block until one more call fits the budget, record it, and return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                delay = self._delay_locked(self._clock())
                if delay <= 0:
                    self._starts.append(self._clock())
                    return waited
            self._sleep(delay)
            waited += delay

    def _delay_locked(self, now: float) -> float:
        while self._starts and self._starts[0] <= now - self.window_seconds:
            self._starts.popleft()
        if len(self._starts) < self.budget:
            return 0.0
        return self._starts[0] + self.window_seconds - now

    def observe(self, remaining: int) -> None:
        """Take the server's count of calls left in its window into account: calls the server counted but
        this limiter did not (other clients of the same app, other processes) are recorded as if made now,
        so new calls wait until the server's window has room again. Never makes the limiter less strict."""
        with self._lock:
            now = self._clock()
            self._delay_locked(now)  # drop expired starts
            unseen = (self.limit - remaining) - len(self._starts)
            self._starts.extend([now] * max(0, unseen))

    def observe_headers(self, headers: Mapping[str, str], prefix: str = HUBSPOT_HEADER_PREFIX) -> None:
        """:meth:`observe` from the ``<prefix>-Remaining`` header, if sent (search responses carry none).
        The in-process limiter keeps its configured limit (the shared one follows ``<prefix>-Max``)."""
        remaining = _header_int(headers, f"{prefix}-Remaining")
        if remaining is not None:
            self.observe(remaining)
