"""Alembic environment for the staging database. Run through :func:`woohub.staging.database.migrate`,
which passes an open connection; the version table is ``woohub_alembic_version`` so the staging schema
can share a database with other Alembic-managed schemas (Airflow's own included)."""

from __future__ import annotations

from alembic import context

from woohub.staging.schema import metadata

VERSION_TABLE = "woohub_alembic_version"

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
