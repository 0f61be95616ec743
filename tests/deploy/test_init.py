"""``python -m woohub.deploy.init`` (the woohub half of the compose file's ``airflow-init``): the admin's password
goes into the SimpleAuthManager's password file without touching other users' entries. The whole command, on
PostgreSQL, runs in tests/deploy/test_celery_native.py (the admin logs in with that password)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from woohub.deploy.init import set_admin_password


def test_the_admin_password_is_set_and_other_users_keep_theirs(tmp_path: Path) -> None:
    passwords = tmp_path / "auth" / "passwords.json"
    set_admin_password(passwords, "admin", "first")
    passwords.write_text(json.dumps({**json.loads(passwords.read_text()), "viewer": "theirs"}))
    set_admin_password(passwords, "admin", "second")
    assert json.loads(passwords.read_text()) == {"admin": "second", "viewer": "theirs"}
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
