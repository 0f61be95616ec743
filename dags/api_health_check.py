"""
### API health check

Every hour, checks that the **HubSpot** portal and the **WooCommerce** store answer and accept the
credentials in the `hubspot_default` and `woocommerce_default` connections, and logs how many records
each side holds (HubSpot contacts, deals, products, line items; WooCommerce orders, customers, products)
and the deal pipelines with their stage ids.

A third task sends the alerts the staging database shows (each once, through the connections
`woohub_alerts` / `woohub_smtp` when they exist, else only logged): dead letters that exhausted their
attempts, and high-water marks more than `WOOHUB_ALERT_HWM_LAG_MINUTES` (default 120) behind now.

A failed task means an API is down or a credential was revoked: the task log names the API call, its
status and the vendor's error (HubSpot `correlationId` / WooCommerce error code). Retries ride out short
outages before the run fails.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag, task

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
        from woohub.monitoring.api_health import check_woocommerce
        from woohub.woocommerce import WooCommerceHook

        return check_woocommerce(WooCommerceHook(_WOOCOMMERCE_CONN_ID))

    @task
    def send_staging_alerts() -> dict[str, int]:
        from woohub.monitoring.alert_checks import check_staging_alerts
        from woohub.staging.database import staging_engine

        return check_staging_alerts(staging_engine(_STAGING_CONN_ID))

    check_hubspot()
    check_woocommerce()
    send_staging_alerts()


api_health_check()
