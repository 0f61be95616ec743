"""The per-record result of a batch write, shared by both hooks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordOutcome:
    """What happened to one input record of a batch call.

    :param key: the caller's key for the input (HubSpot upsert id value, ``objectWriteTraceId``, record id,
        or the input's position for WooCommerce creates)
    :param ok: whether the vendor applied the write
    :param id: the vendor's record id after the write, when known
    :param error_code: the vendor's error category/code when ``ok`` is false (``AMBIGUOUS_WRITE`` when the
        request failed without telling whether it was applied, ``UNREPORTED`` when the vendor's answer did
        not mention the input)
    :param error_message: the vendor's error message when ``ok`` is false
    :param created: ``True`` when the write created the record, ``False`` when it updated an existing one,
        ``None`` when unknown or not applicable
    """

    key: str
    ok: bool
    id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    created: bool | None = None

    @classmethod
    def failure(cls, key: str, code: str, message: str) -> RecordOutcome:
        """A failed outcome for ``key``."""
        return cls(key=key, ok=False, error_code=code, error_message=message)
