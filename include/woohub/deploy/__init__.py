"""The scale-out deployment: Airflow with the CeleryExecutor, as ``docker-compose.yaml`` runs it.

* :mod:`woohub.deploy.init` — what the compose file's ``airflow-init`` service does after Airflow's own
  ``airflow db migrate``: migrate the staging database and give the SimpleAuthManager its admin password.
* :mod:`woohub.deploy.native` — the same components started as plain processes on one machine (PostgreSQL,
  Redis, the API server, scheduler, DAG processor, triggerer, Celery workers and the sandboxes), for the
  deployment test and ``make bench-celery``. Test and benchmark scaffolding, not part of the sync.
"""
