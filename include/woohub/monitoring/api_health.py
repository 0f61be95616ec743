"""Is each API reachable, do our credentials work, and how big is each side?

Each check makes a handful of cheap calls through the project's hooks (so retries, timeouts and
logging are the same as the sync's) and returns a small JSON-able summary; an unreachable API or a
refused credential raises the hook's typed error, which fails the task with the vendor's own message.
"""

from __future__ import annotations

import time
from typing import Any

from woohub.hubspot import HubSpotHook
from woohub.woocommerce import WooCommerceHook

HUBSPOT_OBJECTS = ("contacts", "deals", "products", "line_items")
WOOCOMMERCE_RESOURCES = ("orders", "customers", "products")


def check_hubspot(hook: HubSpotHook) -> dict[str, Any]:
    """Counts per CRM object (via search ``total``), deal pipelines and stage ids, and the round-trip time."""
    started = time.monotonic()
    pipelines = hook.request("GET", "/crm/v3/pipelines/deals").json()["results"]
    totals = {}
    for object_type in HUBSPOT_OBJECTS:
        body = {"limit": 1, "properties": ["hs_object_id"]}
        totals[object_type] = hook.request(
            "POST", f"/crm/v3/objects/{object_type}/search", json=body, idempotent=True
        ).json()["total"]
    return {
        "api": "hubspot",
        "records": totals,
        "pipelines": {p["id"]: [stage["id"] for stage in p["stages"]] for p in pipelines},
        "seconds": round(time.monotonic() - started, 3),
    }


def check_woocommerce(hook: WooCommerceHook) -> dict[str, Any]:
    """Counts per resource (from ``X-WP-Total``) and the round-trip time."""
    started = time.monotonic()
    totals = {}
    for resource in WOOCOMMERCE_RESOURCES:
        response = hook.request("GET", f"/{resource}", params={"per_page": 1})
        totals[resource] = int(response.headers["X-WP-Total"])
    return {"api": "woocommerce", "records": totals, "seconds": round(time.monotonic() - started, 3)}
