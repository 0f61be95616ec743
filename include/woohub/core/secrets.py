"""Secrets kept out of task logs: every credential the package holds is registered with Airflow's secrets
masker as soon as it is known, and URLs are redacted of query-string credentials before they are shown.

What Airflow masks by itself when a task reads a connection: the password and the extra *as one JSON
string* (``airflow.sdk.execution_time.context._mask_connection_secrets``). A single value inside the extra (a
refresh token, a webhook secret) is therefore NOT masked on its own, nor is anything made at run time. So
the hooks call :func:`mask_connection` when they build their session (password, the WooCommerce consumer
key in ``login``, and the extra keys in :data:`SECRET_EXTRA_KEYS`) and :func:`mask` with each secret they
receive later (a HubSpot OAuth access token from the token endpoint, a rotated refresh token).

:func:`mask` calls ``airflow.sdk.log.mask_secret``, which adds the value to the masker of this process and,
inside a task, sends it to the supervisor (the process that writes the task's log file, where the masking
of a task's log happens), and registers it with Airflow core's masker too (a separate instance, the one the
API server's, scheduler's and CLI's own log handlers use, e.g. when the report page's actions use a hook). Each value is also registered URL-encoded, the form it takes in a query string or
a form body. Values shorter than Airflow's ``[logging] min_length_masked_secret`` (5) are not masked by
Airflow. Outside Airflow (the CLI without Airflow installed) :func:`mask` does nothing.

Not registered, redacted instead: OAuth 1.0a signatures (``oauth_signature``, one per WooCommerce request
over plain HTTP) and the rest of the ``oauth_*`` query fields. A signature is single-use (its nonce is
spent by the request that carries it) and derived from the consumer secret, which is masked; registering
one pattern per request would grow the masker's regular expression without bound (it is recompiled on
each new pattern and run over every log line). Every URL or error text this package logs or stores goes
through :func:`redact_text`, which replaces the values of credential query parameters
(:data:`SECRET_QUERY_PARAMS`) and of ``Authorization`` header values with ``***``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus

#: connection extra keys whose values are credentials (masked one by one; Airflow masks only the whole extra)
SECRET_EXTRA_KEYS = frozenset({
    "access_token", "api_key", "client_secret", "consumer_secret", "developer_api_key", "hapikey",
    "private_app_token", "refresh_token", "token", "webhook_secret",
})
#: query parameters whose values are credentials (WooCommerce query auth, OAuth 1.0a fields, OAuth 2.0)
SECRET_QUERY_PARAMS = ("consumer_key", "consumer_secret", r"oauth_[a-z_]+", "access_token", "refresh_token",
                       "client_secret", "hapikey", "developer_api_key", "code")
MASK = "***"

_QUERY_SECRET = re.compile(r"(?i)(?<![A-Za-z0-9_])(" + "|".join(SECRET_QUERY_PARAMS) + r")=[^&\s'\")#]*")
_AUTH_HEADER = re.compile(r"(?i)\b(Authorization['\"]?\s*[:=]\s*['\"]?(?:Bearer|Basic|OAuth)\s+)[^'\"\r\n]+")
_BEARER = re.compile(r"(?i)\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}")


def mask(value: Any) -> None:
    """Register ``value`` (a secret string) with Airflow's secrets masker, raw and URL-encoded; ``None``,
    empty and non-string values are ignored. Called once per session and per new token, not per request
    (inside a task each call is also a message to the supervisor)."""
    if not isinstance(value, str) or not value:
        return
    maskers = []
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - Airflow is a dependency; the CLI may run without it
        return
    maskers.append(mask_secret)
    try:  # the API server, scheduler and CLI log through Airflow core's own masker instance
        from airflow._shared.secrets_masker import mask_secret as core_mask_secret
    except ImportError:  # pragma: no cover - a Task SDK-only worker has no Airflow core
        pass
    else:
        maskers.append(core_mask_secret)
    for form in dict.fromkeys((value, quote(value, safe=""), quote_plus(value))):
        for register in maskers:
            register(form)


def mask_extra(extra: Mapping[str, Any]) -> None:
    """Mask every value of ``extra`` under a key in :data:`SECRET_EXTRA_KEYS` (one level deep)."""
    for key, value in extra.items():
        if key.lower() in SECRET_EXTRA_KEYS:
            mask(value)


def mask_connection(connection: Any, *, login_is_secret: bool = False) -> None:
    """Mask an Airflow connection's password, its secret extra values and, with ``login_is_secret`` (the
    WooCommerce consumer key), its login and the HTTP Basic ``Authorization`` value made of both."""
    password, login = getattr(connection, "password", None), getattr(connection, "login", None)
    mask(password)
    if login_is_secret and login:
        mask(login)
        if password:
            mask(base64.b64encode(f"{login}:{password}".encode()).decode("ascii"))
    try:
        extra = connection.extra_dejson
    except Exception:  # an extra that is not JSON holds no keys to pick out (Airflow masks it whole)
        return
    if isinstance(extra, Mapping):
        mask_extra(extra)


def redact_text(text: str) -> str:
    """``text`` (a URL, an exception message) with the values of credential query parameters and of
    ``Authorization``/bearer headers replaced by ``***``."""
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)


__all__ = ["MASK", "SECRET_EXTRA_KEYS", "SECRET_QUERY_PARAMS", "mask", "mask_connection", "mask_extra",
           "redact_text"]
