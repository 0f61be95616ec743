"""Benchmark the initial ``woocommerce_to_hubspot`` load on 1, 2 and 4 Celery workers (``make bench-celery``;
``BENCH_CELERY_ARGS`` pass through): does HubSpot's rate-limit budget hold across workers, and how close
does the run come to the least time that limit allows?

Per worker count (``--workers``, default ``1 2 4``) a fresh native Celery deployment
(:class:`woohub.deploy.native.NativeCeleryDeployment`, the components of ``docker-compose.yaml`` as local
processes): new PostgreSQL databases for Airflow's metadata and for staging (``--postgres-url``, a server whose
user may create databases), a free Redis database as the broker (``--redis-url``), the API server,
scheduler, DAG processor, triggerer, N ``airflow celery worker`` processes (``--concurrency`` task slots
each, default 1, so N workers are N slots) and the sandboxes on free ports. Then:

1. seeds the WooCommerce sandbox with ``--orders`` orders (default 10,000; customers 1/5 and products 1/50 of
   them, seed 42, as ``bench-sync``) and the HubSpot sandbox with the same options (the portal already holds
   overlapping contacts), enables USD, EUR and GBP in the portal, and switches HubSpot's limits on with
   ``--rate-limit`` calls per rolling 10 s (default 190, the Professional / Enterprise limit). The HubSpot
   connection has ``ten_second_limit`` set to the same and ``rate_limit_store: woohub_staging``: every task
   on every worker draws on one budget in the PostgreSQL staging database
   (:mod:`woohub.http.shared_budget`);
2. unpauses the DAG: its first scheduled run is the initial full load; waits until it finished.

Printed per worker count: the run's wall time (its start to its end in Airflow), HubSpot calls (every
request the sandbox counted during the run), the **limit bound** = HubSpot calls / (rate limit / 10 s), the
least time the limit allows them (``bench_reconcile.limit_bound``; 190 per 10 s = calls / 19 per second),
wall / bound, 429 responses (goal 0), the load phase (first ``load_*`` start to last ``load_*`` end) with the
bound of the calls the loads made (``run_stats.api_calls`` of products, contacts, deals, line items), tasks
per worker hostname, and the machine's load average (the machine may be shared: figures vary with it).

Where parallelism exists in the DAG (``dags/woocommerce_to_hubspot.py``): ``extract_products`` and
``extract_customers`` run together after ``extract_orders``; the three ``validate_*`` tasks overlap;
``load_products`` and ``load_contacts`` run together; ``load_deals`` waits for contacts and
``load_line_items`` for deals and products. So at most two HubSpot loads run at once, and the loads that make
most calls (deals, line items) run alone: beyond two task slots more workers cannot shorten the loads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_reconcile  # noqa: E402  (the limit bound, as the reconciliation benchmark computes it)
import bench_sync  # noqa: E402  (store sizes and currencies, as the sync benchmark seeds them)

DAG_ID = "woocommerce_to_hubspot"
LOAD_TASKS = ("load_products", "load_contacts", "load_deals", "load_line_items")
LOAD_OBJECTS = ("products", "contacts", "deals", "line_items")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4],
                        help="Celery worker counts, one fresh deployment each (default 1 2 4)")
    parser.add_argument("--concurrency", type=int, default=1, help="task slots per worker (default 1)")
    parser.add_argument("--orders", type=int, default=10_000, help="WooCommerce orders (default 10000)")
    parser.add_argument("--customers", type=int, help="customers to seed (default orders / 5)")
    parser.add_argument("--products", type=int, help="products to seed (default orders / 50)")
    parser.add_argument("--seed", type=int, default=42, help="random seed for both sandboxes (default 42)")
    parser.add_argument("--rate-limit", type=int, default=190,
                        help="HubSpot calls per rolling 10 s, enforced by the sandbox and the hooks (default 190)")
    parser.add_argument("--postgres-url", default=os.getenv("WOOHUB_TEST_POSTGRES_URL",
                                                            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
                        help="PostgreSQL server for the throwaway databases (default $WOOHUB_TEST_POSTGRES_URL)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379", help="Redis server (a free DB is taken)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one run may take (default 1800)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directories (logs)")
    return parser.parse_args(argv)


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _span(windows: list[tuple[datetime | None, datetime | None]]) -> float | None:
    starts = [s for s, _ in windows if s]
    ends = [e for _, e in windows if e]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else None


def load_api_calls(staging_url: str, run_id: str) -> dict[str, int]:
    """HubSpot calls the run's loads counted (``run_stats.api_calls`` of the four HubSpot objects)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(staging_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("select object_type, api_calls from run_stats where run_id = :run_id"),
                                      {"run_id": run_id}).all()
    finally:
        engine.dispose()
    return {str(t): int(c or 0) for t, c in rows if t in LOAD_OBJECTS}


