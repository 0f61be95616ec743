"""Operational checks of the two APIs, used by the ``api_health_check`` DAG."""
