"""Real alert receivers for the alert tests: an SMTP server (aiosmtpd, with authentication) and an HTTP
webhook receiver (http.server), both on 127.0.0.1 and started once; the Airflow connections
``woohub_smtp`` and ``woohub_alerts`` (``AIRFLOW_CONN_*``) pointing at them; a migrated staging database."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port

SMTP_LOGIN, SMTP_PASSWORD = "alerts-user", "smtp-Pa55-w0rd"
WEBHOOK_SECRET_PATH = "/services/T0001/B0001/webhook-s3cret-token"
REPORT_URL = "https://airflow.example.com/woohub/"
RECIPIENTS = ["data-team@example.com", "oncall@example.com"]
#: text that must never appear in an alert
SECRETS = (SMTP_PASSWORD, "webhook-s3cret-token")


@dataclass
class Received:
    """What the receivers got: emails (subject, recipients, text of the HTML body) and webhook posts."""

    emails: list[dict[str, Any]] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    smtp_port: int = 0
    webhook_port: int = 0

    def clear(self) -> None:
        self.emails.clear()
        self.posts.clear()
        self.logins.clear()

    def texts(self) -> list[str]:
        """Every message as received, emails (subject and body) and webhook posts alike."""
        return [f"{m['subject']}\n{m['body']}" for m in self.emails] + [p["body"]["text"] for p in self.posts]


class _MailHandler:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(("html", "plain"))
        self.received.emails.append({"subject": str(message["Subject"]), "to": list(envelope.rcpt_tos),
                                     "from": envelope.mail_from, "body": body.get_content() if body else ""})
        return "250 OK"


@pytest.fixture(scope="session")
def receivers() -> Iterator[Received]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    received = Received(smtp_port=free_port(), webhook_port=free_port())

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = auth_data.login.decode() == SMTP_LOGIN and auth_data.password.decode() == SMTP_PASSWORD
        if ok:
            received.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    smtp = Controller(_MailHandler(received), hostname="127.0.0.1", port=received.smtp_port,
                      authenticator=authenticate, auth_require_tls=False, auth_required=True)
    smtp.start()

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.posts.append({"path": self.path, "body": body})
            status = 500 if self.path.startswith("/broken") else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    webhook = ThreadingHTTPServer(("127.0.0.1", received.webhook_port), Webhook)
    thread = threading.Thread(target=webhook.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        webhook.shutdown()
        webhook.server_close()
        smtp.stop()


def webhook_connection(port: int, path: str = WEBHOOK_SECRET_PATH) -> str:
    return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http",
                       "extra": {"endpoint": path}})


def smtp_connection(port: int) -> str:
    return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": SMTP_LOGIN,
                       "password": SMTP_PASSWORD,
                       "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "woohub@example.com",
                                 "to": ", ".join(RECIPIENTS), "timeout": 5, "retry_limit": 0}})


@pytest.fixture
def channels(receivers: Received, monkeypatch: pytest.MonkeyPatch) -> Received:
    """Both channels configured by connection, the report URL set; the receivers emptied."""
    monkeypatch.setenv("AIRFLOW_CONN_WOOHUB_ALERTS", webhook_connection(receivers.webhook_port))
    monkeypatch.setenv("AIRFLOW_CONN_WOOHUB_SMTP", smtp_connection(receivers.smtp_port))
    monkeypatch.setenv("WOOHUB_REPORT_URL", REPORT_URL)
    receivers.clear()
    return receivers


@pytest.fixture
def no_channels(receivers: Received, monkeypatch: pytest.MonkeyPatch) -> Received:
    """No alert connection at all (the default)."""
    for name in ("AIRFLOW_CONN_WOOHUB_ALERTS", "AIRFLOW_CONN_WOOHUB_SMTP", "WOOHUB_ALERTS_EMAIL_TO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WOOHUB_REPORT_URL", REPORT_URL)
    receivers.clear()
    return receivers


@pytest.fixture
def staging(tmp_path: Path) -> Any:
    from woohub.staging.database import engine_for_url, migrate

    engine = engine_for_url(f"sqlite:///{tmp_path / 'staging.db'}")
    migrate(engine)
    return engine
