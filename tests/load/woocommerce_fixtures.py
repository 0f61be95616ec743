"""Fixtures and helpers of the WooCommerce load tests (HubSpot -> WooCommerce writes): an empty WooCommerce
sandbox store, a hook on it, a staging database on SQLite and PostgreSQL, a client of the store's REST API
for setting up and reading back, and a proxy that loses answers after the store applied the request.

Test modules import the fixtures by their function names (``from tests.load.woocommerce_fixtures import
woo_store_fixture``); the fixture names (``woo_store``, ...) are what tests ask for.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.conftest import WOO_KEY, WOO_SECRET, Sandbox
from tests.helpers import migrated_staging

# hop-by-hop and framing headers the proxy does not copy (requests/werkzeug set their own)
_NOT_COPIED = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"})


class StoreApi:
    """The sandbox store's REST API, signed like a real client (OAuth 1.0a), for arranging and asserting."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.base = f"{sandbox.woo_url}/wp-json/wc/v3"
        self.auth = OAuth1(WOO_KEY, WOO_SECRET, signature_method="HMAC-SHA256")

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.base}{path}", auth=self.auth, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", path, json=body)

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    def all(self, resource: str, **params: Any) -> list[dict[str, Any]]:
        records, page = [], 1
        while True:
            batch = self.get(f"/{resource}", per_page=100, page=page, **params)
            records += batch
            if len(batch) < 100:
                return records
            page += 1

    def every_order(self) -> list[dict[str, Any]]:
        """Every order in the store, trashed ones included."""
        return self.all("orders") + self.all("orders", status="trash")

    def product(self, sku: str, **fields: Any) -> dict[str, Any]:
        """A published simple product (price 10.00) with ``fields`` on top."""
        return self.post("/products", {"name": f"Product {sku}", "type": "simple", "regular_price": "10.00",
                                       "sku": sku, "status": "publish", **fields})


@pytest.fixture(name="woo_store")
def woo_store_fixture(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox with an empty WooCommerce store on real time, no faults (cleared afterwards)."""
    sandbox.woo.reset(empty=True)
    sandbox.woo.configure(clock=None)
    yield sandbox
    sandbox.woo.clear_faults()


@pytest.fixture(name="store")
def store_fixture(woo_store: Sandbox) -> StoreApi:
    return StoreApi(woo_store)


@pytest.fixture(name="woo_hook")
def woo_hook_fixture(woo_store: Sandbox) -> Any:
    """A fresh hook on ``woocommerce_default`` (the sandbox)."""
    from woohub.woocommerce import WooCommerceHook

    return WooCommerceHook()


@pytest.fixture(name="staging", params=["sqlite", "postgresql"])
def staging_fixture(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """A migrated staging database: SQLite in ``tmp_path``, and a fresh PostgreSQL database on the server
    of ``WOOHUB_TEST_POSTGRES_URL`` (skipped with that reason without it, as in the rest of the suite)."""
    with migrated_staging(request.param, tmp_path, "woohub_h2w_load") as (engine, _):
        yield engine


def woo_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, *, port: int | None = None,
                   extra: dict[str, Any] | None = None) -> str:
    """Define ``conn_id`` as a copy of ``woocommerce_default`` on another port and/or with an extra."""
    connection = json.loads(os.environ["AIRFLOW_CONN_WOOCOMMERCE_DEFAULT"])
    if port is not None:
        connection["port"] = port
    if extra is not None:
        connection["extra"] = extra
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return conn_id


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class AnswerLosingProxy:
    """A reverse proxy in front of the sandbox that, for the first ``count`` requests matching ``method``
    and the regular expression ``path``, passes the request on, lets the store apply it, and then closes the
    client's connection without an answer: the store did the write, the client never heard of it (a
    gateway that dies, a network that drops the answer). Everything else passes unchanged; the ``Host``
    header is kept, so OAuth signatures made for the proxy's address still verify."""

    def __init__(self, upstream: str, *, method: str, path: str, count: int = 1) -> None:
        self.upstream = upstream.rstrip("/")
        self.method, self.pattern, self.remaining = method, re.compile(path), count
        self.lost: list[str] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="answer-losing-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def __enter__(self) -> AnswerLosingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _loses(self, request: Request) -> bool:
        with self._lock:
            if self.remaining > 0 and request.method == self.method and self.pattern.search(request.path):
                self.remaining -= 1
                self.lost.append(f"{request.method} {request.path}")
                return True
        return False

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_COPIED}
        answer = requests.request(request.method, f"{self.upstream}{target}", headers=headers,
                                  data=request.get_data(), timeout=30, allow_redirects=False)
        if self._loses(request):
            sock: socket.socket = environ["werkzeug.socket"]
            try:
                sock.shutdown(socket.SHUT_RDWR)
            finally:
                sock.close()
            return []
        response = Response(answer.content, status=answer.status_code,
                            headers=[(k, v) for k, v in answer.headers.items() if k.lower() not in _NOT_COPIED])
        return response(environ, start_response)
