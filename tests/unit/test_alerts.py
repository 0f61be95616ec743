"""Failure alerts: the message, and the webhook call at the network edge (one request, so requests_mock)."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from woohub.core.alerts import failure_message, on_task_failure


def context() -> dict:
    ti = SimpleNamespace(dag_id="woocommerce_to_hubspot", task_id="validate_orders", try_number=2)
    return {"task_instance": ti, "run_id": "scheduled__2026-11-28", "exception": ValueError("12% bad rows")}


def test_message_names_the_task_run_try_and_error() -> None:
    assert failure_message(context()) == (
        "woohub: woocommerce_to_hubspot.validate_orders failed (run scheduled__2026-11-28, try 2): "
        "ValueError: 12% bad rows")


def test_failure_is_logged_and_posted_to_the_alerts_webhook(monkeypatch: pytest.MonkeyPatch,
                                                            requests_mock, caplog) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WOOHUB_ALERTS", json.dumps(
        {"conn_type": "http", "host": "hooks.example.com", "schema": "https",
         "extra": {"endpoint": "/services/T000/B000/XXXX"}}))
    posted = requests_mock.post("https://hooks.example.com/services/T000/B000/XXXX", text="ok")
    with caplog.at_level(logging.ERROR, logger="woohub.core.alerts"):
        on_task_failure(context())
    assert posted.call_count == 1
    assert posted.last_request.json() == {"text": failure_message(context())}
    assert "validate_orders failed" in caplog.text


def test_an_unreachable_webhook_is_logged_not_raised(monkeypatch: pytest.MonkeyPatch, requests_mock,
                                                     caplog) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WOOHUB_ALERTS", json.dumps(
        {"conn_type": "http", "host": "hooks.example.com", "schema": "https"}))
    requests_mock.post("https://hooks.example.com/", status_code=500)
    with caplog.at_level(logging.ERROR, logger="woohub.core.alerts"):
        on_task_failure(context())
    assert "could not send the alert" in caplog.text