def measure(args: argparse.Namespace, workers: int, work: Path) -> dict[str, Any]:
    """One fresh deployment with ``workers`` Celery workers and one initial load (see the module docstring)."""
    from woohub.deploy.native import NativeCeleryDeployment
    from woohub.sandbox.control import SandboxControl

    store = bench_sync.store_of(args, args.orders)
    print(f"\n== {workers} Celery worker(s) × {args.concurrency} slot(s): starting the deployment in {work} ...",
          flush=True)
    started = time.perf_counter()
    with NativeCeleryDeployment(work, postgres_url=args.postgres_url, redis_url=args.redis_url, workers=workers,
                                concurrency=args.concurrency, hubspot_extra={"ten_second_limit": args.rate_limit},
                                startup_timeout=300) as deployment:
        try:
            hubspot = SandboxControl(deployment.hubspot_url, timeout=900)
            woo = SandboxControl(deployment.woo_url, timeout=900)
            print(f"   up in {time.perf_counter() - started:.0f} s; seeding {store} ...", flush=True)
            seeding = time.perf_counter()
            woo.reset(**store)
            hubspot.reset(**store)
            hubspot.configure(enabled_currencies=bench_sync.CURRENCIES)
            hubspot.configure(rate_limits_enabled=True, ten_second_limit=args.rate_limit)
            deployment.wait_until_parsed([DAG_ID])
            print(f"   seeded in {time.perf_counter() - seeding:.0f} s; unpausing {DAG_ID} ...", flush=True)
            hubspot.stats(reset=True)
            woo.stats(reset=True)
            load_before = os.getloadavg()
            unpaused = time.perf_counter()
            deployment.unpause(DAG_ID)
            run = deployment.wait_for_first_runs([DAG_ID], timeout=args.timeout)[DAG_ID]
            from_unpause = time.perf_counter() - unpaused
            load_after = os.getloadavg()
            hub_stats, woo_stats = hubspot.stats(), woo.stats()
            tis = deployment.task_instances(DAG_ID, run["dag_run_id"])
            calls = load_api_calls(deployment.staging_url, run["dag_run_id"])
        except BaseException:
            print(deployment.tails(40), flush=True)
            raise
    run_seconds = (_when(run["end_date"]) - _when(run["start_date"])).total_seconds()
    windows = {ti["task_id"]: (_when(ti.get("start_date")), _when(ti.get("end_date"))) for ti in tis}
    load_seconds = _span([windows[t] for t in LOAD_TASKS if t in windows])
    hubspot_calls = int(hub_stats["requests"])
    bound = bench_reconcile.limit_bound(hubspot_calls, args.rate_limit)
    load_calls = sum(calls.values())
    load_bound = bench_reconcile.limit_bound(load_calls, args.rate_limit)
    result = {
        "workers": workers, "concurrency": args.concurrency, "store": store, "rate_limit": args.rate_limit,
        "state": run["state"], "run_id": run["dag_run_id"], "run_type": run["run_type"],
        "run_seconds": round(run_seconds, 1), "seconds_from_unpause": round(from_unpause, 1),
        "hubspot_calls": hubspot_calls, "woocommerce_calls": int(woo_stats["requests"]),
        "limit_bound_s": round(bound, 1), "wall_over_bound": round(run_seconds / bound, 2) if bound else None,
        "responses_429": int(hub_stats["statuses"].get("429", 0)),
        "hubspot_statuses": hub_stats["statuses"],
        "load_seconds": round(load_seconds, 1) if load_seconds is not None else None,
        "load_hubspot_calls": calls, "load_limit_bound_s": round(load_bound, 1),
        "load_over_bound": round(load_seconds / load_bound, 2) if load_seconds and load_bound else None,
        "tasks_per_worker": dict(Counter(ti["hostname"] for ti in tis)),
        "task_seconds": {t: round((e - s).total_seconds(), 1) for t, (s, e) in windows.items() if s and e},
        "task_states": {ti["task_id"]: ti["state"] for ti in tis},
        "load_average": {"before": [round(x, 1) for x in load_before], "after": [round(x, 1) for x in load_after]},
    }
    print(f"   run {result['state']} in {result['run_seconds']} s; HubSpot calls {hubspot_calls}, bound "
          f"{result['limit_bound_s']} s, × {result['wall_over_bound']}; 429s {result['responses_429']}; loads "
          f"{result['load_seconds']} s for {load_calls} calls (bound {result['load_limit_bound_s']} s); tasks per "
          f"worker {result['tasks_per_worker']}", flush=True)
    return result


def print_summary(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\nsummary: initial woocommerce_to_hubspot load, {args.orders} orders, HubSpot limit {args.rate_limit} "
          f"/ 10 s ON (shared budget in PostgreSQL staging), {args.concurrency} task slot(s) per worker")
    print(f"  {'workers':>7}{'state':>9}{'wall s':>8}{'HS calls':>9}{'bound s':>8}{'x bound':>8}{'429s':>6}"
          f"{'loads s':>8}{'load calls':>11}{'load bound':>11}{'x':>6}  tasks per worker / load avg (1 min)")
    for r in results:
        print(f"  {r['workers']:>7}{r['state']:>9}{r['run_seconds']:>8}{r['hubspot_calls']:>9}{r['limit_bound_s']:>8}"
              f"{r['wall_over_bound']:>8}{r['responses_429']:>6}{r['load_seconds']!s:>8}"
              f"{sum(r['load_hubspot_calls'].values()):>11}{r['load_limit_bound_s']:>11}{r['load_over_bound']!s:>6}"
              f"  {r['tasks_per_worker']} / {r['load_average']['before'][0]}→{r['load_average']['after'][0]}")
    print("  bound = HubSpot calls / (limit / 10 s); wall = the DAG run's start to end; loads = first load_* start "
          "to last load_* end")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="woohub-bench-celery-"))
    results, failed = [], False
    try:
        for workers in args.workers:
            result = measure(args, workers, base / f"workers-{workers}")
            results.append(result)
            failed |= result["state"] != "success" or result["responses_429"] > 0
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print_summary(results, args)
    if args.json:
        args.json.write_text(json.dumps({"runs": results}, indent=2, default=str))
        print(f"\nfigures written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
