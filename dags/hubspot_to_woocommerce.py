"""
### HubSpot → WooCommerce

Within seconds of a HubSpot webhook, and every 15 minutes (`WOOHUB_H2W_CRON`) as the safety net, brings the
sales team's changes in HubSpot into the WooCommerce store:
**closed-won deals** (upsell, cross-sell) become **orders** after the checks WooCommerce's API does not make,
and **contact corrections** (email, names, phone, address) reach the linked **customers**.

**Webhook-triggered runs.** The HubSpot app's webhook subscriptions (deal and contact creation, property
changes, deletion) reach `POST /woohub/webhooks/hubspot` (v3 signature checked), which records one event
per changed record and emits an event of the Asset `woohub://hubspot/changes` — this DAG's schedule is that
Asset *or* the cron. Such a run (type `asset_triggered`) claims the pending webhook events and reads exactly
those deals (with their line items, products and contacts) and contacts by id: no search walk, no recheck
of earlier rejected deals (the schedule does that), no high-water mark moved. Events arriving while a run is
active become one more run when it ends; events of a run that failed before its extract staged them stay
pending for the next run. Scheduled runs claim pending events too.

1. `plan_run` — the window `[start − lookback, end)` from the run's data interval (catch-up from the
   high-water mark on scheduled runs), claimed dead letters, the deals rejected earlier (rechecked every run
   that walks a window) and (scheduled and webhook-triggered runs) the pending webhook events.
2. `check_setup` — the `woo_*` HubSpot properties, the store currency.
3. `extract_deals`, `extract_contacts` — HubSpot search on the modification time into the staging tables,
   with the deals' line items, products and contacts through batch reads; the deals and contacts the
   claimed webhook events name, by id; then those events are `staged`.
4. `validate_deals`, `validate_contacts` — Great Expectations suites; bad rows are quarantined.
5. `sync_contacts` — changed fields of linked contacts → their customers (field ownership and conflicts in
   `include/woohub/mapping/hubspot_to_woocommerce/mapping.yaml`, conflicts in the `sync_conflict` table).
6. `sync_deals` — qualifying deals → checked → exactly one order each; `woo_sync_status`, `woo_sync_message`
   and `woo_order_id` written back to the deal. A rejected deal says why on the deal and goes through by
   itself once the reason is gone (e.g. a restock).
7. `commit_high_water_marks` (scheduled runs only), then `report_run`.

Manual runs and backfills (`airflow backfill create --dag-id hubspot_to_woocommerce …`) sync their own data
interval and never move a high-water mark. Params as in `woocommerce_to_hubspot`.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import chain, dag, task, teardown

from woohub.sync import dag_support as support
from woohub.sync.dag_support import SHORT_TIMEOUT
from woohub.webhooks import HUBSPOT_CHANGES

DAG_ID = os.path.basename(__file__).removesuffix(".py")


@dag(
    dag_id=DAG_ID,
    schedule=support.sync_schedule("WOOHUB_H2W_CRON", HUBSPOT_CHANGES),
    doc_md=__doc__,
    tags=["woohub", "sync", "hubspot", "woocommerce"],
    params=support.sync_params(
        full_resync_description="extract every deal and contact and compare them all again",
        dry_run_description="extract, validate and check; report what would be written; write nothing "
                            "to WooCommerce or HubSpot",
    ),
    **support.sync_dag_settings(),
)
def hubspot_to_woocommerce() -> None:
    @task(execution_timeout=SHORT_TIMEOUT)
    def plan_run() -> dict[str, Any]:
        from woohub.sync.hubspot_to_woocommerce import plan_run

        return support.plan_this_run(plan_run)

    @task(execution_timeout=SHORT_TIMEOUT)
    def check_setup() -> dict[str, Any]:
        from woohub.sync.hubspot_to_woocommerce import check_setup

        return check_setup(support.hubspot_hook(), support.woocommerce_hook(), dry_run=support.is_dry_run())

    @task
    def extract_deals(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.hubspot.extract import DEALS, extract_deals
        from woohub.sync.hubspot_to_woocommerce import record_extract

        engine = support.engine()
        targets = support.by_id(plan, DEALS)
        result = extract_deals(support.hubspot_hook(), engine, support.extract_window(plan), support.run_id(),
                               include_ids=[*support.as_run_plan(plan).rechecked(DEALS), *targets["targets"]],
                               walk_window=targets["walk_window"])
        support.close_events(plan, DEALS)
        return record_extract(engine, support.run_id(), result)

    @task
    def extract_contacts(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.hubspot.extract import CONTACTS, extract_contacts
        from woohub.sync.hubspot_to_woocommerce import record_extract

        engine = support.engine()
        targets = support.by_id(plan, CONTACTS)
        result = extract_contacts(support.hubspot_hook(), engine, support.extract_window(plan), support.run_id(),
                                  include_ids=targets["targets"], walk_window=targets["walk_window"])
        support.close_events(plan, CONTACTS)
        return record_extract(engine, support.run_id(), result)

    @task
    def validate_stream(stream: str, plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.hubspot_to_woocommerce import validate_stream

        with support.bad_data_fails_at_once():
            return validate_stream(support.engine(), stream, support.as_run_plan(plan))

    @task
    def sync_contacts(plan: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.hubspot_to_woocommerce import sync_contacts

        return sync_contacts(support.hubspot_hook(), support.woocommerce_hook(), support.engine(),
                             support.as_run_plan(plan))

    @task
    def sync_deals(plan: dict[str, Any], setup: dict[str, Any]) -> dict[str, Any]:
        from woohub.sync.hubspot_to_woocommerce import sync_deals

        return sync_deals(support.hubspot_hook(), support.woocommerce_hook(), support.engine(),
                          support.as_run_plan(plan), setup)

    @task(execution_timeout=SHORT_TIMEOUT)
    def commit_high_water_marks(plan: dict[str, Any]) -> list[str]:
        from woohub.sync.hubspot_to_woocommerce import commit_high_water_marks

        return commit_high_water_marks(support.engine(), support.as_run_plan(plan))

    @teardown
    @task(execution_timeout=SHORT_TIMEOUT)
    def report_run() -> dict[str, Any]:
        from woohub.core.report import report_run

        return report_run(support.engine(), support.run_id(), DAG_ID)

    plan = plan_run()
    setup = check_setup()
    deals = extract_deals(plan)
    contacts = extract_contacts(plan)
    chain(plan, setup, [deals, contacts])
    valid_deals = validate_stream.override(task_id="validate_deals")("hubspot.deals", plan)
    valid_contacts = validate_stream.override(task_id="validate_contacts")("hubspot.contacts", plan)
    deals >> valid_deals
    [deals, contacts] >> valid_contacts
    synced_contacts = sync_contacts(plan)
    synced_deals = sync_deals(plan, setup)
    [valid_contacts, valid_deals] >> synced_contacts >> synced_deals
    committed = commit_high_water_marks(plan)
    synced_deals >> committed >> report_run()


hubspot_to_woocommerce()
