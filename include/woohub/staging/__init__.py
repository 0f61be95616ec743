"""The staging database: raw extracts, the WooCommerce↔HubSpot id map, sync state, dead letters,
quarantine and per-run counts. SQLite by default (embedded), PostgreSQL in production; reached through the
Airflow connection ``woohub_staging``; its schema is versioned with Alembic migrations."""
