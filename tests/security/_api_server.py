"""An ``airflow api-server`` of its own for a test module (SimpleAuthManager, users with roles and passwords
from a file, this session's metadata database, the project's plugins), and logging in to it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.helpers import free_port
from woohub.testing.airflow_processes import file_tail, stop_process_groups, wait_for_api_server


@dataclass(frozen=True)
class ApiServer:
    port: int
    passwords: dict[str, str]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, user: str) -> str:
        """Log in as the UI's login form does (``POST /auth/token``; the UI keeps it in the ``_token`` cookie)."""
        response = requests.post(f"{self.url}/auth/token", json={"username": user, "password": self.passwords[user]},
                                 timeout=30)
        assert response.status_code == 201, response.text
        return str(response.json()["access_token"])


@contextmanager
def api_server(base: Path, roles: dict[str, str], env: dict[str, str] | None = None) -> Iterator[ApiServer]:
    """A running API server (up once this yields) with the users ``roles`` (name -> SimpleAuthManager role)."""
    passwords = {user: secrets.token_urlsafe(12) for user in roles}
    password_file = base / "passwords.json"
    password_file.write_text(json.dumps(passwords))
    port = free_port()
    from airflow.configuration import conf

    # This process writes connection rows too: the server must decrypt them with the same Fernet key (unit-test
    # mode makes one per process otherwise).
    settings = {**os.environ, "AIRFLOW__CORE__FERNET_KEY": conf.get("core", "fernet_key"), **(env or {}),
                "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager."
                                               "SimpleAuthManager",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in roles.items()),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
                "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}"}
    log = base / "api-server.log"
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("wb") as output:
        process = subprocess.Popen([airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)], env=settings,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_api_server(f"http://127.0.0.1:{port}", {"api-server": process}, file_tail(log), 90.0)
        yield ApiServer(port, passwords, log)
    finally:
        stop_process_groups([process])
