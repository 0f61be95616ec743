"""HubSpot's rate limits: a rolling 10-second burst per app, a daily limit per account, and the CRM search
API's own 5 requests per second (whose responses carry no rate-limit headers)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from woohub.sandbox.hubspot.errors import correlation_id

INTERVAL_MS = 10_000


def rate_limit_body(policy: str) -> dict[str, Any]:
    message = {"DAILY": "You have reached your daily limit.",
               "SECONDLY": "You have reached your secondly limit.",
               "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit."}[policy]
    return {"status": "error", "message": message, "errorType": "RATE_LIMIT", "correlationId": correlation_id(),
            "policyName": policy, "requestId": correlation_id()}


class RateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._burst: dict[str, deque[float]] = {}
            self._search: dict[str, deque[float]] = {}
            self._day = time.strftime("%Y-%m-%d", time.gmtime())
            self._daily = 0

    def check(self, settings: dict[str, Any], app: str, *, search: bool,
              oauth: bool) -> tuple[dict[str, str], str | None]:
        """Count one request; (headers to send, policy name if it is over a limit)."""
        enabled = settings["rate_limits_enabled"]
        now = time.monotonic()
        with self._lock:
            day = time.strftime("%Y-%m-%d", time.gmtime())
            if day != self._day:
                self._day, self._daily = day, 0
            daily_limit = int(settings["daily_limit"])
            if search:
                window = self._search.setdefault(app, deque())
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if enabled and self._daily >= daily_limit:
                    return {}, "DAILY"
                if enabled and len(window) >= int(settings["search_per_second"]):
                    return {}, "SECONDLY"
                window.append(now)
                self._daily += 1
                return {}, None
            window = self._burst.setdefault(app, deque())
            while window and window[0] <= now - INTERVAL_MS / 1000:
                window.popleft()
            limit = int(settings["ten_second_limit"])
            policy = None
            if enabled and self._daily >= daily_limit:
                policy = "DAILY"
            elif enabled and len(window) >= limit:
                policy = "TEN_SECONDLY_ROLLING"
            else:
                window.append(now)
                self._daily += 1
            headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": str(INTERVAL_MS),
                       "X-HubSpot-RateLimit-Max": str(limit),
                       "X-HubSpot-RateLimit-Remaining": str(max(0, limit - len(window)))}
            if not oauth:  # HubSpot does not send the daily headers on OAuth-authenticated calls
                headers["X-HubSpot-RateLimit-Daily"] = str(daily_limit)
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, daily_limit - self._daily))
            return headers, policy
