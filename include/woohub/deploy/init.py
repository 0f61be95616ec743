"""``python -m woohub.deploy.init``: the woohub half of the ``airflow-init`` service in ``docker-compose.yaml``.

Airflow's image migrates the metadata database itself (``_AIRFLOW_DB_MIGRATE``); this command then

1. migrates the staging database (the ``woohub_staging`` connection, ``--conn-id``) once, before any task
   does: every task migrates it on first use too, but several Celery workers starting their first tasks at
   the same moment on an empty PostgreSQL database would race on creating the same tables;
2. writes the admin's password into the SimpleAuthManager's password file (``--passwords-file``, default
   ``[core] simple_auth_manager_passwords_file``): user ``_AIRFLOW_WWW_USER_USERNAME`` (default ``admin``;
   the compose file lists it in ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS`` with role admin), password
   ``_AIRFLOW_WWW_USER_PASSWORD`` — the names Airflow's own compose file uses for its admin user. Other
   users in the file keep theirs. Without a password one is generated and printed once, as the
   SimpleAuthManager itself does. The password is never logged otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

USERNAME_VAR = "_AIRFLOW_WWW_USER_USERNAME"
PASSWORD_VAR = "_AIRFLOW_WWW_USER_PASSWORD"
DEFAULT_USERNAME = "admin"


def migrate_staging(conn_id: str) -> str:
    """Bring the staging database of connection ``conn_id`` to the newest schema; its dialect name."""
    from woohub.staging.database import staging_engine

    engine = staging_engine(conn_id)
    try:
        return engine.dialect.name
    finally:
        engine.dispose()


def set_admin_password(passwords_file: Path, username: str, password: str) -> None:
    """Store ``password`` for ``username`` in the SimpleAuthManager's JSON password file (created if
    missing; other users' entries stay), readable by its owner only."""
    passwords: dict[str, str] = {}
    if passwords_file.exists() and passwords_file.read_text().strip():
        passwords = json.loads(passwords_file.read_text())
    passwords[username] = password
    passwords_file.parent.mkdir(parents=True, exist_ok=True)
    passwords_file.write_text(json.dumps(passwords) + "\n")
    passwords_file.chmod(0o600)


def default_passwords_file() -> Path:
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    return Path(SimpleAuthManager.get_generated_password_file())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m woohub.deploy.init", description=__doc__.split("\n\n")[0])
    parser.add_argument("--conn-id", default=os.getenv("WOOHUB_STAGING_CONN_ID", "woohub_staging"),
                        help="the staging connection (default woohub_staging)")
    parser.add_argument("--passwords-file", type=Path,
                        help="the SimpleAuthManager password file (default: Airflow's configured one)")
    parser.add_argument("--skip-staging", action="store_true", help="do not migrate the staging database")
    args = parser.parse_args(argv)
    if not args.skip_staging:
        print(f"staging database ({migrate_staging(args.conn_id)}, connection {args.conn_id}) migrated", flush=True)
    username = os.getenv(USERNAME_VAR) or DEFAULT_USERNAME
    password = os.getenv(PASSWORD_VAR)
    if not password:
        password = secrets.token_urlsafe(16)
        print(f"{PASSWORD_VAR} is not set; generated password for user {username!r}: {password}", flush=True)
    target = args.passwords_file or default_passwords_file()
    set_admin_password(target, username, password)
    print(f"password of Airflow user {username!r} written to {target}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
