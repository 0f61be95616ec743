"""Airflow's own authentication and authorization for the report page, plus its CSRF token.

**Who is asking** is decided exactly as Airflow's REST API decides it (:func:`airflow.api_fastapi.core_api.
security.get_user`): an ``Authorization: Bearer`` JWT wins, else the ``_token`` cookie the Airflow UI's login
set (or the user the API server's ``JWTRefreshMiddleware`` already resolved from it), validated by the
configured auth manager. Nothing here reads or signs a JWT itself.

**What they may do** is asked of the same auth manager: the page needs the custom view ``woohub_report``
(``GET``); Requeue and Dismiss need edit rights (``PUT``) on the DAG whose runs process the record.

**CSRF**: the session credential is a cookie the browser sends by itself, so every action must carry
``X-Woohub-CSRF``, a token bound to that session (SHA-256 of the session's JWT under a fixed label: another
site can neither read the cookie nor compute it), sent by the page's ``fetch`` with a JSON body. A request
authenticated by an ``Authorization`` header needs no CSRF token (browsers never add that header by themselves).

Airflow is imported inside the functions: this module is imported wherever the plugin is loaded (workers,
the DAG processor), but only the API server calls it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import HTTPException, Request

CUSTOM_VIEW = "woohub_report"
CSRF_HEADER = "X-Woohub-CSRF"
_CSRF_LABEL = b"woohub-report-csrf:"


class NotAuthenticated(Exception):
    """No valid Airflow session or token came with the request."""


async def authenticated_user(request: Request) -> Any:
    """The Airflow user of ``request`` (:class:`NotAuthenticated` without a valid token)."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.security import HTTPBearer

    credentials = await HTTPBearer(auto_error=False)(request)
    try:
        return await get_user(request, None, credentials)
    except HTTPException as error:
        if error.status_code in (401, 403):  # 401: no or expired token, 403: a token that does not verify
            raise NotAuthenticated(str(error.detail)) from None
        raise


def user_name(user: Any) -> str:
    """The name actions are recorded under."""
    return str(user.get_name() or user.get_id())


def may_view(user: Any) -> bool:
    from airflow.api_fastapi.app import get_auth_manager

    return bool(get_auth_manager().is_authorized_custom_view(method="GET", resource_name=CUSTOM_VIEW, user=user))


def may_read_runs(user: Any, dag_id: str) -> bool:
    """Whether ``user`` may see the runs of ``dag_id``."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return bool(get_auth_manager().is_authorized_dag(method="GET", access_entity=DagAccessEntity.RUN,
                                                     details=DagDetails(id=dag_id), user=user))


def may_act(user: Any, dag_id: str | None) -> bool:
    """Whether ``user`` may requeue or dismiss records that ``dag_id``'s runs process (edit rights on it)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return bool(get_auth_manager().is_authorized_dag(method="PUT", details=DagDetails(id=dag_id), user=user))


def login_url(request: Request) -> str:
    """The auth manager's login page, coming back to this page afterwards."""
    from airflow.api_fastapi.app import get_auth_manager

    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return str(get_auth_manager().get_url_login(next_url=target))


def _session_cookie(request: Request) -> str | None:
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    return request.cookies.get(COOKIE_NAME_JWT_TOKEN)


def csrf_token(session: str) -> str:
    """The CSRF token bound to the session credential ``session``."""
    return hashlib.sha256(_CSRF_LABEL + session.encode()).hexdigest()


def page_csrf_token(request: Request) -> str:
    """The token the page hands its buttons ("" when the page was opened with a bearer token only)."""
    session = _session_cookie(request)
    return csrf_token(session) if session else ""


def check_csrf(request: Request) -> None:
    """Refuse (403) an action that rides on the session cookie without the page's CSRF token."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    session = _session_cookie(request)
    sent = request.headers.get(CSRF_HEADER, "")
    if not session or not sent or not hmac.compare_digest(sent, csrf_token(session)):
        raise HTTPException(403, f"missing or stale {CSRF_HEADER} token: reload the report page and try again")
