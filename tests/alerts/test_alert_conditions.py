"""The alert conditions against a real SMTP server and a real webhook receiver, configured through Airflow
connections: each condition alerts exactly once across two checks, with the report link and no credentials
or personal data; with no connection nothing is sent and nothing fails; two processes racing for one alert
send it once. (The self-pause condition runs through Airflow itself: test_self_pause.py.)"""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from tests.alerts.conftest import RECIPIENTS, REPORT_URL, SECRETS, Received, webhook_connection
from woohub.core import alerts, dead_letters
from woohub.core.quality import DataQualityError, ValidationOutcome, validate_candidates
from woohub.monitoring import alert_checks
from woohub.staging import repository
from woohub.staging.schema import alert_sent

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

GUEST_EMAIL = "jane.doe@example.com"


def sent_rows(engine: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(alert_sent).order_by(alert_sent.c.kind))]


def quarantining_check(records: list[Any]) -> ValidationOutcome:
    """Stands in for the GX suite of one chunk: every record fails (its reason quotes an email value)."""
    ids = [r.source_id for r in records]
    return ValidationOutcome(stream="woocommerce.customers", suite="woocommerce_customers_staging",
                             total=len(ids), valid_ids=[], warnings={}, bad_share=1.0 if ids else 0.0,
                             quarantined={i: [f"expect_column_values_to_match_regex(email): '{GUEST_EMAIL}'"]
                                          for i in ids})


def check_every_condition(engine: Any, run_id: str) -> None:
    """One pass over the conditions 1, 2, 3 and 5 (as the sync task, the reconciliation and the hourly
    check call them)."""
    plan = SimpleNamespace(run_id=run_id, max_quarantine_share=0.05, quarantine_floor=0)
    with pytest.raises(DataQualityError):
        validate_candidates(engine, "woocommerce.customers", plan, {"1", "2", "3"}, quarantining_check,
                            object_type="customer", chunk_size=100)
    alerts.alert_drift(engine, "reconciliation__1", {"deal": {"drift_rate": 0.2, "differences": 40},
                                                     "contact": {"drift_rate": 0.0, "differences": 0}}, 0.05)
    alert_checks.check_staging_alerts(engine)


def prepare_conditions(engine: Any) -> None:
    """Staged customers to quarantine, an exhausted dead letter of a guest contact (its key holds an
    email), and a high-water mark three hours behind."""
    repository.stage_records(engine, "woocommerce.customers",
                             [{"id": n, "email": GUEST_EMAIL, "date_modified_gmt": "2026-11-28T10:00:00"}
                              for n in (1, 2, 3)], "scheduled__1")
    dead_letters.record_failures(engine, "contact", [{"source_key": f"guest:{GUEST_EMAIL}", "error_code": "INVALID_EMAIL",
                                                      "error_message": f"{GUEST_EMAIL} is not valid"}],
                                 "scheduled__1", attempts_cap=1)
    repository.set_high_water_mark(engine, "woocommerce.orders", repository.utcnow() - timedelta(hours=3),
                                   "scheduled__0")
    repository.set_high_water_mark(engine, "woocommerce.customers", repository.utcnow(), "scheduled__0")


def test_each_condition_alerts_once_by_email_and_webhook(staging: Any, channels: Received) -> None:
    prepare_conditions(staging)
    check_every_condition(staging, "scheduled__1")
    check_every_condition(staging, "scheduled__1")  # the same run again (a retry), the next hourly check

    kinds = ["dead_letter_exhausted", "drift_threshold", "high_water_mark_lag", "quarantine_threshold"]
    rows = sent_rows(staging)
    assert [r["kind"] for r in rows] == kinds
    assert {r["channels"] for r in rows} == {"webhook,email"}
    assert len(channels.posts) == len(channels.emails) == 4, channels.texts()
    assert {p["path"] for p in channels.posts} == {"/services/T0001/B0001/webhook-s3cret-token"}
    assert all(sorted(m["to"]) == sorted(RECIPIENTS) for m in channels.emails)
    assert channels.logins, "the SMTP connection's login was used"
    for text in channels.texts():
        assert REPORT_URL in text
        assert not any(secret in text for secret in SECRETS), text
        assert GUEST_EMAIL not in text and "jane" not in text, text
    posted = "\n".join(p["body"]["text"] for p in channels.posts)
    assert "too many woocommerce.customers records quarantined" in posted
    assert "3 of 3 records" in posted
    assert "deal 20.0% (40 differences)" in posted and "contact" not in posted.split("drift over")[1].split("\n")[0]
    assert "contact guest:x.x@x.x #" in posted and "INVALID_EMAIL" in posted
    assert "woocommerce.orders at" in posted and "3 h 0 min behind" in posted
    assert "woocommerce.customers at" not in posted, "a current mark does not alert"
    assert f'href="{REPORT_URL}"' in channels.emails[0]["body"]


