"""Fixtures of the report page tests: a staging database and GX file context of their own, filled by a real
``woocommerce_to_hubspot`` run against the sandboxes, and one running Airflow API server (SimpleAuthManager
with configured users and passwords) that mounts the plugin and reads that staging database."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, create_engine, select

from tests.conftest import PROJECT_ROOT, Sandbox
from tests.helpers import free_port
from woohub.testing.airflow_processes import file_tail, stop_process_groups, wait_for_api_server

#: a guest order's billing email and a customer's account email that WooCommerce's API would refuse but a
#: real store can hold (imported, or written by a plugin): the suites quarantine both
BAD_GUEST_EMAIL = "dana.quarantine@@shop.example"
BAD_CUSTOMER_EMAIL = "lee.quarantine@localhost"
#: an email WooCommerce takes and HubSpot refuses (INVALID_EMAIL): the contact becomes a dead letter
REFUSED_BY_HUBSPOT = "first..last@example.org"
REVIEWER, WATCHER = "reviewer", "watcher"
#: a value that must reach the page as text, never as markup
HOSTILE_VALUE = '<script>window.__woohub_xss = 1</script><img src=x onerror="window.__woohub_xss = 2">'


@dataclass(frozen=True)
class SyncedStaging:
    """What the module's sync run left behind."""

    url: str
    gx_root: Path
    run_id: str
    quarantined_order: str
    quarantined_customer: str
    dead_letter_key: str
    drifted_order: str
    reconciliation_runs: tuple[str, str]

    def engine(self) -> Engine:
        return create_engine(self.url)


@dataclass(frozen=True)
class AirflowApi:
    url: str
    passwords: dict[str, str]
    log: Path

    def token(self, user: str) -> str:
        """Log in as the Airflow UI's login form does: ``POST /auth/token`` (the UI keeps the answer in the
        ``_token`` cookie)."""
        response = requests.post(f"{self.url}/auth/token", json={"username": user, "password": self.passwords[user]},
                                 timeout=30)
        assert response.status_code == 201, response.text
        return response.json()["access_token"]

    def session(self, user: str) -> requests.Session:
        session = requests.Session()
        session.cookies.set("_token", self.token(user), domain="127.0.0.1", path="/")
        return session


def _now_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def _seed_store(sandbox: Sandbox) -> tuple[str, str, str]:
    """A small store, then two records with emails the store's API would refuse (put in directly, as an
    import would), and one customer HubSpot refuses. Returns (guest order id, customer id, refused customer)."""
    from tests.e2e.test_woocommerce_to_hubspot import woo

    sandbox.hubspot.reset(empty=True)
    sandbox.woo.reset(seed=7, customers=3, products=4, orders=6)
    state = sandbox.woo.state()
    orders = state["store"]["orders"]
    guest = next(o for o in orders if o["customer_id"] == 0)
    guest["billing"]["email"] = BAD_GUEST_EMAIL
    buyers = {o["customer_id"] for o in orders}
    customer = next(c for c in state["store"]["customers"] if c["id"] not in buyers and c.get("role") != "administrator"
                    and c["email"] != "admin@example.test")
    customer["email"] = BAD_CUSTOMER_EMAIL
    sandbox.woo.restore(state)
    refused = woo(sandbox, "POST", "/customers", json={"email": REFUSED_BY_HUBSPOT, "first_name": "Dotty"})
    return str(guest["id"]), str(customer["id"]), f"customer:{refused['id']}"


def _drift_in_hubspot(sandbox: Sandbox, staging_url: str) -> str:
    """Edit a synced deal in HubSpot through its API (amount, and a name that is markup): drift the next
    reconciliation finds. Returns the order id of that deal."""
    from woohub.staging.schema import id_map

    engine = create_engine(staging_url)
    try:
        with engine.connect() as connection:
            order_id, deal_id = connection.execute(
                select(id_map.c.woocommerce_key, id_map.c.hubspot_id).where(id_map.c.object_type == "deal")
                .order_by(id_map.c.woocommerce_key).limit(1)).one()
    finally:
        engine.dispose()
    response = requests.patch(f"{sandbox.hubspot_url}/crm/v3/objects/deals/{deal_id}", timeout=30,
                              headers={"Authorization": "Bearer sandbox-token"},
                              json={"properties": {"amount": "1.23", "dealname": HOSTILE_VALUE}})
    response.raise_for_status()
    return str(order_id)


