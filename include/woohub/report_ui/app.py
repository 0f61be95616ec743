"""The FastAPI app of the report page, mounted by the Airflow plugin at ``/woohub`` in Airflow's API server.

Routes (below the mount point):

- ``GET /`` — the page (``?object_type=&kind=`` filter the differences);
- ``GET /api/differences.csv`` — the latest reconciliation's differences as CSV, same filters;
- ``POST /api/{quarantine|dead_letter}/{requeue|dismiss}`` — JSON ``{"object_type", "source_key"}``, with the
  page's ``X-Woohub-CSRF`` token (see :mod:`.security`); recorded in ``review_action``;
- ``GET /data-docs/…`` — the Great Expectations Data Docs site (:mod:`.data_docs`);
- ``POST /webhooks/woocommerce``, ``POST /webhooks/hubspot`` — the webhook receiver
  (:mod:`woohub.webhooks.receiver`): no Airflow login, only requests signed by WooCommerce / HubSpot.

Every other route needs an Airflow login (:mod:`.security`): a page or Data Docs request without one is sent
to the auth manager's login page, an ``/api/`` request gets 401. Templates are Jinja2 with autoescape on; charts
are SVG drawn on the server (:mod:`.charts`); the page's only script is inline, allowed by a per-response CSP
nonce.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from woohub.report_ui import actions, charts, queries, security
from woohub.report_ui import oauth as hubspot_oauth
from woohub.report_ui.data_docs import data_docs_directory, docs_file
from woohub.webhooks import receiver

log = logging.getLogger(__name__)

RUNS_SHOWN = 10
RUNS_CHARTED = 20
DIFFERENCES_SHOWN = 500
RUN_COLUMNS = {
    queries.W2H: ("extracted", "synced", "unchanged", "quarantined", "failed", "api_calls"),
    queries.H2W: ("extracted", "synced", "unchanged", "quarantined", "failed", "api_calls"),
    queries.RECONCILIATION: ("woocommerce_records", "hubspot_records", "paired", "differences"),
}
COLUMN_LABELS = {"api_calls": "API calls", "woocommerce_records": "WooCommerce records",
                 "hubspot_records": "HubSpot records"}
_TEMPLATES = Path(__file__).with_name("templates")


class ReviewRequest(BaseModel):
    object_type: str = Field(min_length=1, max_length=64)
    source_key: str = Field(min_length=1, max_length=320)


def staging_engine() -> Engine:
    """The staging database the DAGs use (connection ``woohub_staging``, migrated)."""
    from woohub.sync.dag_support import engine

    return engine()


def airflow_runs(dag_ids: tuple[str, ...], limit: int) -> list[queries.AirflowRun]:
    """The last ``limit`` runs of each of ``dag_ids`` from Airflow's metadata database, in a session of its
    own (:mod:`woohub.core.metadata_db`: the request thread's may read an old snapshot)."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    from woohub.core.metadata_db import own_session

    found: list[queries.AirflowRun] = []
    with own_session() as session:
        for dag_id in dag_ids:
            rows = session.execute(
                select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.run_type, DagRun.start_date,
                       DagRun.end_date).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(limit))
            found += [queries.AirflowRun(row.dag_id, row.run_id, _text(row.state), _text(row.run_type),
                                         row.start_date, row.end_date) for row in rows]
    return found


def _text(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def templates() -> Environment:
    """The page templates: autoescape on for everything, undefined names fail loudly in tests."""
    environment = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True)
    environment.filters["when"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M") if moment else "—"
    environment.filters["nonzero"] = lambda counts: ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "0"
    return environment


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text: values starting with ``= + - @`` (or a tab/CR) get a
    leading ``'`` so they are never run as formulas; datetimes in ISO form."""
    if value is None:
        return ""
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def differences_csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The CSV text of difference ``rows`` (header first), a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(queries.DIFFERENCE_COLUMNS)
    for number, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(row[name]) for name in queries.DIFFERENCE_COLUMNS])
        if number % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def run_charts(runs_by_dag: dict[str, list[queries.RunSummary] | None], engine: Engine) -> list[Any]:
    """Synced, quarantined and failed records per run of each sync DAG, and the nightly drift per object."""
    drawn = []
    for dag_id in queries.SYNC_DAG_IDS:
        runs = [r for r in reversed(runs_by_dag.get(dag_id) or []) if r.objects]
        if runs:
            labels = [run.sort_time.strftime("%m-%d %H:%M") if run.sort_time != datetime.min else run.run_id
                      for run in runs]
            drawn.append(charts.line_chart(
                f"runs-{dag_id}", f"{dag_id}: records per run", labels,
                [charts.Series(name, [run.totals.get(name, 0) for run in runs])
                 for name in ("synced", "quarantined", "failed")]))
    labels, drift = queries.drift_history(engine)
    if labels:
        drawn.append(charts.line_chart("drift", "reconciliation: differences per object per night", labels,
                                       [charts.Series(name, values) for name, values in drift.items()],
                                       y_label="differences"))
    return drawn