def test_a_new_episode_alerts_again(staging: Any, channels: Received) -> None:
    """A requeued letter that is exhausted again, and a mark still behind the next day, alert once more."""
    dead_letters.record_failures(staging, "deal", [{"source_key": "77", "error_code": "X", "error_message": "boom"}],
                                 "r1", attempts_cap=1)
    assert len(alert_checks.alert_exhausted_dead_letters(staging)) == 1
    dead_letters.requeue(staging, source_keys=["77"])
    dead_letters.record_failures(staging, "deal", [{"source_key": "77", "error_code": "X", "error_message": "boom"}],
                                 "r2", attempts_cap=1)
    assert len(alert_checks.alert_exhausted_dead_letters(staging)) == 1
    now = repository.utcnow()
    repository.set_high_water_mark(staging, "hubspot.deals", now - timedelta(hours=5), "r0")
    assert alert_checks.alert_lagging_marks(staging, now=now) != []
    assert alert_checks.alert_lagging_marks(staging, now=now + timedelta(hours=1)) == [], "same day"
    assert alert_checks.alert_lagging_marks(staging, now=now + timedelta(days=1)) != [], "next day"
    assert len(channels.posts) == 4


def test_without_connections_alerts_are_only_logged(staging: Any, no_channels: Received,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    prepare_conditions(staging)
    with caplog.at_level("WARNING", logger="woohub.core.alerts"):
        check_every_condition(staging, "scheduled__1")
        check_every_condition(staging, "scheduled__1")
    rows = sent_rows(staging)
    assert len(rows) == 4 and {r["channels"] for r in rows} == {"log"}
    assert no_channels.posts == [] and no_channels.emails == []
    assert caplog.text.count("drift over 5.0%") == 1 and REPORT_URL in caplog.text
    assert alerts.send_alert("woohub: a task failed") is False


def test_a_failing_channel_is_recorded_and_does_not_stop_the_others(staging: Any, channels: Received,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WOOHUB_ALERTS", webhook_connection(channels.webhook_port, "/broken/s3cret"))
    with caplog.at_level("ERROR", logger="woohub.core.alerts"):
        assert alerts.alert_drift(staging, "reconciliation__2", {"deal": {"drift_rate": 1.0}}, 0.1)
    assert [r["channels"] for r in sent_rows(staging)] == ["webhook:failed,email"]
    assert len(channels.emails) == 1 and "could not send the alert to webhook" in caplog.text
    assert "s3cret" not in caplog.text


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_processes_racing_for_one_alert_send_it_once(database: str, tmp_path: Any, no_channels: Received) -> None:
    from woohub.staging.database import engine_for_url, migrate

    if database == "postgres":
        if not os.getenv("WOOHUB_TEST_POSTGRES_URL"):
            pytest.skip("needs WOOHUB_TEST_POSTGRES_URL")
        from tests.helpers import postgres_database

        context = postgres_database("woohub_alerts")
    else:
        from contextlib import nullcontext

        context = nullcontext(f"sqlite:///{tmp_path / 'race.db'}")
    with context as url:
        engine = engine_for_url(url)
        migrate(engine)
        start = threading.Barrier(6)
        results: list[bool] = []

        def race() -> None:
            start.wait()
            results.append(alerts.alert_once(engine, "drift:run-9", alerts.DRIFT_THRESHOLD, "drift"))

        threads = [threading.Thread(target=race) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * 5 + [True]
        engine.dispose()


# ------------------------------------------------------------------------------------ the small rules


def test_drift_threshold_rules_and_bad_input() -> None:
    summary = {"deal": {"drift_rate": 0.051, "differences": 5}, "product": {"drift_rate": 0.05}}
    assert list(alerts.drift_over_threshold(summary, 0.05)) == ["deal"]
    with pytest.raises(ValueError, match="between 0 and 1"):
        alerts.drift_over_threshold(summary, 5)
    with pytest.raises(ValueError, match="'contact' has no numeric drift_rate"):
        alerts.drift_over_threshold({"contact": {"differences": 3}}, 0.1)
    whole = {"run_id": "r", "threshold": 0.05, "objects": {**summary, "line_item": {"drift_rate": None}}}
    assert list(alerts.drift_over_threshold(whole, 0.05)) == ["deal"], "drift_summary()'s shape, a rate-less object"


def test_self_pause_rule_follows_airflow() -> None:
    assert alert_checks.pauses_now(["failed", "failed", "failed"], 3, already_paused=False)
    assert not alert_checks.pauses_now(["failed", "failed"], 3, already_paused=False), "too few runs yet"
    assert not alert_checks.pauses_now(["failed", "success", "failed"], 3, already_paused=False)
    assert not alert_checks.pauses_now(["failed"] * 3, 3, already_paused=True), "paused by a person before"
    assert not alert_checks.pauses_now(["failed"] * 3, 0, already_paused=False), "0 = never paused"


def test_keys_fit_and_report_url_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    long = alerts.alert_key_for("dead_letter", "contact", "x" * 400)
    assert len(long) == 250 and long != alerts.alert_key_for("dead_letter", "contact", "x" * 399)
    assert alert_checks.shown_key("customer:7") == "customer:7"
    assert alert_checks.shown_key("guest:Jane@Example.com").startswith("guest:x@x.x #")
    monkeypatch.delenv("WOOHUB_REPORT_URL", raising=False)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.internal:8443/")
    assert alerts.report_url() == "https://airflow.internal:8443/woohub/"
    monkeypatch.setenv("WOOHUB_ALERT_HWM_LAG_MINUTES", "soon")
    with pytest.raises(ValueError, match="number of minutes"):
        alert_checks.max_mark_lag()
    with pytest.raises(ValueError, match="unknown alert kind"):
        alerts.alert_once(None, "k", "something", "text")  # type: ignore[arg-type]
