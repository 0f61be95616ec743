"""The HubSpot OAuth app flow end to end, through a real Airflow API server with the /woohub plugin and the
HubSpot sandbox: the install link, HubSpot's consent redirect, the callback's code exchange into a
metadata-DB connection, then a hook run whose refresh rotates the token back into that connection. And a
token without a scope a DAG needs fails that DAG's setup task, naming the scope."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import Sandbox
from tests.security._api_server import ApiServer, api_server
from woohub.sandbox.hubspot.auth import ALL_SCOPES, CLIENT_ID, CLIENT_SECRET

CONN_ID = "hs_oauth_app"
INSTALLER, OTHER = "installer", "other_operator"


@pytest.fixture(scope="module")
def server(airflow_db: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with api_server(tmp_path_factory.mktemp("oauth-api"), {INSTALLER: "op", OTHER: "op"}) as running:
        yield running


def public_url(server: ApiServer) -> str:
    """The API server as the browser reaches it: by name (HubSpot takes no IP address in a redirect URL)."""
    return f"http://localhost:{server.port}"


@pytest.fixture
def app_connection(sandbox: Sandbox, server: ApiServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The OAuth app's connection in the metadata DB (client id and secret, no tokens yet), the sandbox app's
    registered redirect URL, and this process looking connections up in the DB (as the API server does)."""
    from airflow.models.connection import Connection as ConnectionRow
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.cache import SecretCache
    from airflow.utils.session import create_session

    sandbox.hubspot.reset(empty=True)
    sandbox.hubspot.configure(oauth_redirect_uris=[f"{public_url(server)}/woohub/oauth/hubspot/callback"])
    extra = {"client_id": CLIENT_ID, "authorize_url": f"{sandbox.hubspot_url}/oauth/authorize"}
    with create_session() as session:
        session.query(ConnectionRow).filter(ConnectionRow.conn_id == CONN_ID).delete()
        session.add(ConnectionRow(conn_id=CONN_ID, conn_type="hubspot", host=sandbox.hubspot_url,
                                  password=CLIENT_SECRET, extra=json.dumps(extra)))
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")
    monkeypatch.delattr(task_runner, "SUPERVISOR_COMMS", raising=False)
    monkeypatch.setattr(SecretCache, "_cache", None)
    yield CONN_ID
    sandbox.hubspot.reset(empty=True)  # the default settings again (redirect URLs, rotation) for later tests
    with create_session() as session:
        session.query(ConnectionRow).filter(ConnectionRow.conn_id == CONN_ID).delete()


def stored_extra() -> dict:
    from airflow.models.connection import Connection as ConnectionRow
    from airflow.utils.session import create_session

    with create_session() as session:
        return dict(session.query(ConnectionRow).filter(ConnectionRow.conn_id == CONN_ID).one().extra_dejson)


def as_browser(server: ApiServer, user: str) -> dict[str, str]:
    """The session cookie the Airflow UI's login leaves in the browser."""
    return {"Cookie": f"_token={server.token(user)}"}


def test_install_exchange_store_then_refresh_rotation_lands_in_the_connection(
        sandbox: Sandbox, server: ApiServer, app_connection: str) -> None:
    from woohub.hubspot import HubSpotHook
    from woohub.hubspot.oauth import check_scopes, install_scopes

    browser = as_browser(server, INSTALLER)
    start = requests.get(f"{public_url(server)}/woohub/oauth/hubspot/authorize", params={"conn_id": app_connection},
                         headers=browser, allow_redirects=False, timeout=30)
    assert start.status_code == 303, start.text
    install = urlsplit(start.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(install.query).items()}
    assert f"{install.scheme}://{install.netloc}{install.path}" == f"{sandbox.hubspot_url}/oauth/authorize"
    assert query["client_id"] == CLIENT_ID and query["scope"].split() == install_scopes()
    assert query["redirect_uri"] == f"{public_url(server)}/woohub/oauth/hubspot/callback"

    consent = requests.get(start.headers["Location"], allow_redirects=False, timeout=30)  # the user clicks Connect
    assert consent.status_code == 302, consent.text
    callback = consent.headers["Location"]
    assert callback.startswith(query["redirect_uri"] + "?") and f"state={query['state']}" in callback

    elsewhere = requests.get(callback, headers=as_browser(server, OTHER), allow_redirects=False, timeout=30)
    assert elsewhere.status_code == 403, "a state made for another session must not complete an install"
    assert "refresh_token" not in stored_extra()

    done = requests.get(callback, headers=browser, allow_redirects=False, timeout=30)
    assert done.status_code == 200, done.text
    installed = stored_extra()
    assert installed["auth_type"] == "oauth2" and installed["client_id"] == CLIENT_ID
    assert installed["refresh_token"].startswith("sandbox-rt-")
    assert installed["refresh_token"] not in done.text and "HubSpot connected" in done.text
    assert done.headers["Cache-Control"] == "no-store"

    replay = requests.get(callback, headers=browser, allow_redirects=False, timeout=30)
    assert replay.status_code == 502 and "BAD_AUTH_CODE" in replay.text, "a code works once"
    assert stored_extra() == installed

    sandbox.hubspot.configure(rotate_refresh_tokens=True)
    hook = HubSpotHook(app_connection)
    check_scopes(hook, "woocommerce_to_hubspot")  # the first refresh: the install's token rotates
    assert list(hook.iter_objects("contacts")) == []
    rotated = stored_extra()["refresh_token"]
    assert rotated != installed["refresh_token"] and rotated.startswith("sandbox-rt-")
    gone = requests.get(f"{sandbox.hubspot_url}/oauth/v1/refresh-tokens/{installed['refresh_token']}", timeout=30)
    assert gone.status_code == 404, "the rotated-away refresh token must not work any more"
    assert list(HubSpotHook(app_connection).iter_objects("contacts")) == []  # a later run starts from the new one


