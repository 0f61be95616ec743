"""Read-only WooCommerce keys where a DAG only reads: the sandbox refuses a write with a ``read`` key exactly as
WooCommerce's ``check_permissions`` does, and the reconciliation runs through ``woocommerce_readonly``."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import Sandbox
from woohub.http.errors import AuthenticationError
from woohub.sandbox.woocommerce.auth import READ_KEY, READ_SECRET, WRITE_KEY, WRITE_SECRET


def woo_connection(sandbox: Sandbox, key: str, secret: str) -> str:
    port = sandbox.woo_url.rsplit(":", 1)[1]
    return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": int(port), "schema": "http",
                       "login": key, "password": secret})


def test_a_read_key_reads_and_is_refused_a_write_as_woocommerce_refuses_it(
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from woohub.woocommerce import WooCommerceHook

    sandbox.woo.reset(seed=3, customers=1, products=2, orders=1)
    monkeypatch.setenv("AIRFLOW_CONN_WOO_READ_KEY", woo_connection(sandbox, READ_KEY, READ_SECRET))
    monkeypatch.setenv("AIRFLOW_CONN_WOO_WRITE_KEY", woo_connection(sandbox, WRITE_KEY, WRITE_SECRET))
    reader = WooCommerceHook("woo_read_key")
    before = reader.request("GET", "/products", params={"per_page": 100}).json()
    assert before
    with pytest.raises(AuthenticationError) as refused:
        reader.request("POST", "/products", json={"name": "Not allowed", "regular_price": "1.00"}, idempotent=True)
    assert refused.value.status == 401 and refused.value.error_id == "woocommerce_rest_authentication_error"
    assert refused.value.message == "The API key provided does not have write permissions."
    assert READ_SECRET not in str(refused.value)
    assert reader.request("GET", "/products", params={"per_page": 100}).json() == before, "nothing was created"
    with pytest.raises(AuthenticationError, match="does not have read permissions"):
        WooCommerceHook("woo_write_key").request("GET", "/products")


def test_without_a_read_only_connection_the_default_is_used_with_a_warning_naming_the_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from woohub.core.connections import woocommerce_read_connection

    monkeypatch.delenv("AIRFLOW_CONN_WOOCOMMERCE_READONLY", raising=False)
    warnings = Records()
    logging.getLogger("woohub.core.connections").addHandler(warnings)
    try:
        assert woocommerce_read_connection("woocommerce_default") == "woocommerce_default"
    finally:
        logging.getLogger("woohub.core.connections").removeHandler(warnings)
    assert any("WOOHUB_WOOCOMMERCE_READONLY_CONN_ID" in m and "woocommerce_readonly" in m for m in warnings.messages)


def test_the_reconciliation_reads_the_shop_with_the_read_only_key(sandbox: Sandbox, airflow_db: None,
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import PROJECT_ROOT
    from tests.helpers import isolated_dag_files

    sandbox.hubspot.reset(empty=True)
    sandbox.woo.reset(seed=3, customers=2, products=2, orders=2)
    monkeypatch.setenv("AIRFLOW_CONN_WOOCOMMERCE_READONLY", woo_connection(sandbox, READ_KEY, READ_SECRET))
    # the read-write keys broken: the night can only succeed through the read-only connection
    monkeypatch.setenv("AIRFLOW_CONN_WOOCOMMERCE_DEFAULT", woo_connection(sandbox, "ck_sandbox", "cs_wrong"))
    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "reconciliation.py")).dags["reconciliation"]
    night = dag.partial_subset("snapshot_woocommerce", include_upstream=True)  # start (the scope check), the read
    with isolated_dag_files(tmp_path):
        run = night.test(logical_date=datetime.now(UTC).replace(second=0, microsecond=0))
        tasks = {ti.task_id: ti.state for ti in run.get_task_instances()}
        assert tasks == {"start": "success", "snapshot_woocommerce": "success"}, tasks
        from sqlalchemy import create_engine, text

        engine = create_engine(f"sqlite:///{tmp_path}/staging.db")
        with engine.connect() as connection:
            rows = connection.execute(text("select count(*) from reconciliation_snapshot where system = 'woocommerce' "
                                           "and run_id = :run"), {"run": run.run_id}).scalar_one()
        engine.dispose()
    assert rows >= 6, "the shop's customers, products and orders were read"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
