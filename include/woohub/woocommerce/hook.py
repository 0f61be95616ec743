"""``WooCommerceHook``: the WooCommerce REST API v3 (``/wp-json/wc/v3``).

Connection (``conn_type`` ``woocommerce``; ``http`` works too), JSON env form::

    AIRFLOW_CONN_WOOCOMMERCE_DEFAULT='{"conn_type": "woocommerce", "host": "shop.example.com",
        "schema": "https", "login": "ck_...", "password": "cs_..."}'

``login`` is the consumer key, ``password`` the consumer secret; ``host`` may also be a full URL
(``http://127.0.0.1:8102`` for the sandbox). Extra keys (all optional):

* ``auth_method``: ``basic`` (HTTP Basic; default over HTTPS), ``oauth1`` (one-legged OAuth 1.0a,
  HMAC-SHA256, parameters in the query string; default over plain HTTP, where WooCommerce accepts nothing
  else) or ``query`` (``consumer_key``/``consumer_secret`` query parameters, HTTPS only, for servers that
  drop the ``Authorization`` header).
* ``oauth_signature_type``: ``query`` (default) or ``header``.
* ``api_path``: default ``wp-json/wc/v3``.
* ``timeout``: seconds, or ``[connect, read]`` (default ``[10, 60]``); retry policy keys as in
  :class:`~woohub.http.retry.RetryPolicy`; ``headers``, ``verify``, ``proxies``.

Query-string secrets (``consumer_key``, ``consumer_secret``, ``oauth_*``) are stripped from every log line
and error. Creates are not retried after an ambiguous failure (see :mod:`woohub.http.base`): a batch that
holds creates reports its creates as ``AMBIGUOUS_WRITE`` outcomes instead of risking duplicate orders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_QUERY
from requests import Response, Session
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth1

from woohub.http.base import ApiHook
from woohub.http.errors import AmbiguousWriteError, ApiHTTPError, AuthenticationError, FatalHTTPError
from woohub.http.outcomes import RecordOutcome
from woohub.http.retry import RetryPolicy

PAGE_SIZE = 100
_ONE_SECOND = timedelta(seconds=1)
BATCH_LIMIT = 100
_AUTH_METHODS = ("basic", "oauth1", "query")
_PAST_THE_END_CODES = frozenset({"rest_post_invalid_page_number", "woocommerce_rest_invalid_page_number"})
_MODIFIED_FILTER_RESOURCES = frozenset({"orders", "products", "coupons"})
#: receives a walk's record count (``X-WP-Total``) once, from its first response
OnTotal = Callable[[int], None]


def gmt_param(moment: datetime) -> str:
    """A ``modified_after``/``modified_before`` value: naive UTC ISO 8601 (to send with
    ``dates_are_gmt=true``; a ``Z`` or offset there would shift the window)."""
    if moment.tzinfo is None:
        raise ValueError("pass a timezone-aware datetime; naive datetimes are ambiguous")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class WooCommerceHook(ApiHook):
    """WooCommerce REST API v3 hook; see the module docstring for the connection format.

    :param woocommerce_conn_id: the Airflow connection id
    :param retry_policy: overrides the policy read from the connection extra
    """

    conn_name_attr = "woocommerce_conn_id"
    default_conn_name = "woocommerce_default"
    conn_type = "woocommerce"
    hook_name = "WooCommerce"
    api_prefix_default = "wp-json/wc/v3"
    _login_is_secret = True

    def __init__(self, woocommerce_conn_id: str = default_conn_name, *,
                 retry_policy: RetryPolicy | None = None) -> None:
        super().__init__(woocommerce_conn_id, retry_policy=retry_policy)
        self.woocommerce_conn_id = woocommerce_conn_id
        self.auth_method: str | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """How the Airflow UI shows the connection form."""
        return {
            "hidden_fields": [],
            "relabeling": {"login": "Consumer key", "password": "Consumer secret", "host": "Store host or URL"},
            "placeholders": {"host": "shop.example.com", "schema": "https", "login": "ck_...",
                             "extra": '{"auth_method": "basic", "timeout": [10, 60]}'},
        }

    def __repr__(self) -> str:
        return f"WooCommerceHook(woocommerce_conn_id={self.woocommerce_conn_id!r})"

    def _configure_auth(self, session: Session, connection: Any) -> None:
        if not connection.login or not connection.password:
            raise ValueError(f"connection {self.woocommerce_conn_id!r} needs the consumer key (login) "
                             "and consumer secret (password)")
        https = self.base_url.lower().startswith("https://")
        method = str(self._extra.get("auth_method") or ("basic" if https else "oauth1"))
        if method not in _AUTH_METHODS:
            raise ValueError(f"auth_method must be one of {', '.join(_AUTH_METHODS)}, not {method!r}")
        if method != "oauth1" and not https:
            self.log.warning("WooCommerce %s auth over plain HTTP: a real store rejects it", method)
        self.auth_method = method
        if method == "basic":
            session.auth = HTTPBasicAuth(connection.login, connection.password)
        elif method == "query":
            session.params = {"consumer_key": connection.login, "consumer_secret": connection.password}
        else:
            signature_type = (SIGNATURE_TYPE_AUTH_HEADER if self._extra.get("oauth_signature_type") == "header"
                              else SIGNATURE_TYPE_QUERY)
            session.auth = OAuth1(connection.login, client_secret=connection.password,
                                  signature_method=SIGNATURE_HMAC_SHA256, signature_type=signature_type)

    def _error_details(self, response: Response) -> tuple[str | None, str | None, str]:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        code = body.get("code")
        return code, code, str(body.get("message") or response.reason or "error")

    def test_connection(self) -> tuple[bool, str]:
        """List one order to prove the keys work."""
        try:
            self.request("GET", "/orders", params={"per_page": 1})
        except (ApiHTTPError, ValueError) as error:
            return False, str(error)
        return True, "Connection successfully tested"

    # -- reads ------------------------------------------------------------------------------------

    def iter_pages(self, resource: str, params: Mapping[str, Any] | None = None, *,
                   on_total: OnTotal | None = None) -> Iterator[list[dict[str, Any]]]:
        """Pages of ``resource`` (``orders``, ``customers``, ``products``, …), ``per_page`` 100 and ordered by
        ``id`` ascending unless ``params`` say otherwise, up to ``X-WP-TotalPages``; a short or empty page, or
        WooCommerce's past-the-end 400, also ends the walk. ``on_total`` gets the first page's ``X-WP-Total``
        (the records the walk will see), for progress lines."""
        query = {"per_page": PAGE_SIZE, "orderby": "id", "order": "asc", **(params or {}), "page": 1}
        while True:
            response = self._page(resource, query)
            if response is None:
                return
            if on_total is not None and query["page"] == 1:
                _report_total(response, on_total)
            records = response.json()
            if records:
                yield records
            total_pages = _int_header(response, "X-WP-TotalPages")
            last = total_pages is not None and query["page"] >= total_pages
            if last or len(records) < int(query["per_page"]):
                return
            query["page"] += 1

    def _page(self, resource: str, query: Mapping[str, Any]) -> Response | None:
        """One page, or ``None`` when WooCommerce answers a page past the end with a 400."""
        try:
            return self.request("GET", f"/{resource.strip('/')}", params=query)
        except FatalHTTPError as error:
            if error.status == 400 and error.error_id in _PAST_THE_END_CODES and query["page"] > 1:
                return None
            raise

    def iter_records(self, resource: str, params: Mapping[str, Any] | None = None, *,
                     on_total: OnTotal | None = None) -> Iterator[dict[str, Any]]:
        """Every record of ``resource``, each id once (pages can shift while records are added);
        ``on_total`` as in :meth:`iter_pages`."""
        seen: set[Any] = set()
        for page in self.iter_pages(resource, params, on_total=on_total):
            for record in page:
                if record.get("id") not in seen:
                    seen.add(record.get("id"))
                    yield record

    def iter_modified(self, resource: str, since: datetime, until: datetime | None = None,
                      params: Mapping[str, Any] | None = None, *,
                      on_total: OnTotal | None = None) -> Iterator[dict[str, Any]]:
        """Records of ``orders``/``products``/``coupons`` modified after ``since`` (and before ``until``),
        both strict and compared in GMT, oldest first.

        Walked by modification time, not by page number: always page 1 of ``orderby=modified&order=asc``,
        restarting after the last second seen. With page numbers, a record modified during the walk leaves
        its place and every record behind it moves one place forward, so one of them is skipped for good;
        here the modified record moves to the end of the walk and is read again (with its new time, so a
        caller may see an id twice). More than a page of records inside one second is drained by id.
        Customers have no date filters in the API (a real store ignores them): ``ValueError``.
        ``on_total`` gets the first request's ``X-WP-Total``: the records modified in the window when the
        walk started.
        """
        if resource.split("/")[0] not in _MODIFIED_FILTER_RESOURCES:
            raise ValueError(f"WooCommerce has no modified_after filter for {resource!r}")
        cursor, seen = since, set()
        while True:
            query = {**(params or {}), **modified_window(cursor, until), "orderby": "modified", "order": "asc",
                     "per_page": PAGE_SIZE, "page": 1}
            response = self.request("GET", f"/{resource.strip('/')}", params=query)
            if on_total is not None and cursor == since:
                _report_total(response, on_total)
                on_total = None
            records = response.json()
            yield from _unseen(records, seen)
            if len(records) < PAGE_SIZE:
                return
            last = max(_modified_gmt(r) for r in records)
            if last - _ONE_SECOND <= cursor:  # a whole page inside one second: drain that second by id
                yield from self._drain_second(resource, last, params, seen)
                cursor = last
            else:
                cursor = last - _ONE_SECOND

    def _drain_second(self, resource: str, second: datetime, params: Mapping[str, Any] | None,
                      seen: set[tuple[Any, str]]) -> Iterator[dict[str, Any]]:
        """Every record modified within one second, by id, repeated until a pass finds nothing new (so a
        record shifted by a concurrent change is still read)."""
        window = modified_window(second - _ONE_SECOND, second + _ONE_SECOND)
        while True:
            before = len(seen)
            yield from _unseen(self.iter_records(resource, {**(params or {}), **window}), seen)
            if len(seen) == before:
                return

    def get(self, resource: str, record_id: int | str) -> dict[str, Any] | None:
        """One record, or ``None`` if it does not exist."""
        try:
            return self.request("GET", f"/{resource}/{record_id}").json()
        except FatalHTTPError as error:
            if error.status in (400, 404) and not isinstance(error, AuthenticationError):
                return None
            raise

    # -- writes -----------------------------------------------------------------------------------

    def batch(self, resource: str, *, create: Sequence[Mapping[str, Any]] = (),
              update: Sequence[Mapping[str, Any]] = (), delete: Sequence[int | str] = ()) -> list[RecordOutcome]:
        """Create, update and delete through ``/<resource>/batch`` in calls of at most 100 items in all;
        one outcome per item: creates keyed ``create:<position>``, updates ``update:<id>``, deletes
        ``delete:<id>``. Calls with creates are not retried after an ambiguous failure."""
        items = ([("create", f"create:{n}", dict(r)) for n, r in enumerate(create)]
                 + [("update", f"update:{r['id']}", dict(r)) for r in update]
                 + [("delete", f"delete:{i}", i) for i in delete])
        outcomes: list[RecordOutcome] = []
        for start in range(0, len(items), BATCH_LIMIT):
            outcomes.extend(self._batch_call(resource, items[start:start + BATCH_LIMIT]))
        return outcomes

    def _batch_call(self, resource: str, items: list[tuple[str, str, Any]]) -> list[RecordOutcome]:
        body: dict[str, list[Any]] = {}
        for action, _key, payload in items:
            body.setdefault(action, []).append(payload)
        try:
            response = self.request("POST", f"/{resource.strip('/')}/batch", json=body,
                                    idempotent="create" not in body)
        except AuthenticationError:
            raise
        except FatalHTTPError as error:
            code = "AMBIGUOUS_WRITE" if isinstance(error, AmbiguousWriteError) else (
                error.error_id or f"HTTP_{error.status}")
            return [RecordOutcome.failure(key, code, error.message) for _a, key, _p in items]
        return batch_outcomes(items, response.json())


def _report_total(response: Response, on_total: OnTotal) -> None:
    total = _int_header(response, "X-WP-Total")
    if total is not None:
        on_total(total)


def _modified_gmt(record: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record.get("date_modified_gmt") or "1970-01-01T00:00:00")).replace(tzinfo=UTC)


def _unseen(records: Iterable[dict[str, Any]], seen: set[tuple[Any, str]]) -> Iterator[dict[str, Any]]:
    """Records whose (id, modification time) is not in ``seen`` yet; adds them."""
    for record in records:
        key = (record.get("id"), str(record.get("date_modified_gmt") or ""))
        if key not in seen:
            seen.add(key)
            yield record


def modified_window(since: datetime, until: datetime | None = None) -> dict[str, str]:
    """Query parameters for records modified in ``(since, until)`` in GMT."""
    window = {"modified_after": gmt_param(since), "dates_are_gmt": "true"}
    if until is not None:
        window["modified_before"] = gmt_param(until)
    return window


def batch_outcomes(items: list[tuple[str, str, Any]], body: Mapping[str, Any]) -> list[RecordOutcome]:
    """Per-item outcomes from a batch response (answers come back in request order per action)."""
    answers = {action: list(body.get(action) or []) for action in ("create", "update", "delete")}
    position = {"create": 0, "update": 0, "delete": 0}
    outcomes = []
    for action, key, _payload in items:
        index = position[action]
        position[action] += 1
        answer = answers[action][index] if index < len(answers[action]) else None
        outcomes.append(_item_outcome(action, key, answer))
    return outcomes


def _item_outcome(action: str, key: str, answer: Mapping[str, Any] | None) -> RecordOutcome:
    if answer is None:
        return RecordOutcome.failure(key, "UNREPORTED", "the response did not mention this item")
    error = answer.get("error")
    if error:
        return RecordOutcome.failure(key, str(error.get("code") or "error"), str(error.get("message") or ""))
    record_id = answer.get("id")
    return RecordOutcome(key=key, ok=True, id=str(record_id) if record_id is not None else None,
                         created=action == "create" if action != "delete" else None)


def _int_header(response: Response, name: str) -> int | None:
    value = response.headers.get(name, "")
    return int(value) if value.strip().isdigit() else None
