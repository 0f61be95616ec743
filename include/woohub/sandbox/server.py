"""The HTTP machinery shared by both sandbox APIs.

A vendor emulator (HubSpot or WooCommerce) is a :class:`VendorApi`: it answers vendor requests and owns
its in-memory state. :class:`SandboxServer` wraps one in a real threaded HTTP server on 127.0.0.1 and adds
what the real services do not have: the admin surface under ``/__sandbox__/`` (reset and seed, fault
injection, request counts, state snapshots) and the fault injector that the admin surface drives.

Admin surface (JSON in, JSON out; not part of either vendor API):

``GET  /__sandbox__/health``   ``{"api": name, "ok": true}``
``POST /__sandbox__/reset``    body: :class:`SeedOptions` fields; reseeds the store
``GET  /__sandbox__/stats``    request counts per ``METHOD route`` and per status; ``?reset=true`` zeroes them
``GET  /__sandbox__/faults``   the active fault rules
``POST /__sandbox__/faults``   body ``{"rules": [FaultRule fields, ...]}``; replaces the rules
``DELETE /__sandbox__/faults`` clears the rules
``GET  /__sandbox__/state``    the whole store as JSON (what ``--state FILE`` saves)
``POST /__sandbox__/state``    replaces the store with a snapshot
``POST /__sandbox__/config``   vendor settings (e.g. HubSpot rate limits); see ``VendorApi.configure``
``POST /__sandbox__/records``  HubSpot only: bulk-insert records (a benchmark's mirror of a seeded shop),
                               without rate limits or request counts; see ``HubSpotApi.insert_records``
``GET|DELETE /__sandbox__/webhook-deliveries``  both: the webhook deliveries the sandbox made (and clears
                               the log); HubSpot: ``POST /__sandbox__/ui-edit`` (a person edits a record in
                               HubSpot's UI); see each API's ``admin_action``
"""

from __future__ import annotations

import json
import logging
import random
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/__sandbox__/"


