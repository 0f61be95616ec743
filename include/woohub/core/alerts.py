"""Alerts for the woohub DAGs: task failures, and conditions that alert once each (:func:`alert_once`).

Channels, all off by default and switched on by an Airflow connection (secrets live in the connection,
never in code, messages or logs):

- **webhook** — connection ``woohub_alerts`` (id from ``WOOHUB_ALERTS_CONN_ID``), type http: a JSON message
  ``{"text": ...}`` — the shape Slack and Microsoft Teams incoming webhooks accept — is POSTed to its URL
  (host/schema/port plus the path in ``extra.endpoint``), through
  :class:`woohub.core.notifiers.WebhookNotifier`.
- **email** — connection ``woohub_smtp`` (id from ``WOOHUB_ALERTS_SMTP_CONN_ID``), type smtp, through the
  SMTP provider's ``SmtpNotifier``: recipients from the connection's ``extra.to`` (a list, or addresses
  separated by commas) or ``WOOHUB_ALERTS_EMAIL_TO``; the sender from ``extra.from_email`` or
  ``WOOHUB_ALERTS_EMAIL_FROM``.

No connection configured: the alert is logged (at ERROR for task failures, WARNING for conditions), nothing
is sent and nothing fails. A channel that cannot send is logged by error type only (an HTTP error can
carry the webhook's secret URL) and never masks the failure being reported.

:func:`alert_once` is for conditions: it records the alert key in ``alert_sent`` *before* sending (a unique
key, so two processes checking at once cannot both send), sends, then records the channels it reached
(``email``, ``webhook``, ``webhook:failed``..., or ``log``). At most once: a crash between recording and
sending, or every channel failing, leaves the row (with its channels) and no second try. Every such
message ends with a link to the report page (:func:`report_url`).

The conditions of the run itself live here (:func:`alert_quarantine_threshold`, :func:`alert_drift`); the
ones the hourly check and the scheduler find are in :mod:`woohub.monitoring.alert_checks`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)

WEBHOOK_CONN_ENV, DEFAULT_WEBHOOK_CONN_ID = "WOOHUB_ALERTS_CONN_ID", "woohub_alerts"
SMTP_CONN_ENV, DEFAULT_SMTP_CONN_ID = "WOOHUB_ALERTS_SMTP_CONN_ID", "woohub_smtp"
REPORT_URL_ENV = "WOOHUB_REPORT_URL"
DEFAULT_AIRFLOW_URL = "http://localhost:8080"
#: the kinds of alert :func:`alert_once` records (``alert_sent.kind``)
QUARANTINE_THRESHOLD = "quarantine_threshold"
DRIFT_THRESHOLD = "drift_threshold"
DEAD_LETTER_EXHAUSTED = "dead_letter_exhausted"
DAG_SELF_PAUSED = "dag_self_paused"
HIGH_WATER_MARK_LAG = "high_water_mark_lag"
KINDS = (QUARANTINE_THRESHOLD, DRIFT_THRESHOLD, DEAD_LETTER_EXHAUSTED, DAG_SELF_PAUSED, HIGH_WATER_MARK_LAG)
_KEY_LENGTH = 250  # alert_sent.alert_key
_SENDING = "sending"


# ------------------------------------------------------------------------------------ task failures


def failure_message(context: dict[str, Any]) -> str:
    """One line naming what failed and why (the exception's text, which never holds credentials)."""
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", None) or context.get("dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = context.get("run_id") or getattr(ti, "run_id", "?")
    attempt = getattr(ti, "try_number", "?")
    error = context.get("exception")
    reason = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
    return f"woohub: {dag_id}.{task_id} failed (run {run_id}, try {attempt}): {reason}"[:3000]


def on_task_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` for every woohub task: log, then notify the configured channels."""
    send_alert(failure_message(context))


def send_alert(message: str) -> bool:
    """Log ``message`` at ERROR and send it through every configured channel; True when one took it."""
    log.error(message)
    return any(not channel.endswith(":failed") for channel in deliver(message) if channel != "log")


# ------------------------------------------------------------------------------------ channels


def deliver(message: str, *, subject: str | None = None) -> list[str]:
    """Send ``message`` through each configured channel (webhook, then email); the channels as recorded:
    ``webhook``/``email`` when sent, ``webhook:failed``/``email:failed`` when not, ``["log"]`` when none is
    configured."""
    channels = []
    webhook_conn_id = os.getenv(WEBHOOK_CONN_ENV, DEFAULT_WEBHOOK_CONN_ID)
    if _connection(webhook_conn_id) is not None:
        channels.append(_send("webhook", webhook_conn_id, lambda: _webhook(message, webhook_conn_id)))
    smtp_conn_id = os.getenv(SMTP_CONN_ENV, DEFAULT_SMTP_CONN_ID)
    smtp = _connection(smtp_conn_id)
    if smtp is not None:
        recipients = email_recipients(smtp)
        if recipients:
            channels.append(_send("email", smtp_conn_id,
                                  lambda: _email(message, subject, smtp_conn_id, smtp, recipients)))
        else:
            log.error("the SMTP connection %s names no recipients (extra.to or %s): alert not emailed",
                      smtp_conn_id, "WOOHUB_ALERTS_EMAIL_TO")
            channels.append("email:failed")
    return channels or ["log"]


def email_recipients(smtp_connection: Any) -> list[str]:
    """The addresses alerts go to: the SMTP connection's ``extra.to`` (list or comma/semicolon separated),
    else ``WOOHUB_ALERTS_EMAIL_TO``."""
    given = (smtp_connection.extra_dejson or {}).get("to") or os.getenv("WOOHUB_ALERTS_EMAIL_TO", "")
    if isinstance(given, str):
        given = re.split(r"[,;]", given)
    return [str(address).strip() for address in given if str(address).strip()]


def _connection(conn_id: str) -> Any:
    """The Airflow connection ``conn_id``, or None when it is not defined (or Airflow is not there)."""
    try:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)
    except Exception:  # not configured: that channel is off
        return None


def _send(channel: str, conn_id: str, send: Any) -> str:
    try:
        send()
        return channel
    except Exception as error:  # an unreachable channel must not hide what is being reported
        log.error("could not send the alert to %s (%s): %s", channel, conn_id, type(error).__name__)
        return f"{channel}:failed"


def _webhook(message: str, conn_id: str) -> None:
    from woohub.core.notifiers import WebhookNotifier

    WebhookNotifier(message, conn_id).notify({})


def _email(message: str, subject: str | None, conn_id: str, smtp: Any, recipients: list[str]) -> None:
    from woohub.core.notifiers import email_notifier

    first_line = message.splitlines()[0] if message else "woohub alert"
    sender = None if (smtp.extra_dejson or {}).get("from_email") else os.getenv("WOOHUB_ALERTS_EMAIL_FROM")
    email_notifier(conn_id, recipients, (subject or first_line)[:200], message, report_url(),
                   sender).notify({})


# ------------------------------------------------------------------------------------ alert once


def report_url() -> str:
    """The report page: ``WOOHUB_REPORT_URL``, else Airflow's ``[api] base_url`` + ``/woohub/`` (else
    ``http://localhost:8080/woohub/``)."""
    given = os.getenv(REPORT_URL_ENV)
    if given:
        return given
    base = None
    try:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback=None)
    except Exception:  # no Airflow here: the default
        base = None
    return (base or DEFAULT_AIRFLOW_URL).rstrip("/") + "/woohub/"


def alert_key_for(*parts: object) -> str:
    """``parts`` joined by ``:``, fit into ``alert_sent.alert_key`` (a long key keeps its start and gets a
    digest of the whole, so two long keys stay apart)."""
    key = ":".join(str(part) for part in parts)
    if len(key) <= _KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[:_KEY_LENGTH - 33]}~{digest}"


def with_report_link(message: str) -> str:
    """``message`` and a last line linking the report page."""
    return f"{message}\nReport: {report_url()}"


def alert_once(engine: Engine, alert_key: str, kind: str, message: str) -> bool:
    """Send ``message`` (plus the report link) unless ``alert_key`` was alerted before; True when this call
    sent it. The key is recorded first, so of two processes only one sends."""
    return bool(alert_once_each(engine, [alert_key], kind, message))


def alert_once_each(engine: Engine, alert_keys: Sequence[str], kind: str, message: str) -> list[str]:
    """One message for the ``alert_keys`` not alerted before (each recorded in ``alert_sent``, so each alerts
    once); nothing is sent when every key was. Returns the keys this call alerted. For a condition that
    finds many things at once (dead letters, lagging marks): one message, not one per thing."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}; expected one of {', '.join(KINDS)}")
    text = with_report_link(message)
    claimed = _claim(engine, [alert_key_fit(key) for key in alert_keys], kind, text)
    if not claimed:
        log.info("%s alert already sent for %s", kind, ", ".join(alert_keys)[:500])
        return []
    log.warning(text)
    channels = deliver(text, subject=f"woohub alert: {message.splitlines()[0]}"[:200] if message else None)
    _record_channels(engine, claimed, ",".join(channels))
    return claimed


def alert_key_fit(key: str) -> str:
    """A caller's key as stored (see :func:`alert_key_for`)."""
    return key if len(key) <= _KEY_LENGTH else alert_key_for(key)


def _claim(engine: Engine, keys: Sequence[str], kind: str, text: str) -> list[str]:
    """Insert the keys not yet in ``alert_sent`` (``ON CONFLICT DO NOTHING ... RETURNING``); the ones this call
    inserted."""
    from woohub.staging.repository import _insert_for, utcnow
    from woohub.staging.schema import alert_sent

    claimed = []
    now = utcnow()
    with engine.begin() as connection:
        insert = _insert_for(connection)
        for key in dict.fromkeys(keys):
            statement = (insert(alert_sent).values(alert_key=key, kind=kind, message=text, channels=_SENDING,
                                                   sent_at=now)
                         .on_conflict_do_nothing(index_elements=["alert_key"]).returning(alert_sent.c.alert_key))
            if connection.execute(statement).first() is not None:  # (rowcount is -1 here on psycopg)
                claimed.append(key)
    return claimed


def _record_channels(engine: Engine, keys: Sequence[str], channels: str) -> None:
    from sqlalchemy import update

    from woohub.staging.repository import chunks
    from woohub.staging.schema import alert_sent

    with engine.begin() as connection:
        for batch in chunks(list(keys)):
            connection.execute(update(alert_sent).where(alert_sent.c.alert_key.in_(batch))
                               .values(channels=channels[:120]))


# ------------------------------------------------------------------------------------ run conditions


def alert_quarantine_threshold(engine: Engine, run_id: str, stream: str, reason: str) -> bool:
    """A sync run's stream quarantined more than its limit (``reason``: the ``DataQualityError`` text, which
    names counts and expectations, never values): alert once per run and stream. Never raises (it is called
    on the way to failing the task with that error)."""
    try:
        return alert_once(engine, alert_key_for("quarantine", run_id, stream), QUARANTINE_THRESHOLD,
                          f"woohub: run {run_id} stopped: too many {stream} records quarantined. {reason}\n"
                          "The quarantine table on the report page lists each record's reasons; fix the data "
                          "or the check, then run again with recheck_quarantine.")
    except Exception:
        log.exception("could not alert about the quarantine threshold of %s in %s", stream, run_id)
        return False


def drift_over_threshold(summary: Mapping[str, Any], threshold: float) -> dict[str, dict[str, Any]]:
    """The object types of a reconciliation summary whose drift rate passes ``threshold`` (a share, 0..1).
    ``summary`` is ``{object_type: {"drift_rate": float | None, "differences": int, ...}}``, or the whole
    :func:`woohub.reconciliation.results.drift_summary` answer (those are under its ``"objects"``); an object
    without a rate (nothing compared) passes nothing."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise ValueError(f"the drift threshold is a share between 0 and 1, not {threshold!r}")
    objects = summary.get("objects") if isinstance(summary.get("objects"), Mapping) else summary
    over = {}
    for object_type, figures in objects.items():
        rate = figures.get("drift_rate", ...) if isinstance(figures, Mapping) else ...
        if rate is None:
            continue
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise ValueError(f"drift summary of {object_type!r} has no numeric drift_rate: {figures!r}")
        if rate > threshold:
            over[object_type] = dict(figures)
    return over


def alert_drift(engine: Engine, run_id: str, summary: Mapping[str, Any], threshold: float) -> bool:
    """A reconciliation whose drift passes ``threshold`` for any object type: alert once per run, naming
    each such object's drift rate and differences. False when nothing passed or it was alerted already."""
    over = drift_over_threshold(summary, threshold)
    if not over:
        return False
    listed = "; ".join(f"{name} {figures['drift_rate']:.1%} ({figures.get('differences', '?')} differences)"
                       for name, figures in sorted(over.items()))
    return alert_once(engine, alert_key_for("drift", run_id), DRIFT_THRESHOLD,
                      f"woohub: reconciliation {run_id} found drift over {threshold:.1%}: {listed}. The "
                      "differences are listed on the report page (and as CSV).")
