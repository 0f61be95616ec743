"""The staging schema: migrations build exactly what ``schema.py`` declares, on SQLite and PostgreSQL, and
running them again changes nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from woohub.staging.database import engine_for_url, migrate
from woohub.staging.schema import metadata


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'staging.db'}"
        return
    server_url = os.getenv("WOOHUB_TEST_POSTGRES_URL")
    if not server_url:
        pytest.skip("PostgreSQL staging tests need WOOHUB_TEST_POSTGRES_URL; .ci/run sets it")
    server = make_url(server_url)
    name = f"woohub_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        engine_for_url(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_match_the_declared_schema(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = engine_for_url(database_url)
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": "woohub_alembic_version"})
        differences = [d for d in compare_metadata(context, metadata)
                       if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "woohub_alembic_version")]
    assert differences == []
    tables = set(inspect(engine).get_table_names())
    assert {"stg_woocommerce_orders", "id_map", "sync_state", "dead_letter", "quarantine", "run_stats"} <= tables
    with engine.connect() as connection:
        assert connection.execute(text("select version_num from woohub_alembic_version")).scalar() == "0002"


def test_migrating_an_older_database_keeps_its_rows(tmp_path: Path) -> None:
    from woohub.staging import repository

    engine = engine_for_url(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text(
            "insert into dead_letter (object_type, source_key, error_code, error_message, attempts, "
            "first_failed_at, last_failed_at, next_retry_at, last_run_id) values "
            "('deal', '7', 'X', 'boom', 2, '2026-01-01', '2026-01-01', '2026-01-01', 'r1')"))
    migrate(engine)
    letters = repository.dead_letters(engine)
    assert [(row["source_key"], row["attempts"], row["source_ref"]) for row in letters] == [("7", 2, None)]