@dataclass(frozen=True)
class SeedOptions:
    """How to seed a store. ``empty`` wins over the counts."""

    seed: int = 42
    customers: int = 50
    products: int = 30
    orders: int = 200
    empty: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeedOptions:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown seed option(s): {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class FaultRule:
    """One injected fault.

    ``kind``: ``"status"`` (answer ``status`` with the vendor's error body, ``retry_after`` seconds in a
    ``Retry-After`` header when set), ``"slow"`` (sleep ``delay_seconds``, then answer normally; a request
    still asleep when the sandbox is reset or restored is answered 503 and not applied, so a test's slowed
    request cannot write into the next test's store) or
    ``"drop"`` (close the connection without an answer).
    A request matches when ``method`` (``"*"`` for any) and the regular expression ``path`` (searched in the
    request path) match. Among matches, ``rate`` (0..1) of requests get the fault, drawn from a random
    generator seeded with ``seed``; ``after`` lets that many matching requests through first; ``count``
    caps how many faults the rule injects (``None``: no cap).
    """

    kind: str = "status"
    path: str = ".*"
    method: str = "*"
    rate: float = 1.0
    status: int = 500
    retry_after: float | None = None
    delay_seconds: float = 0.0
    count: int | None = None
    after: int = 0
    seed: int = 0
    matched: int = field(default=0)
    injected: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in {"status", "slow", "drop"}:
            raise ValueError(f"fault kind must be status, slow or drop, not {self.kind!r}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        self._pattern = re.compile(self.path)
        self._rng = random.Random(self.seed)

    def public(self) -> dict[str, Any]:
        return asdict(self)

    def fires(self, method: str, path: str) -> bool:
        if self.method not in ("*", method) or not self._pattern.search(path):
            return False
        self.matched += 1
        if self.matched <= self.after:
            return False
        if self.count is not None and self.injected >= self.count:
            return False
        if self._rng.random() >= self.rate:
            return False
        self.injected += 1
        return True


class VendorApi(Protocol):
    """What a vendor emulator provides to :class:`SandboxServer`."""

    name: str

    def dispatch(self, request: Request) -> Response:
        """Answer one vendor API request exactly as the real service would."""

    def error_response(self, status: int, *, retry_after: float | None = None) -> Response:
        """The vendor's own error response for an injected fault with this status."""

    def reset(self, options: SeedOptions) -> None:
        """Drop all state and seed it anew."""

    def snapshot(self) -> dict[str, Any]:
        """All state as JSON-serialisable data."""

    def restore(self, data: dict[str, Any]) -> None:
        """Replace all state with a snapshot."""

    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Change vendor settings (rate limits, clock, ...); return the settings now in force."""


class _DropConnection(Exception):
    """Raised inside the WSGI app to make the server close the socket without answering."""


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's request handler without a log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with the compact separators both vendors use."""
    text = "" if body is None else json.dumps(body, separators=(",", ":"), ensure_ascii=True)
    response = Response(text, status=status, content_type="application/json; charset=UTF-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class SandboxServer:
    """One vendor emulator served over HTTP on 127.0.0.1, with the admin surface and fault injection."""

    def __init__(self, api: VendorApi, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api = api
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._routes: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        #: bumped by every reset and state restore: a request held by a ``slow`` fault across one belongs to
        #: a store that no longer exists and must not write into the new one (see :meth:`_vendor`)
        self._epoch = 0
        self._server: BaseWSGIServer = make_server(
            host, port, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"sandbox-{self.api.name}")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- WSGI ---------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            if request.path.startswith(ADMIN_PREFIX):
                response = self._admin(request)
            else:
                response = self._vendor(request)
        except _DropConnection:
            sock: socket.socket = environ["werkzeug.socket"]
            try:
                sock.shutdown(socket.SHUT_RDWR)
            finally:
                sock.close()
            return []
        return response(environ, start_response)

    def _vendor(self, request: Request) -> Response:
        rule = self._firing_rule(request.method, request.path)
        if rule is not None and rule.kind == "drop":
            self._count(request, "dropped")
            raise _DropConnection
        if rule is not None and rule.kind == "slow":
            epoch = self._epoch
            time.sleep(rule.delay_seconds)
            if epoch != self._epoch:  # reset (or restored) while it slept: its store is gone
                log.info("sandbox %s: %s %s was held across a reset; answered 503, not applied", self.api.name,
                         request.method, request.path)
                self._count(request, "503")
                return self.api.error_response(503)
        if rule is not None and rule.kind == "status":
            response = self.api.error_response(rule.status, retry_after=rule.retry_after)
        else:
            try:
                response = self.api.dispatch(request)
            except Exception:  # a sandbox bug must look like a vendor 500, and be visible in the log
                log.exception("sandbox %s failed on %s %s", self.api.name, request.method, request.path)
                response = self.api.error_response(500)
        self._count(request, str(response.status_code))
        return response

    def _firing_rule(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.fires(method, path):
                    return rule
        return None

    def _count(self, request: Request, status: str) -> None:
        route = re.sub(r"/\d+(?=/|$)", "/{id}", request.path)
        with self._lock:
            self._routes[f"{request.method} {route}"] += 1
            self._statuses[status] += 1

    # -- admin surface ------------------------------------------------------------------------------

    def _admin(self, request: Request) -> Response:
        action = request.path[len(ADMIN_PREFIX) :].strip("/")
        handler = getattr(self, f"_admin_{request.method.lower()}_{action}", None)
        if handler is None and hasattr(self.api, "admin_action"):  # an API's own actions, e.g. webhook logs
            handler = self.api.admin_action(request.method, action)
        if handler is None:
            return json_response({"error": f"no admin action {request.method} {action!r}"}, 404)
        try:
            body = request.get_json(silent=True) if request.data else {}
            return json_response(handler(request, body or {}))
        except (TypeError, ValueError, re.error) as exc:
            return json_response({"error": str(exc)}, 400)

    def _admin_get_health(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return {"api": self.api.name, "ok": True}

    def _admin_post_reset(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        options = SeedOptions.from_dict(body)
        with self._lock:
            self._rules.clear()
            self._routes.clear()
            self._statuses.clear()
            self._epoch += 1
        self.api.reset(options)
        return {"api": self.api.name, "seeded": asdict(options)}

    def _admin_get_stats(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            stats = {
                "api": self.api.name,
                "requests": sum(self._routes.values()),
                "routes": dict(self._routes),
                "statuses": dict(self._statuses),
                "faults": [rule.public() for rule in self._rules],
            }
            if request.args.get("reset") == "true":
                self._routes.clear()
                self._statuses.clear()
        return stats

    def _admin_get_faults(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return {"rules": [rule.public() for rule in self._rules]}

    def _admin_post_faults(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        allowed = {f.name for f in fields(FaultRule)} - {"matched", "injected"}
        rules = []
        for raw in body.get("rules", []):
            unknown = set(raw) - allowed
            if unknown:
                raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
            rules.append(FaultRule(**raw))
        with self._lock:
            self._rules = rules
        return {"rules": [rule.public() for rule in rules]}

    def _admin_delete_faults(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._rules = []
        return {"rules": []}

    def _admin_get_state(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return self.api.snapshot()

    def _admin_post_state(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._epoch += 1
        self.api.restore(body)
        return {"api": self.api.name, "restored": True}

    def _admin_post_config(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return self.api.configure(body)

    def _admin_post_records(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        insert = getattr(self.api, "insert_records", None)
        if insert is None:
            raise ValueError(f"the {self.api.name} sandbox has no bulk insert")
        return insert(body)
