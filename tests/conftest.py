"""Test-wide set-up: an isolated Airflow home, connections pointing at the sandbox APIs, and the sandbox
APIs themselves, started once per session as a real process on 127.0.0.1 (``python -m woohub.sandbox``).

Airflow reads its configuration when it is first imported, so the environment is set in
``pytest_configure``, before any test module imports Airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import free_port
from woohub.sandbox.control import SandboxControl, isolated_airflow_env, sandbox_connection_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SANDBOX_TOKEN = "sandbox-token"
WOO_KEY, WOO_SECRET = "ck_sandbox", "cs_sandbox"



@dataclass(frozen=True)
class Sandbox:
    """The running sandbox process: base URLs and an admin client per API."""

    hubspot_url: str
    woo_url: str
    hubspot: SandboxControl
    woo: SandboxControl


def pytest_configure(config: pytest.Config) -> None:
    home = Path(tempfile.mkdtemp(prefix="woohub-airflow-home-"))
    hubspot_port, woo_port = free_port(), free_port()
    os.environ.update(sandbox_connection_env(hubspot_port, woo_port))
    os.environ.update(isolated_airflow_env(home, PROJECT_ROOT))
    os.environ.update({"WOOHUB_TEST_HUBSPOT_PORT": str(hubspot_port), "WOOHUB_TEST_WOO_PORT": str(woo_port)})


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database (SQLite in the session's temporary AIRFLOW_HOME), migrated once per test
    process, before anything else (a DAG run, an API server) opens it."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    result = subprocess.run([airflow, "db", "migrate"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Both sandbox APIs in one child process, started empty; tests reset and seed what they need."""
    hubspot_port = int(os.environ["WOOHUB_TEST_HUBSPOT_PORT"])
    woo_port = int(os.environ["WOOHUB_TEST_WOO_PORT"])
    log_path = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "woohub.sandbox", "--hubspot-port", str(hubspot_port),
             "--woo-port", str(woo_port), "--empty"],
            stdout=log_file, stderr=subprocess.STDOUT,
        )
    hubspot_url, woo_url = f"http://127.0.0.1:{hubspot_port}", f"http://127.0.0.1:{woo_port}"
    box = Sandbox(hubspot_url, woo_url, SandboxControl(hubspot_url), SandboxControl(woo_url))
    try:
        try:
            box.hubspot.wait_until_up()
            box.woo.wait_until_up()
        except TimeoutError:
            raise RuntimeError(f"sandbox did not start:\n{log_path.read_text()}") from None
        yield box
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def empty_sandbox(sandbox: Sandbox) -> Sandbox:
    """The sandbox with both stores empty (HubSpot keeps its default pipeline and properties), no faults."""
    sandbox.hubspot.reset(empty=True)
    sandbox.woo.reset(empty=True)
    return sandbox
