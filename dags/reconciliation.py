"""
### Nightly reconciliation of WooCommerce and HubSpot

Every night at 02:00 UTC (`WOOHUB_RECONCILIATION_CRON`), answers "do the shop and the CRM agree, and if not,
where and why?" and re-queues what the sync can fix.

1. `start` — the HubSpot token must hold the read scopes of every object (a missing one fails the night
   here, named); the snapshot table keeps one night: older nights' rows go.
2. `snapshot_woocommerce`, `snapshot_hubspot` (in parallel) — a full read of both systems (WooCommerce through
   the read-only connection `woocommerce_readonly` when it is defined) into
   `reconciliation_snapshot`, page by page through the list endpoints (trashed orders and products,
   archived HubSpot records included), mapped into the same field names on both sides.
3. `compare` — every difference classified in staging (`missing_in_hubspot`, `missing_in_woocommerce`,
   `field_mismatch`, `duplicate`, `orphaned_link`, `empty_value_kept`, `stale_quarantine`, `dead_letter`),
   one `reconciliation_difference` row each, and the counts and drift rate per object in
   `reconciliation_run`.
4. `check_results` — the Great Expectations suite `reconciliation_results` (drift rate under the threshold
   of `include/woohub/reconciliation/reconciliation.yaml`, no duplicates) into the same Data Docs as the
   sync checks. A failed check is logged, not fatal: the heal still runs.
5. `heal` — what has an authoritative side under the field-ownership policy is re-queued through the normal
   sync path (staged again, unsynced, the ledger's claim withdrawn); the next run of the sync DAG writes it
   and its difference becomes `healed`. The rest is `reported` for a person. Never a second writer.
6. `purge_retention` — the retention purge (`WOOHUB_RETENTION_DAYS`); skipped on a dry run.
7. `report` — a summary per object and kind in the log.

Param `dry_run`: list what would be healed as `would_heal` and write nothing besides the night's results.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import Param, dag, task, teardown

from woohub.reconciliation.night import CRON_VARIABLE, DEFAULT_CRON
from woohub.sync import dag_support as support

DAG_ID = os.path.basename(__file__).removesuffix(".py")


@dag(
    dag_id=DAG_ID,
    schedule=support.sync_schedule(CRON_VARIABLE, DEFAULT_CRON),
    doc_md=__doc__,
    tags=["woohub", "reconciliation", "woocommerce", "hubspot", "data-quality"],
    params={"dry_run": Param(False, type="boolean", title="Dry run",
                             description="classify and list what would be healed (would_heal); re-queue "
                                         "nothing, purge nothing")},
    **support.sync_dag_settings(),
)
def reconciliation() -> None:
    @task
    def start() -> dict[str, Any]:
        from woohub.hubspot.oauth import check_scopes
        from woohub.reconciliation.night import start_night

        check_scopes(support.hubspot_hook(), "reconciliation")
        return start_night(support.engine(), support.run_id())

    @task
    def snapshot_woocommerce() -> dict[str, int]:
        from woohub.core.connections import woocommerce_read_connection
        from woohub.reconciliation.snapshot import snapshot_woocommerce
        from woohub.woocommerce import WooCommerceHook

        hook = WooCommerceHook(woocommerce_read_connection(support.WOOCOMMERCE_CONN_ID))
        return snapshot_woocommerce(support.engine(), hook, support.run_id())

    @task
    def snapshot_hubspot() -> dict[str, int]:
        from woohub.reconciliation.snapshot import snapshot_hubspot

        return snapshot_hubspot(support.engine(), support.hubspot_hook(), support.run_id())

    @task
    def compare(night: dict[str, Any]) -> dict[str, Any]:
        from datetime import datetime

        from woohub.reconciliation.compare import compare_run

        return compare_run(support.engine(), support.run_id(), dry_run=support.is_dry_run(),
                           started_at=datetime.fromisoformat(night["started_at"]))

    @task
    def check_results() -> dict[str, Any]:
        from woohub.reconciliation.results import check_results

        return check_results(support.engine(), support.run_id())

    @task
    def heal() -> dict[str, Any]:
        from woohub.reconciliation.heal import apply_heals

        return apply_heals(support.engine(), support.run_id(), dry_run=support.is_dry_run())

    @task
    def purge_retention() -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from woohub.reconciliation.night import purge_retention

        if support.is_dry_run():
            raise AirflowSkipException("dry run: nothing is purged")
        return purge_retention(support.engine())

    # A teardown, as the sync DAGs' report: it runs whatever happened upstream and does not decide the run's state.
    @teardown
    @task(execution_timeout=support.SHORT_TIMEOUT)
    def report() -> dict[str, Any]:
        from woohub.reconciliation.night import report_night

        return report_night(support.engine(), support.run_id())

    night = start()
    reads = [snapshot_woocommerce(), snapshot_hubspot()]
    night >> reads
    compared = compare(night)
    reads >> compared
    compared >> check_results() >> heal() >> purge_retention() >> report()


reconciliation()