async def viewer(request: Request) -> Any:
    """The request's Airflow user, who may see the page (401 via :class:`security.NotAuthenticated`, 403)."""
    user = await security.authenticated_user(request)
    if not security.may_view(user):
        raise HTTPException(403, f"the report page needs access to the custom view {security.CUSTOM_VIEW!r}")
    return user


#: a route parameter resolved before the request body is read (module level: with postponed annotations
#: FastAPI resolves ``Annotated`` hints from the module's globals, never from a closure)
Viewer = Annotated[Any, Depends(viewer)]


def create_app(*, engine_factory: Callable[[], Engine] = staging_engine,
               runs_source: Callable[[tuple[str, ...], int], list[queries.AirflowRun]] = airflow_runs,
               gx_root: str | None = None, webhook_emitter: receiver.Emitter | None = None,
               webhook_secrets: Callable[[str], receiver.WebhookSecret | None] | None = None) -> FastAPI:
    """The report app. ``engine_factory`` opens staging (once, on the first request), ``runs_source`` reads
    Airflow's DAG runs, ``gx_root`` overrides the GX file context whose Data Docs are served;
    ``webhook_emitter`` / ``webhook_secrets`` replace the webhook routes' Asset event and secret lookup
    (default: Airflow's asset manager, the Airflow connections)."""
    app = FastAPI(title="woohub report", docs_url=None, redoc_url=None, openapi_url=None)
    environment = templates()
    engines: list[Engine] = []

    def engine() -> Engine:
        if not engines:
            engines.append(engine_factory())
        return engines[0]

    @app.exception_handler(security.NotAuthenticated)
    async def not_authenticated(request: Request, error: security.NotAuthenticated) -> Any:
        path = request.scope.get("path", "")
        if request.method == "GET" and not path.startswith(f"{request.scope.get('root_path', '')}/api/"):
            return RedirectResponse(security.login_url(request), status_code=303)
        return JSONResponse({"detail": "Not authenticated: log in to Airflow or send an Authorization: "
                                       "Bearer token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    def base_path(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/", response_class=HTMLResponse)
    async def page(request: Request, object_type: str | None = None, kind: str | None = None) -> HTMLResponse:
        user = await viewer(request)
        try:
            wanted = queries.DifferenceFilter.parse(object_type, kind)
        except queries.FilterError as error:
            raise HTTPException(400, str(error)) from None
        allowed = {dag_id: security.may_read_runs(user, dag_id) for dag_id in queries.WOOHUB_DAG_IDS}
        may_act = {dag_id for dag_id in queries.SYNC_DAG_IDS if security.may_act(user, dag_id)}
        context = await _in_thread(_page_context, await _in_thread(engine), runs_source, allowed, wanted)
        nonce = secrets.token_urlsafe(16)
        base = base_path(request)
        query = urlencode(wanted.query_params())
        html = environment.get_template("report.html").render(
            **context, base=base, nonce=nonce, user_name=security.user_name(user), may_act=may_act,
            csrf_token=security.page_csrf_token(request), run_columns=RUN_COLUMNS, column_labels=COLUMN_LABELS,
            csv_url=f"{base}/api/differences.csv" + (f"?{query}" if query else ""))
        return HTMLResponse(html, headers={
            "Content-Security-Policy": f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
                                       "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                                       "frame-ancestors 'self'; base-uri 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})

    @app.get("/api/differences.csv")
    async def differences(request: Request, object_type: str | None = None, kind: str | None = None) -> Any:
        await viewer(request)
        try:
            wanted = queries.DifferenceFilter.parse(object_type, kind)
        except queries.FilterError as error:
            raise HTTPException(400, str(error)) from None
        staging = await _in_thread(engine)
        run_id = await _in_thread(queries.latest_reconciliation_run_id, staging)
        rows = queries.iter_differences(staging, run_id, wanted) if run_id else iter(())
        name = "-".join(["differences", *(wanted.query_params().values())])
        return StreamingResponse(differences_csv(rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"', "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store", "X-Woohub-Run-Id": run_id or ""})

    @app.post("/api/{target}/{action}")
    async def act(request: Request, target: str, action: str, body: ReviewRequest,
                  user: Viewer) -> dict[str, Any]:
        security.check_csrf(request)
        if target not in actions.TARGETS or action not in actions.ACTIONS:
            raise HTTPException(404, f"no action {action!r} on {target!r}")
        staging = await _in_thread(engine)
        dag_id = await _in_thread(actions.target_dag, staging, target, body.object_type, body.source_key)
        if not security.may_act(user, dag_id):
            raise HTTPException(403, f"{action} needs edit rights on the DAG {dag_id}")
        actor = security.user_name(user)
        try:
            result = await _in_thread(actions.review, staging, action, target, body.object_type, body.source_key,
                                      actor=actor)
        except actions.ReviewError as error:
            raise HTTPException(error.status, str(error)) from None
        log.info("report page: %s %s %s %s by %s: %s", action, target, body.object_type, body.source_key, actor,
                 result.detail)
        return {"review_action_id": result.review_action_id, "actor": actor, "detail": result.detail}

    @app.get("/data-docs")
    async def data_docs_root(request: Request) -> Any:
        await viewer(request)
        return RedirectResponse(f"{base_path(request)}/data-docs/", status_code=307)

    @app.get("/data-docs/{path:path}")
    async def data_docs(request: Request, path: str) -> Any:
        await viewer(request)
        found = docs_file(data_docs_directory(gx_root), path)
        if found is None:
            raise HTTPException(404, "no such Data Docs page (the site is written by the DAGs' validation tasks)")
        return FileResponse(found, headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})

    app.include_router(receiver.webhook_router(engine, emit=webhook_emitter or receiver.assets.emit_changes,
                                               secrets=webhook_secrets))
    app.include_router(hubspot_oauth.router)  # the HubSpot OAuth install (woohub.report_ui.oauth)
    return app


class MountRootRedirect:
    """Root ASGI middleware: ``<prefix>`` without its slash goes to ``<prefix>/`` (a mounted app answers only
    below its prefix, and Airflow's UI would otherwise answer ``/woohub`` with its own empty shell)."""

    def __init__(self, app: Any, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
            root = str(scope.get("root_path", "")).rstrip("/")
            if scope.get("path") in (self.prefix, root + self.prefix):
                query = scope.get("query_string", b"").decode("latin-1")
                target = root + self.prefix + "/" + (f"?{query}" if query else "")
                await RedirectResponse(target, status_code=307)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking database work off the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args, **kwargs)


def _page_context(engine: Engine, runs_source: Callable[[tuple[str, ...], int], list[queries.AirflowRun]],
                  allowed: dict[str, bool], wanted: queries.DifferenceFilter) -> dict[str, Any]:
    visible = tuple(dag_id for dag_id, ok in allowed.items() if ok)
    try:
        known = runs_source(visible, RUNS_CHARTED) if visible else []
    except Exception:  # the page still shows staging's counts when Airflow's metadata cannot be read
        log.exception("could not read the DAG runs from Airflow's metadata database")
        known = []
    runs_by_dag: dict[str, list[queries.RunSummary] | None] = {
        dag_id: (queries.recent_runs(engine, dag_id, known, limit=RUNS_CHARTED) if ok else None)
        for dag_id, ok in allowed.items()}
    quarantine_total, quarantine_rows = queries.open_quarantine(engine)
    dead_letter_total, dead_letter_rows = queries.open_dead_letters(engine)
    run_id = queries.latest_reconciliation_run_id(engine)
    object_types, kinds = queries.difference_options(engine, run_id) if run_id else ([], [])
    return {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "runs_by_dag": {dag_id: (runs[:RUNS_SHOWN] if runs is not None else None)
                        for dag_id, runs in runs_by_dag.items()},
        "charts": run_charts(runs_by_dag, engine),
        "quarantine_total": quarantine_total, "quarantine_rows": quarantine_rows,
        "dead_letter_total": dead_letter_total, "dead_letter_rows": dead_letter_rows,
        "differences_run_id": run_id, "difference_filter": wanted,
        "difference_object_types": sorted(set(object_types) | ({wanted.object_type} - {None})),
        "difference_kinds": sorted(set(kinds) | ({wanted.kind} - {None})),
        "differences_total": queries.count_differences(engine, run_id, wanted) if run_id else 0,
        "difference_rows": list(queries.iter_differences(engine, run_id, wanted, limit=DIFFERENCES_SHOWN))
        if run_id else [],
        "review_actions": queries.recent_review_actions(engine),
    }
