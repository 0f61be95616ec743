"""``HubSpotHook``: the HubSpot CRM API (v3 objects, search, batch; v4 associations; properties; pipelines).

Connection (``conn_type`` ``hubspot``; ``http`` works too), JSON env form::

    # private app / service key: the token in the password
    AIRFLOW_CONN_HUBSPOT_DEFAULT='{"conn_type": "hubspot", "host": "api.hubapi.com", "schema": "https",
                                   "password": "pat-na1-..."}'
    # OAuth 2.0: client secret in the password, client id and refresh token in extra
    AIRFLOW_CONN_HUBSPOT_DEFAULT='{"conn_type": "hubspot", "host": "api.hubapi.com", "schema": "https",
        "password": "<client secret>",
        "extra": {"auth_type": "oauth2", "client_id": "...", "refresh_token": "..."}}'

``host`` may also be a full URL (``http://127.0.0.1:8101`` for the sandbox); ``port`` is optional.
Extra keys (all optional unless stated):

* ``auth_type``: ``private_app`` (default) or ``oauth2``; with ``oauth2``: ``client_id`` and
  ``refresh_token`` (required), ``token_url`` (default ``<base URL>/oauth/v1/token``),
  ``token_refresh_margin_seconds`` (default 300).
* ``ten_second_limit`` (100), ``rate_limit_window_seconds`` (10), ``rate_limit_margin`` (10% of the limit),
  ``search_per_second`` (5), ``rate_limits_enabled`` (true): the client-side limiter.
* ``rate_limit_store``: the conn id of a database (e.g. ``woohub_staging``) holding a budget shared by every
  process and machine calling this portal (default: env ``WOOHUB_RATE_LIMIT_STORE``; neither: a budget per
  process); ``rate_limit_budget``: the shared budget's name (default ``<conn id>@<host>``; set the same
  name, e.g. the portal id, on every connection using one app in one portal). A shared budget follows
  ``X-HubSpot-RateLimit-Max``. See :mod:`woohub.http.shared_budget`.
* ``timeout``: seconds, or ``[connect, read]`` (default ``[10, 60]``).
* retry policy: ``max_attempts``, ``max_retry_seconds``, ``backoff_*`` (see :class:`RetryPolicy`).
* ``headers``: extra request headers; ``verify``, ``proxies``: as for ``requests``.

OAuth refresh-token rotation: when HubSpot returns a new refresh token the hook uses it from then on and
writes it back into the connection's extra if the connection is stored in the Airflow metadata database
(directly where the process reaches the database, else, from a task, through Airflow's REST API with the
connection ``woohub_airflow_api``: :mod:`woohub.core.connections`); otherwise (environment variable, secrets backend, no database access) it keeps it in memory and logs a
warning once. A token never appears in logs, errors or reprs.

Writes: batch create sends an ``objectWriteTraceId`` per input so a 207 names the failed inputs. Batch
answers are matched to inputs by identity, never by position, and a batch HubSpot rejects as a whole for one
bad input (400/409) is split until that input stands alone (see :mod:`woohub.hubspot.batch`). Creates are
not retried after an ambiguous failure (see :mod:`woohub.http.base`); use :meth:`HubSpotHook.batch_upsert`
on a unique property for writes that must be exactly-once under faults.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from requests import Response, Session

from woohub.core.connections import update_connection_extra
from woohub.http import shared_budget
from woohub.http.base import ApiHook
from woohub.http.errors import ApiHTTPError, AuthenticationError, DailyLimitError, FatalHTTPError
from woohub.http.outcomes import RecordOutcome
from woohub.http.rate_limit import RateLimiter, RollingWindowLimiter
from woohub.http.retry import RetryPolicy
from woohub.hubspot import batch
from woohub.hubspot import search as searching
from woohub.hubspot.auth import BearerAuth, OAuthTokenSource

BATCH_SIZE = 100
#: associations v4 batch create takes up to 2,000 inputs (batch read up to 1,000)
ASSOCIATION_BATCH_SIZE = 2000
# HubSpot counts a call when it arrives, we when we send it: a call we think left the window may still be
# in the server's (latency, retries of slow calls). Half a second of slack kept a 24-call burst against a
# 20-per-10-s limit free of 429s where the bare window let one through under load.
_WINDOW_SLACK_SECONDS = 0.5
_SEARCH_WINDOW_SLACK = 1.1  # server clocks see our calls a little later; a slightly longer window keeps us under


class HubSpotHook(ApiHook):
    """HubSpot CRM API hook; see the module docstring for the connection format.

    :param hubspot_conn_id: the Airflow connection id
    :param retry_policy: overrides the policy read from the connection extra
    :param rate_limit_store: connection id of the database that holds the shared rate-limit budget when
        neither the connection extra nor ``WOOHUB_RATE_LIMIT_STORE`` names one (the DAG tasks pass the staging
        connection, so parallel tasks and workers share one budget)
    """

    conn_name_attr = "hubspot_conn_id"
    default_conn_name = "hubspot_default"
    conn_type = "hubspot"
    hook_name = "HubSpot"
    _rotation_warned: ClassVar[set[str]] = set()

    def __init__(self, hubspot_conn_id: str = default_conn_name, *, retry_policy: RetryPolicy | None = None,
                 rate_limit_store: str | None = None) -> None:
        self.hubspot_conn_id = hubspot_conn_id
        self.default_rate_limit_store = rate_limit_store
        super().__init__(hubspot_conn_id, retry_policy=retry_policy)
        self.token_source: OAuthTokenSource | None = None
        self._static_token: str | None = None
        self._limiter: RateLimiter | None = None
        self._search_limiter: RateLimiter | None = None
        self._rotation_lock = threading.Lock()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """How the Airflow UI shows the connection form."""
        return {
            "hidden_fields": ["login"],
            "relabeling": {"password": "Private app token (or OAuth client secret)", "host": "Host or base URL"},
            "placeholders": {
                "host": "api.hubapi.com",
                "schema": "https",
                "extra": '{"auth_type": "oauth2", "client_id": "...", "refresh_token": "...", "ten_second_limit": 100}',
            },
        }

    def __repr__(self) -> str:
        return f"HubSpotHook(hubspot_conn_id={self.hubspot_conn_id!r})"

    # -- auth and rate limits ---------------------------------------------------------------------

    def _configure_auth(self, session: Session, connection: Any) -> None:
        extra = self._extra
        if extra.get("auth_type", "private_app") == "oauth2":
            self.token_source = self._oauth_token_source(connection)
            session.auth = BearerAuth(self.token_source.access_token)
        elif connection.password:
            self._static_token = connection.password
            session.auth = BearerAuth(lambda: self._static_token or "")
        else:
            raise ValueError(f"connection {self.hubspot_conn_id!r} has no token in its password field")
        self._configure_limiters(extra)

    def _oauth_token_source(self, connection: Any) -> OAuthTokenSource:
        extra = self._extra
        missing = [key for key in ("client_id", "refresh_token") if not extra.get(key)]
        if missing or not connection.password:
            raise ValueError(f"OAuth connection {self.hubspot_conn_id!r} needs client_id and refresh_token in "
                             f"extra and the client secret in password (missing: {missing or ['password']})")
        return OAuthTokenSource(
            token_url=extra.get("token_url") or self.url_from_endpoint("/oauth/v1/token"),
            client_id=str(extra["client_id"]), client_secret=connection.password,
            refresh_token=str(extra["refresh_token"]), timeout=self.timeout,
            refresh_margin_seconds=float(extra.get("token_refresh_margin_seconds", 300)),
            on_rotated=self._persist_refresh_token, on_call=self._count_token_call,
        )

    def _configure_limiters(self, extra: Mapping[str, Any]) -> None:
        if str(extra.get("rate_limits_enabled", True)).lower() in ("false", "0", "no"):
            return
        limit = int(extra.get("ten_second_limit", 100))
        interval = float(extra.get("rate_limit_window_seconds", 10))
        search_per_second = int(extra.get("search_per_second", 5))
        store_conn_id = shared_budget.store_conn_id(extra, self.default_rate_limit_store)
        if store_conn_id is not None:
            self._configure_shared_limiters(extra, store_conn_id, limit, interval, search_per_second)
            return
        margin = int(extra.get("rate_limit_margin", max(1, limit // 10)))
        self._limiter = RollingWindowLimiter(limit, interval + _WINDOW_SLACK_SECONDS, margin=margin)
        self._search_limiter = RollingWindowLimiter(search_per_second, _SEARCH_WINDOW_SLACK)

    def _configure_shared_limiters(self, extra: Mapping[str, Any], store_conn_id: str, limit: int,
                                   interval: float, search_per_second: int) -> None:
        """Budgets shared through the database of ``store_conn_id``, named per portal app; the margin stays
        10% of whatever limit the portal reports unless ``rate_limit_margin`` fixes it."""
        store = shared_budget.store_for_connection(store_conn_id)
        name = str(extra.get("rate_limit_budget") or f"{self.hubspot_conn_id}@{_host_of(self.base_url)}")
        margin = extra.get("rate_limit_margin")
        self._limiter = shared_budget.SharedRollingWindowLimiter(store, shared_budget.BudgetSpec(
            name, limit, interval, margin=None if margin is None else int(margin),
            slack_seconds=_WINDOW_SLACK_SECONDS))
        self._search_limiter = shared_budget.SharedRollingWindowLimiter(store, shared_budget.BudgetSpec(
            f"{name}/search", search_per_second, 1.0, margin=0, slack_seconds=_SEARCH_WINDOW_SLACK - 1.0))
        self.log.info("HubSpot rate limits shared through %s as budget %r", store_conn_id, name)

    def _count_token_call(self) -> None:
        with self._calls_lock:
            self.api_calls["POST /oauth/v1/token"] += 1

    def _before_send(self, method: str, path: str) -> None:
        if self._search_limiter is not None and path.endswith("/search"):
            self._search_limiter.acquire()
        if self._limiter is not None:
            self._limiter.acquire()

    def _after_response(self, method: str, path: str, response: Response) -> None:
        if self._limiter is not None:
            self._limiter.observe_headers(response.headers)

    def _refresh_after_unauthorized(self) -> bool:
        """After a 401 with OAuth, drop the access token so the resend fetches a new one (once per call)."""
        if self.token_source is None:
            return False
        self.token_source.invalidate(self.token_source.current_token())
        return True

    def _persist_refresh_token(self, refresh_token: str) -> None:
        """Keep a rotated refresh token: in the metadata DB connection when there is one, else in memory."""
        with self._rotation_lock:
            self._extra["refresh_token"] = refresh_token
            stored_in = update_connection_extra(self.hubspot_conn_id, {"refresh_token": refresh_token})
            if stored_in:
                self.log.info("Stored the rotated HubSpot refresh token in connection %r (%s)",
                              self.hubspot_conn_id, stored_in)
            elif self.hubspot_conn_id not in self._rotation_warned:
                self._rotation_warned.add(self.hubspot_conn_id)
                self.log.warning(
                    "HubSpot rotated the refresh token of connection %r, but the connection is not stored in the "
                    "Airflow database; the new token is kept in memory only. Update the connection's "
                    "refresh_token, or a later run may fail to authenticate.", self.hubspot_conn_id)

    # -- errors -----------------------------------------------------------------------------------

    def _error_details(self, response: Response) -> tuple[str | None, str | None, str]:
        body = _json_or_empty(response)
        category = body.get("category") or body.get("policyName") or body.get("errorType")
        return body.get("correlationId"), category, str(body.get("message") or response.reason or "error")

    def _classify_response(self, response: Response, method: str, path: str,
                           idempotent: bool) -> ApiHTTPError | None:
        """As the base class, but a 429 from the daily policy is fatal: retrying before midnight is futile."""
        error = super()._classify_response(response, method, path, idempotent)
        if response.status_code == 429 and error is not None and error.category == "DAILY":
            return DailyLimitError(error.message, method=method, path=path, status=429,
                                   error_id=error.error_id, category="DAILY")
        return error

    def test_connection(self) -> tuple[bool, str]:
        """Read one contact to prove the credentials and scopes work."""
        try:
            self.request("GET", "/crm/v3/objects/contacts", params={"limit": 1})
        except (ApiHTTPError, ValueError) as error:
            return False, str(error)
        return True, "Connection successfully tested"

    # -- reads ------------------------------------------------------------------------------------

    def get_object(self, object_type: str, object_id: str, *, properties: Sequence[str] | None = None,
                   id_property: str | None = None) -> dict[str, Any] | None:
        """One record by id (or by a unique ``id_property`` value); ``None`` when it does not exist."""
        params: dict[str, Any] = {}
        if properties:
            params["properties"] = ",".join(properties)
        if id_property:
            params["idProperty"] = id_property
        try:
            return self.request("GET", f"/crm/v3/objects/{object_type}/{object_id}", params=params).json()
        except FatalHTTPError as error:
            if error.status == 404:
                return None
            raise

    def iter_objects(self, object_type: str, *, properties: Sequence[str] | None = None,
                     associations: Sequence[str] | None = None, archived: bool = False,
                     page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every record of ``object_type`` through the list endpoint, following the ``after`` cursor."""
        params: dict[str, Any] = {"limit": min(page_size, 100), "archived": str(archived).lower()}
        if properties:
            params["properties"] = ",".join(properties)
        if associations:
            params["associations"] = ",".join(associations)
        while True:
            page = self.request("GET", f"/crm/v3/objects/{object_type}", params=params).json()
            yield from page.get("results", [])
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return
            params["after"] = after

    def search(self, object_type: str, filter_groups: Sequence[Mapping[str, Any]] | None = None,
               sorts: Sequence[Any] | None = None, properties: Sequence[str] | None = None,
               limit: int = 200, query: str | None = None) -> Iterator[dict[str, Any]]:
        """Records matching a CRM search, page by page; stops at HubSpot's 10,000-result cap (use
        :meth:`search_all` to go beyond it)."""
        body = searching.search_body(filter_groups, sorts, properties, limit, query)
        yield from searching.paged_search(self, object_type, body)

    def search_all(self, object_type: str, filter_groups: Sequence[Mapping[str, Any]] | None = None,
                   properties: Sequence[str] | None = None,
                   sort_property: str = "hs_object_id") -> Iterator[dict[str, Any]]:
        """Every record matching the search, beyond the 10,000 cap, in ascending ``sort_property`` order,
        by re-anchoring the filter on the last value seen with an id tie-break (each record once)."""
        yield from searching.search_all(self, object_type, filter_groups, properties, sort_property)

    def iter_modified_since(self, object_type: str, since: datetime, until: datetime | None = None,
                            properties: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """Records last modified in ``[since, until)`` (timezone-aware datetimes), oldest change first."""
        prop = searching.modified_property(object_type)
        filters = [{"propertyName": prop, "operator": "GTE", "value": str(searching.epoch_ms(since))}]
        if until is not None:
            filters.append({"propertyName": prop, "operator": "LT", "value": str(searching.epoch_ms(until))})
        yield from self.search_all(object_type, [{"filters": filters}], properties, sort_property=prop)

    def get_pipelines(self, object_type: str = "deals") -> list[dict[str, Any]]:
        """The object's pipelines with their stages."""
        return list(self.request("GET", f"/crm/v3/pipelines/{object_type}").json().get("results", []))

    def enabled_currencies(self) -> list[str]:
        """The portal's enabled currency codes (the options of the deals property ``deal_currency_code``;
        HubSpot rejects a deal in any other currency): one GET, for a loader to read once per run."""
        definition = self.request("GET", "/crm/v3/properties/deals/deal_currency_code").json()
        return [str(option["value"]) for option in definition.get("options") or []
                if option.get("value") and not option.get("hidden")]

    # -- writes -----------------------------------------------------------------------------------
    # HubSpot answers batches in no particular order: outcomes are matched to inputs by identity only
    # (see woohub.hubspot.batch), and a chunk rejected as a whole (400/409) is split to isolate bad inputs.

    def batch_upsert(self, object_type: str, id_property: str,
                     records: Sequence[Mapping[str, Any]]) -> list[RecordOutcome]:
        """Create or update records by the unique ``id_property`` (each record's properties must hold it);
        chunks of 100, retried safely under faults. Outcome key: the ``id_property`` value, matched to the
        value in each result's properties (as HubSpot stores it)."""
        inputs = [batch.upsert_input(id_property, record) for record in records]
        return batch.run_chunks(self, f"/crm/v3/objects/{object_type}/batch/upsert", inputs,
                                [str(i["id"]) for i in inputs], batch.Identity(batch.upsert_key(id_property)),
                                idempotent=True)

    def batch_create(self, object_type: str, records: Sequence[Mapping[str, Any]], *,
                     key_property: str | None = None) -> list[RecordOutcome]:
        """Create records (property dicts, or ``{"properties":…, "associations":…}``) in chunks of 100.
        Each input carries its key as ``objectWriteTraceId`` (so HubSpot answers 207 per input and the
        results name their inputs). Outcome key: the ``key_property`` value when given, else the input's
        position. Not retried after an ambiguous failure: such chunks get ``AMBIGUOUS_WRITE``."""
        inputs, keys = batch.create_inputs(records, key_property, uuid.uuid4().hex[:12])
        return batch.run_chunks(self, f"/crm/v3/objects/{object_type}/batch/create", inputs, keys,
                                batch.create_identity(inputs, keys), idempotent=False)

    def batch_update(self, object_type: str, records: Sequence[Mapping[str, Any]], *,
                     id_property: str | None = None) -> list[RecordOutcome]:
        """Update records given as ``{"id": …, "properties": {…}}`` (ids are ``id_property`` values when set).
        Outcome key: the id as given."""
        inputs = [batch.update_input(record, id_property) for record in records]
        return batch.run_chunks(self, f"/crm/v3/objects/{object_type}/batch/update", inputs,
                                [str(i["id"]) for i in inputs], batch.Identity(batch.update_key(id_property)),
                                idempotent=True)

    def batch_read(self, object_type: str, ids: Sequence[str], *, properties: Sequence[str] | None = None,
                   id_property: str | None = None, archived: bool = False) -> list[dict[str, Any]]:
        """The records with these ids (missing ids are left out), in chunks of 100, in the order of ``ids``
        (matched by record id, or by the ``id_property`` value, which is then always read)."""
        wanted = list(properties or [])
        if id_property and wanted and id_property not in wanted:
            wanted.append(id_property)
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = [str(i) for i in ids[start:start + BATCH_SIZE]]
            body: dict[str, Any] = {"inputs": [{"id": i} for i in chunk], "properties": wanted}
            if id_property:
                body["idProperty"] = id_property
            response = self.request("POST", f"/crm/v3/objects/{object_type}/batch/read", json=body,
                                    params={"archived": str(archived).lower()}, idempotent=True)
            found.extend(batch.in_requested_order(chunk, response.json().get("results", []),
                                                  batch.update_key(id_property)))
        return found

    def batch_archive(self, object_type: str, ids: Sequence[str]) -> list[RecordOutcome]:
        """Archive (soft-delete) records by id in chunks of 100."""
        inputs = [{"id": str(i)} for i in ids]
        return batch.run_chunks(self, f"/crm/v3/objects/{object_type}/batch/archive", inputs,
                                [str(i) for i in ids], batch.Identity(batch.update_key(None)), idempotent=True)

    def batch_associate(self, from_type: str, to_type: str, pairs: Sequence[tuple[str, str]], *,
                        association_type_id: int, category: str = "HUBSPOT_DEFINED") -> list[RecordOutcome]:
        """Create v4 associations ``from_id -> to_id`` with one type (chunks of 2,000; safe to repeat).
        Outcome key: ``"<from_id>-<to_id>"``, matched to each result's ``fromObjectId``/``toObjectId``."""
        types = [{"associationCategory": category, "associationTypeId": association_type_id}]
        inputs = [{"from": {"id": str(a)}, "to": {"id": str(b)}, "types": types} for a, b in pairs]
        return batch.run_chunks(self, f"/crm/v4/associations/{from_type}/{to_type}/batch/create", inputs,
                                [batch.association_key(a, b) for a, b in pairs], batch.association_identity(),
                                idempotent=True, chunk_size=ASSOCIATION_BATCH_SIZE)

    def ensure_property(self, object_type: str, definition: Mapping[str, Any]) -> bool:
        """Create the property (``name``, ``label``, ``type``, ``fieldType``, ``groupName``, …) unless it
        exists; return whether it was created."""
        try:
            self.request("GET", f"/crm/v3/properties/{object_type}/{definition['name']}")
            return False
        except FatalHTTPError as error:
            if error.status != 404 or isinstance(error, AuthenticationError):
                raise
        return self.create_property(object_type, definition)

    def create_property(self, object_type: str, definition: Mapping[str, Any]) -> bool:
        """Create the property; ``False`` if HubSpot says it exists already (409, e.g. created concurrently)."""
        try:
            self.request("POST", f"/crm/v3/properties/{object_type}", json=dict(definition), idempotent=True)
        except FatalHTTPError as error:
            if error.status == 409:
                return False
            raise
        return True


def _host_of(base_url: str) -> str:
    """``host[:port]`` of a base URL (the URL itself when it has none)."""
    return urlsplit(base_url).netloc or base_url


def _json_or_empty(response: Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
