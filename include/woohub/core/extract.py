"""What every extract shares, whichever system it reads: the window a run extracts, the counts it reports,
and :class:`StreamStager`, which stages records as they are read.

An extract stages as it walks, ``STAGE_BATCH`` records per write, so its memory holds one batch of payloads,
never the whole walk. Within a batch the most recent version of an id wins (a walk by modification time may
read a record twice, when it changed during the walk); across batches the staging upsert keeps the newest
version by ``source_modified_at`` (:func:`woohub.staging.repository.stage_records`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from woohub.core.progress import Progress
from woohub.staging import repository

#: records staged per write while an extract walks (memory holds one batch of payloads, not the walk)
STAGE_BATCH = 1000


@dataclass(frozen=True)
class ExtractWindow:
    """What a run extracts: records modified in ``[start, end)`` (naive UTC), or everything if ``full``."""

    start: datetime | None
    end: datetime
    full: bool = False


@dataclass
class ExtractResult:
    """Counts of one stream's extraction, small enough for XCom."""

    stream: str
    staged: int = 0
    api_calls: int = 0
    details: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"stream": self.stream, "staged": self.staged, "api_calls": self.api_calls, **self.details}


def _no_version(record: Mapping[str, Any]) -> str:
    """Without a version key every later copy of an id replaces the earlier one."""
    return ""


class StreamStager:
    """Stages one stream's records as they are read, ``batch_size`` at a time (see the module docstring),
    and logs progress (:class:`~woohub.core.progress.Progress`) as it goes.

    :param version: a record's sort key of recency (its modification time); within a batch the copy with
        the greatest key wins, a later copy on a tie
    :param modified_field: the top-level payload field :func:`~woohub.staging.repository.stage_records`
        takes ``source_modified_at`` from (``None``: no modification time)
    :param calls: the API calls spent so far, for the progress lines
    :param progress: a ready :class:`Progress` (default: one labelled ``extract <stream>``)
    """

    def __init__(self, engine: Engine, stream: str, run_id: str, *, modified_field: str | None,
                 version: Callable[[Mapping[str, Any]], Any] = _no_version,
                 calls: Callable[[], int] | None = None, batch_size: int | None = None,
                 progress: Progress | None = None) -> None:
        self.engine, self.stream, self.run_id = engine, stream, run_id
        self.modified_field, self.version = modified_field, version
        self.batch_size = batch_size or STAGE_BATCH
        self.ids: set[str] = set()
        self.progress = progress or Progress(f"extract {stream}", calls=calls)
        self._batch: dict[Any, dict[str, Any]] = {}

    def add_total(self, count: int) -> None:
        """One more walk of ``count`` records is part of this extract."""
        self.progress.set_total((self.progress.total or 0) + count)

    def add(self, record: dict[str, Any], *, counted: bool = False) -> None:
        """Stage ``record`` with the next batch (``counted``: its progress was already counted)."""
        before = self._batch.get(record["id"])
        if before is None or self.version(record) >= self.version(before):
            self._batch[record["id"]] = record
        if not counted:
            self.progress.advance()
        if len(self._batch) >= self.batch_size:
            self.flush()

    def add_all(self, records: Iterable[dict[str, Any]]) -> int:
        """Stage every record of ``records``; returns how many were read."""
        count = 0
        for record in records:
            self.add(record)
            count += 1
        return count

    def flush(self) -> None:
        """Write the batch gathered so far."""
        if self._batch:
            repository.stage_records(self.engine, self.stream, list(self._batch.values()), self.run_id,
                                     modified_field=self.modified_field)
            self.ids.update(str(i) for i in self._batch)
            self._batch = {}

    def finish(self) -> int:
        """Stage what is left, log the last progress line; the number of distinct records staged."""
        self.flush()
        self.progress.finish()
        return len(self.ids)


__all__ = ["STAGE_BATCH", "ExtractResult", "ExtractWindow", "StreamStager"]
