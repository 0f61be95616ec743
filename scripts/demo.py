"""``make demo``: both sandbox APIs plus Airflow (standalone, SQLite, LocalExecutor) on embedded defaults.

1. starts ``python -m woohub.sandbox`` on 127.0.0.1 (HubSpot :8101, WooCommerce :8102), seeded with a
   realistic store, its state kept in ``.demo/sandbox-state.json`` across restarts;
2. starts ``airflow standalone`` with ``AIRFLOW_HOME=.airflow``, this project's ``dags/`` and ``plugins/``,
   and the connections ``hubspot_default``, ``woocommerce_default`` and ``woohub_staging`` pointing at
   the sandboxes and a SQLite staging file;
3. unpauses the project's DAGs, triggers one run of each, and prints the UI address and login.

Ctrl-C stops everything. ``--check`` instead waits for the triggered runs to finish, prints their states
and exits (non-zero if any failed): that is what the demo smoke test runs.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from woohub.sandbox.control import sandbox_connection_env

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
AIRFLOW = str(Path(PYTHON).with_name("airflow"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.getenv("WOOHUB_DEMO_PORT", "8080")),
                        help="Airflow UI/API port (default 8080, env WOOHUB_DEMO_PORT)")
    parser.add_argument("--hubspot-port", type=int, default=int(os.getenv("WOOHUB_DEMO_HUBSPOT_PORT", "8101")))
    parser.add_argument("--woo-port", type=int, default=int(os.getenv("WOOHUB_DEMO_WOO_PORT", "8102")))
    parser.add_argument("--home", type=Path, default=ROOT / ".airflow", help="AIRFLOW_HOME (default .airflow)")
    parser.add_argument("--data", type=Path, default=ROOT / ".demo", help="sandbox state and staging files")
    parser.add_argument("--check", action="store_true", help="run the DAGs once, report, and exit")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for start-up and runs")
    return parser.parse_args()


def demo_environment(args: argparse.Namespace) -> dict[str, str]:
    """The environment Airflow and its tasks run with: embedded defaults, sandbox connections."""
    env = dict(os.environ)
    env.update(
        {
            # `airflow standalone` starts its components as `airflow ...` from PATH: use this venv's.
            "PATH": os.pathsep.join([str(Path(PYTHON).parent), env.get("PATH", "")]),
            "AIRFLOW_HOME": str(args.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": env.get("AIRFLOW__CORE__PARALLELISM", "8"),  # not 32 idle workers
            "AIRFLOW__API__PORT": str(args.port),
            "AIRFLOW__API__BASE_URL": f"http://localhost:{args.port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{args.port}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # One signing secret for the API server and the task runners (the Task Execution API's tokens).
            "AIRFLOW__API_AUTH__JWT_SECRET": env.get("AIRFLOW__API_AUTH__JWT_SECRET") or secrets.token_urlsafe(32),
            "AIRFLOW_CONN_WOOHUB_STAGING": json.dumps(
                {"conn_type": "sqlite", "host": str(args.data / "staging.db")}
            ),
        }
    )
    env.update(sandbox_connection_env(args.hubspot_port, args.woo_port))
    return env


def wait_for(url: str, deadline: float, what: str) -> None:
    while True:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not come up at {url}")
        time.sleep(1)


DEMO_CURRENCIES = ["USD", "EUR", "GBP"]
#: where ``airflow standalone`` writes the admin password it generated (SimpleAuthManager), in AIRFLOW_HOME
GENERATED_PASSWORDS = "simple_auth_manager_passwords.json.generated"


def project_dag_ids() -> list[str]:
    return sorted(p.stem for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))


class AirflowApi:
    """Airflow's REST API as the demo's admin (a token from the password ``airflow standalone`` generated):
    polling through it costs the machine nothing, where every ``airflow`` CLI call starts a Python process
    that imports Airflow (seconds of CPU each, next to the scheduler and the tasks)."""

    def __init__(self, url: str, home: Path) -> None:
        self.url, self.home = url, home
        self._token: str | None = None

    def call(self, method: str, path: str, **kwargs: object) -> requests.Response:
        if self._token is None:
            self._token = self._login()
        return requests.request(method, f"{self.url}{path}", timeout=30,
                                headers={"Authorization": f"Bearer {self._token}"}, **kwargs)  # type: ignore[arg-type]

    def _login(self) -> str:
        passwords = json.loads((self.home / GENERATED_PASSWORDS).read_text())
        user, password = next(iter(passwords.items()))
        response = requests.post(f"{self.url}/auth/token", json={"username": user, "password": password},
                                 timeout=30)
        response.raise_for_status()
        return str(response.json()["access_token"])


def wait_until_parsed(api: AirflowApi, dag_ids: list[str], deadline: float) -> None:
    waiting = set(dag_ids)
    while waiting:
        try:
            waiting = {d for d in waiting if api.call("GET", f"/api/v2/dags/{d}/details").status_code != 200}
        except (OSError, ValueError, requests.RequestException):  # the password file is not written yet
            pass
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"DAGs not parsed in time: {', '.join(sorted(waiting))}")
        time.sleep(2)


def start_runs(api: AirflowApi, dag_ids: list[str]) -> None:
    """Unpause every DAG and trigger one run of each."""
    for dag_id in dag_ids:
        api.call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None}).raise_for_status()


def run_states(api: AirflowApi, dag_id: str) -> list[str]:
    response = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})
    return [run["state"] for run in response.json()["dag_runs"]] if response.ok else []


def wait_for_runs(api: AirflowApi, dag_ids: list[str], deadline: float) -> dict[str, str]:
    final: dict[str, str] = {}
    while len(final) < len(dag_ids) and time.monotonic() < deadline:
        for dag_id in dag_ids:
            states = run_states(api, dag_id)
            if states and all(s in ("success", "failed") for s in states):
                final[dag_id] = "failed" if "failed" in states else "success"
        time.sleep(3)
    return {dag_id: final.get(dag_id, "timed out") for dag_id in dag_ids}


def login_hint(home: Path) -> str:
    generated = home / GENERATED_PASSWORDS
    if generated.exists():
        passwords = json.loads(generated.read_text())
        return ", ".join(f"user {user} / password {pw}" for user, pw in passwords.items())
    return f"see {generated}"


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    """Send ``signum`` to the child's whole process group (it was started as a session leader)."""
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass


