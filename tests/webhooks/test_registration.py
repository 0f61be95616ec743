"""Registering woohub's webhooks against both sandboxes through the CLI (``python -m woohub webhooks ...``,
run in-process): what it creates, that a second run changes nothing and costs only the reads, that others'
webhooks stay untouched, and where the WooCommerce webhook secret goes — into a metadata-DB connection row,
or (for an environment connection) onto the terminal only, with nothing registered."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from airflow import settings
from airflow.models.connection import Connection as ConnectionRow
from airflow.sdk.execution_time import task_runner
from airflow.sdk.execution_time.cache import SecretCache
from airflow.utils.session import create_session
from requests_oauthlib import OAuth1
from sqlalchemy import inspect

from tests.conftest import Sandbox
from tests.sandbox._receiver import receiver
from woohub.cli import main
from woohub.webhooks import registration

WOO_DB, HUB_ENV, WOO_ENV = "woo_db_webhooks", "hubspot_webhooks_env", "woo_env_webhooks"
pytestmark = pytest.mark.usefixtures("airflow_db")
AUTH = OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256")


@pytest.fixture
def connections(empty_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A WooCommerce connection row in the metadata DB (no webhook_secret yet), an environment HubSpot
    connection with the app's developer key, an environment WooCommerce connection without a secret."""
    existing = set(inspect(settings.engine).get_table_names())
    table = ConnectionRow.__table__
    needed = [t for t in [*(fk.column.table for fk in table.foreign_keys), table] if t.name not in existing]
    table.metadata.create_all(settings.engine, tables=needed)
    woo_host, woo_port = empty_sandbox.woo_url.removeprefix("http://").split(":")
    with create_session() as session:
        session.add(ConnectionRow(conn_id=WOO_DB, conn_type="http", host=woo_host, port=int(woo_port),
                                  schema="http", login="ck_sandbox", password="cs_sandbox"))
    hub_host, hub_port = empty_sandbox.hubspot_url.removeprefix("http://").split(":")
    monkeypatch.setenv(f"AIRFLOW_CONN_{HUB_ENV.upper()}", json.dumps({
        "conn_type": "http", "host": hub_host, "port": int(hub_port), "schema": "http", "password": "sandbox-token",
        "extra": {"app_id": 1001, "developer_api_key": "sandbox-developer-key"}}))
    monkeypatch.setenv(f"AIRFLOW_CONN_{WOO_ENV.upper()}", json.dumps({
        "conn_type": "http", "host": woo_host, "port": int(woo_port), "schema": "http", "login": "ck_sandbox",
        "password": "cs_sandbox"}))
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")  # connections from the metadata DB too
    monkeypatch.delattr(task_runner, "SUPERVISOR_COMMS", raising=False)
    monkeypatch.setattr(SecretCache, "_cache", None)
    empty_sandbox.woo.configure(webhook_delay_seconds=0.05)
    try:
        yield empty_sandbox
    finally:
        with create_session() as session:
            session.query(ConnectionRow).filter(ConnectionRow.conn_id == WOO_DB).delete()
        table.metadata.drop_all(settings.engine, tables=needed)
        empty_sandbox.woo.reset(empty=True)
        empty_sandbox.hubspot.reset(empty=True)
        empty_sandbox.woo.configure(webhook_delay_seconds=1.0)


def register(*extra: str, woo: str = WOO_DB, base: str) -> list[str]:
    return ["webhooks", "register", "--base-url", base, "--woocommerce-conn-id", woo, "--hubspot-conn-id", HUB_ENV,
            *extra]


def routes(box: Sandbox) -> tuple[dict[str, int], dict[str, int]]:
    return box.woo.stats(reset=True)["routes"], box.hubspot.stats(reset=True)["routes"]


def verbs(out: str) -> Counter[str]:
    """How many rows of the CLI's table say created / would create / unchanged / updated ..."""
    return Counter(m.group(1) for m in re.finditer(r"^(?:woocommerce|hubspot) +\S+ +(\D+?)(?: #\d+.*)?$", out,
                                                   re.MULTILINE))


