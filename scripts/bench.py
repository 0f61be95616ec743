"""Benchmark the woohub API hooks against the sandbox APIs (``make bench``; ``BENCH_ARGS`` are passed through).

Starts ``python -m woohub.sandbox`` on free 127.0.0.1 ports with a seeded store, then measures and prints:

* raw request rate each hook sustains (sandbox rate limits off, client limiter off, several threads);
* HubSpot's realistic rate with the sandbox enforcing 100 calls per rolling 10 s and the hook's limiter on
  (``--realistic-seconds``; 429s counted);
* bulk reads: HubSpot list and search, WooCommerce orders/customers/products paging;
* batch writes: HubSpot batch create and upsert, WooCommerce batch create;
each with calls, records per call and records per second. ``--json FILE`` also writes the figures as JSON.
All traffic stays on 127.0.0.1; the default run takes well under two minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

UNIQUE_PROPERTY = {"name": "woo_customer_id", "label": "WooCommerce customer ID", "type": "string",
                   "fieldType": "text", "groupName": "contactinformation", "hasUniqueValue": True}


@dataclass
class Figure:
    """One measured row of the table."""

    name: str
    calls: int
    records: int
    seconds: float
    errors_429: int = 0

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    @property
    def records_per_call(self) -> float:
        return self.records / self.calls if self.calls else 0.0

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "calls_per_second": round(self.calls_per_second, 1),
                "records_per_call": round(self.records_per_call, 1),
                "records_per_second": round(self.records_per_second, 1)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000, help="WooCommerce customers to seed")
    parser.add_argument("--products", type=int, default=500, help="WooCommerce products to seed")
    parser.add_argument("--orders", type=int, default=3000, help="WooCommerce orders to seed")
    parser.add_argument("--hubspot-records", type=int, default=5000, help="HubSpot contacts to batch-create")
    parser.add_argument("--woo-batch-records", type=int, default=1000, help="WooCommerce products to batch-create")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each raw-throughput run")
    parser.add_argument("--realistic-seconds", type=float, default=12.0,
                        help="duration of the rate-limited HubSpot run (0 skips it)")
    parser.add_argument("--threads", type=int, default=4, help="client threads for the throughput runs")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)



@contextmanager
def running_sandbox(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """The sandbox process on free ports, seeded; yields (HubSpot URL, WooCommerce URL)."""
    from woohub.sandbox.control import SandboxControl, free_port

    ports = free_port(), free_port()
    command = [sys.executable, "-m", "woohub.sandbox", "--hubspot-port", str(ports[0]), "--woo-port",
               str(ports[1]), "--customers", str(args.customers), "--products", str(args.products),
               "--orders", str(args.orders)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    urls = (f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}")
    try:
        for url in urls:
            SandboxControl(url).wait_until_up(60)
        yield urls
    finally:
        process.terminate()
        process.wait(timeout=15)


def define_connections(hubspot_url: str, woo_url: str) -> None:
    """Airflow connections for the benchmark, as environment variables (set before Airflow is imported)."""
    hubspot = {"conn_type": "hubspot", "host": hubspot_url, "password": "sandbox-token"}
    woo = {"conn_type": "woocommerce", "host": woo_url, "login": "ck_sandbox", "password": "cs_sandbox"}
    os.environ.update({
        "AIRFLOW_CONN_BENCH_HUBSPOT_RAW": json.dumps({**hubspot, "extra": {"rate_limits_enabled": False}}),
        "AIRFLOW_CONN_BENCH_HUBSPOT_LIMITED": json.dumps(hubspot),
        "AIRFLOW_CONN_BENCH_WOO": json.dumps(woo),
    })


def timed(name: str, hook: Any, action: Callable[[], int]) -> Figure:
    """Run ``action`` (returns records handled) and count the hook's calls it spent."""
    calls_before, started = hook.calls_spent(), time.perf_counter()
    records = action()
    return Figure(name, hook.calls_spent() - calls_before, records, time.perf_counter() - started)


def throughput(name: str, hook: Any, path: str, params: dict[str, Any], seconds: float, threads: int) -> Figure:
    """Calls per second from ``threads`` threads sending GET ``path`` for ``seconds``."""
    stop = time.monotonic() + seconds

    def worker() -> tuple[int, int]:
        done = limited = 0
        while time.monotonic() < stop:
            try:
                hook.request("GET", path, params=params)
                done += 1
            except Exception:  # noqa: BLE001 - counted, the benchmark goes on
                limited += 1
        return done, limited
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda _: worker(), range(threads)))
    return Figure(name, sum(r[0] for r in results), sum(r[0] for r in results), time.perf_counter() - started,
                  sum(r[1] for r in results))


