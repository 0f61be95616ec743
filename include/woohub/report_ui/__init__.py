"""The woohub report page in the Airflow UI (``/woohub``, mounted by ``plugins/woohub_report.py``).

- :mod:`.queries` reads staging (SQLAlchemy Core): run counts, reconciliation drift, open quarantine and dead
  letters, the latest reconciliation differences.
- :mod:`.actions` is what the page's Requeue and Dismiss buttons do, each recorded in ``review_action``.
- :mod:`.charts` draws the charts as inline SVG on the server (no JavaScript chart library, no CDN).
- :mod:`.security` reuses Airflow's own authentication (the JWT the auth manager issued, from the ``_token``
  cookie or an ``Authorization: Bearer`` header) and authorization, plus the page's CSRF token.
- :mod:`.app` is the FastAPI app factory (Jinja2 templates with autoescape on; the GX Data Docs served
  behind the same authentication).

Importing this package needs neither Airflow nor a database; Airflow is imported inside the functions that
run in the API server.
"""