def stored_extra() -> dict[str, Any]:
    with create_session() as session:
        return session.query(ConnectionRow).filter(ConnectionRow.conn_id == WOO_DB).one().extra_dejson


def test_register_is_idempotent_and_keeps_the_secret_in_the_connection(
        connections: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    box = connections
    with receiver("/") as airflow:
        base = airflow.url.rstrip("/")
        foreign = requests.post(f"{box.woo_url}/wp-json/wc/v3/webhooks", auth=AUTH, timeout=30, json={
            "name": "someone else's", "topic": "order.created", "delivery_url": "http://127.0.0.1:9/x"}).json()
        routes(box)
        airflow.requests.clear()

        assert main(register("--dry-run", base=base)) == 0
        dry = capsys.readouterr().out
        assert verbs(dry) == {"would create": 11 + 1 + 20} and "webhook_secret" not in dry
        woo_calls, hub_calls = routes(box)
        assert woo_calls == {"GET /wp-json/wc/v3/webhooks": 1}  # a dry run only reads
        assert hub_calls == {"GET /webhooks/v3/{id}/settings": 1, "GET /webhooks/v3/{id}/subscriptions": 1}

        assert main(register(base=base)) == 0
        out = capsys.readouterr().out
        assert f"generated a webhook_secret and stored it in {WOO_DB!r} (metadata database)" in out
        assert verbs(out) == {"created": 11 + 1 + 20}
        secret = stored_extra()["webhook_secret"]
        assert len(secret) >= 43 and secret not in out
        woo_calls, hub_calls = routes(box)
        assert woo_calls == {"GET /wp-json/wc/v3/webhooks": 1, "POST /wp-json/wc/v3/webhooks/batch": 1}
        assert hub_calls == {"GET /webhooks/v3/{id}/settings": 1, "PUT /webhooks/v3/{id}/settings": 1,
                             "GET /webhooks/v3/{id}/subscriptions": 1, "POST /webhooks/v3/{id}/subscriptions": 20}
        assert len(airflow.requests) == 11 and all(r.body.startswith(b"webhook_id=") for r in airflow.requests)

        # the store delivers to the receiver's woocommerce path, signed with the stored secret
        airflow.requests.clear()
        requests.post(f"{box.woo_url}/wp-json/wc/v3/orders", auth=AUTH, json={"status": "processing"}, timeout=30)
        box.woo.wait_for_webhook_deliveries(2, kind="delivery")  # woohub's and the foreign one's
        routes(box)
        (delivery,) = airflow.requests
        assert delivery.path == "/woohub/webhooks/woocommerce"
        assert delivery.headers["X-WC-Webhook-Signature"] == base64.b64encode(
            hmac.new(secret.encode(), delivery.body, hashlib.sha256).digest()).decode()

        assert main(register(base=base)) == 0
        again = capsys.readouterr().out
        assert verbs(again) == {"unchanged": 11 + 1 + 20}
        woo_calls, hub_calls = routes(box)
        assert woo_calls == {"GET /wp-json/wc/v3/webhooks": 1}
        assert hub_calls == {"GET /webhooks/v3/{id}/settings": 1, "GET /webhooks/v3/{id}/subscriptions": 1}

        # one of woohub's webhooks paused by someone: only that one is updated; the foreign one never
        own = next(w for w in requests.get(f"{box.woo_url}/wp-json/wc/v3/webhooks", auth=AUTH, timeout=30,
                                           params={"per_page": 100}).json() if w["topic"] == "product.deleted")
        requests.put(f"{box.woo_url}/wp-json/wc/v3/webhooks/{own['id']}", auth=AUTH, json={"status": "paused"},
                     timeout=30)
        routes(box)
        assert main(register(base=base)) == 0
        assert f"product.deleted                          updated #{own['id']} (status)" in capsys.readouterr().out
        assert routes(box)[0] == {"GET /wp-json/wc/v3/webhooks": 1, "POST /wp-json/wc/v3/webhooks/batch": 1}
        untouched = requests.get(f"{box.woo_url}/wp-json/wc/v3/webhooks/{foreign['id']}", auth=AUTH,
                                 timeout=30).json()
        assert (untouched["name"], untouched["delivery_url"]) == ("someone else's", "http://127.0.0.1:9/x")

    assert main(["webhooks", "list", "--woocommerce-conn-id", WOO_DB, "--hubspot-conn-id", HUB_ENV]) == 0
    listing = capsys.readouterr().out
    assert listing.count("woocommerce #") == 12 and "hubspot     target http://127.0.0.1:" in listing
    assert "contact.propertyChange:email" in listing and "deal.propertyChange:dealstage" in listing


def test_a_secret_that_cannot_be_stored_is_shown_once_and_nothing_is_registered(
        connections: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    routes(connections)
    assert main(register(woo=WOO_ENV, base="https://airflow.example.com")) == 2
    err = capsys.readouterr().err
    assert "has no extra 'webhook_secret'" in err and "webhook_secret = " in err
    assert routes(connections) == ({}, {})  # refused before any call

    # the DAG task's path: off by default; asked, it refuses without ever holding the secret in its error
    assert registration.register_from_params({"register_webhooks": False}) is None
    with pytest.raises(registration.WebhookSecretMissing) as refused:
        registration.register_from_params({"register_webhooks": True,
                                           "webhook_base_url": "https://airflow.example.com"},
                                          woocommerce_conn_id=WOO_ENV, hubspot_conn_id=HUB_ENV)
    assert not hasattr(refused.value, "secret") and "webhook_secret = " not in str(refused.value)


def test_api_health_check_registers_when_the_param_asks(
        empty_sandbox: Sandbox, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DAG's ``register_webhooks`` param reaches the task, which registers from the connections (the
    WooCommerce one carrying its ``webhook_secret``, as a task cannot write connections)."""
    from datetime import UTC, datetime

    from tests.helpers import isolated_dag_files, run_dag_test

    box = empty_sandbox
    for name, extra in (("WOOCOMMERCE_DEFAULT", {"webhook_secret": "dag-secret"}),
                        ("HUBSPOT_DEFAULT", {"app_id": 1001, "developer_api_key": "sandbox-developer-key"})):
        conn = json.loads(os.environ[f"AIRFLOW_CONN_{name}"])
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps({**conn, "extra": {**conn.get("extra", {}), **extra}}))
    # check_woocommerce looks for woocommerce_readonly first; a task's lookup of a missing one takes seconds
    monkeypatch.setenv("AIRFLOW_CONN_WOOCOMMERCE_READONLY", os.environ["AIRFLOW_CONN_WOOCOMMERCE_DEFAULT"])
    try:
        with isolated_dag_files(tmp_path), receiver("/") as airflow:  # answers the pings
            base = airflow.url.rstrip("/")
            run = run_dag_test("api_health_check", datetime.now(UTC).replace(microsecond=0),
                               {"register_webhooks": True, "webhook_base_url": base})
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        assert states["register_webhooks"] == "success", states
        hooks = requests.get(f"{box.woo_url}/wp-json/wc/v3/webhooks", auth=AUTH, params={"per_page": 100},
                             timeout=30).json()
        assert len(hooks) == 11
        assert {w["delivery_url"] for w in hooks} == {f"{base}/woohub/webhooks/woocommerce"}
        target = requests.get(f"{box.hubspot_url}/webhooks/v3/1001/settings",
                              params={"hapikey": "sandbox-developer-key"}, timeout=30).json()["targetUrl"]
        assert target == f"{base}/woohub/webhooks/hubspot"
    finally:
        box.woo.reset(empty=True)
        box.hubspot.reset(empty=True)
