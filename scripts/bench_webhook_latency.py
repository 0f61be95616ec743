"""Webhook latency: from a change in one system until the other system shows it, through a real Airflow.

``make bench-latency`` (arguments in ``BENCH_LATENCY_ARGS``, e.g. ``--orders 20 --deals 20``) starts, in a
temporary directory, the sandboxes and :class:`woohub.testing.airflow_processes.LocalAirflow` (API server
with the project's plugins, scheduler with the LocalExecutor, DAG processor; the metadata database on a
fresh PostgreSQL database when ``--postgres``/``WOOHUB_TEST_POSTGRES_URL`` gives a server, else SQLite), both
sync DAGs unpaused with their cron a year away, so only webhooks start runs. The deliveries are the
sandboxes' own (``--deliveries sandbox``, the default): a WooCommerce webhook registered through
``POST /wp-json/wc/v3/webhooks`` (``order.created``, signed with the connection's secret) and the HubSpot
app's webhook settings and subscription (``deal.propertyChange`` on ``dealstage``, v3-signed with the app's
client secret), pointed at the plugin's ``/woohub/webhooks/...`` routes. ``--deliveries direct`` makes the
benchmark send the signed deliveries itself instead (as the stores would).

1. **WooCommerce → HubSpot.** After a warm-up order (its products and customer reach HubSpot first), ``N``
   orders are placed one at a time through the store's REST API, each once the scheduler is idle (no run
   queued or running) plus ``--pause`` seconds; latency = from the order's creation until a HubSpot deal
   with its ``woo_order_id`` is listed.
2. **HubSpot → WooCommerce.** ``N`` deals for the synced product and contact are made in an open stage
   (before the subscription exists, so their creation wakes nothing), then moved to closed won one at a time,
   as a person in HubSpot's UI does (``/__sandbox__/ui-edit``); latency = from the move until a WooCommerce
   order whose ``hubspot_deal_id`` is the deal is listed.

Printed: p50 / p95 / max per direction (goal p95 ≤ 60 s, aim 20 s), the runs it took and their mean duration
and, with ``--json``, every figure. ``--no-preload`` starts the scheduler as plain ``airflow scheduler``
(see :mod:`woohub.testing.preload` for what the preload saves).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from requests_oauthlib import OAuth1

ROOT = Path(__file__).resolve().parent.parent
W2H, H2W = "woocommerce_to_hubspot", "hubspot_to_woocommerce"
TOKEN = "sandbox-token"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20, help="orders placed in the store (default 20)")
    parser.add_argument("--deals", type=int, default=20, help="deals moved to closed won (default 20)")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds of idle before each change (default 2)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds one change may take (default 180)")
    parser.add_argument("--deliveries", choices=("sandbox", "direct"), default="sandbox",
                        help="who sends the webhooks: the sandboxes (default) or this script")
    parser.add_argument("--postgres", default=os.getenv("WOOHUB_TEST_POSTGRES_URL"),
                        help="a PostgreSQL server URL for the metadata database (default WOOHUB_TEST_POSTGRES_URL; "
                             "none: SQLite)")
    parser.add_argument("--no-preload", action="store_true", help="plain `airflow scheduler` (no preloaded modules)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra environment setting for the Airflow processes (repeatable)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    return parser.parse_args(argv)


class Shop:
    """The two sandboxes' public APIs as the benchmark uses them."""

    def __init__(self, hubspot_url: str, woo_url: str) -> None:
        self.hubspot_url, self.woo_url = hubspot_url, woo_url
        self.session = requests.Session()
        self.throttled = 0  #: 429s this script got (and waited out) from HubSpot
        self.auth = OAuth1("ck_sandbox", "cs_sandbox", signature_method="HMAC-SHA256")

    def woo(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.woo_url}/wp-json/wc/v3{path}", auth=self.auth, timeout=30,
                                        **kwargs)
        response.raise_for_status()
        return response.json()

    def hubspot(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; a 429 (this script shares the portal's rate limit with the DAGs) waits out its
        ``Retry-After`` (1 s without one) and is made again, as any well-behaved HubSpot client does."""
        for _ in range(30):
            response = self.session.request(method, f"{self.hubspot_url}{path}", timeout=30,
                                            headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)
            if response.status_code != 429:
                break
            self.throttled += 1
            time.sleep(float(response.headers.get("Retry-After") or 1.0))
        if not response.ok:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def deal_order_ids(self) -> set[str]:
        """The ``woo_order_id`` of every deal in the portal."""
        found, after = set(), None
        while True:
            params: dict[str, Any] = {"limit": 100, "properties": "woo_order_id"}
            if after:
                params["after"] = after
            body = self.hubspot("GET", "/crm/v3/objects/deals", params=params)
            found |= {d["properties"].get("woo_order_id") for d in body["results"]} - {None, ""}
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return found

    def order_deal_ids(self) -> set[str]:
        """The ``hubspot_deal_id`` meta of the store's newest orders."""
        orders = self.woo("GET", "/orders", params={"per_page": 100, "orderby": "id", "order": "desc"})
        return {str(m["value"]) for o in orders for m in o.get("meta_data") or [] if m.get("key") == "hubspot_deal_id"}


def quantile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"n": len(values), "p50": round(quantile(values, 0.5), 1), "p95": round(quantile(values, 0.95), 1),
            "max": round(max(values), 1), "mean": round(statistics.fmean(values), 1)}


def wait_idle(airflow: Any, pause: float, timeout: float) -> None:
    """Until no run of either DAG is queued or running, then ``pause`` seconds more."""
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        busy = [r for d in (W2H, H2W) for r in airflow.runs(d) if r["state"] in ("queued", "running")]
        if not busy:
            time.sleep(pause)
            return
        time.sleep(0.5)
    raise TimeoutError("the scheduler did not become idle")


def wait_until(check: Any, timeout: float, poll: float = 0.2) -> float:
    """Seconds until ``check()`` is true (``TimeoutError`` after ``timeout``)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(poll)
    raise TimeoutError(f"not seen within {timeout:.0f} s")


def signed_woo(order: dict[str, Any], secret: str, delivery: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(order).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return body, {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
                  "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "created", "X-WC-Webhook-ID": "1",
                  "X-WC-Webhook-Delivery-ID": delivery, "X-WC-Webhook-Signature": signature}


def signed_hubspot(url: str, deal_id: str, secret: str, event_id: int) -> tuple[bytes, dict[str, str]]:
    now_ms = int(time.time() * 1000)
    body = json.dumps([{"eventId": event_id, "subscriptionId": 1, "portalId": 62515, "appId": 1001,
                        "occurredAt": now_ms, "subscriptionType": "deal.propertyChange", "attemptNumber": 0,
                        "objectId": int(deal_id), "propertyName": "dealstage", "propertyValue": "closedwon",
                        "changeSource": "CRM_UI"}]).encode()
    message = b"POST" + url.encode() + body + str(now_ms).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return body, {"Content-Type": "application/json", "X-HubSpot-Signature-v3": signature,
                  "X-HubSpot-Request-Timestamp": str(now_ms)}


def run_stats(airflow: Any, dag_id: str, since: set[str]) -> dict[str, Any]:
    """The runs of ``dag_id`` not in ``since``: how many, their types and mean duration."""
    runs = [r for r in airflow.runs(dag_id) if r["dag_run_id"] not in since]
    durations = [(datetime.fromisoformat(r["end_date"]) - datetime.fromisoformat(r["start_date"])).total_seconds()
                 for r in runs if r.get("end_date") and r.get("start_date")]
    return {"runs": len(runs), "types": sorted({r["run_type"] for r in runs}),
            "failed": sum(1 for r in runs if r["state"] == "failed"),
            "mean_run_seconds": round(statistics.fmean(durations), 1) if durations else None}


def woo_to_hubspot(args: argparse.Namespace, airflow: Any, shop: Shop, product: dict[str, Any],
                   customer: dict[str, Any]) -> tuple[list[float], dict[str, Any]]:
    from woohub.testing.airflow_processes import WOO_WEBHOOK_SECRET

    if args.deliveries == "sandbox":
        shop.woo("POST", "/webhooks", json={"name": "woohub bench", "topic": "order.created",
                                            "delivery_url": airflow.webhook_url("woocommerce"),
                                            "secret": WOO_WEBHOOK_SECRET})
    address = {"first_name": customer["first_name"], "last_name": customer["last_name"], "address_1": "1 Bench St",
               "city": "Springfield", "postcode": "11111", "country": "US", "state": "CA",
               "email": customer["email"]}

    def place() -> str:
        order = shop.woo("POST", "/orders", json={"customer_id": customer["id"], "status": "processing",
                                                  "billing": address, "line_items": [{"product_id": product["id"],
                                                                                      "quantity": 1}]})
        if args.deliveries == "direct":
            body, headers = signed_woo(order, WOO_WEBHOOK_SECRET, f"bench-{order['id']}")
            requests.post(airflow.webhook_url("woocommerce"), data=body, headers=headers, timeout=30).raise_for_status()
        return str(order["id"])

    warm = place()
    wait_until(lambda: warm in shop.deal_order_ids(), args.timeout)
    before = {r["dag_run_id"] for r in airflow.runs(W2H)}
    latencies = []
    for n in range(args.orders):
        wait_idle(airflow, args.pause, args.timeout)
        started = time.monotonic()
        order_id = place()
        wait_until(lambda order_id=order_id: order_id in shop.deal_order_ids(), args.timeout)
        latencies.append(time.monotonic() - started)
        print(f"  order {n + 1}/{args.orders} ({order_id}): deal after {latencies[-1]:.1f} s", flush=True)
    wait_idle(airflow, 0, args.timeout)
    return latencies, run_stats(airflow, W2H, before)


def hubspot_to_woo(args: argparse.Namespace, airflow: Any, shop: Shop, product: dict[str, Any],
                   customer: dict[str, Any]) -> tuple[list[float], dict[str, Any]]:
    from woohub.sandbox.hubspot.webhooks import APP_ID, DEVELOPER_API_KEY
    from woohub.testing.airflow_processes import HUBSPOT_CLIENT_SECRET

    products = shop.hubspot("GET", "/crm/v3/objects/products", params={"limit": 100,
                                                                       "properties": "woo_product_id"})["results"]
    contacts = shop.hubspot("GET", "/crm/v3/objects/contacts", params={"limit": 100, "properties": "email"})["results"]
    hubspot_product = next(p["id"] for p in products if p["properties"].get("woo_product_id") == str(product["id"]))
    contact = next(c["id"] for c in contacts if c["properties"].get("email") == customer["email"])
    deals = []
    for n in range(args.deals):
        deal = shop.hubspot("POST", "/crm/v3/objects/deals", json={"properties": {
            "dealname": f"Bench upsell {n + 1}", "amount": "25.00", "pipeline": "default",
            "dealstage": "appointmentscheduled", "deal_currency_code": "USD"}})["id"]
        shop.hubspot("PUT", f"/crm/v4/objects/deals/{deal}/associations/default/contacts/{contact}")
        item = shop.hubspot("POST", "/crm/v3/objects/line_items", json={"properties": {
            "name": product["name"], "quantity": "1", "price": product["regular_price"],
            "hs_product_id": hubspot_product}})["id"]
        shop.hubspot("PUT", f"/crm/v4/objects/deals/{deal}/associations/default/line_items/{item}")
        deals.append(str(deal))
    if args.deliveries == "sandbox":
        key = {"hapikey": DEVELOPER_API_KEY}
        shop.hubspot("PUT", f"/webhooks/v3/{APP_ID}/settings", params=key,
                     json={"targetUrl": airflow.webhook_url("hubspot"),
                           "throttling": {"maxConcurrentRequests": 10, "period": "SECONDLY"}})
        shop.hubspot("POST", f"/webhooks/v3/{APP_ID}/subscriptions", params=key,
                     json={"eventType": "deal.propertyChange", "propertyName": "dealstage", "active": True})
    before = {r["dag_run_id"] for r in airflow.runs(H2W)}
    latencies = []
    for n, deal in enumerate(deals):
        wait_idle(airflow, args.pause, args.timeout)
        started = time.monotonic()
        if args.deliveries == "sandbox":
            control = f"{shop.hubspot_url}/__sandbox__/ui-edit"
            shop.session.post(control, json={"object_type": "deals", "id": int(deal),
                                             "properties": {"dealstage": "closedwon"}}, timeout=30).raise_for_status()
        else:
            shop.hubspot("PATCH", f"/crm/v3/objects/deals/{deal}", json={"properties": {"dealstage": "closedwon"}})
            body, headers = signed_hubspot(airflow.webhook_url("hubspot"), deal, HUBSPOT_CLIENT_SECRET, 9000 + n)
            requests.post(airflow.webhook_url("hubspot"), data=body, headers=headers, timeout=30).raise_for_status()
        wait_until(lambda deal=deal: deal in shop.order_deal_ids(), args.timeout)
        latencies.append(time.monotonic() - started)
        print(f"  deal {n + 1}/{args.deals} ({deal}): order after {latencies[-1]:.1f} s", flush=True)
    wait_idle(airflow, 0, args.timeout)
    return latencies, run_stats(airflow, H2W, before)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from woohub.sandbox.control import SandboxControl, free_port
    from woohub.testing.airflow_processes import LocalAirflow

    work = Path(tempfile.mkdtemp(prefix="woohub-bench-latency-"))
    hubspot_port, woo_port = free_port(), free_port()
    settings = dict(s.split("=", 1) for s in args.setting)
    result: dict[str, Any] = {"deliveries": args.deliveries, "preload": not args.no_preload,
                              "metadata": "postgresql" if args.postgres else "sqlite", "settings": settings}
    try:
        print(f"work dir {work}; starting the sandboxes and Airflow "
              f"({result['metadata']} metadata, preload {result['preload']}) ...", flush=True)
        started = time.monotonic()
        with LocalAirflow(work, hubspot_port=hubspot_port, woo_port=woo_port, postgres_server=args.postgres,
                          start_sandbox=True, preload=not args.no_preload, settings=settings) as airflow:
            for control in (SandboxControl(f"http://127.0.0.1:{hubspot_port}"),
                            SandboxControl(f"http://127.0.0.1:{woo_port}")):
                control.wait_until_up(60)
                control.reset(empty=True)
            airflow.wait_for_dags([W2H, H2W])
            for dag_id in (W2H, H2W):
                airflow.unpause(dag_id)
            print(f"Airflow up in {time.monotonic() - started:.0f} s; WooCommerce → HubSpot ...", flush=True)
            shop = Shop(f"http://127.0.0.1:{hubspot_port}", f"http://127.0.0.1:{woo_port}")
            product = shop.woo("POST", "/products", json={"name": "Bench Tee", "type": "simple",
                                                          "regular_price": "25.00", "sku": "BENCH-TEE",
                                                          "manage_stock": True, "stock_quantity": 10_000})
            customer = shop.woo("POST", "/customers", json={"email": "bench.buyer@example.com",
                                                            "first_name": "Bench", "last_name": "Buyer"})
            w2h, w2h_runs = woo_to_hubspot(args, airflow, shop, product, customer)
            print("HubSpot → WooCommerce ...", flush=True)
            h2w, h2w_runs = hubspot_to_woo(args, airflow, shop, product, customer)
            result.update({"woocommerce_to_hubspot": {**summary(w2h), **w2h_runs, "latencies": w2h},
                           "hubspot_to_woocommerce": {**summary(h2w), **h2w_runs, "latencies": h2w},
                           "script_429s": shop.throttled})
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    print(f"\nwebhook latency ({args.deliveries} deliveries, LocalExecutor, {result['metadata']} metadata, "
          f"preload {result['preload']}):")
    for direction, label in (("woocommerce_to_hubspot", "order → deal"), ("hubspot_to_woocommerce", "deal → order")):
        figures = result[direction]
        print(f"  {label}: n={figures['n']} p50 {figures['p50']} s, p95 {figures['p95']} s, max {figures['max']} s; "
              f"{figures['runs']} run(s) {figures['types']}, {figures['failed']} failed, mean run "
              f"{figures['mean_run_seconds']} s")
    print(f"  (this script's own HubSpot calls got {result.get('script_429s', 0)} × 429, each waited out)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    ok = all(result[d]["failed"] == 0 and result[d]["p95"] <= 60 for d in ("woocommerce_to_hubspot",
                                                                           "hubspot_to_woocommerce"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
