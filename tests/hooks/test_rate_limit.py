"""The client-side rolling-window limiter, on a fake clock."""

from __future__ import annotations

import threading

import pytest

from woohub.http.rate_limit import RollingWindowLimiter, ServerWindow


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def _max_in_window(starts: list[float], window: float) -> int:
    return max(sum(1 for t in starts if s <= t < s + window) for s in starts)


def test_a_burst_never_exceeds_the_budget_in_any_window() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter(100, 10.0, margin=10, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(250):
        limiter.acquire()
        starts.append(clock.now)
    assert _max_in_window(starts, 10.0) == 90
    assert 20.0 <= clock.now < 21.0  # 250 calls at 90 per 10 s: the third window opens at t=20


def test_calls_the_server_counted_elsewhere_take_up_the_budget() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter(100, 10.0, margin=10, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.observe_headers({"X-HubSpot-RateLimit-Remaining": "99"})  # only our own call: no change
    assert limiter.acquire() == 0.0
    clock.now = 4.0
    limiter.observe_headers({"X-HubSpot-RateLimit-Remaining": "5"})  # another client spent 93 calls
    assert limiter.acquire() == pytest.approx(10.0)  # wait until those 93 have surely left the window
    limiter.observe_headers({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})  # no Remaining: ignored
    assert limiter.acquire() == 0.0


def test_threads_share_one_budget() -> None:
    limiter = RollingWindowLimiter(20, 0.5, margin=0)
    starts: list[float] = []
    lock = threading.Lock()

    def call() -> None:
        limiter.acquire()
        with lock:
            starts.append(__import__("time").monotonic())
    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == 50 and _max_in_window(sorted(starts), 0.49) <= 20


def test_server_window_from_hubspot_headers() -> None:
    headers = {"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "187",
               "X-HubSpot-RateLimit-Interval-Milliseconds": "10000", "X-HubSpot-RateLimit-Daily": "250000"}
    assert ServerWindow.from_headers(headers) == ServerWindow(remaining=187, limit=190, interval_ms=10_000)
    assert ServerWindow.from_headers({"X-HubSpot-RateLimit-Remaining": "n/a", "X-HubSpot-RateLimit-Max": "5"}) == \
        ServerWindow(remaining=None, limit=5, interval_ms=None)
    assert ServerWindow.from_headers({"Content-Type": "application/json"}) is None  # search responses
