"""Progress lines for long steps (extract walks, validation, loads): records done of the total where it is
known, API calls so far, elapsed time and an estimate of the time left.

A :class:`Progress` logs when the work crossed another ``every_share`` of the total (10 % by default) or
``every_seconds`` passed since the last line (30 s by default), whichever comes first, and once more when
the step finishes. Without a total only the time rule applies. The clock and the API call counter are
injected, so the cadence is testable without sleeping and without Airflow::

    with Progress("load deals", total=len(ids), calls=hook.calls_spent) as progress:
        for chunk in chunks:
            ...
            progress.advance(len(chunk))

Used as a context manager it also beats (:meth:`Progress.beat`) from a daemon thread, so the time rule
holds while one chunk is in flight; :meth:`Progress.finish` logs the last line.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

DEFAULT_SHARE = 0.10
DEFAULT_SECONDS = 30.0


@dataclass
class Progress:
    """The progress of one step; see the module docstring.

    :param label: what the step is, e.g. ``"extract woocommerce.orders"``
    :param total: the records the step will process, ``None`` while unknown (:meth:`set_total` later)
    :param calls: returns the API calls spent so far (counted from this object's creation)
    :param clock: seconds from a monotonic clock (``time.monotonic``)
    :param emit: where lines go (``logger.info`` by default)
    """

    label: str
    total: int | None = None
    calls: Callable[[], int] | None = None
    clock: Callable[[], float] = time.monotonic
    emit: Callable[[str], None] = log.info
    every_share: float = DEFAULT_SHARE
    every_seconds: float = DEFAULT_SECONDS
    done: int = 0
    lines: int = 0
    started: float = field(init=False)
    _last_line_at: float = field(init=False)
    _next_at: float = field(init=False)
    _calls_at_start: int = field(init=False)

    def __post_init__(self) -> None:
        self.started = self._last_line_at = self.clock()
        self._next_at = self._threshold_after(0)
        self._calls_at_start = self.calls() if self.calls else 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def __enter__(self) -> Progress:
        """Start the heartbeat: a daemon thread that calls :meth:`beat` every second, so a step whose
        records complete in big chunks (a load chunk waiting on the rate limit) still logs every
        ``every_seconds``, with the API calls counted live."""
        self._heartbeat = threading.Thread(target=self._beat_until_stopped, name=f"progress {self.label}",
                                           daemon=True)
        self._heartbeat.start()
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        if exc_type is None:
            self.finish()

    def beat(self) -> bool:
        """Log a line if ``every_seconds`` passed since the last one (whatever the records did)."""
        now = self.clock()
        if now - self._last_line_at < self.every_seconds:
            return False
        self._log(now)
        return True

    def _beat_until_stopped(self) -> None:
        while not self._stop.wait(min(1.0, self.every_seconds)):
            self.beat()

    def set_total(self, total: int | None) -> None:
        """Learn (or correct) the total, e.g. from the first page's ``X-WP-Total``."""
        self.total = total
        self._next_at = self._threshold_after(self.done)

    def advance(self, count: int = 1) -> bool:
        """``count`` more records are done; log a line when the cadence says so. Returns whether it did."""
        self.done += count
        now = self.clock()
        due_by_time = now - self._last_line_at >= self.every_seconds
        due_by_share = self.done >= self._next_at
        if not (due_by_time or due_by_share):
            return False
        self._log(now)
        return True

    def finish(self) -> str:
        """Log (and return) the final line."""
        return self._log(self.clock(), final=True)

    @property
    def api_calls(self) -> int:
        return (self.calls() - self._calls_at_start) if self.calls else 0

    def describe(self, now: float | None = None, *, final: bool = False) -> str:
        """The line as it is logged: ``label: 1,200 of 10,000 (12%), 14 API calls, 4s elapsed, ~29s left``."""
        now = self.clock() if now is None else now
        elapsed = max(0.0, now - self.started)
        parts = [f"{self.done:,}" + (f" of {self.total:,} ({self._percent()})" if self.total else "")]
        if self.calls:
            parts.append(f"{self.api_calls:,} API calls")
        parts.append(f"{format_seconds(elapsed)} elapsed")
        left = self.seconds_left(elapsed)
        if final:
            parts.append("done")
        elif left is not None:
            parts.append(f"~{format_seconds(left)} left")
        return f"{self.label}: " + ", ".join(parts)

    def seconds_left(self, elapsed: float) -> float | None:
        """The time left at the rate so far, ``None`` without a total or before any record is done."""
        if not self.total or self.done <= 0 or elapsed <= 0:
            return None
        return max(0.0, elapsed / self.done * (self.total - self.done))

    def _percent(self) -> str:
        return f"{100 * self.done / self.total:.0f}%" if self.total else ""

    def _threshold_after(self, done: int) -> float:
        """The record count that earns the next line: the first multiple of ``every_share`` of the total
        above ``done`` (infinite without a total)."""
        if not self.total:
            return math.inf
        step = self.total * self.every_share
        return math.ceil((math.floor(done / step + 1e-9) + 1) * step - 1e-9)

    def _log(self, now: float, *, final: bool = False) -> str:
        with self._lock:
            line = self.describe(now, final=final)
            self.emit(line)
            self.lines += 1
            self._last_line_at = now
            self._next_at = self._threshold_after(self.done)
            return line


def format_seconds(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
