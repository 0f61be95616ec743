"""docker-compose.yaml is for users (no Docker engine here): validate it against the Compose
specification's schema, and start what it runs natively to show the commands and settings it uses work."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import free_port
from woohub.sandbox.control import SandboxControl

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def test_compose_file_matches_the_compose_specification() -> None:
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yaml")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _default_from_interpolation(value: str) -> str:
    """The default of a `${VAR:-default}` compose interpolation."""
    match = re.fullmatch(r"\$\{[A-Z_]+:-(.*)\}", value)
    assert match, f"expected ${{VAR:-default}}, got {value!r}"
    return match.group(1)


@pytest.mark.parametrize("conn_var", ["AIRFLOW_CONN_HUBSPOT_DEFAULT", "AIRFLOW_CONN_WOOCOMMERCE_DEFAULT",
                                      "AIRFLOW_CONN_WOOHUB_STAGING"])
def test_default_connections_point_at_compose_services(conn_var: str) -> None:
    env = COMPOSE["x-airflow-common"]["environment"]
    conn = json.loads(_default_from_interpolation(env[conn_var]))
    assert conn["host"] in COMPOSE["services"], f"{conn_var} points at unknown host {conn['host']}"


def test_mounted_project_folders_exist() -> None:
    for volume in COMPOSE["x-airflow-common"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).is_dir(), f"{source} is mounted but missing"


@pytest.mark.parametrize("service", ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                                     "airflow-triggerer"])
def test_airflow_service_commands_exist(service: str) -> None:
    command = COMPOSE["services"][service]["command"]
    result = subprocess.run([AIRFLOW, command, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"`airflow {command}` is not an Airflow command: {result.stderr[-500:]}"



def test_sandbox_service_command_runs_natively(tmp_path: Path) -> None:
    """The sandbox service's exact command line, on free ports, serves both APIs and saves its state."""
    command = list(COMPOSE["services"]["sandbox"]["command"])
    assert command[:3] == ["python", "-m", "woohub.sandbox"]
    ports = {"--hubspot-port": str(free_port()), "--woo-port": str(free_port()),
             "--state": str(tmp_path / "state.json"), "--host": "127.0.0.1"}
    argv = [sys.executable] + [ports.get(command[i - 1], arg) for i, arg in enumerate(command) if i > 0]
    process = subprocess.Popen(argv + ["--customers", "5", "--products", "5", "--orders", "5"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for port in (ports["--hubspot-port"], ports["--woo-port"]):
            SandboxControl(f"http://127.0.0.1:{port}").wait_until_up()
    finally:
        process.terminate()
        process.wait(timeout=15)
    saved = json.loads((tmp_path / "state.json").read_text())
    assert set(saved) == {"hubspot", "woocommerce"}