def test_a_token_without_a_needed_scope_fails_the_setup_task_naming_it(sandbox: Sandbox, airflow_db: None,
                                                                        tmp_path: Path) -> None:
    from tests.helpers import isolated_dag_files, run_dag_test

    sandbox.hubspot.reset(empty=True)
    sandbox.woo.reset(empty=True)
    sandbox.hubspot.configure(granted_scopes=[s for s in ALL_SCOPES if s != "crm.objects.deals.write"])
    refused = requests.post(f"{sandbox.hubspot_url}/crm/v3/objects/deals", json={"properties": {}}, timeout=30,
                            headers={"Authorization": "Bearer sandbox-token"})
    assert refused.status_code == 403 and refused.json()["category"] == "MISSING_SCOPES"
    assert "crm.objects.deals.write" in refused.json()["errors"][0]["context"]["requiredGranularScopes"]

    alerts = Alerts()
    logging.getLogger("woohub.core.alerts").addHandler(alerts)  # the failure alert carries the task's error
    try:
        with isolated_dag_files(tmp_path):
            run = run_dag_test("woocommerce_to_hubspot", datetime.now(UTC).replace(second=0, microsecond=0))
    finally:
        logging.getLogger("woohub.core.alerts").removeHandler(alerts)
        sandbox.hubspot.configure(granted_scopes=list(ALL_SCOPES))
    tasks = {ti.task_id: ti for ti in run.get_task_instances()}
    assert run.state == "failed"
    assert tasks["check_hubspot_setup"].state == "failed" and tasks["check_hubspot_setup"].try_number == 1, \
        "a missing scope fails at once (retrying cannot grant it)"
    assert tasks["extract_orders"].state == "upstream_failed"
    failures = [m for m in alerts.messages if "check_hubspot_setup failed" in m and run.run_id in m]
    assert len(failures) == 1, alerts.messages
    named = failures[0].split("needs:", 1)[1].split(". Add", 1)[0]
    assert "MissingScopesError" in failures[0] and named.strip() == "crm.objects.deals.write"


class Alerts(logging.Handler):
    """The alerts logged while it is attached (whatever Airflow did to the logging set-up meanwhile)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_the_sandbox_refuses_what_hubspot_refuses_in_the_install_and_the_code_exchange(sandbox: Sandbox) -> None:
    from woohub.hubspot.oauth import TokenExchangeError, authorize_url, exchange_code, install_scopes

    sandbox.hubspot.reset(empty=True)
    with pytest.raises(requests.HTTPError):  # HubSpot takes no IP address in a redirect URL
        sandbox.hubspot.configure(oauth_redirect_uris=["http://127.0.0.1:8080/callback"])
    registered = "http://localhost:9/woohub/oauth/hubspot/callback"
    sandbox.hubspot.configure(oauth_redirect_uris=[registered])
    base = f"{sandbox.hubspot_url}/oauth/authorize"

    def install(client_id: str, redirect_uri: str) -> requests.Response:
        return requests.get(authorize_url(client_id, redirect_uri, install_scopes(), "s1", base_url=base),
                            allow_redirects=False, timeout=30)

    assert install("someone-else", registered).status_code == 400
    elsewhere = install(CLIENT_ID, "http://localhost:9/elsewhere")
    assert elsewhere.status_code == 400 and "doesn't match the app's registered redirect URL" in elsewhere.text
    code = parse_qs(urlsplit(install(CLIENT_ID, registered).headers["Location"]).query)["code"][0]
    token_url = f"{sandbox.hubspot_url}/oauth/v1/token"
    with pytest.raises(TokenExchangeError) as wrong_uri:
        exchange_code(CLIENT_ID, CLIENT_SECRET, code, "http://localhost:9/other", token_url=token_url)
    assert wrong_uri.value.status == "BAD_REDIRECT_URI" and CLIENT_SECRET not in str(wrong_uri.value)
    with pytest.raises(TokenExchangeError) as used:
        exchange_code(CLIENT_ID, CLIENT_SECRET, code, registered, token_url=token_url)
    assert used.value.status == "BAD_AUTH_CODE", "a code is burnt by its first exchange, even a refused one"
    from airflow._shared.secrets_masker import redact

    fresh = parse_qs(urlsplit(install(CLIENT_ID, registered).headers["Location"]).query)["code"][0]
    grant = exchange_code(CLIENT_ID, CLIENT_SECRET, fresh, registered, token_url=token_url)
    line = f"got {grant.access_token} and {grant.refresh_token}"
    assert redact(line) == "got *** and ***", "the exchanged tokens must be masked in every later log line"
    info = requests.post(f"{sandbox.hubspot_url}/oauth/v2/private-apps/get/access-token-info", timeout=30,
                         json={"tokenKey": "pat-na1-unknown"})
    assert info.status_code == 401
