"""Routing and request handling for the HubSpot emulator (the :class:`VendorApi` the sandbox server serves)."""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from woohub.sandbox.hubspot import auth as oauth
from woohub.sandbox.hubspot import schema
from woohub.sandbox.hubspot.auth import Auth, AuthorizeError, OAuthError
from woohub.sandbox.hubspot.errors import ApiError, correlation_id, not_found, validation
from woohub.sandbox.hubspot.ratelimit import RateLimiter, rate_limit_body
from woohub.sandbox.hubspot.search import search
from woohub.sandbox.hubspot.seed import seed
from woohub.sandbox.hubspot.store import MAX_UNIQUE_PROPERTIES, Portal, Record
from woohub.sandbox.hubspot.values import iso, now_ms, to_ms
from woohub.sandbox.hubspot.webhooks import APP_ID, PRIVATE_APP_ID, HubSpotWebhooks
from woohub.sandbox.hubspot.webhooks import SETTINGS_DEFAULTS as WEBHOOK_SETTINGS
from woohub.sandbox.server import SeedOptions, json_response

DEFAULT_SETTINGS: dict[str, Any] = {
    "access_token_ttl_seconds": 1800, "rotate_refresh_tokens": False, "search_index_delay_seconds": 1.0,
    "ten_second_limit": 100, "daily_limit": 250_000, "search_per_second": 5, "rate_limits_enabled": True,
    # the portal's currencies (account settings): the options of deal_currency_code and
    # hs_line_item_currency_code; the seeded store sells in USD
    "enabled_currencies": ["USD"],
    # webhook deliveries (see webhooks.py): batch window, compressed retry schedule, attempts, timeout
    **WEBHOOK_SETTINGS,
    # the scopes tokens carry (take one away to see MISSING_SCOPES) and the OAuth app's registered redirect URLs
    "granted_scopes": list(oauth.ALL_SCOPES), "oauth_redirect_uris": list(oauth.DEFAULT_REDIRECT_URIS),
}
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
BATCH_MAX, LIST_MAX, ASSOC_READ_MAX, ASSOC_CREATE_MAX, SEARCH_BODY_MAX = 100, 100, 1000, 2000, 3000
PROPERTY_TYPES = {"bool", "enumeration", "date", "datetime", "string", "number", "phone_number"}
FIELD_TYPES = {"booleancheckbox", "calculation_equation", "checkbox", "date", "file", "html", "number",
               "phonenumber", "radio", "select", "text", "textarea"}
_STATUS_CATEGORY = {400: "VALIDATION_ERROR", 401: "INVALID_AUTHENTICATION", 403: "MISSING_SCOPES",
                    404: "OBJECT_NOT_FOUND", 409: "CONFLICT", 423: "LOCKED", 500: "INTERNAL_ERROR",
                    502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT"}

Result = tuple[int, Any]
_SEG = r"([^/]+)"


def _list_arg(request: Request, name: str) -> list[str]:
    return [part.strip() for raw in request.args.getlist(name) for part in raw.split(",") if part.strip()]


def _timestamps() -> dict[str, str]:
    stamp = iso(now_ms())
    return {"startedAt": stamp, "completedAt": stamp}


def _batch(results: list[Any], errors: list[dict[str, Any]], ok: int) -> Result:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, **_timestamps()}
    if errors:
        body.update(numErrors=len(errors), errors=errors)
        return 207, body
    return ok, body


