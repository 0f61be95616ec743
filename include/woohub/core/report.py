"""The run report: counts per object, what the run quarantined, the conflicts it decided, the open and
exhausted dead letters, and one alert per newly exhausted dead letter. Runs as the DAG's teardown, so it reports failed runs too."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine

from woohub.core import dead_letters, quarantine
from woohub.core.conflicts import conflict_rows
from woohub.core.run_stats import run_counts
from woohub.monitoring.alert_checks import alert_exhausted_dead_letters
from woohub.reconciliation.heal import mark_healed

log = logging.getLogger(__name__)


def report_run(engine: Engine, run_id: str, dag_id: str = "woohub") -> dict[str, Any]:
    """Log and return the run's counts per object, its quarantined records and the dead letters; give back
    the dead-letter claims the run did not use; alert once per newly exhausted letter; mark the reconciliation
    differences whose re-queued record is now synced ``healed``."""
    released = dead_letters.release_claims(engine, run_id)
    counts = run_counts(engine, run_id)
    found = quarantine.quarantined(engine, run_id=run_id)
    letters = dead_letters.dead_letters(engine)
    exhausted = [row for row in letters if row["state"] == dead_letters.EXHAUSTED]
    for object_type, row in sorted(counts.items()):
        log.info("%s %s: %s", run_id, object_type, ", ".join(f"{k}={v}" for k, v in row.items()))
    if found:
        log.warning("%d record(s) quarantined in this run (the quarantine table lists their reasons)", len(found))
    if letters:
        worst = max(letters, key=lambda r: r["attempts"])
        log.warning("%d dead letter(s) open, %d exhausted; most attempts: %s %s (%d, last error %s)",
                    len(letters) - len(exhausted), len(exhausted), worst["object_type"], worst["source_key"],
                    worst["attempts"], worst["error_code"])
    if released:
        log.info("released %d dead-letter claim(s) this run did not retry", released)
    healed = mark_healed(engine)
    if healed:
        log.info("%d reconciliation difference(s) re-queued by a nightly heal are now written: healed", healed)
    decided = conflict_rows(engine, run_id)
    for row in decided[:50]:
        log.warning("conflict: %s %s / HubSpot %s field %s: WooCommerce %r (modified %s), HubSpot %r (modified "
                    "%s) -> %s wins (%s)", row["object_type"], row["woocommerce_key"], row["hubspot_id"],
                    row["field"], row["woocommerce_value"], row["woocommerce_modified_at"], row["hubspot_value"],
                    row["hubspot_modified_at"], row["winner"], row["policy"])
    newly = alert_exhausted_dead_letters(engine)
    return {"counts": counts, "quarantined": len(found), "conflicts": len(decided), "dead_letters_open": len(letters) - len(exhausted),
            "dead_letters_exhausted": len(exhausted), "newly_exhausted": len(newly), "healed": healed}
