"""A real Airflow on this machine as plain processes — ``airflow api-server`` (with the project's plugins, so
the webhook routes answer at ``/woohub/webhooks/...``), ``airflow scheduler`` (LocalExecutor) and ``airflow
dag-processor`` — for the webhook end-to-end test and ``make bench-latency``. Test and benchmark
scaffolding, not part of the sync.

:class:`LocalAirflow` builds an isolated Airflow home in ``work`` and its environment:

* the metadata database: a fresh PostgreSQL database on ``postgres_server`` (a SQLAlchemy URL of a server
  that lets the user create databases; the database is uniquely named and dropped on stop), else SQLite in
  ``work`` (LocalExecutor works with it in Airflow 3.3, with more "database is locked" retries under load);
  migrated with ``airflow db migrate`` before anything starts;
* the staging database (``woohub_staging`` connection): ``staging_url``, else SQLite in ``work``, migrated;
* the connections as ``AIRFLOW_CONN_*`` variables: the sandboxes on ``hubspot_port``/``woo_port`` with
  their well-known credentials, the WooCommerce connection's extra ``webhook_secret`` (what the store signs
  deliveries with) and the HubSpot connection's extra ``webhook_secret`` (the app's client secret, v3
  signatures);
* the SimpleAuthManager in all-admins mode (``GET /auth/token`` gives a token: :meth:`LocalAirflow.api`);
* :data:`LATENCY_SETTINGS` (what makes an Asset event become a running task quickly), overridable with
  ``settings``.

Every process leads its own process group and writes ``work/logs/<name>.log``; :meth:`LocalAirflow.stop`
ends the groups (TERM, then KILL after a grace period) and drops the PostgreSQL database, also when start-up
failed half-way. Use it as a context manager. ``start_sandbox`` also runs ``python -m woohub.sandbox``
(empty) on the two ports, for callers that have none running (the benchmark).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import requests

from woohub.sandbox.control import free_port, isolated_airflow_env, sandbox_connection_env

PROJECT_ROOT = Path(__file__).resolve().parents[3]
#: the secret the WooCommerce connection's ``webhook_secret`` holds in these deployments
WOO_WEBHOOK_SECRET = "woohub-test-woocommerce-webhook-secret"
#: the HubSpot sandbox app's client secret (HubSpot signs webhook deliveries with it, v3)
HUBSPOT_CLIENT_SECRET = "sandbox-client-secret"
#: a cron that does not fire during a test (the webhook path must work without the schedule)
FAR_AWAY_CRON = "0 0 1 1 *"
#: what decides how fast an Asset event becomes a running task (measured with ``make bench-latency``):
#: the scheduler loop sleeps at most this long when idle; the DAG processor need not re-parse files for a
#: run (the serialized DAG is in the database), so it re-parses rarely and with one process, leaving the CPU
#: to the tasks
LATENCY_SETTINGS = {
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "600",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
}
COMPONENTS = ("api-server", "scheduler", "dag-processor")


class LocalAirflow:
    """Airflow's API server, scheduler and DAG processor (LocalExecutor) in ``work``; see the module docstring."""

    def __init__(self, work: Path, *, hubspot_port: int, woo_port: int, postgres_server: str | None = None,
                 staging_url: str | None = None, settings: Mapping[str, str] | None = None,
                 components: Iterable[str] = COMPONENTS, start_sandbox: bool = False, preload: bool = True,
                 woo_webhook_secret: str = WOO_WEBHOOK_SECRET,
                 hubspot_client_secret: str = HUBSPOT_CLIENT_SECRET) -> None:
        self.work = Path(work)
        self.hubspot_port, self.woo_port = hubspot_port, woo_port
        self.postgres_server = postgres_server
        self.components = tuple(components)
        self.start_sandbox = start_sandbox
        self.preload = preload
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.staging_url = staging_url or f"sqlite:///{self.work / 'staging.db'}"
        self.metadata_database: str | None = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._token: str | None = None
        self._secrets = (woo_webhook_secret, hubspot_client_secret)
        self._settings = dict(settings or {})
        self.env: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"LocalAirflow(url={self.url!r}, work={str(self.work)!r})"

    # -- life cycle -----------------------------------------------------------------------------------

    def __enter__(self) -> LocalAirflow:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> None:
        """Migrate both databases, start the components (and the sandbox), wait until the API answers."""
        (self.work / "logs").mkdir(parents=True, exist_ok=True)
        self.env = self._environment()
        if self.start_sandbox:
            self._spawn("sandbox", [sys.executable, "-m", "woohub.sandbox", "--host", "127.0.0.1", "--hubspot-port",
                                    str(self.hubspot_port), "--woo-port", str(self.woo_port), "--empty"])
        migrate = subprocess.run([self._airflow(), "db", "migrate"], env=self.env, capture_output=True, text=True,
                                 check=False)
        if migrate.returncode:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stderr[-3000:]}")
        from woohub.staging.database import engine_for_url
        from woohub.staging.database import migrate as migrate_staging

        engine = engine_for_url(self.staging_url)
        try:
            migrate_staging(engine)
        finally:
            engine.dispose()
        for name in self.components:
            argv = [self._airflow(), name]
            if name == "scheduler" and self.preload:  # tasks fork from it with their imports done
                argv = [sys.executable, "-m", "woohub.testing.preload", name]
            if name == "api-server":
                argv += ["--host", "127.0.0.1", "--port", str(self.port)]
            self._spawn(name, argv)
        self.wait_until_up(timeout)

    def stop(self, grace: float = 5.0) -> None:
        """End every process group (TERM, then KILL; all at once), then drop the PostgreSQL metadata database."""
        stop_process_groups(list(self.processes.values()), grace)
        self.processes.clear()
        if self.metadata_database and self.postgres_server:
            from sqlalchemy import create_engine, text

            admin = create_engine(self.postgres_server, isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{self.metadata_database}" WITH (FORCE)'))
            finally:
                admin.dispose()
            self.metadata_database = None

    def wait_until_up(self, timeout: float = 120.0) -> None:
        """Until the API server answers its health check (``RuntimeError`` if a component died or time ran out)."""
        wait_for_api_server(self.url, self.processes, self.log_tail, timeout)

    def check_alive(self) -> None:
        """``RuntimeError`` with the log's tail when a component has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.work / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    # -- the REST API ---------------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A call of Airflow's REST API (``/api/v2/...``) as the admin."""
        if self._token is None:
            response = requests.get(f"{self.url}/auth/token", timeout=30)
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        headers = {"Authorization": f"Bearer {self._token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=kwargs.pop("timeout", 30),
                                **kwargs)

    def webhook_url(self, source: str) -> str:
        """Where the plugin receives ``source``'s webhooks (``woocommerce`` or ``hubspot``)."""
        return f"{self.url}/woohub/webhooks/{source}"

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 120.0) -> None:
        """Until the DAG processor has parsed and serialized every DAG of ``dag_ids``."""
        waiting = set(dag_ids)
        stop = time.monotonic() + timeout
        while waiting:
            self.check_alive()
            waiting = {d for d in waiting if self.api("GET", f"/api/v2/dags/{d}/details").status_code != 200}
            if not waiting:
                return
            if time.monotonic() > stop:
                raise RuntimeError(f"DAGs not parsed within {timeout:.0f} s: {sorted(waiting)}\n"
                                   f"{self.log_tail('dag-processor')}")
            time.sleep(0.5)

    def unpause(self, dag_id: str) -> None:
        response = self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        response.raise_for_status()

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's runs, newest first."""
        response = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"order_by": "-run_after",
                                                                             "limit": 100})
        response.raise_for_status()
        return list(response.json()["dag_runs"])

    def wait_for_run(self, dag_id: str, *, after: Iterable[str] = (), run_type: str | None = None,
                     timeout: float = 90.0, poll: float = 0.5) -> dict[str, Any]:
        """The first run of ``dag_id`` not among ``after`` (run ids) of ``run_type`` (any when ``None``), once it
        has finished; ``TimeoutError`` otherwise."""
        known = set(after)
        stop = time.monotonic() + timeout
        while time.monotonic() < stop:
            self.check_alive()
            fresh = [r for r in self.runs(dag_id) if r["dag_run_id"] not in known
                     and (run_type is None or r["run_type"] == run_type)]
            done = [r for r in fresh if r["state"] in ("success", "failed")]
            if done:
                return done[-1]
            time.sleep(poll)
        raise TimeoutError(f"no finished {run_type or ''} run of {dag_id} within {timeout:.0f} s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        response = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        response.raise_for_status()
        return list(response.json()["task_instances"])

    def emit_asset_event(self, uri: str) -> dict[str, Any]:
        """An Asset event through the public REST API (what the webhook receiver does in-process)."""
        assets = self.api("GET", "/api/v2/assets", params={"uri_pattern": uri}).json()["assets"]
        asset = next(a for a in assets if a["uri"] == uri)
        response = self.api("POST", "/api/v2/assets/events", json={"asset_id": asset["id"]})
        response.raise_for_status()
        return dict(response.json())

    # -- internals ------------------------------------------------------------------------------------

    def _airflow(self) -> str:
        return str(Path(sys.executable).with_name("airflow"))

    def _spawn(self, name: str, argv: list[str]) -> None:
        with (self.work / "logs" / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                    start_new_session=True, cwd=self.work)

    def _metadata_url(self) -> tuple[str, str | None]:
        """The metadata database's sync and async SQLAlchemy URLs (a fresh PostgreSQL database, or SQLite)."""
        if not self.postgres_server:
            return f"sqlite:///{self.work / 'airflow-home' / 'airflow.db'}", None
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        self.metadata_database = f"woohub_airflow_{uuid.uuid4().hex[:10]}"
        admin = create_engine(self.postgres_server, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{self.metadata_database}"'))
        finally:
            admin.dispose()
        url = make_url(self.postgres_server).set(database=self.metadata_database)
        return (url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False),
                url.set(drivername="postgresql+psycopg_async").render_as_string(hide_password=False))

    def _environment(self) -> dict[str, str]:
        home = self.work / "airflow-home"
        home.mkdir(parents=True, exist_ok=True)
        gx_root = self.work / "great_expectations"
        if not gx_root.exists():
            shutil.copytree(PROJECT_ROOT / "great_expectations", gx_root, ignore=shutil.ignore_patterns("uncommitted"))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "WOOHUB_")) or k.startswith("WOOHUB_TEST_")}
        env.update(isolated_airflow_env(home, PROJECT_ROOT))
        env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
        sync_url, async_url = self._metadata_url()
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = sync_url
        if async_url:
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = async_url
        env.update(self._connections())
        env.update({
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "WOOHUB_GX_ROOT": str(gx_root),
            "WOOHUB_RETRY_DELAY_SECONDS": "2",
            "WOOHUB_W2H_CRON": FAR_AWAY_CRON,
            "WOOHUB_H2W_CRON": FAR_AWAY_CRON,
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            **LATENCY_SETTINGS,
        })
        env.update(self._settings)
        return env

    def _connections(self) -> dict[str, str]:
        """The sandbox connections with their webhook secrets, and the staging connection."""
        woo_secret, hubspot_secret = self._secrets
        connections = sandbox_connection_env(self.hubspot_port, self.woo_port,
                                             hubspot_extra={"webhook_secret": hubspot_secret})
        woo = json.loads(connections["AIRFLOW_CONN_WOOCOMMERCE_DEFAULT"])
        woo["extra"] = {**woo.get("extra", {}), "webhook_secret": woo_secret}
        connections["AIRFLOW_CONN_WOOCOMMERCE_DEFAULT"] = json.dumps(woo)
        if self.staging_url.startswith("sqlite:///"):
            staging = {"conn_type": "sqlite", "host": self.staging_url.removeprefix("sqlite:///")}
        else:
            staging = {"conn_type": "postgres", "extra": {"sqlalchemy_url": self.staging_url}}
        connections["AIRFLOW_CONN_WOOHUB_STAGING"] = json.dumps(staging)
        return connections