def _currency_codes(key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(
            isinstance(code, str) and _CURRENCY_CODE.fullmatch(code) for code in value):
        raise ValueError(f"{key} must be a non-empty list of ISO 4217 codes, e.g. [\"USD\", \"EUR\"]")
    return list(dict.fromkeys(value))


def _inputs(body: Any, limit: int = BATCH_MAX) -> list[Any]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        raise validation("Invalid input JSON: the body needs inputs[].")
    if len(inputs) > limit:
        raise validation(f"Batch input too large: {len(inputs)} inputs. The limit is {limit}.",
                         context={"limit": [str(limit)]})
    return inputs


class HubSpotApi:
    """The HubSpot CRM API as a :class:`~woohub.sandbox.server.VendorApi`."""

    name = "hubspot"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.settings = dict(DEFAULT_SETTINGS)
        self.portal = Portal()
        self.auth = Auth()
        self.limiter = RateLimiter()
        self.webhooks = HubSpotWebhooks(self)
        self.portal.listener = self.webhooks.record_changed
        self.seed = SeedOptions().seed  # with the request, fixes the order of batch answers
        self._apply_settings()
        get, post, patch, put, delete = "GET", "POST", "PATCH", "PUT", "DELETE"
        o, p, a = "/crm/v3/objects/", "/crm/v3/properties/", "/crm/v4/"
        routes: list[tuple[str, str, Callable[..., Result]]] = [
            (post, o + _SEG + "/search", self._search),
            (post, o + _SEG + "/batch/(read|create|update|upsert|archive)", self._object_batch),
            (get, o + _SEG, self._list), (post, o + _SEG, self._create),
            (get, o + _SEG + "/" + _SEG, self._get), (patch, o + _SEG + "/" + _SEG, self._update),
            (delete, o + _SEG + "/" + _SEG, self._archive),
            (post, p + _SEG + "/batch/(create|read|archive)", self._property_batch),
            (get, p + _SEG + "/groups", self._groups), (post, p + _SEG + "/groups", self._create_group),
            (get, p + _SEG, self._properties), (post, p + _SEG, self._create_property),
            (get, p + _SEG + "/" + _SEG, self._property), (patch, p + _SEG + "/" + _SEG, self._update_property),
            (delete, p + _SEG + "/" + _SEG, self._archive_property),
            (get, "/crm/v3/pipelines/" + _SEG, self._pipelines),
            (get, "/crm/v3/pipelines/" + _SEG + "/" + _SEG, self._pipeline),
            (get, "/crm/v3/pipelines/" + _SEG + "/" + _SEG + "/stages", self._stages),
            (put, a + "objects/" + _SEG + "/" + _SEG + "/associations/default/" + _SEG + "/" + _SEG,
             self._associate_default),
            (get, a + "objects/" + _SEG + "/" + _SEG + "/associations/" + _SEG, self._associations),
            (put, a + "objects/" + _SEG + "/" + _SEG + "/associations/" + _SEG + "/" + _SEG, self._associate),
            (delete, a + "objects/" + _SEG + "/" + _SEG + "/associations/" + _SEG + "/" + _SEG, self._unassociate),
            (post, a + "associations/" + _SEG + "/" + _SEG + "/batch/(read|create|archive|associate/default|"
             "labels/archive)", self._association_batch),
        ]
        self._routes = [(method, re.compile(pattern + "$"), handler) for method, pattern, handler in routes]

    # -- VendorApi ----------------------------------------------------------------------------------

    def reset(self, options: SeedOptions) -> None:
        with self._lock:
            self.settings = dict(DEFAULT_SETTINGS)
            self._apply_settings()
            self.webhooks.clear()
            self.portal.clear()
            self.auth.reset()
            self.limiter.reset()
            self.seed = options.seed
            seed(self.portal, options, now_ms())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps({"portal": self.portal.snapshot(), "auth": self.auth.snapshot(),
                                          "settings": self.settings, "seed": self.seed,
                                          "webhooks": self.webhooks.snapshot()}))

    def restore(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.settings = {**DEFAULT_SETTINGS, **data.get("settings", {})}
            self._apply_settings()
            self.portal.restore(data["portal"])
            self.auth.restore(data.get("auth", {}))
            self.limiter.reset()
            self.seed = int(data.get("seed", SeedOptions().seed))
            self.webhooks.restore(data.get("webhooks"))

    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        unknown = set(settings) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ValueError(f"unknown HubSpot setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            for key, value in settings.items():
                expected = type(DEFAULT_SETTINGS[key])
                if key == "granted_scopes":
                    value = oauth.check_scope_list(value)
                elif key == "oauth_redirect_uris":
                    value = oauth.check_redirect_uris(value)
                elif expected is list:
                    value = _currency_codes(key, value)
                elif expected is bool and not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
                if expected in (int, float) and (isinstance(value, bool) or not isinstance(value, int | float)
                                                 or value < 0):
                    raise ValueError(f"{key} must be a non-negative number")
                self.settings[key] = value
            self._apply_settings()
            return dict(self.settings)

    def insert_records(self, body: dict[str, Any]) -> dict[str, Any]:
        """Test scaffolding (``POST /__sandbox__/records``), not part of HubSpot's API: put many records into
        the portal at once, bypassing the rate limits and the request counts, e.g. a mirror of a seeded
        shop for a benchmark. Body ``{"object_type": "deals", "records": [{"properties": {...},
        "associations": [...], "archived": false}, ...]}``: properties and associations as a batch create
        takes them, validated the same way (unknown property, bad value, a unique value taken or twice in
        the input: nothing is inserted and the error names the record); ``archived`` records are archived
        right after. Returns ``{"object_type", "ids"}``, the new ids in input order."""
        if not isinstance(body, dict) or set(body) - {"object_type", "records"}:
            raise ValueError("insert_records takes {\"object_type\": ..., \"records\": [...]} and nothing else")
        t = schema.object_type(str(body.get("object_type") or ""))
        records = body.get("records")
        if t is None:
            raise ValueError(f"unknown object_type {body.get('object_type')!r}")
        if not isinstance(records, list):
            raise ValueError("records must be a list")
        with self._lock:
            checked = []
            for n, record in enumerate(records):
                if not isinstance(record, dict) or not isinstance(record.get("properties"), dict) or \
                        set(record) - {"properties", "associations", "archived"}:
                    raise ValueError(f"record {n}: needs properties (an object), optionally associations and "
                                     "archived, nothing else")
                try:
                    checked.append(self.portal.validate(t, record["properties"]))
                    self.portal.check_associations(t, record.get("associations"))
                except ApiError as exc:
                    raise ValueError(f"record {n}: {exc.message}") from None
            try:
                self._check_batch_unique(t, [(values, None) for values in checked])
            except ApiError as exc:
                raise ValueError(exc.message) from None
            now, ids = now_ms(), []
            self.portal.listener = None  # scaffolding, not changes: no webhook events
            try:
                for record in records:
                    rec = self.portal.create(t, record["properties"], now, record.get("associations"))
                    if record.get("archived"):
                        self.portal.archive(t, rec, now)
                    ids.append(rec["id"])
            finally:
                self.portal.listener = self.webhooks.record_changed
            return {"object_type": t, "ids": ids}

    def admin_action(self, method: str, action: str) -> Callable[[Request, dict[str, Any]], Any] | None:
        """Sandbox control actions of this API: ``GET|DELETE webhook-deliveries`` (the webhook delivery
        log) and ``POST ui-edit`` (a person edits a record in HubSpot's UI; see ``HubSpotWebhooks.ui_edit``)."""
        if action == "webhook-deliveries" and method == "GET":
            return lambda request, body: self.webhooks.deliveries_view(request.args)
        if action == "webhook-deliveries" and method == "DELETE":
            return lambda request, body: self.webhooks.clear_deliveries()
        if action == "ui-edit" and method == "POST":
            return lambda request, body: self.webhooks.ui_edit(body)
        return None

    def _apply_settings(self) -> None:
        self.portal.search_delay_ms = int(float(self.settings["search_index_delay_seconds"]) * 1000)
        self.portal.currencies = list(self.settings["enabled_currencies"])

    def error_response(self, status: int, *, retry_after: float | None = None) -> Response:
        if status == 429:
            body: dict[str, Any] = rate_limit_body("TEN_SECONDLY_ROLLING")
        else:
            category = _STATUS_CATEGORY.get(status, "INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR")
            body = {"status": "error", "message": f"{category.replace('_', ' ').capitalize()} ({status}).",
                    "correlationId": correlation_id(), "category": category}
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
        return json_response(body, status, headers)

    def dispatch(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path.startswith("/oauth/"):
            return self._oauth(request, path)
        if path.startswith("/webhooks/"):  # the developer API (hapikey), not the portal's
            return self.webhooks.dispatch(request, path)
        try:
            bucket, oauth_token = self.auth.authenticate(request.headers.get("Authorization"))
        except ApiError as exc:
            return json_response(exc.body(), exc.status)
        routed = self._route(request.method, path)
        if routed is None:
            return Response("", status=404)  # HubSpot's unknown paths answer an empty 404
        accepted = oauth.accepted_scopes(request.method, path)
        if accepted and not set(accepted) & set(self.auth.token_scopes(request.headers.get("Authorization"),
                                                                         self.settings)):
            exc = oauth.missing_scopes_error(accepted)
            return json_response(exc.body(), exc.status)
        handler, match = routed
        is_search = handler == self._search
        headers, policy = self.limiter.check(self.settings, bucket, search=is_search, oauth=oauth_token)
        if policy:
            return json_response(rate_limit_body(policy), 429, headers)
        try:
            with self._lock:
                self.webhooks.source = ("INTEGRATION", str(APP_ID if bucket.startswith("oauth") else PRIVATE_APP_ID))
                status, body = handler(request, *match.groups())
        except ApiError as exc:
            status, body = exc.status, exc.body()
        if status == 204:
            body = None
        return json_response(body, status, headers)

    def _route(self, method: str, path: str) -> tuple[Callable[..., Result], re.Match[str]] | None:
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and route_method == method:
                return handler, match
        return None

    # -- OAuth --------------------------------------------------------------------------------------

    def _oauth(self, request: Request, path: str) -> Response:
        if request.method == "GET" and path == "/oauth/authorize":  # the install page (app.hubspot.com)
            try:
                return Response("", status=302, headers={
                    "Location": self.auth.authorize(request.args.to_dict(), self.settings)})
            except AuthorizeError as exc:
                return Response(exc.message, status=400, mimetype="text/plain")
        if request.method == "POST" and path == "/oauth/v2/private-apps/get/access-token-info":
            try:
                return json_response(self.auth.private_app_token_info(self._json(request), self.settings))
            except ApiError as exc:
                return json_response(exc.body(), exc.status)
        if request.method == "POST" and path in ("/oauth/v1/token", "/oauth/v3/token"):
            try:
                return json_response(self.auth.token(request.form.to_dict(), self.settings))
            except OAuthError as exc:
                return json_response(exc.body, 400)
        match = re.fullmatch(r"/oauth/v1/(access|refresh)-tokens/([^/]+)", path)
        if match and request.method in ("GET", "DELETE"):
            kind, token = match.groups()
            if kind == "access" and request.method == "GET":
                info = self.auth.access_token_info(token, self.settings)
            elif kind == "refresh":
                info = self.auth.refresh_token_info(token, self.settings, delete=request.method == "DELETE")
                if info is not None and request.method == "DELETE":
                    return Response("", status=204)
            else:
                info = None
            if info is None:
                return json_response({"status": "error", "message": f"{kind} token not found",
                                      "correlationId": correlation_id(), "category": "OBJECT_NOT_FOUND"}, 404)
            return json_response(info)
        return Response("", status=404)

    # -- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _json(request: Request) -> Any:
        text = request.get_data(as_text=True)
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise validation(f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}") from None

    @staticmethod
    def _type(raw: str) -> str:
        t = schema.object_type(raw)
        if t is None:
            raise validation(f"Unable to infer object type from: {raw}")
        return t

    def _render(self, t: str, rec: Record, names: list[str] | None, assoc: list[str] | None = None,
                history: list[str] | None = None) -> dict[str, Any]:
        out = self.portal.render(t, rec, names, history=history)
        if assoc:
            found: dict[str, Any] = {}
            for raw in assoc:
                to_type = schema.object_type(raw)
                if to_type is None:
                    continue
                ids = self.portal.associated(t, rec["id"], to_type)
                if ids:
                    key = "line items" if to_type == "line_items" else to_type  # HubSpot's own key
                    found[key] = {"results": [{"id": str(i), "type": schema.association_name(t, to_type)}
                                              for i in ids]}
            if found:
                out["associations"] = found
        return out

    def _written(self, t: str, rec: Record, sent: Any = None) -> dict[str, Any]:
        """What create/update return: every property the record has, the ones just written, the defaults."""
        extra = list(sent) if isinstance(sent, dict) else []
        names = list(dict.fromkeys([*schema.DEFAULT_RETURNED[t], *rec["properties"], *extra]))
        return self._render(t, rec, names)

    # -- objects ------------------------------------------------------------------------------------

    def _list(self, request: Request, raw_type: str) -> Result:
        t = self._type(raw_type)
        try:
            limit = int(request.args.get("limit", 10))
        except ValueError:
            raise validation("limit must be an integer") from None
        if limit < 1 or limit > LIST_MAX:
            raise validation(f"Invalid limit {limit}: the limit must be between 1 and {LIST_MAX}.",
                             errors=[{"message": f"limit must be at most {LIST_MAX}", "in": "limit"}])
        after_raw = request.args.get("after", "0") or "0"
        if not after_raw.isdigit():
            raise validation(f"Invalid after cursor: {after_raw}")
        archived = request.args.get("archived", "false").lower() == "true"
        records, nxt = self.portal.page(t, int(after_raw), limit, archived=archived)
        names, assoc = _list_arg(request, "properties"), _list_arg(request, "associations")
        history = _list_arg(request, "propertiesWithHistory")
        body: dict[str, Any] = {"results": [self._render(t, r, names, assoc, history) for r in records]}
        if nxt is not None:
            body["paging"] = {"next": {"after": str(nxt), "link": f"{request.base_url}?after={nxt}"}}
        return 200, body

    def _get(self, request: Request, raw_type: str, rid: str) -> Result:
        t = self._type(raw_type)
        archived = request.args.get("archived", "false").lower() == "true"
        rec = self.portal.find(t, request.args.get("idProperty"), rid, archived=archived)
        if rec is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", "", empty=True)  # HubSpot answers an empty 404 here
        return 200, self._render(t, rec, _list_arg(request, "properties"), _list_arg(request, "associations"),
                                 _list_arg(request, "propertiesWithHistory"))

    def _create(self, request: Request, raw_type: str) -> Result:
        t = self._type(raw_type)
        body = self._json(request)
        if not isinstance(body, dict) or "properties" not in body:
            raise validation("Invalid input JSON: the body needs properties.")
        rec = self.portal.create(t, body["properties"], now_ms(), body.get("associations"))
        return 201, self._written(t, rec)

    def _update(self, request: Request, raw_type: str, rid: str) -> Result:
        t = self._type(raw_type)
        body = self._json(request)
        if not isinstance(body, dict) or "properties" not in body:
            raise validation("Invalid input JSON: the body needs properties.")
        if "associations" in body:
            raise validation("Associations cannot be changed with an update; use the associations API.")
        rec = self.portal.find(t, request.args.get("idProperty"), rid)
        if rec is None:
            raise not_found(context={"id": [rid]})
        return 200, self._written(t, self.portal.update(t, rec, body["properties"], now_ms()), body["properties"])

    def _archive(self, request: Request, raw_type: str, rid: str) -> Result:
        t = self._type(raw_type)
        rec = self.portal.get(t, rid)
        if rec is not None:  # archiving an unknown or already archived id is a silent 204, as at HubSpot
            self.portal.archive(t, rec, now_ms())
        return 204, None

    # -- batch --------------------------------------------------------------------------------------
    # HubSpot does not answer batches in input order: results and errors come back in a shuffled order,
    # fixed by the sandbox seed and the request (so a failure reproduces). What one bad input does:
    # * create: without an objectWriteTraceId on every input the whole batch fails (400/409, nothing
    #   written); with them, an input's invalid properties or associations are its own 207 error.
    # * update, upsert: an invalid property value in any input fails the whole batch with a 400
    #   VALIDATION_ERROR; ids that do not exist (update) are 207 errors.
    # * all: a unique value another record already has (409 CONFLICT for a contact's email), the same
    #   unique value twice in the batch, or the same id twice fail the whole batch; nothing is written.

    def _shuffled(self, request: Request, items: list[Any], salt: str) -> list[Any]:
        if len(items) < 2:
            return list(items)
        digest = hashlib.sha256(b"\n".join([str(self.seed).encode(), salt.encode(), request.method.encode(),
                                            request.full_path.encode(), request.get_data()])).digest()
        order = list(range(len(items)))
        random.Random(digest).shuffle(order)
        if order == sorted(order):  # never the input order, so nothing can come to rely on it
            order = order[1:] + order[:1]
        return [items[n] for n in order]

    def _answer(self, request: Request, results: list[Any], errors: list[dict[str, Any]], ok: int) -> Result:
        return _batch(self._shuffled(request, results, "results"), self._shuffled(request, errors, "errors"), ok)

    def _object_batch(self, request: Request, raw_type: str, action: str) -> Result:
        t = self._type(raw_type)
        body = self._json(request)
        inputs = _inputs(body)
        return getattr(self, f"_batch_{action}")(request, t, body, inputs)

    def _batch_read(self, request: Request, t: str, body: dict[str, Any], inputs: list[Any]) -> Result:
        if "associations" in body:
            raise validation("Batch read cannot return associations; read them with the associations API.")
        archived = request.args.get("archived", "false").lower() == "true"
        id_property = body.get("idProperty")
        names, history = body.get("properties") or [], body.get("propertiesWithHistory") or []
        results, missing, seen = [], [], set()
        for item in inputs:
            rid = str(item.get("id", "")) if isinstance(item, dict) else ""
            if rid in seen:
                continue
            seen.add(rid)
            rec = self.portal.find(t, id_property, rid, archived=archived)
            if rec is None:
                missing.append(rid)
            else:
                results.append(self._render(t, rec, names, history=history))
        errors = []
        if missing:
            kind = schema.OBJECT_TYPES[t][1].upper()
            errors.append(ApiError(404, "OBJECT_NOT_FOUND", f"Could not get some {kind} objects, they may be "
                                   f"deleted or not exist. Check that ids are valid.",
                                   context={"ids": missing}).standard())
        return self._answer(request, results, errors, 200)

    def _check_batch_unique(self, t: str, writes: list[tuple[dict[str, str | None], int | None]]) -> None:
        """Whole-batch checks of unique values: taken by another record, or twice in the batch."""
        seen: dict[tuple[str, str], int] = {}
        for n, (values, own_id) in enumerate(writes):
            self.portal._check_unique(t, values, own_id)
            for name in self.portal.unique_properties(t):
                if values.get(name):
                    key = (name, self.portal._key(t, name, str(values[name])))
                    if key in seen:
                        raise validation(f"Duplicate values for the unique property {name} in batch input: "
                                         f"inputs {seen[key]} and {n} both have {values[name]!r}.")
                    seen[key] = n

    def _batch_create(self, request: Request, t: str, body: dict[str, Any], inputs: list[Any]) -> Result:
        now = now_ms()
        for item in inputs:
            if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
                raise validation("Each input needs properties.")
        traced = bool(inputs) and all(item.get("objectWriteTraceId") for item in inputs)
        checked: list[tuple[dict[str, Any], dict[str, str | None] | ApiError]] = []
        for item in inputs:
            try:
                values = self.portal.validate(t, item["properties"])
                self.portal.check_associations(t, item.get("associations"))
            except ApiError as exc:
                if not traced:  # without objectWriteTraceId one bad input fails the whole batch
                    raise
                checked.append((item, exc))
                continue
            checked.append((item, values))
        self._check_batch_unique(t, [(values, None) for _, values in checked if not isinstance(values, ApiError)])
        results, errors = [], []
        for item, values in checked:
            if isinstance(values, ApiError):
                errors.append(values.standard({"objectWriteTraceId": [str(item["objectWriteTraceId"])]}))
                continue
            out = self._written(t, self.portal.create(t, item["properties"], now, item.get("associations")))
            if item.get("objectWriteTraceId"):
                out["objectWriteTraceId"] = str(item["objectWriteTraceId"])
            results.append(out)
        return self._answer(request, results, errors, 201)

    def _batch_update(self, request: Request, t: str, body: dict[str, Any], inputs: list[Any]) -> Result:
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("properties"), dict):
                raise validation("Each input needs id and properties.")
        ids = [str(i["id"]) for i in inputs]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise validation(f"Duplicate IDs found in batch input: {dupes}. IDs must be unique")
        found, missing = [], []
        for item in inputs:
            rec = self.portal.find(t, item.get("idProperty"), item["id"])
            if rec is None:
                missing.append(str(item["id"]))
                continue
            found.append((item, rec, self.portal.validate(t, item["properties"], rec["properties"])))
        self._check_batch_unique(t, [(values, rec["id"]) for _, rec, values in found])
        now = now_ms()
        results = [self._written(t, self.portal.update(t, rec, item["properties"], now), item["properties"])
                   for item, rec, _ in found]
        errors = []
        if missing:
            errors.append(not_found(f"Could not get some {schema.OBJECT_TYPES[t][1].upper()} objects, they may be "
                                    f"deleted or not exist. Check that ids are valid.",
                                    context={"ids": missing}).standard())
        return self._answer(request, results, errors, 200)

    def _batch_upsert(self, request: Request, t: str, body: dict[str, Any], inputs: list[Any]) -> Result:
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("properties"), dict):
                raise validation("Each input needs id, idProperty and properties.")
            if not item.get("idProperty"):
                raise validation("Upsert inputs need an idProperty naming a unique property.")
            if item["idProperty"] not in self.portal.unique_properties(t):
                raise validation(f"{item['idProperty']} is not a unique property and cannot be an idProperty.")
        keys = [(i["idProperty"], self.portal._key(t, i["idProperty"], str(i["id"]))) for i in inputs]
        dupes = sorted({k[1] for k in keys if keys.count(k) > 1})
        if dupes:
            raise validation(f"Duplicate IDs found in batch input: {dupes}. IDs must be unique")
        planned = []
        for item in inputs:
            id_property, key = item["idProperty"], str(item["id"])
            rec = self.portal.find(t, id_property, key)
            props = dict(item["properties"])
            if rec is None:
                props[id_property] = key
            elif id_property != "email":
                props.pop(id_property, None)
            values = self.portal.validate(t, props, rec["properties"] if rec else None)
            planned.append((rec, props, values))
        self._check_batch_unique(t, [(values, rec["id"] if rec else None) for rec, _, values in planned])
        now = now_ms()
        results = []
        for rec, props, _ in planned:
            new = rec is None
            written = self.portal.create(t, props, now) if rec is None else self.portal.update(t, rec, props, now)
            out = self._written(t, written)
            out["new"] = new
            results.append(out)
        return self._answer(request, results, [], 200)

    def _batch_archive(self, request: Request, t: str, body: dict[str, Any], inputs: list[Any]) -> Result:
        now = now_ms()
        for item in inputs:
            rec = self.portal.get(t, item.get("id") if isinstance(item, dict) else None)
            if rec is not None:
                self.portal.archive(t, rec, now)
        return 204, None

    # -- search -------------------------------------------------------------------------------------

    def _search(self, request: Request, raw_type: str) -> Result:
        t = self._type(raw_type)
        text = request.get_data(as_text=True)
        if len(text) > SEARCH_BODY_MAX:
            raise validation(f"The request body is {len(text)} characters long; the search API accepts at most "
                             f"{SEARCH_BODY_MAX}.")
        body = self._json(request)
        if not isinstance(body, dict):
            raise validation("Invalid input JSON: the search body must be an object.")
        page, total, nxt = search(self.portal, t, body, now_ms())
        names = body.get("properties") or []
        last_modified = schema.LAST_MODIFIED[t]
        if names:
            names = list(dict.fromkeys([*names, "hs_object_id", "createdate", last_modified]))
        results = []
        for rid, props in page:
            rec = self.portal.records[t][rid]
            out = self.portal.render(t, rec, names, props=props)
            modified = to_ms(props.get(last_modified) or "")
            if modified is not None:
                out["updatedAt"] = iso(modified)
            results.append(out)
        body_out: dict[str, Any] = {"total": total, "results": results}
        if nxt is not None:
            body_out["paging"] = {"next": {"after": str(nxt), "link": f"?after={nxt}"}}
        return 200, body_out

    # -- properties ---------------------------------------------------------------------------------

    def _property_out(self, t: str, definition: dict[str, Any]) -> dict[str, Any]:
        out = json.loads(json.dumps(definition))
        if t == "deals" and definition["name"] in ("pipeline", "dealstage"):
            if definition["name"] == "pipeline":
                pairs = [(p["id"], p["label"]) for p in self.portal.pipelines]
            else:
                pairs = [(s["id"], s["label"]) for p in self.portal.pipelines for s in p["stages"]]
            out["options"] = [{"value": v, "label": label, "description": "", "displayOrder": n, "hidden": False}
                              for n, (v, label) in enumerate(pairs)]
        if definition["name"] in schema.CURRENCY_PROPERTIES.get(t, ()):  # the portal's enabled currencies
            out["options"] = schema.currency_options(self.portal.currencies)
        return out

    def _find_property(self, t: str, name: str) -> dict[str, Any]:
        definition = self.portal.properties[t].get(name)
        if definition is None or definition.get("archived"):
            raise not_found(f"Unable to find property {name} on object type {schema.OBJECT_TYPES[t][0]}",
                            context={"propertyName": [name]})
        return definition

    def _properties(self, request: Request, raw_type: str) -> Result:
        t = self._type(raw_type)
        archived = request.args.get("archived", "false").lower() == "true"
        return 200, {"results": [self._property_out(t, d) for d in self.portal.properties[t].values()
                                 if bool(d.get("archived")) == archived]}

    def _property(self, request: Request, raw_type: str, name: str) -> Result:
        t = self._type(raw_type)
        return 200, self._property_out(t, self._find_property(t, name))

    def _new_property(self, t: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise validation("Invalid input JSON: a property definition must be an object.")
        missing = [k for k in ("groupName", "name", "label", "type", "fieldType") if not body.get(k)]
        if missing:
            raise validation(f"Missing required field(s): {', '.join(missing)}",
                             errors=[{"message": f"{k} is required", "code": "REQUIRED_FIELD", "in": k}
                                     for k in missing])
        name = str(body["name"])
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or len(name) > 100:
            raise validation(f"Property name {name!r} is invalid: use lower-case letters, digits and underscores.")
        if body["type"] not in PROPERTY_TYPES:
            raise validation(f"Invalid type {body['type']!r}; one of {sorted(PROPERTY_TYPES)}.")
        if body["fieldType"] not in FIELD_TYPES:
            raise validation(f"Invalid fieldType {body['fieldType']!r}; one of {sorted(FIELD_TYPES)}.")
        if body["groupName"] not in [g["name"] for g in self.portal.groups[t]]:
            raise validation(f"Property group {body['groupName']!r} does not exist.")
        existing = self.portal.properties[t].get(name)
        if existing is not None and not existing.get("archived"):
            raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"Property named '{name}' already exists.",
                           context={"name": [name]})
        unique = bool(body.get("hasUniqueValue"))
        if unique and len(self.portal.unique_properties(t)) - (t == "contacts") >= MAX_UNIQUE_PROPERTIES:
            raise validation(f"Object type {t} already has {MAX_UNIQUE_PROPERTIES} unique value properties, "
                             f"the maximum.")
        if unique and body["type"] not in ("string", "number"):
            raise validation("Only string and number properties can have unique values.")
        options = body.get("options") or []
        if body["type"] == "enumeration" and not options:
            raise validation("Enumeration properties need options.")
        definition = schema.property_definition(
            t, name, str(body["label"]), body["type"], body["fieldType"], group=body["groupName"],
            options=[{"value": str(o["value"]), "label": str(o.get("label", o["value"])),
                      "description": o.get("description", ""), "displayOrder": o.get("displayOrder", n),
                      "hidden": bool(o.get("hidden", False))} for n, o in enumerate(options)],
            unique=unique, hubspot=False, description=str(body.get("description", "")), created_ms=1)
        stamp = iso(now_ms())
        definition.update(createdAt=stamp, updatedAt=stamp, formField=bool(body.get("formField", False)),
                          hidden=bool(body.get("hidden", False)), displayOrder=body.get("displayOrder", -1))
        self.portal.properties[t][name] = definition
        self.portal._rebuild_unique()
        return definition

    def _create_property(self, request: Request, raw_type: str) -> Result:
        t = self._type(raw_type)
        return 201, self._property_out(t, self._new_property(t, self._json(request)))

    def _update_property(self, request: Request, raw_type: str, name: str) -> Result:
        t = self._type(raw_type)
        definition = self._find_property(t, name)
        body = self._json(request)
        if not isinstance(body, dict):
            raise validation("Invalid input JSON.")
        if "hasUniqueValue" in body and bool(body["hasUniqueValue"]) != definition["hasUniqueValue"]:
            raise validation("hasUniqueValue cannot be changed once a property exists.")
        if definition["modificationMetadata"]["readOnlyDefinition"]:
            raise validation(f"{name} is a HubSpot-defined property; its definition is read only.")
        for key in ("label", "description", "groupName", "fieldType", "hidden", "displayOrder", "formField", "type"):
            if key in body:
                definition[key] = body[key]
        if "options" in body:
            definition["options"] = body["options"]
        definition["updatedAt"] = iso(now_ms())
        return 200, self._property_out(t, definition)

    def _archive_property(self, request: Request, raw_type: str, name: str) -> Result:
        t = self._type(raw_type)
        definition = self._find_property(t, name)
        if definition["hubspotDefined"]:
            raise validation(f"{name} is a HubSpot-defined property and cannot be archived.")
        definition.update(archived=True, archivedAt=iso(now_ms()))
        self.portal._rebuild_unique()
        return 204, None

    def _property_batch(self, request: Request, raw_type: str, action: str) -> Result:
        t = self._type(raw_type)
        inputs = _inputs(self._json(request))
        results, errors = [], []
        for item in inputs:
            try:
                if action == "create":
                    results.append(self._property_out(t, self._new_property(t, item)))
                    continue
                name = str(item.get("name")) if isinstance(item, dict) else ""
                definition = self._find_property(t, name)
                if action == "read":
                    results.append(self._property_out(t, definition))
                elif not definition["hubspotDefined"]:
                    definition.update(archived=True, archivedAt=iso(now_ms()))
            except ApiError as exc:
                errors.append(exc.standard())
        if action == "archive":
            self.portal._rebuild_unique()
            return 204, None
        return _batch(results, errors, 201 if action == "create" else 200)

    def _groups(self, request: Request, raw_type: str) -> Result:
        return 200, {"results": self.portal.groups[self._type(raw_type)]}

    def _create_group(self, request: Request, raw_type: str) -> Result:
        t = self._type(raw_type)
        body = self._json(request)
        if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
            raise validation("A property group needs name and label.")
        if any(g["name"] == body["name"] for g in self.portal.groups[t]):
            raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"Property group named '{body['name']}' already exists.")
        group = {"name": str(body["name"]), "label": str(body["label"]),
                 "displayOrder": body.get("displayOrder", -1), "archived": False}
        self.portal.groups[t].append(group)
        return 201, group

    # -- pipelines ----------------------------------------------------------------------------------

    def _pipeline_type(self, raw: str) -> None:
        if self._type(raw) != "deals":
            raise validation(f"Object type {raw} does not have pipelines in this portal.")

    def _pipelines(self, request: Request, raw_type: str) -> Result:
        self._pipeline_type(raw_type)
        return 200, {"results": self.portal.pipelines}

    def _find_pipeline(self, raw_type: str, pipeline_id: str) -> dict[str, Any]:
        self._pipeline_type(raw_type)
        for pipeline in self.portal.pipelines:
            if pipeline["id"] == pipeline_id:
                return pipeline
        raise not_found(f"Unable to find pipeline with id {pipeline_id}", context={"pipelineId": [pipeline_id]})

    def _pipeline(self, request: Request, raw_type: str, pipeline_id: str) -> Result:
        return 200, self._find_pipeline(raw_type, pipeline_id)

    def _stages(self, request: Request, raw_type: str, pipeline_id: str) -> Result:
        return 200, {"results": self._find_pipeline(raw_type, pipeline_id)["stages"]}

    # -- associations v4 ----------------------------------------------------------------------------

    def _pair(self, raw_from: str, raw_to: str) -> tuple[str, str, int]:
        ft, tt = self._type(raw_from), self._type(raw_to)
        type_id = schema.ASSOCIATION_TYPES.get((ft, tt))
        if type_id is None:
            raise validation(f"There is no association type between {ft} and {tt} in this portal.",
                             sub_category="crm.associations.INVALID_ASSOCIATION_TYPE")
        return ft, tt, type_id

    def _record(self, t: str, rid: Any, side: str = "objectId") -> Record:
        """The record ``rid`` of an association; an error naming it under ``side`` (``fromObjectId``,
        ``toObjectId``) when it does not exist."""
        rec = self.portal.get(t, rid)
        if rec is None:
            raise validation(f"No {schema.OBJECT_TYPES[t][1]} with id {rid} exists.",
                             sub_category="crm.associations.INVALID_OBJECT_IDS", context={side: [str(rid)]})
        return rec

    def _types_out(self, ft: str, tt: str, types: set[int]) -> list[dict[str, Any]]:
        return [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None} for type_id in sorted(types)]

    def _default_pair(self, ft: str, fid: Any, tt: str, tid: Any, type_id: int) -> list[dict[str, Any]]:
        a, b = self._record(ft, fid), self._record(tt, tid)
        self.portal.associate(ft, a["id"], tt, b["id"], [type_id])
        reverse = schema.ASSOCIATION_TYPES[(tt, ft)]
        return [{"from": {"id": str(a["id"])}, "to": {"id": str(b["id"])},
                 "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}},
                {"from": {"id": str(b["id"])}, "to": {"id": str(a["id"])},
                 "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": reverse}}]

    def _associate_default(self, request: Request, raw_from: str, fid: str, raw_to: str, tid: str) -> Result:
        ft, tt, type_id = self._pair(raw_from, raw_to)
        return _batch(self._default_pair(ft, fid, tt, tid, type_id), [], 200)

    def _labels(self, ft: str, tt: str, raw: Any) -> list[int]:
        if not isinstance(raw, list) or not raw:
            raise validation("The body must be a non-empty list of {associationCategory, associationTypeId}.")
        types = []
        for spec in raw:
            try:
                category, type_id = spec["associationCategory"], int(spec["associationTypeId"])
            except (KeyError, TypeError, ValueError):
                raise validation("Each association type needs associationCategory and associationTypeId.") from None
            if category != "HUBSPOT_DEFINED" or schema.ASSOCIATION_TYPES.get((ft, tt)) != type_id:
                raise validation(f"{category} {type_id} is not a valid association type from {ft} to {tt}.",
                                 sub_category="crm.associations.INVALID_ASSOCIATION_TYPE")
            types.append(type_id)
        return types

    def _pair_out(self, ft: str, fid: int, tt: str, tid: int) -> dict[str, Any]:
        return {"fromObjectTypeId": schema.OBJECT_TYPES[ft][0], "fromObjectId": fid,
                "toObjectTypeId": schema.OBJECT_TYPES[tt][0], "toObjectId": tid, "labels": []}

    def _associate(self, request: Request, raw_from: str, fid: str, raw_to: str, tid: str) -> Result:
        ft, tt, _ = self._pair(raw_from, raw_to)
        types = self._labels(ft, tt, self._json(request))
        a, b = self._record(ft, fid), self._record(tt, tid)
        self.portal.associate(ft, a["id"], tt, b["id"], types, replace=True)
        return 201, self._pair_out(ft, a["id"], tt, b["id"])

    def _unassociate(self, request: Request, raw_from: str, fid: str, raw_to: str, tid: str) -> Result:
        ft, tt = self._type(raw_from), self._type(raw_to)
        a, b = self.portal.get(ft, fid), self.portal.get(tt, tid)
        if a is not None and b is not None:
            self.portal.unassociate(ft, a["id"], tt, b["id"])
        return 204, None

    def _associations(self, request: Request, raw_type: str, rid: str, raw_to: str) -> Result:
        ft, tt = self._type(raw_type), self._type(raw_to)
        rec = self.portal.get(ft, rid)
        items = list(self.portal.associated(ft, rec["id"], tt).items()) if rec else []
        try:
            limit = min(int(request.args.get("limit", 500)), 500)
            start = int(request.args.get("after", 0) or 0)
        except ValueError:
            raise validation("limit and after must be integers.") from None
        chunk = items[start:start + limit]
        body: dict[str, Any] = {"results": [{"toObjectId": tid, "associationTypes": self._types_out(ft, tt, types)}
                                            for tid, types in chunk]}
        if start + limit < len(items):
            body["paging"] = {"next": {"after": str(start + limit), "link": f"?after={start + limit}"}}
        return 200, body

    def _association_batch(self, request: Request, raw_from: str, raw_to: str, action: str) -> Result:
        body = self._json(request)
        if action == "read":
            ft, tt = self._type(raw_from), self._type(raw_to)
            inputs = _inputs(body, ASSOC_READ_MAX)
            results, errors = [], []
            for item in inputs:
                rid = str(item.get("id")) if isinstance(item, dict) else ""
                rec = self.portal.get(ft, rid)
                found = self.portal.associated(ft, rec["id"], tt) if rec else {}
                if not found:
                    errors.append(ApiError(
                        404, "OBJECT_NOT_FOUND", f"No {schema.OBJECT_TYPES[tt][1]} is associated with "
                        f"{schema.OBJECT_TYPES[ft][1]} {rid}.", sub_category="crm.associations.NO_ASSOCIATIONS_FOUND",
                        context={"fromObjectId": [rid]}).standard())
                    continue
                results.append({"from": {"id": rid}, "to": [
                    {"toObjectId": tid, "associationTypes": self._types_out(ft, tt, types)}
                    for tid, types in found.items()]})
            return self._answer(request, results, errors, 200)
        ft, tt, type_id = self._pair(raw_from, raw_to)
        inputs = _inputs(body, ASSOC_CREATE_MAX)
        results, errors = [], []
        for item in inputs:
            try:
                if not isinstance(item, dict) or "from" not in item or "to" not in item:
                    raise validation("Each input needs from and to.")
                if action == "associate/default":
                    results.extend(self._default_pair(ft, item["from"].get("id"), tt, item["to"].get("id"),
                                                      type_id))
                elif action == "create":
                    types = self._labels(ft, tt, item.get("types"))
                    a = self._record(ft, item["from"].get("id"), "fromObjectId")
                    b = self._record(tt, item["to"].get("id"), "toObjectId")
                    self.portal.associate(ft, a["id"], tt, b["id"], types)
                    results.append(self._pair_out(ft, a["id"], tt, b["id"]))
                else:
                    a = self.portal.get(ft, item["from"].get("id"))
                    targets = item["to"] if isinstance(item["to"], list) else [item["to"]]
                    for target in targets:
                        b = self.portal.get(tt, target.get("id"))
                        if a is not None and b is not None:
                            self.portal.unassociate(ft, a["id"], tt, b["id"])
            except ApiError as exc:
                errors.append(exc.standard())
        if action in ("archive", "labels/archive"):
            return 204, None
        return self._answer(request, results, errors, 201 if action == "create" else 200)
