"""docker-compose.yaml is for users (no Docker engine here): validate it against the Compose specification's
schema, check the Celery deployment it describes (services, healthchecks, dependencies, profile, mounts,
settings), that .env.example names every setting the compose file and the package read, and that the
commands it runs exist. tests/deploy/test_celery_native.py starts the same components natively and runs the
sync DAGs on them; the harness it uses (woohub.deploy.native) must run what this file runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from tests.helpers import free_port
from woohub.deploy.native import COMMON_SETTINGS, SERVICE_COMMANDS
from woohub.sandbox.control import SandboxControl

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (ROOT / "docker-compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
COMMON_ENV = COMPOSE["x-airflow-common"]["environment"]
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
#: the services issue 9 asks for, and the long-running ones that must have a healthcheck
REQUIRED_SERVICES = {"postgres", "staging-postgres", "redis", "airflow-init", "airflow-apiserver",
                     "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker", "sandbox"}
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker")
#: modules that only tests and benchmarks use (their settings are not the deployment's)
SCAFFOLDING = ("woohub/sandbox/", "woohub/testing/", "woohub/deploy/native.py")


def test_compose_file_matches_the_compose_specification() -> None:
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yaml")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_celery_deployment_has_every_service_with_a_healthcheck() -> None:
    assert REQUIRED_SERVICES <= set(SERVICES)
    for name in REQUIRED_SERVICES - {"airflow-init"}:
        check = SERVICES[name].get("healthcheck", {}).get("test")
        assert check, f"{name} has no healthcheck"
    assert SERVICES["sandbox"]["profiles"] == ["sandbox"]
    assert "profiles" not in SERVICES["airflow-worker"], "workers must start without a profile"
    assert COMMON_ENV["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert COMMON_ENV["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:" in COMMON_ENV[
        "AIRFLOW__CELERY__BROKER_URL"]
    assert COMMON_ENV["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
    assert "@postgres/" in COMMON_ENV["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    staging = json.loads(_default_from_interpolation(COMMON_ENV["AIRFLOW_CONN_WOOHUB_STAGING"]))
    assert staging["conn_type"] == "postgres" and staging["host"] == "staging-postgres" != "postgres"
    assert SERVICES["airflow-worker"]["healthcheck"]["test"][1].startswith("celery --app airflow.providers.celery")
    # a worker container may be scaled: nothing in it may be unique per host
    assert not {"container_name", "ports", "hostname"} & set(SERVICES["airflow-worker"])


def test_airflow_services_wait_for_what_they_need() -> None:
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        needs = SERVICES[name]["depends_on"]
        for backing in ("postgres", "staging-postgres", "redis"):
            assert needs[backing] == {"condition": "service_healthy"}, f"{name} must wait for a healthy {backing}"
        if name != "airflow-init":
            assert needs["airflow-init"] == {"condition": "service_completed_successfully"}, name
    assert SERVICES["airflow-worker"]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}


def test_airflow_init_migrates_both_databases_and_sets_the_admin_password() -> None:
    init = SERVICES["airflow-init"]
    script = "\n".join(init["command"])
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert "python -m woohub.deploy.init" in script and "chown" in script
    assert init["user"] == "0:0"
    users = COMMON_ENV["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    assert users.endswith(":admin") and "_AIRFLOW_WWW_USER_USERNAME" in users


def test_the_native_harness_runs_what_the_compose_file_runs() -> None:
    """woohub.deploy.native starts these commands with these settings: it must not drift from this file."""
    for service, argv in SERVICE_COMMANDS.items():
        assert SERVICES[service]["command"] == " ".join(argv), service
    for name, value in COMMON_SETTINGS.items():
        assert str(COMMON_ENV[name]).lower() == value.lower(), name


@pytest.mark.parametrize("conn_var", ["AIRFLOW_CONN_HUBSPOT_DEFAULT", "AIRFLOW_CONN_WOOCOMMERCE_DEFAULT",
                                      "AIRFLOW_CONN_WOOHUB_STAGING"])
def test_default_connections_point_at_compose_services(conn_var: str) -> None:
    conn = json.loads(_default_from_interpolation(COMMON_ENV[conn_var]))
    assert conn["host"] in SERVICES, f"{conn_var} points at unknown host {conn['host']}"
    if conn_var == "AIRFLOW_CONN_HUBSPOT_DEFAULT":
        assert conn["extra"]["rate_limit_store"] == "woohub_staging", "workers must share one HubSpot budget"


def test_project_folders_are_mounted_and_exist() -> None:
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in COMPOSE["x-airflow-common"]["volumes"]}
    assert {"./dags", "./plugins", "./include", "./great_expectations"} <= set(mounts)
    for source in mounts:
        if source.startswith("./"):
            assert (ROOT / source).is_dir(), f"{source} is mounted but missing"
    # where Airflow and woohub look for them (the package finds great_expectations/ beside include/)
    assert mounts["./dags"] == "/opt/airflow/dags" and mounts["./plugins"] == "/opt/airflow/plugins"
    assert Path(mounts["./great_expectations"]).parent == Path(mounts["./include"]).parent


def test_env_example_names_every_setting_the_compose_file_and_the_package_read() -> None:
    named = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE, re.MULTILINE))
    compose_reads = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_TEXT))  # $${X}: the shell's
    assert compose_reads - named == set(), "compose settings missing from .env.example"
    package_reads = set()
    for path in [*(ROOT / "include" / "woohub").rglob("*.py"), *(ROOT / "dags").glob("*.py"),
                 *(ROOT / "plugins").glob("*.py")]:
        if any(part in path.as_posix() for part in SCAFFOLDING):
            continue
        package_reads |= set(re.findall(r"[\"'](WOOHUB_[A-Z0-9_]*[A-Z0-9])[\"']", path.read_text()))
    assert package_reads - named == set(), "package settings missing from .env.example"
    for conn_id in ("hubspot_default", "woocommerce_default", "woohub_staging"):
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in named


def test_env_example_holds_placeholders_not_secrets() -> None:
    values = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE, re.MULTILINE))
    for name in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "_AIRFLOW_WWW_USER_PASSWORD"):
        assert "REPLACE_ME" in values[name], f"{name} must be a placeholder"
        assert f"${{{name}:?" in COMPOSE_TEXT, f"the compose file must refuse to start without {name}"
    for name in ("AIRFLOW_CONN_HUBSPOT_DEFAULT", "AIRFLOW_CONN_WOOCOMMERCE_DEFAULT"):
        password = json.loads(values[name].strip("'"))["password"]
        assert "REPLACE" in password.upper(), f"{name} must hold a placeholder secret"


def test_the_image_is_built_on_the_airflow_this_project_pins() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.MULTILINE).group(1)
    assert base == f"apache/airflow:{version('apache-airflow')}-python{sys.version_info.major}.{sys.version_info.minor}"
    for line in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", dockerfile, re.MULTILINE):
        for source in line.split():
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which does not exist"
    assert COMPOSE["x-airflow-common"]["build"] == "."


def _default_from_interpolation(value: str) -> str:
    """The default of a `${VAR:-default}` compose interpolation."""
    match = re.fullmatch(r"\$\{[A-Z_]+:-(.*)\}", value)
    assert match, f"expected ${{VAR:-default}}, got {value!r}"
    return match.group(1)


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_service_commands_exist(service: str) -> None:
    command = SERVICES[service]["command"].split()
    result = subprocess.run([AIRFLOW, *command, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"`airflow {' '.join(command)}` is not an Airflow command: {result.stderr[-500:]}"


def test_sandbox_service_command_runs_natively(tmp_path: Path) -> None:
    """The sandbox service's exact command line, on free ports, serves both APIs and saves its state."""
    command = list(SERVICES["sandbox"]["command"])
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
