"""The reconciliation's rules (``reconciliation.yaml`` next to this module): the drift threshold of the results
check, when an open quarantine row counts as stale, and the deletion policy per object."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from woohub.mapping import config_checks as checks
from woohub.mapping.config_checks import MappingConfigError

__all__ = ["DEFAULT_SETTINGS_PATH", "DELETION_POLICIES", "MappingConfigError", "ReconciliationSettings",
           "load_settings", "packaged_settings", "parse_settings"]

DEFAULT_SETTINGS_PATH = Path(__file__).with_name("reconciliation.yaml")
REPORT, ARCHIVE = "report", "archive"
#: deletion policy per deleted WooCommerce object, and the policies each may have
DELETION_POLICIES = MappingProxyType({"order": (REPORT,), "product": (REPORT, ARCHIVE), "customer": (REPORT,)})


@dataclass(frozen=True)
class ReconciliationSettings:
    """``drift_threshold`` (share of drifting records per object the results check accepts),
    ``stale_quarantine_days`` and ``deletion`` (``order`` / ``product`` / ``customer`` -> ``report`` or
    ``archive``)."""

    drift_threshold: float = 0.02
    stale_quarantine_days: int = 7
    deletion: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({"order": REPORT, "product": ARCHIVE, "customer": REPORT}))

    def deletion_policy(self, deleted: str) -> str:
        """The policy for a deleted WooCommerce ``order``, ``product`` or ``customer``."""
        return str(self.deletion[deleted])


def load_settings(path: Path | None = None) -> ReconciliationSettings:
    """Read and validate the YAML (default: the packaged ``reconciliation.yaml``); ``MappingConfigError``
    naming the bad key when it is not valid."""
    return parse_settings(checks.read_yaml(path or DEFAULT_SETTINGS_PATH))


@functools.cache
def packaged_settings() -> ReconciliationSettings:
    """The packaged settings, read once per process."""
    return load_settings()


def parse_settings(raw: Any) -> ReconciliationSettings:
    """Validate an already parsed settings document."""
    doc = checks.versioned_document(raw, {"drift_threshold", "stale_quarantine_days", "deletion"})
    threshold = doc.get("drift_threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise MappingConfigError(f"drift_threshold: must be a number from 0 to 1, got {threshold!r}")
    days = doc.get("stale_quarantine_days")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise MappingConfigError(f"stale_quarantine_days: must be a whole number of days, at least 1, got {days!r}")
    deletion = checks.section(doc, "deletion")
    checks.no_unknown_keys(deletion, "deletion", set(DELETION_POLICIES))
    policies = {}
    for deleted, allowed in DELETION_POLICIES.items():
        value = deletion.get(deleted)
        if value not in allowed:
            raise MappingConfigError(f"deletion.{deleted}: must be one of {', '.join(allowed)}, got {value!r}")
        policies[deleted] = value
    return ReconciliationSettings(drift_threshold=float(threshold), stale_quarantine_days=days,
                                  deletion=MappingProxyType(policies))
