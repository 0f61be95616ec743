"""The staging schema: migrations build exactly what ``schema.py`` declares, on SQLite and PostgreSQL, and
running them again changes nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

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
    from tests.helpers import postgres_database

    with postgres_database("woohub_mig") as url:
        yield url


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
        assert connection.execute(text("select version_num from woohub_alembic_version")).scalar() == head_revision()


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import woohub.staging.database as database

    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).with_name("migrations")))
    return ScriptDirectory.from_config(config).get_current_head()


def test_migrating_an_older_database_keeps_its_rows(tmp_path: Path) -> None:
    from woohub.core import dead_letters

    engine = engine_for_url(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text(
            "insert into dead_letter (object_type, source_key, error_code, error_message, attempts, "
            "first_failed_at, last_failed_at, next_retry_at, last_run_id) values "
            "('deal', '7', 'X', 'boom', 2, '2026-01-01', '2026-01-01', '2026-01-01', 'r1')"))
    migrate(engine)
    letters = dead_letters.dead_letters(engine)
    assert [(row["source_key"], row["attempts"], row["source_ref"], row["state"]) for row in letters] == [
        ("7", 2, None, "open")]


# What the previous release (schema 0002) wrote: staged payloads, marks, id map, dead letters (one open,
# one resolved), quarantine rows of two runs for one record.
PREVIOUS_RELEASE_ROWS = [
    "insert into stg_woocommerce_orders values ('5', '{\"id\": 5}', 'h5', '2026-11-01 10:00:00', 'run-a', "
    "'2026-11-01 10:05:00')",
    "insert into stg_woocommerce_customers values ('9', '{\"id\": 9}', 'h9', null, 'run-a', '2026-11-01 10:05:00')",
    "insert into sync_state values ('orders', '2026-11-01 10:00:00', '2026-11-01 10:06:00', 'run-a')",
    "insert into sync_state values ('products', '2026-11-01 09:00:00', '2026-11-01 10:06:00', 'run-a')",
    "insert into sync_state values ('customers_full_scan', '2026-11-01 08:00:00', '2026-11-01 10:06:00', 'run-a')",
    "insert into id_map values ('deal', '5', '1001', 'dealhash', '2026-11-01 10:06:00', 'run-a')",
    "insert into id_map values ('contact', 'guest:a@example.org', '2001', 'contacthash', '2026-11-01 10:06:00', "
    "'run-a')",
    "insert into dead_letter values ('deal', '6', 'VALIDATION_ERROR', 'bad', 3, '2026-11-01 10:00:00', "
    "'2026-11-01 11:00:00', '2026-11-01 11:20:00', 'run-b', null, 'orders:6', 'run-b')",
    "insert into dead_letter values ('contact', 'customer:9', 'X', 'gone', 1, '2026-11-01 10:00:00', "
    "'2026-11-01 10:00:00', '2026-11-01 10:05:00', 'run-a', '2026-11-01 10:30:00', 'customers:9', null)",
    "insert into quarantine values ('run-a', 'orders', '8', '[\"old reason\"]', '2026-11-01 10:00:00')",
    "insert into quarantine values ('run-b', 'orders', '8', '[\"newer reason\"]', '2026-11-01 11:00:00')",
    "insert into quarantine values ('run-b', 'contacts', 'guest:', '[\"contact mapping: missing email\"]', "
    "'2026-11-01 11:00:00')",
]


def test_a_staging_database_of_the_previous_release_upgrades_in_place(database_url: str) -> None:
    from woohub.core import dead_letters, ledger, quarantine
    from woohub.staging import repository

    engine = engine_for_url(database_url)
    migrate(engine, "0002")
    with engine.begin() as connection:
        for statement in PREVIOUS_RELEASE_ROWS:
            connection.execute(text(statement))
    migrate(engine)

    assert repository.staged_payloads(engine, "woocommerce.orders") == [{"id": 5}]
    assert repository.run_source_ids(engine, "woocommerce.orders", "run-a") == {"5"}
    assert repository.run_source_ids(engine, "woocommerce.customers", "run-a") == {"9"}
    assert repository.unsynced_versions(engine, "woocommerce.orders") == {"5": "h5"}, \
        "rows staged before the upgrade are checked against the ledger by the next run"
    marks = {stream: repository.get_high_water_mark(engine, stream) for stream in (
        "woocommerce.orders", "woocommerce.products", "woocommerce.customers_full_scan")}
    assert [str(m) for m in marks.values()] == ["2026-11-01 10:00:00", "2026-11-01 09:00:00", "2026-11-01 08:00:00"]
    assert repository.get_high_water_mark(engine, "orders") is None

    assert ledger.id_map_rows(engine, "deal") == {"5": {"hubspot_id": "1001", "content_hash": "dealhash"}}
    assert ledger.id_map_rows(engine, "contact")["guest:a@example.org"]["hubspot_id"] == "2001"
    assert ledger.id_map_rows(engine, "deal", side="woocommerce")["5"]["content_hash"] is None

    letters = {row["source_key"]: row for row in dead_letters.dead_letters(
        engine, states=(dead_letters.OPEN, dead_letters.EXHAUSTED, dead_letters.RESOLVED))}
    assert (letters["6"]["state"], letters["6"]["attempts"], letters["6"]["source_ref"]) == (
        "open", 3, "woocommerce.orders:6")
    assert (letters["customer:9"]["state"], letters["customer:9"]["source_ref"]) == (
        "resolved", "woocommerce.customers:9")

    kept = {(row["object_type"], row["source_key"]): row for row in quarantine.quarantined(engine)}
    assert set(kept) == {("woocommerce.orders", "8"), ("woocommerce_to_hubspot.contacts", "guest:")}
    assert kept[("woocommerce.orders", "8")]["reasons"] == ["newer reason"]
    assert str(kept[("woocommerce.orders", "8")]["first_quarantined_at"]) == "2026-11-01 10:00:00"