def hubspot_figures(args: argparse.Namespace, hubspot_url: str) -> list[Figure]:
    from woohub.http import RetryPolicy
    from woohub.hubspot import HubSpotHook
    from woohub.sandbox.control import SandboxControl

    control = SandboxControl(hubspot_url)
    control.configure(rate_limits_enabled=False, search_index_delay_seconds=0)
    raw = HubSpotHook("bench_hubspot_raw")
    figures = [throughput("HubSpot GET, limits off", raw, "/crm/v3/objects/contacts", {"limit": 1},
                          args.seconds, args.threads)]
    count = args.hubspot_records
    figures.append(timed("HubSpot batch create", raw, lambda: sum(o.ok for o in raw.batch_create(
        "contacts", [{"email": f"bench{n}@example.com"} for n in range(count)]))))
    raw.ensure_property("contacts", UNIQUE_PROPERTY)
    figures.append(timed("HubSpot batch upsert", raw, lambda: sum(o.ok for o in raw.batch_upsert(
        "contacts", "woo_customer_id", [{"woo_customer_id": f"b{n}", "email": f"upsert{n}@example.com"}
                                        for n in range(count)]))))
    figures.append(timed("HubSpot list contacts", raw, lambda: sum(1 for _ in raw.iter_objects("contacts"))))
    figures.append(timed("HubSpot search_all contacts", raw,
                         lambda: sum(1 for _ in raw.search_all("contacts", properties=["email"]))))
    if args.realistic_seconds > 0:
        control.configure(rate_limits_enabled=True, ten_second_limit=100)
        time.sleep(10.5)  # the sandbox counts calls even with limits off: let the raw runs leave its window
        control.stats(reset=True)
        limited = HubSpotHook("bench_hubspot_limited", retry_policy=RetryPolicy(max_attempts=1))
        figure = throughput("HubSpot GET, 100/10 s + limiter", limited, "/crm/v3/objects/contacts",
                            {"limit": 1}, args.realistic_seconds, args.threads)
        figure.errors_429 = int(control.stats()["statuses"].get("429", 0))
        figures.append(figure)
    return figures


def woo_figures(args: argparse.Namespace) -> list[Figure]:
    from woohub.woocommerce import WooCommerceHook

    hook = WooCommerceHook("bench_woo")
    figures = [throughput("Woo GET (OAuth 1.0a)", hook, "/orders", {"per_page": 1}, args.seconds, args.threads)]
    for resource, params in (("orders", None), ("customers", {"role": "all"}), ("products", None)):
        figures.append(timed(f"Woo page {resource}", hook,
                             lambda r=resource, p=params: sum(1 for _ in hook.iter_records(r, p))))
    products = [{"name": f"Bench {n}", "sku": f"BENCH-{n}", "regular_price": "1.00"}
                for n in range(args.woo_batch_records)]
    figures.append(timed("Woo batch create products", hook,
                         lambda: sum(o.ok for o in hook.batch("products", create=products))))
    return figures


def render(figures: list[Figure]) -> str:
    """The figures as a plain-text table."""
    header = f"{'measurement':34} {'calls':>6} {'records':>8} {'seconds':>8} {'calls/s':>8} {'rec/call':>8} " \
             f"{'rec/s':>9} {'429s':>5}"
    lines = [header, "-" * len(header)]
    for f in figures:
        lines.append(f"{f.name:34} {f.calls:6d} {f.records:8d} {f.seconds:8.2f} {f.calls_per_second:8.1f} "
                     f"{f.records_per_call:8.1f} {f.records_per_second:9.1f} {f.errors_429:5d}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="woohub-bench-airflow-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    started = time.perf_counter()
    with running_sandbox(args) as (hubspot_url, woo_url):
        define_connections(hubspot_url, woo_url)
        figures = hubspot_figures(args, hubspot_url) + woo_figures(args)
    print(render(figures))
    print(f"\ntotal {time.perf_counter() - started:.1f} s; threads={args.threads}; sandbox on 127.0.0.1")
    if args.json:
        args.json.write_text(json.dumps([f.as_dict() for f in figures], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
