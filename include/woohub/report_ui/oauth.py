"""The HubSpot OAuth install, from the Airflow UI: two routes of the ``/woohub`` plugin app.

- ``GET /woohub/oauth/hubspot/authorize[?conn_id=]`` sends the browser to HubSpot's install URL for the
  connection's OAuth app (:class:`woohub.hubspot.oauth.OAuthApp`) with the scopes the DAGs need and a fresh
  ``state``;
- ``GET /woohub/oauth/hubspot/callback?code=&state=`` is the app's redirect URL: it checks the state,
  exchanges the code and stores the refresh token in the connection (the API server has metadata-DB
  access), then shows a small page (every value escaped; never a token).

Both need an Airflow login (a browser without one is sent to the login page, as the report page is) and
edit rights on the connection. **CSRF**: the ``state`` is ``<issued>~<nonce>~<conn id>~<mac>``, the MAC a
SHA-256 over the user's session credential (the ``_token`` cookie, as the page's CSRF token in
:mod:`.security`), the issue time, the nonce and the connection id: another site can neither forge one nor
make a victim's browser complete an install it started, and a state is good for :data:`STATE_TTL_SECONDS`.
The redirect URL is the connection extra ``redirect_uri`` or this app's callback URL as the browser reached
it; it must be one of the HubSpot app's registered redirect URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import os
import re
import secrets
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from woohub.report_ui import security

log = logging.getLogger(__name__)

router = APIRouter()
STATE_TTL_SECONDS = 600
_STATE_LABEL = b"woohub-hubspot-oauth-state:"
_CONN_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")
_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                                       "form-action 'none'; frame-ancestors 'self'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def default_conn_id() -> str:
    return os.getenv("WOOHUB_HUBSPOT_CONN_ID", "hubspot_default")


def _mac(session: str, issued: str, nonce: str, conn_id: str) -> str:
    message = _STATE_LABEL + "~".join((session, issued, nonce, conn_id)).encode()
    return hashlib.sha256(message).hexdigest()


def make_state(session: str, conn_id: str, *, now: float | None = None) -> str:
    """A fresh state bound to the session credential ``session`` and to ``conn_id``."""
    issued, nonce = str(int(now if now is not None else time.time())), secrets.token_urlsafe(16)
    return "~".join((issued, nonce, conn_id, _mac(session, issued, nonce, conn_id)))


def check_state(state: str, session: str | None, *, now: float | None = None) -> str:
    """The connection id of a state made for ``session`` within the TTL; :class:`HTTPException` 403 else."""
    parts = state.split("~")
    if session and len(parts) == 4 and _CONN_ID.fullmatch(parts[2]) and parts[0].isdigit():
        issued, nonce, conn_id, sent = parts
        fresh = 0 <= (now if now is not None else time.time()) - int(issued) <= STATE_TTL_SECONDS
        if fresh and hmac.compare_digest(sent, _mac(session, issued, nonce, conn_id)):
            return conn_id
    raise HTTPException(403, "the OAuth state is missing, stale or from another session: start the install "
                             "again from /woohub/oauth/hubspot/authorize")


def _session(request: Request) -> str:
    session = security._session_cookie(request)
    if not session:
        raise HTTPException(400, "the HubSpot install runs in a browser logged in to Airflow (no session cookie "
                                 "came with the request)")
    return session


def may_edit_connection(user: Any, conn_id: str) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    return bool(get_auth_manager().is_authorized_connection(method="PUT", details=ConnectionDetails(conn_id=conn_id),
                                                            user=user))


async def _editor(request: Request, conn_id: str) -> Any:
    user = await security.authenticated_user(request)
    if not _CONN_ID.fullmatch(conn_id):
        raise HTTPException(400, "not a connection id")
    if not may_edit_connection(user, conn_id):
        raise HTTPException(403, f"the HubSpot install writes connection {conn_id!r}: it needs edit rights on it")
    return user


def callback_url(request: Request) -> str:
    """This app's callback URL as the browser reached the app (scheme, host and mount point): the URL of this
    request (``…/oauth/hubspot/authorize`` or ``…/callback``) with ``callback`` as its last segment."""
    here = str(request.url.replace(query="", fragment=""))
    return here.rsplit("/", 1)[0] + "/callback"


def _app(conn_id: str) -> Any:
    from woohub.hubspot.oauth import OAuthApp, OAuthSetupError

    try:
        return OAuthApp.from_connection(conn_id)
    except OAuthSetupError as error:
        raise HTTPException(400, str(error)) from None
    except Exception as error:  # AirflowNotFoundException
        raise HTTPException(404, f"no connection {conn_id!r}: {type(error).__name__}") from None


@router.get("/oauth/hubspot/authorize")
async def authorize(request: Request, conn_id: str | None = None) -> RedirectResponse:
    from starlette.concurrency import run_in_threadpool

    conn_id = conn_id or default_conn_id()
    user = await _editor(request, conn_id)
    app = await run_in_threadpool(_app, conn_id)
    state = make_state(_session(request), conn_id)
    log.info("HubSpot OAuth install of connection %r started by %s", conn_id, security.user_name(user))
    return RedirectResponse(app.install_url(app.redirect_uri or callback_url(request), state), status_code=303,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.get("/oauth/hubspot/callback", response_class=HTMLResponse)
async def callback(request: Request, state: str = "", code: str = "", error: str = "",
                   error_description: str = "") -> HTMLResponse:
    from starlette.concurrency import run_in_threadpool

    user = await security.authenticated_user(request)
    conn_id = check_state(state, security._session_cookie(request))
    await _editor(request, conn_id)
    if error or not code:
        return _page("HubSpot install not completed", [
            f"HubSpot answered {error or 'no code'}" + (f": {error_description}" if error_description else "."),
            "Nothing was stored."], status=400)
    app = await run_in_threadpool(_app, conn_id)
    result = await run_in_threadpool(_exchange, app, code, app.redirect_uri or callback_url(request))
    if isinstance(result, str):
        return _page("HubSpot install failed", [result, "Nothing was stored. Start the install again."], status=502)
    grant, stored_in = result
    actor = security.user_name(user)
    if stored_in is None:
        log.warning("HubSpot OAuth install by %s: connection %r could not be written", actor, conn_id)
        return _page("HubSpot connected, but the tokens were not stored", [
            f"Connection {conn_id} is not in Airflow's metadata database (an AIRFLOW_CONN_* variable or a "
            "secrets backend defines it), so nothing could be written. Store the install with the CLI where "
            "that connection lives: python -m woohub hubspot-oauth exchange-code."], status=409)
    from woohub.hubspot.oauth import install_scopes

    missing = sorted(set(install_scopes()) - set(grant.scopes)) if grant.scopes else []
    log.info("HubSpot OAuth install by %s: refresh token of account %s stored in connection %r (%s)", actor,
             grant.hub_id, conn_id, stored_in)
    lines = [f"HubSpot account {grant.hub_id}: the refresh token, client id and auth_type oauth2 are stored in "
             f"connection {conn_id} ({stored_in}).", f"Granted scopes: {', '.join(grant.scopes) or 'not named'}."]
    if missing:
        lines.append(f"Not granted (the DAGs that need them will fail their first task): {', '.join(missing)}.")
    return _page("HubSpot connected", lines)


def _exchange(app: Any, code: str, redirect_uri: str) -> Any:
    from woohub.hubspot.oauth import OAuthSetupError, store_tokens

    try:
        grant = app.exchange(code, redirect_uri)
    except OAuthSetupError as error:
        return str(error)
    return grant, store_tokens(app.conn_id, grant, app.client_id)


def _page(title: str, lines: list[str], *, status: int = 200) -> HTMLResponse:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return HTMLResponse(f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
                        f"</title></head><body style=\"font-family: sans-serif; max-width: 48em; margin: 2em auto\">"
                        f"<h1>{html.escape(title)}</h1>{body}<p><a href=\"../../\">Back to the woohub report</a></p>"
                        "</body></html>", status_code=status, headers=_HEADERS)


__all__ = ["router"]