def wait_for_api_server(url: str, processes: Mapping[str, subprocess.Popen[bytes]],
                        log_tail: Callable[[str], str], timeout: float = 120.0) -> None:
    """Until the Airflow API server at ``url`` answers its health check. ``RuntimeError`` with the log's tail
    (``log_tail(name)``) when one of ``processes`` (name -> process) exits first, or with the API server's
    log when ``timeout`` seconds pass."""
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{log_tail(name)}")
        try:
            if requests.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the API server did not answer within {timeout:.0f} s:\n{log_tail('api-server')}")


def file_tail(path: Path, chars: int = 4000) -> Callable[[str], str]:
    """A ``log_tail`` for :func:`wait_for_api_server` when every process writes one log file."""
    return lambda _name: path.read_text(errors="replace")[-chars:] if path.exists() else f"(no log {path})"


def stop_process_groups(processes: Iterable[subprocess.Popen[Any]], grace: float = 3.0) -> None:
    """TERM the process groups ``processes`` lead (each started with ``start_new_session=True``); KILL those
    still there after ``grace`` seconds. A leader that already exited is signalled too: its group may not
    have."""
    processes = list(processes)
    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        for process in processes:
            try:
                os.killpg(process.pid, signum)
            except ProcessLookupError:
                pass
        stop = time.monotonic() + wait
        for process in processes:
            try:
                process.wait(timeout=max(0.1, stop - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        processes = [p for p in processes if p.poll() is None]
        if not processes:
            return


__all__ = ["COMPONENTS", "FAR_AWAY_CRON", "HUBSPOT_CLIENT_SECRET", "LATENCY_SETTINGS", "WOO_WEBHOOK_SECRET",
           "LocalAirflow", "file_tail", "stop_process_groups", "wait_for_api_server"]
