"""
### API health check

Every hour, checks that the **HubSpot** portal and the **WooCommerce** store answer and accept the
credentials in the `hubspot_default` and `woocommerce_default` connections (WooCommerce through the read-only
`woocommerce_readonly` when it is defined), and logs how many records
each side holds (HubSpot contacts, deals, products, line items; WooCommerce orders, customers, products)
and the deal pipelines with their stage ids.

A third task sends the alerts the staging database shows (each once, through the connections
`woohub_alerts` / `woohub_smtp` when they exist, else only logged): dead letters that exhausted their
attempts, and high-water marks more than `WOOHUB_ALERT_HWM_LAG_MINUTES` (default 120) behind now.

Triggered with the param `register_webhooks` true and `webhook_base_url` (Airflow's public base URL, e.g.
`https://airflow.example.com`), a fourth task registers the WooCommerce webhooks and HubSpot subscriptions
woohub needs (idempotent; see `woohub.webhooks.registration`); otherwise that task is skipped. The
WooCommerce connection needs `webhook_secret` in its extra when the task cannot write connections.

A failed task means an API is down or a credential was revoked: the task log names the API call, its
status and the vendor's error (HubSpot `correlationId` / WooCommerce error code). Retries ride out short
outages before the run fails.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from woohub.core.alerts import on_task_failure

DAG_ID = os.path.basename(__file__).removesuffix(".py")
_HUBSPOT_CONN_ID = os.getenv("WOOHUB_HUBSPOT_CONN_ID", "hubspot_default")
_WOOCOMMERCE_CONN_ID = os.getenv("WOOHUB_WOOCOMMERCE_CONN_ID", "woocommerce_default")
_STAGING_CONN_ID = os.getenv("WOOHUB_STAGING_CONN_ID", "woohub_staging")


@dag(
    dag_id=DAG_ID,
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["woohub", "monitoring", "hubspot", "woocommerce"],
    params={
        "register_webhooks": Param(False, type="boolean",
                                   description="register the WooCommerce webhooks and HubSpot subscriptions"),
        "webhook_base_url": Param("", type="string",
                                  description="Airflow's public base URL the webhooks deliver to"),
    },
    default_args={"owner": "data-team", "on_failure_callback": on_task_failure,
                  "retries": 2, "retry_delay": timedelta(minutes=1), "execution_timeout": timedelta(minutes=5)},
)
def api_health_check() -> None:
    @task
    def check_hubspot() -> dict[str, Any]:
        from woohub.hubspot import HubSpotHook
        from woohub.monitoring.api_health import check_hubspot

        return check_hubspot(HubSpotHook(_HUBSPOT_CONN_ID))

    @task
    def check_woocommerce() -> dict[str, Any]:
        from woohub.core.connections import woocommerce_read_connection
        from woohub.monitoring.api_health import check_woocommerce
        from woohub.woocommerce import WooCommerceHook

        return check_woocommerce(WooCommerceHook(woocommerce_read_connection(_WOOCOMMERCE_CONN_ID)))

    @task
    def send_staging_alerts() -> dict[str, int]:
        from woohub.monitoring.alert_checks import check_staging_alerts
        from woohub.staging.database import staging_engine

        return check_staging_alerts(staging_engine(_STAGING_CONN_ID))

    @task
    def register_webhooks(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from woohub.webhooks.registration import register_from_params

        summary = register_from_params(params or {}, woocommerce_conn_id=_WOOCOMMERCE_CONN_ID,
                                       hubspot_conn_id=_HUBSPOT_CONN_ID)
        if summary is None:
            raise AirflowSkipException("register_webhooks is false")
        return summary

    check_hubspot()
    check_woocommerce()
    send_staging_alerts()
    register_webhooks()


api_health_check()