@dataclass(frozen=True)
class ReportPaths:
    """The module's own staging database and GX file context (the DAG run and the API server share them)."""

    staging_file: Path
    gx_root: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.staging_file}"

    def env(self) -> dict[str, str]:
        return {"AIRFLOW_CONN_WOOHUB_STAGING": json.dumps({"conn_type": "sqlite", "host": str(self.staging_file)}),
                "WOOHUB_GX_ROOT": str(self.gx_root)}


@pytest.fixture(scope="module")
def report_paths(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportPaths]:
    """A fresh staging file and a copy of the GX file context, named by the environment for the module."""
    base = tmp_path_factory.mktemp("report-ui")
    paths = ReportPaths(base / "staging.db", base / "great_expectations")
    shutil.copytree(PROJECT_ROOT / "great_expectations", paths.gx_root, ignore=shutil.ignore_patterns("uncommitted"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**paths.env(), "WOOHUB_RETRY_DELAY_SECONDS": "1"}.items():
            patch.setenv(name, value)
        yield paths
    from woohub.staging.database import engine_for_url

    engine_for_url(paths.url).dispose()


@dataclass
class ApiServerProcess:
    process: subprocess.Popen[bytes]
    url: str
    passwords: dict[str, str]
    log: Path


@pytest.fixture(scope="module")
def api_server_process(report_paths: ReportPaths, airflow_db: None,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    """``airflow api-server`` on a free port, started (not yet up: it boots while the sync runs): this
    session's Airflow home and metadata database, the project's plugins, the module's staging database and
    GX root, and the SimpleAuthManager with two configured users (``reviewer``: role user; ``watcher``: role
    viewer) whose passwords are in a file (not all-admins)."""
    base = tmp_path_factory.mktemp("api-server")
    passwords = {REVIEWER: secrets.token_urlsafe(12), WATCHER: secrets.token_urlsafe(12)}
    password_file = base / "passwords.json"
    password_file.write_text(json.dumps(passwords))
    port = free_port()
    env = {**os.environ, **report_paths.env(),
           "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{REVIEWER}:user,{WATCHER}:viewer",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
           "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
           "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}"}
    log = base / "api-server.log"
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("wb") as output:
        process = subprocess.Popen([airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield ApiServerProcess(process, f"http://127.0.0.1:{port}", passwords, log)
    finally:
        stop_process_groups([process])


@pytest.fixture(scope="module")
def synced_staging(sandbox: Sandbox, airflow_db: None, report_paths: ReportPaths,
                   api_server_process: ApiServerProcess) -> SyncedStaging:
    """The module's staging database and GX file context after a scheduled ``woocommerce_to_hubspot`` run
    through Airflow on a small store with two bad emails and one contact HubSpot refuses, then two
    ``reconciliation`` runs: one right after the sync, one after a deal was edited in HubSpot. (Asks for the
    API server first so that it boots meanwhile.)"""
    from tests.helpers import run_dag_test

    guest_order, customer, refused = _seed_store(sandbox)
    now = _now_minute()
    sync = run_dag_test("woocommerce_to_hubspot", now, scheduled=True)
    assert sync.state == "success", f"the sync run ended {sync.state}"
    first = run_dag_test("reconciliation", now - timedelta(days=1), scheduled=True)
    assert first.state == "success", f"the first reconciliation ended {first.state}"
    drifted = _drift_in_hubspot(sandbox, report_paths.url)
    second = run_dag_test("reconciliation", now, scheduled=True)
    assert second.state == "success", f"the second reconciliation ended {second.state}"
    return SyncedStaging(report_paths.url, report_paths.gx_root, sync.run_id, guest_order, customer, refused,
                         drifted, (first.run_id, second.run_id))


@pytest.fixture(scope="module")
def airflow_api(api_server_process: ApiServerProcess, synced_staging: SyncedStaging) -> AirflowApi:
    """The running API server, once it answers (after the sync run)."""
    wait_for_api_server(api_server_process.url, {"api-server": api_server_process.process},
                        file_tail(api_server_process.log), 90.0)
    return AirflowApi(api_server_process.url, api_server_process.passwords, api_server_process.log)
