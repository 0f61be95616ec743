"""Test and benchmark scaffolding that starts real processes (not part of the sync): see
:mod:`woohub.testing.airflow_processes`."""
