"""``docker-compose.yaml``'s Celery deployment as plain processes on this machine (test and benchmark scaffolding).

:class:`NativeCeleryDeployment` starts what the compose file starts, service by service, with the same
commands (:data:`SERVICE_COMMANDS`) and the same host-independent settings (:data:`COMMON_SETTINGS`):

* ``postgres`` → a fresh database for Airflow's metadata on a local PostgreSQL server; ``staging-postgres`` →
  another fresh database there for the ``woohub_staging`` connection (both uniquely named, dropped on stop);
* ``redis`` → a free database number on a local Redis server (claimed with a marker key, flushed on stop),
  the Celery broker; the Celery result backend is the metadata database, as in the compose file;
* ``airflow-init`` → ``airflow db migrate`` and ``python -m woohub.deploy.init`` (staging migrations, the
  admin's password for the SimpleAuthManager);
* ``airflow-apiserver``, ``airflow-scheduler``, ``airflow-dag-processor``, ``airflow-triggerer`` and
  ``airflow-worker`` × ``workers`` (``airflow celery worker`` with a distinct Celery hostname each and
  ``--concurrency``), with the project's ``dags/`` and ``plugins/``;
* ``sandbox`` → ``python -m woohub.sandbox`` on free ports; the HubSpot and WooCommerce connections point at
  it, the HubSpot connection with ``rate_limit_store: woohub_staging`` so every worker shares one budget.

What differs, because the processes share one host: every port is a free one (API server, scheduler health
check, each worker's and the triggerer's log server), the API server runs one worker process, and each
Celery worker reports a hostname of its own (``worker-1`` …) through ``[core] hostname_callable``
(:func:`worker_hostname`), as each container has its own: that is what a task instance's ``hostname``
shows. Every process leads its own process group and writes its output to ``<work>/logs/<name>.log``;
:meth:`NativeCeleryDeployment.stop` ends the groups (TERM, then KILL) and drops the databases, also when
start-up failed half-way. Use it as a context manager.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

#: the compose services that run Airflow, and the ``airflow`` command line each one runs
SERVICE_COMMANDS: dict[str, list[str]] = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
#: the settings ``x-airflow-common`` sets that do not name a host (the rest is rewritten for 127.0.0.1)
COMMON_SETTINGS: dict[str, str] = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
}
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"
WORKER_HOSTNAME_VAR = "WOOHUB_NATIVE_WORKER_HOSTNAME"
ADMIN_USER = "admin"
REDIS_CLAIM_KEY = "woohub:native-deployment"
FINISHED = ("success", "failed")


def worker_hostname() -> str:
    """``[core] hostname_callable`` of a native Celery worker: the hostname this worker stands for
    (:data:`WORKER_HOSTNAME_VAR`), else the machine's."""
    from airflow.utils.net import getfqdn

    return os.environ.get(WORKER_HOSTNAME_VAR) or getfqdn()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Component:
    """One started process (the leader of its own process group) and its log."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path


class DeploymentError(RuntimeError):
    """A component did not start or a step failed; the message carries the relevant log tails."""


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@dataclass
class NativeCeleryDeployment:
    """The compose file's services as local processes (see the module docstring).

    :param work: a directory for the Airflow home, logs and the GX file context copy
    :param postgres_url: a SQLAlchemy URL of a PostgreSQL server whose user may create databases
    :param redis_url: the Redis server (``redis://host:port``; a free database number is taken)
    :param workers: Celery workers to start; ``concurrency`` task slots each
    :param hubspot_extra: more HubSpot connection ``extra`` (e.g. ``ten_second_limit``)
    :param sandbox_args: extra ``python -m woohub.sandbox`` arguments (default: start empty)
    :param environment: more environment for every process (e.g. ``WOOHUB_RETRY_DELAY_SECONDS``)
    """

    work: Path
    postgres_url: str = field(repr=False)
    redis_url: str = "redis://127.0.0.1:6379"
    workers: int = 2
    concurrency: int = 1
    hubspot_extra: Mapping[str, Any] = field(default_factory=dict)
    sandbox_args: tuple[str, ...] = ("--empty",)
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)
    project_root: Path = Path(__file__).resolve().parents[3]
    startup_timeout: float = 120.0
    stop_grace: float = 5.0
    components: list[Component] = field(default_factory=list, init=False)
    databases: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    redis_db: int | None = field(default=None, init=False)
    env: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    ports: dict[str, int] = field(default_factory=dict, init=False)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(16), init=False, repr=False)
    _token: str | None = field(default=None, init=False, repr=False)

    # -- life cycle ---------------------------------------------------------------------------------

    def __enter__(self) -> NativeCeleryDeployment:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def hubspot_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['hubspot']}"

    @property
    def woo_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['woo']}"

    @property
    def staging_url(self) -> str:
        return self.databases["staging"]

    @property
    def metadata_url(self) -> str:
        return self.databases["metadata"]

    @property
    def worker_names(self) -> list[str]:
        return [f"worker-{n}" for n in range(1, self.workers + 1)]

    def start(self) -> None:
        """Create the databases, claim a Redis database, run the init steps, start every component and
        wait until the API server, the sandboxes and every worker are up."""
        self.work.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        for role in ("metadata", "staging"):
            self.databases[role] = self._create_database(role)
        self.redis_db = self._claim_redis_db()
        self.ports = {name: free_port() for name in ("api", "scheduler_health", "triggerer_logs", "hubspot", "woo")}
        self.env = self._environment()
        self.start_component("sandbox", [sys.executable, "-m", "woohub.sandbox", "--host", "127.0.0.1",
                                         "--hubspot-port", str(self.ports["hubspot"]),
                                         "--woo-port", str(self.ports["woo"]), *self.sandbox_args])
        # airflow-init: Airflow's metadata and woohub's staging database are independent, so at the same time
        self.run_steps({"airflow-db-migrate": [self.airflow, "db", "migrate"],
                        "woohub-init": [sys.executable, "-m", "woohub.deploy.init"]})
        for service in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
            self.start_component(service, [self.airflow, *SERVICE_COMMANDS[service], *self._arguments(service)])
        for n, name in enumerate(self.worker_names, start=1):
            self.start_worker(name, n)
        deadline = time.monotonic() + self.startup_timeout
        self._wait_http(f"{self.hubspot_url}/__sandbox__/health", "sandbox", deadline)
        self._wait_http(f"{self.woo_url}/__sandbox__/health", "sandbox", deadline)
        self._wait_http(f"{self.api_url}/api/v2/monitor/health", "airflow-apiserver", deadline)
        for name in self.worker_names:
            self._wait_log(f"airflow-worker-{name}", f"celery@{name} ready.", deadline)

    def stop(self) -> None:
        """End every component's process group (TERM, then KILL after ``stop_grace`` s), drop the databases
        and flush the Redis database. Safe to call more than once."""
        for component in reversed(self.components):
            _signal_group(component.process, signal.SIGTERM)
        stop_by = time.monotonic() + self.stop_grace
        for component in self.components:
            try:
                component.process.wait(timeout=max(0.1, stop_by - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(component.process, signal.SIGKILL)  # the group may outlive its leader
            try:
                component.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.components.clear()
        self._release_redis_db()
        for role in list(self.databases):
            self._drop_database(self.databases.pop(role))

    # -- processes ------------------------------------------------------------------------------------

    @property
    def airflow(self) -> str:
        return str(Path(sys.executable).with_name("airflow"))

    def start_component(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Component:
        log = self.logs / f"{name}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(argv, env={**self.env, **(env or {})}, stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True, cwd=self.work)
        component = Component(name, process, log)
        self.components.append(component)
        return component

    def start_worker(self, name: str, number: int) -> Component:
        """``airflow celery worker`` as ``celery@<name>`` with its own log server port and hostname."""
        argv = [self.airflow, *SERVICE_COMMANDS["airflow-worker"], "--celery-hostname", name,
                "--concurrency", str(self.concurrency)]
        env = {WORKER_HOSTNAME_VAR: name, "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
               "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
        return self.start_component(f"airflow-worker-{name}", argv, env)

    def run_steps(self, steps: Mapping[str, list[str]], timeout: float = 300) -> None:
        """Run one-shot steps (init commands) side by side to completion, each one's output in
        ``<name>.log``; raises with the log of the first that failed."""
        running = {}
        for name, argv in steps.items():
            with (self.logs / f"{name}.log").open("ab") as output:
                running[name] = subprocess.Popen(argv, env=self.env, stdout=output, stderr=subprocess.STDOUT,
                                                 start_new_session=True, cwd=self.work)
        try:
            codes = {name: process.wait(timeout=timeout) for name, process in running.items()}
        finally:
            for process in running.values():
                if process.poll() is None:
                    _signal_group(process, signal.SIGKILL)
                    process.wait()
        for name, code in codes.items():
            if code != 0:
                raise DeploymentError(f"{name} exited with {code}:\n" + _tail(self.logs / f"{name}.log", 60))

    def tails(self, lines: int = 40) -> str:
        """The last ``lines`` of every log (for a failure message)."""
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            parts.append(f"----- {log.name} (last {lines} lines) -----\n{_tail(log, lines)}")
        return "\n".join(parts)

    def healthchecks(self) -> dict[str, bool]:
        """The compose file's healthcheck of every Airflow service, run natively, all at once: the API
        server's and the scheduler's health endpoints, ``airflow jobs check`` for the DAG processor and the
        triggerer, ``celery inspect ping`` for each worker. ``{service: healthy}``."""
        from airflow.utils.net import getfqdn

        host = getfqdn()  # what Airflow records as a job's hostname (``$HOSTNAME`` in a container)
        checks: dict[str, subprocess.Popen[bytes]] = {}
        for service, job in (("airflow-dag-processor", "DagProcessorJob"), ("airflow-triggerer", "TriggererJob")):
            checks[service] = self._check_process(service, [self.airflow, "jobs", "check", "--job-type", job,
                                                            "--hostname", host])
        celery = str(Path(sys.executable).with_name("celery"))
        for name in self.worker_names:
            checks[f"airflow-worker-{name}"] = self._check_process(
                f"airflow-worker-{name}", [celery, "--app", CELERY_APP, "inspect", "ping", "-d", f"celery@{name}"])
        healthy = {"airflow-apiserver": _http_ok(f"{self.api_url}/api/v2/monitor/health", attempts=5),
                   "airflow-scheduler": _http_ok(f"http://127.0.0.1:{self.ports['scheduler_health']}/health",
                                                 attempts=5)}
        for service, process in checks.items():
            try:
                healthy[service] = process.wait(timeout=120) == 0
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                healthy[service] = False
        return healthy

    def _check_process(self, service: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"healthcheck-{service}.log").open("ab") as output:
            return subprocess.Popen(argv, env=self.env, stdout=output, stderr=subprocess.STDOUT,
                                    start_new_session=True, cwd=self.work)

    # -- the Airflow REST API --------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call to the API server as the admin user (``POST /auth/token`` with the password init wrote)."""
        if self._token is None:
            login = requests.post(f"{self.api_url}/auth/token", timeout=30,
                                  json={"username": ADMIN_USER, "password": self.admin_password})
            if login.status_code != 201:
                raise DeploymentError(f"admin login refused ({login.status_code}): {login.text[:300]}")
            self._token = login.json()["access_token"]
        response = requests.request(method, f"{self.api_url}/api/v2{path}", timeout=30,
                                    headers={"Authorization": f"Bearer {self._token}"}, **kwargs)
        if not response.ok:
            raise DeploymentError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def wait_until_parsed(self, dag_ids: Iterable[str], timeout: float = 120) -> None:
        """Until the DAG processor has serialized every one of ``dag_ids``."""
        wanted, deadline = set(dag_ids), time.monotonic() + timeout
        while True:
            known = {d["dag_id"] for d in self.api("GET", "/dags", params={"limit": 100})["dags"]}
            if wanted <= known:
                return
            self._check_alive()
            if time.monotonic() > deadline:
                raise DeploymentError(f"DAGs {sorted(wanted - known)} not parsed in {timeout:.0f} s\n" + self.tails())
            time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        """Unpause ``dag_id``: the scheduler then creates its first scheduled run (for a sync DAG without a
        high-water mark: the initial full load)."""
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": True})

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"])

    def wait_for_first_runs(self, dag_ids: Iterable[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Until the first run of each of ``dag_ids`` finished; ``{dag_id: run}``; raises with every log's
        tail when one did not finish in time or a component died."""
        pending, finished = set(dag_ids), {}
        deadline = time.monotonic() + timeout
        while pending:
            for dag_id in sorted(pending):
                runs = sorted(self.dag_runs(dag_id), key=lambda r: r.get("queued_at") or r.get("run_after") or "")
                if runs and runs[0]["state"] in FINISHED:
                    finished[dag_id] = runs[0]
                    pending.discard(dag_id)
            if not pending:
                break
            self._check_alive()
            if time.monotonic() > deadline:
                states = {d: [r["state"] for r in self.dag_runs(d)] for d in pending}
                raise DeploymentError(f"runs not finished in {timeout:.0f} s: {states}\n" + self.tails())
            time.sleep(1)
        return finished

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                             params={"limit": 100})["task_instances"])

    # -- environment ------------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        """Every process's environment: this one's without any Airflow or woohub setting, then the
        compose file's settings with 127.0.0.1 for its service names."""
        from woohub.sandbox.control import sandbox_connection_env

        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("AIRFLOW_", "AIRFLOW__", "WOOHUB_", "_AIRFLOW_"))}
        home, gx_root = self.work / "airflow-home", self.work / "great_expectations"
        home.mkdir(exist_ok=True)
        if not gx_root.exists():
            shutil.copytree(self.project_root / "great_expectations", gx_root,
                            ignore=shutil.ignore_patterns("uncommitted"))
        from sqlalchemy.engine import make_url

        metadata = make_url(self.metadata_url)
        staging = make_url(self.staging_url)
        broker = f"{self.redis_url.rstrip('/')}/{self.redis_db}"
        hubspot_extra = {"rate_limit_store": "woohub_staging", **self.hubspot_extra}
        env = {
            **base,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), base.get("PATH", "")]),
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            **COMMON_SETTINGS,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.project_root / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.project_root / "plugins"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata.render_as_string(hide_password=False),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC":
                metadata.set(drivername="postgresql+psycopg_async").render_as_string(hide_password=False),
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata.render_as_string(hide_password=False),
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.ports['api']}/execution/",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.ports['api']}",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.ports["scheduler_health"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.ports["triggerer_logs"]),
            "_AIRFLOW_WWW_USER_USERNAME": ADMIN_USER,
            "_AIRFLOW_WWW_USER_PASSWORD": self.admin_password,
            "AIRFLOW_CONN_WOOHUB_STAGING": json.dumps({
                "conn_type": "postgres", "host": staging.host or "127.0.0.1", "port": staging.port or 5432,
                "schema": staging.database, "login": staging.username or "", "password": staging.password or ""}),
            **sandbox_connection_env(self.ports["hubspot"], self.ports["woo"], hubspot_extra=hubspot_extra),
            "WOOHUB_GX_ROOT": str(gx_root),
            "WOOHUB_RETRY_DELAY_SECONDS": "5",
        }
        env.update(self.environment)
        return env

    def _arguments(self, service: str) -> list[str]:
        if service == "airflow-apiserver":
            return ["--host", "127.0.0.1", "--port", str(self.ports["api"])]
        return []

    # -- databases ----------------------------------------------------------------------------------------

    def _create_database(self, role: str) -> str:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        server = make_url(self.postgres_url)
        name = f"woohub_native_{role}_{uuid.uuid4().hex[:10]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return server.set(database=name).render_as_string(hide_password=False)

    def _drop_database(self, url: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        from woohub.staging.database import engine_for_url

        engine_for_url(url).dispose()
        target = make_url(url)
        admin = create_engine(make_url(self.postgres_url), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        except Exception as error:  # a failed drop must not hide the outcome of what ran
            print(f"could not drop {_redact(url)}: {error}", file=sys.stderr)
        finally:
            admin.dispose()

    def _claim_redis_db(self) -> int:
        """The first Redis database number (1–15) that is empty, claimed with a marker key."""
        import redis

        token = uuid.uuid4().hex
        for number in range(1, 16):
            client = redis.Redis.from_url(f"{self.redis_url.rstrip('/')}/{number}")
            try:
                if client.dbsize() == 0 and client.set(REDIS_CLAIM_KEY, token, nx=True):
                    if client.dbsize() == 1:
                        return number
                    client.delete(REDIS_CLAIM_KEY)
            finally:
                client.close()
        raise DeploymentError(f"no empty Redis database at {self.redis_url}")

    def _release_redis_db(self) -> None:
        if self.redis_db is None:
            return
        import redis

        client = redis.Redis.from_url(f"{self.redis_url.rstrip('/')}/{self.redis_db}")
        try:
            client.flushdb()
        finally:
            client.close()
        self.redis_db = None

    # -- waiting ----------------------------------------------------------------------------------------

    def _check_alive(self) -> None:
        for component in self.components:
            if component.process.poll() is not None:
                raise DeploymentError(f"{component.name} exited with {component.process.returncode}\n"
                                      + self.tails())

    def _wait_http(self, url: str, what: str, deadline: float) -> None:
        while not _http_ok(url):
            self._check_alive()
            if time.monotonic() > deadline:
                raise DeploymentError(f"{what} did not answer at {url}\n" + self.tails())
            time.sleep(0.5)

    def _wait_log(self, name: str, marker: str, deadline: float) -> None:
        log = self.logs / f"{name}.log"
        while marker not in (log.read_text(errors="replace") if log.exists() else ""):
            self._check_alive()
            if time.monotonic() > deadline:
                raise DeploymentError(f"{name} did not log {marker!r}\n" + self.tails())
            time.sleep(0.5)


def _http_ok(url: str, *, attempts: int = 1, timeout: float = 10) -> bool:
    """Whether ``url`` answers 200 within ``timeout`` s, trying up to ``attempts`` times (1 s apart), as a
    compose healthcheck with ``timeout: 10s`` and ``retries`` does."""
    for attempt in range(attempts):
        try:
            if requests.get(url, timeout=timeout).status_code == 200:
                return True
        except requests.RequestException:
            pass
        if attempt + 1 < attempts:
            time.sleep(1)
    return False


def _signal_group(process: subprocess.Popen[Any], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(log: Path, lines: int) -> str:
    text = log.read_text(errors="replace") if log.exists() else "(no output)"
    return "\n".join(text.splitlines()[-lines:])


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
