"""`make demo` end to end: sandboxes, `airflow standalone` on SQLite, the project's DAGs parsed, unpaused
and run by Airflow's own scheduler against the sandbox APIs (scripts/demo.py --check)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent



@pytest.mark.timeout(600)
def test_demo_brings_up_airflow_and_its_dag_runs_succeed(tmp_path: Path) -> None:
    # A user's shell, not this test session's Airflow settings (conftest points those at a temp home).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_HOME", "WOOHUB_"))}
    ui_port = free_port()
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--check", "--timeout", "420",
         "--port", str(ui_port), "--hubspot-port", str(free_port()), "--woo-port", str(free_port()),
         "--home", str(tmp_path / "airflow-home"), "--data", str(tmp_path / "demo-data")],
        capture_output=True, text=True, timeout=480, check=False, env=env,
    )
    output = result.stdout + result.stderr
    logs = (tmp_path / "demo-data" / "airflow.log")
    assert result.returncode == 0, output + (logs.read_text()[-4000:] if logs.exists() else "")
    assert "Airflow UI: http://localhost:" in output and "login: user admin / password " in output
    assert "api_health_check: success" in output
    assert (tmp_path / "demo-data" / "sandbox-state.json").exists(), "sandbox state was not saved on exit"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", ui_port)) != 0, "Airflow's API server outlived the demo"