def main() -> int:
    args = parse_args()
    args.home.mkdir(parents=True, exist_ok=True)
    args.data.mkdir(parents=True, exist_ok=True)
    env = demo_environment(args)
    deadline = time.monotonic() + args.timeout
    children: list[subprocess.Popen[bytes]] = []

    def stop_children(*_: object) -> None:
        # Each child leads its own process group: `airflow standalone` starts the scheduler, API server,
        # DAG processor and triggerer as its own children, and they must go down with it.
        for child in reversed(children):
            _signal_group(child, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(child, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    sandbox_log = (args.data / "sandbox.log").open("ab")
    airflow_log = (args.data / "airflow.log").open("ab")
    try:
        children.append(subprocess.Popen(
            [PYTHON, "-m", "woohub.sandbox", "--hubspot-port", str(args.hubspot_port),
             "--woo-port", str(args.woo_port), "--state", str(args.data / "sandbox-state.json")],
            env=env, stdout=sandbox_log, stderr=subprocess.STDOUT, start_new_session=True))
        wait_for(f"http://127.0.0.1:{args.hubspot_port}/__sandbox__/health", deadline, "HubSpot sandbox")
        wait_for(f"http://127.0.0.1:{args.woo_port}/__sandbox__/health", deadline, "WooCommerce sandbox")
        # the demo store sells in USD, EUR and GBP: a portal with those currencies enabled takes every order
        # (a currency the portal lacks would be quarantined, as it is with a real portal)
        from woohub.sandbox.control import SandboxControl

        SandboxControl(f"http://127.0.0.1:{args.hubspot_port}").configure(enabled_currencies=DEMO_CURRENCIES)
        print(f"sandboxes up: HubSpot http://127.0.0.1:{args.hubspot_port}, "
              f"WooCommerce http://127.0.0.1:{args.woo_port}/wp-json/wc/v3/", flush=True)

        children.append(subprocess.Popen([AIRFLOW, "standalone"], env=env, stdout=airflow_log,
                                         stderr=subprocess.STDOUT, start_new_session=True))
        print(f"starting Airflow (log: {args.data / 'airflow.log'}) ...", flush=True)
        wait_for(f"http://localhost:{args.port}/api/v2/monitor/health", deadline, "Airflow API server")
        dag_ids = project_dag_ids()
        api = AirflowApi(f"http://localhost:{args.port}", args.home)
        wait_until_parsed(api, dag_ids, deadline)
        start_runs(api, dag_ids)
        print(f"\nAirflow UI: http://localhost:{args.port}   login: {login_hint(args.home)}", flush=True)
        print(f"DAGs: {', '.join(dag_ids)} (unpaused, one run triggered each)", flush=True)
        if args.check:
            states = wait_for_runs(api, dag_ids, deadline)
            for dag_id, state in states.items():
                print(f"  {dag_id}: {state}", flush=True)
            return 0 if all(s == "success" for s in states.values()) else 1
        print("Ctrl-C stops the demo.", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_children()


if __name__ == "__main__":
    sys.exit(main())
