"""Copies of a WAL-mode SQLite database (Airflow's metadata database is one) keep the newest commits."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from tests.helpers import copy_sqlite_database


def test_a_copy_keeps_the_commits_still_in_the_write_ahead_log(tmp_path: Path) -> None:
    source = tmp_path / "airflow.db"
    writer = sqlite3.connect(source)
    try:
        assert writer.execute("pragma journal_mode=wal").fetchone() == ("wal",)
        writer.execute("pragma wal_autocheckpoint=0")  # the commits stay in airflow.db-wal
        writer.execute("create table dag_run (state text)")
        writer.execute("insert into dag_run values ('success')")
        writer.commit()

        shutil.copy(source, tmp_path / "file-copy.db")  # what the tests did before
        copy_sqlite_database(source, tmp_path / "backup-copy.db")
    finally:
        writer.close()

    file_copy = sqlite3.connect(tmp_path / "file-copy.db")
    try:
        assert file_copy.execute("select name from sqlite_master where name = 'dag_run'").fetchall() == []
    finally:
        file_copy.close()
    backup = sqlite3.connect(tmp_path / "backup-copy.db")
    try:
        assert backup.execute("select state from dag_run").fetchall() == [("success",)]
    finally:
        backup.close()
