"""The Airflow notifiers woohub's alerts go through (imported only when an alert is sent: this module
imports Airflow, :mod:`woohub.core.alerts` does not).

- :class:`WebhookNotifier`: a small ``airflow.sdk.BaseNotifier`` that POSTs ``{"text": ...}`` — the body
  Slack and Microsoft Teams incoming webhooks accept — through ``HttpHook`` to the URL of an http
  connection (host/schema/port, plus the path in ``extra.endpoint``).
- :func:`email_notifier`: the SMTP provider's own ``SmtpNotifier``, its subject and HTML body filled in.

Both are called through ``notify(context)``. Not through ``__call__``: that renders the notifier's
template fields with Jinja, and an alert's text is data (a run id, an error) that must never be evaluated
as a template.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from airflow.providers.http.hooks.http import HttpHook
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import BaseHook, BaseNotifier

WEBHOOK_TEXT_LIMIT = 3000


class WebhookNotifier(BaseNotifier):
    """POST ``{"text": text}`` to the http connection ``http_conn_id``; raises when the webhook does not
    answer 2xx (``HttpHook`` checks the response)."""

    template_fields: Sequence[str] = ()  # nothing is templated: the text is data

    def __init__(self, text: str, http_conn_id: str, *, timeout: float = 10.0) -> None:
        super().__init__()
        self.text = text
        self.http_conn_id = http_conn_id
        self.timeout = timeout

    def notify(self, context: Any) -> None:
        endpoint = (BaseHook.get_connection(self.http_conn_id).extra_dejson or {}).get("endpoint", "")
        HttpHook(method="POST", http_conn_id=self.http_conn_id).run(
            endpoint, json={"text": self.text[:WEBHOOK_TEXT_LIMIT]}, extra_options={"timeout": self.timeout})


def email_notifier(smtp_conn_id: str, recipients: list[str], subject: str, text: str, link: str,
                   from_email: str | None) -> SmtpNotifier:
    """An ``SmtpNotifier`` for one alert: ``text`` HTML-escaped (line breaks kept) and a link to ``link``;
    ``from_email`` None means the connection's own ``from_email`` extra."""
    body = html.escape(text).replace("\n", "<br>\n")
    content = (f"<p>{body}</p>\n<p><a href=\"{html.escape(link, quote=True)}\">Open the woohub report</a> "
               f"({html.escape(link)})</p>")
    return SmtpNotifier(to=recipients, from_email=from_email, subject=subject, html_content=content,
                        smtp_conn_id=smtp_conn_id)
