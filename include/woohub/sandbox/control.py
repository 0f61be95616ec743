"""A small client for a sandbox's admin surface (``/__sandbox__/``), for tests, benchmarks and the demo."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests


class SandboxControl:
    """Talks to one sandbox server's admin surface at ``base_url``."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, action: str, **kwargs: Any) -> Any:
        response = self._session.request(
            method, f"{self.base_url}/__sandbox__/{action}", timeout=self.timeout, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def wait_until_up(self, deadline_seconds: float = 30.0) -> None:
        """Poll the health endpoint until the server answers, or raise ``TimeoutError``."""
        stop = time.monotonic() + deadline_seconds
        while True:
            try:
                self._call("GET", "health")
                return
            except requests.RequestException:
                if time.monotonic() > stop:
                    raise TimeoutError(f"sandbox at {self.base_url} did not come up") from None
                time.sleep(0.1)

    def reset(self, **seed_options: Any) -> dict[str, Any]:
        """Drop all state and reseed (``seed``, ``customers``, ``products``, ``orders``, ``empty``)."""
        return self._call("POST", "reset", json=seed_options)

    def set_faults(self, *rules: dict[str, Any]) -> dict[str, Any]:
        """Replace the fault rules; see :class:`woohub.sandbox.server.FaultRule` for the fields."""
        return self._call("POST", "faults", json={"rules": list(rules)})

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "faults")

    def stats(self, *, reset: bool = False) -> dict[str, Any]:
        return self._call("GET", "stats", params={"reset": "true"} if reset else None)

    def configure(self, **settings: Any) -> dict[str, Any]:
        return self._call("POST", "config", json=settings)

    def state(self) -> dict[str, Any]:
        return self._call("GET", "state")

    def restore(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "state", json=snapshot)

    def webhook_deliveries(self, *, since: int = 0, **filters: Any) -> dict[str, Any]:
        """The webhook deliveries (and WooCommerce pings) this sandbox made, oldest first:
        ``{"deliveries": [...], "pending": n}``; ``since`` = the ``seq`` of the last one already seen."""
        return self._call("GET", "webhook-deliveries", params={"since": since, **filters})

    def clear_webhook_deliveries(self) -> dict[str, Any]:
        return self._call("DELETE", "webhook-deliveries")

    def wait_for_webhook_deliveries(self, count: int, *, deadline_seconds: float = 20.0, since: int = 0,
                                    **filters: Any) -> list[dict[str, Any]]:
        """Poll until at least ``count`` deliveries (matching ``filters``) are logged and none is waiting;
        ``TimeoutError`` with what was seen otherwise."""
        stop = time.monotonic() + deadline_seconds
        while True:
            seen = self.webhook_deliveries(since=since, **filters)
            if len(seen["deliveries"]) >= count and not seen["pending"]:
                return list(seen["deliveries"])
            if time.monotonic() > stop:
                raise TimeoutError(f"{len(seen['deliveries'])} of {count} webhook deliveries after "
                                   f"{deadline_seconds} s ({seen['pending']} pending)")
            time.sleep(0.05)

    def ui_edit(self, object_type: str, properties: dict[str, Any], record_id: Any = None) -> dict[str, Any]:
        """HubSpot sandbox only: a person edits (``record_id``) or creates a record in HubSpot's UI; webhook
        events for it say ``changeSource: CRM_UI``."""
        return self._call("POST", "ui-edit", json={"object_type": object_type, "id": record_id,
                                                   "properties": properties})

    def insert_records(self, object_type: str, records: list[dict[str, Any]]) -> list[int]:
        """HubSpot sandbox only: insert ``records`` (``{"properties", "associations"?, "archived"?}``) of
        ``object_type`` at once, outside the rate limits and request counts; their new ids in input order."""
        response = self._session.post(f"{self.base_url}/__sandbox__/records", timeout=self.timeout,
                                      json={"object_type": object_type, "records": records})
        if not response.ok:
            raise ValueError(f"insert of {len(records)} {object_type} refused ({response.status_code}): "
                             f"{response.text[:1000]}")
        return list(response.json()["ids"])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for starting a sandbox on the side)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sandbox_connection_env(hubspot_port: int, woo_port: int, *,
                           hubspot_extra: dict[str, Any] | None = None) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` variables (JSON form) pointing ``hubspot_default`` and ``woocommerce_default`` at
    sandboxes on 127.0.0.1, with the sandboxes' well-known credentials."""
    import json

    hubspot = {"conn_type": "http", "host": "127.0.0.1", "port": hubspot_port, "schema": "http",
               "password": "sandbox-token"}
    if hubspot_extra:
        hubspot["extra"] = hubspot_extra
    woo = {"conn_type": "http", "host": "127.0.0.1", "port": woo_port, "schema": "http",
           "login": "ck_sandbox", "password": "cs_sandbox"}
    return {"AIRFLOW_CONN_HUBSPOT_DEFAULT": json.dumps(hubspot), "AIRFLOW_CONN_WOOCOMMERCE_DEFAULT": json.dumps(woo)}


def isolated_airflow_env(home: Path, project_root: Path) -> dict[str, str]:
    """Settings for an Airflow that lives in ``home`` alone (SQLite metadata, no examples) and runs this
    project's ``dags/`` and ``plugins/``: what tests and benchmarks set before Airflow is imported."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(project_root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(project_root / "plugins"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
