"""A thread-safe client-side rate limiter for rolling-window budgets (HubSpot's 10-second and search limits)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping


class RollingWindowLimiter:
    """Admits at most ``limit`` calls in any ``window_seconds`` rolling window; :meth:`acquire` blocks until
    a call may start. Thread-safe: calls from several threads share one budget.

    :meth:`observe` adapts to the server's view (``X-HubSpot-RateLimit-*`` headers): when the server reports
    fewer calls left than the margin allows, new calls wait until the window should have freed enough of them.
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
        self._paused_until = 0.0
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
        if now < self._paused_until:
            return self._paused_until - now
        if len(self._starts) < self.budget:
            return 0.0
        return self._starts[0] + self.window_seconds - now

    def observe(self, remaining: int, interval_seconds: float | None = None) -> None:
        """Take the server's count of calls left in the current window into account."""
        if remaining > self.margin:
            return
        window = interval_seconds or self.window_seconds
        pause = window * (self.margin - remaining + 1) / self.limit
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + pause)

    def observe_headers(self, headers: Mapping[str, str], prefix: str = "X-HubSpot-RateLimit") -> None:
        """:meth:`observe` from ``<prefix>-Remaining`` and ``<prefix>-Interval-Milliseconds`` headers, if sent."""
        remaining = headers.get(f"{prefix}-Remaining")
        if remaining is None or not remaining.strip().lstrip("-").isdigit():
            return
        interval_ms = headers.get(f"{prefix}-Interval-Milliseconds", "")
        interval = int(interval_ms) / 1000 if interval_ms.isdigit() else None
        self.observe(int(remaining), interval)
