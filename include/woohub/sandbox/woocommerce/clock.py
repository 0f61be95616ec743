"""The store's clock and the WordPress date rules (site timezone, naive local values, strict 1-second windows)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


class Clock:
    """Real time, or a frozen instant (UTC) that tests move by hand. Times are whole epoch seconds."""

    def __init__(self) -> None:
        self.frozen: int | None = None

    def now(self) -> int:
        return self.frozen if self.frozen is not None else int(time.time())

    def freeze(self, value: str | None) -> None:
        self.frozen = None if value is None else parse_utc(value)

    def advance(self, seconds: float) -> None:
        if self.frozen is None:
            raise ValueError("advance_seconds needs a frozen clock (configure clock first)")
        self.frozen += int(seconds)


def parse_utc(value: str) -> int:
    """An admin-side timestamp (naive = UTC, or with an offset) as epoch seconds."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def fmt_gmt(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def fmt_local(epoch: int | None, tz: ZoneInfo) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%dT%H:%M:%S")


def local_to_epoch(naive: str, tz: ZoneInfo) -> int:
    dt = datetime.strptime(naive, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=tz)
    return int(dt.timestamp())


def naive_to_epoch_utc(naive: str) -> int:
    return int(datetime.strptime(naive, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())


def is_valid_date(value: str) -> bool:
    return bool(_DATE_RE.match(value))


def parse_request_date(value: str, tz: ZoneInfo) -> tuple[str, bool]:
    """What WordPress compares a date query parameter as: ``(naive wall-clock string, has_offset)``.

    A naive value stays as written. A value with an offset is converted to *site-local* wall-clock time
    (``rest_parse_date`` + ``get_date_from_gmt``), whatever column it is later compared with; that is why
    ``Z`` together with ``dates_are_gmt=true`` moves the window by the site's UTC offset.
    """
    m = _DATE_RE.match(value)
    if not m:
        raise ValueError(value)
    naive = f"{m[1]}-{m[2]}-{m[3]}T{m[4]}:{m[5]}:{m[6]}"
    offset = m[7]
    if not offset:
        return naive, False
    if offset in ("Z", "z"):
        delta = timedelta(0)
    else:
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        delta = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    instant = datetime.strptime(naive, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC) - delta
    return instant.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S"), True
