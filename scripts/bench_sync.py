"""Benchmark the whole ``woocommerce_to_hubspot`` DAG run by Airflow (``make bench-sync``; ``BENCH_ARGS`` pass through).

Self-contained: a temporary AIRFLOW_HOME (SQLite metadata DB, ``airflow db migrate`` in a subprocess), a
temporary SQLite staging file, a temporary copy of ``great_expectations/`` (``WOOHUB_GX_ROOT``) and its own
``python -m woohub.sandbox`` on free 127.0.0.1 ports. All environment is set before Airflow is imported.

1. seeds the WooCommerce sandbox (default 10,000 orders, 2,000 customers, 200 products, seed 42) and the
   HubSpot sandbox with the same options (so the portal already holds overlapping contacts); HubSpot rate
   limits stay ON (``--rate-limit`` calls per rolling 10 s, default 100, the real default) and the hooks'
   client-side limiter is set to the same limit;
2. runs the DAG once with ``dag.test()`` (the full initial load) and measures wall time, the staging
   ``run_stats`` and both sandboxes' request counts;
3. runs it again for the next logical date with nothing changed (should write nothing);
4. prints a table per run (``--json FILE`` also writes the figures).

Definitions
  records synced      created + updated + unchanged from ``run_stats`` (loaded without failure)
  records written     created + updated
  HubSpot write calls POST/PATCH/PUT/DELETE requests, except ``/search`` and ``batch/read``
  records/write call  records written / HubSpot write calls (association writes count as write calls)
  API calls/record    (all HubSpot + all WooCommerce requests) / records synced
  rec/s               records synced / run wall time (rate limit on)
  peak memory         ``ru_maxrss`` of this process: ``dag.test()`` in Airflow 3.x runs every task in this
                      process (``run_task_in_process``), so RUSAGE_SELF is the pipeline's figure;
                      RUSAGE_CHILDREN only covers ``airflow db migrate`` (and the sandbox once reaped).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from woohub.sandbox.control import free_port, isolated_airflow_env, sandbox_connection_env

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "woocommerce_to_hubspot"
OBJECTS = ("products", "contacts", "deals", "line_items")
HUBSPOT_OBJECT_SEGMENTS = {"products": "products", "contacts": "contacts", "deals": "deals",
                           "line_items": "line_items"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000, help="WooCommerce orders to seed (default 10000)")
    parser.add_argument("--customers", type=int, default=2_000, help="customers to seed (default 2000)")
    parser.add_argument("--products", type=int, default=200, help="products to seed (default 200)")
    parser.add_argument("--seed", type=int, default=42, help="random seed for both sandboxes (default 42)")
    parser.add_argument("--rate-limit", type=int, default=100,
                        help="HubSpot calls per rolling 10 s, enforced by the sandbox and the hooks (default 100)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, DBs)")
    return parser.parse_args(argv)



def set_environment(work: Path, hubspot_port: int, woo_port: int, rate_limit: int) -> Path:
    """Everything Airflow and the DAG read, set before Airflow is imported; returns the staging file."""
    home, staging = work / "airflow-home", work / "staging.db"
    home.mkdir()
    gx_root = work / "great_expectations"
    shutil.copytree(ROOT / "great_expectations", gx_root, ignore=shutil.ignore_patterns("uncommitted"))
    os.environ.update(sandbox_connection_env(hubspot_port, woo_port, hubspot_extra={"ten_second_limit": rate_limit}))
    os.environ.update(isolated_airflow_env(home, ROOT))
    os.environ.update({
        "AIRFLOW_CONN_WOOHUB_STAGING": json.dumps({"conn_type": "sqlite", "host": str(staging)}),
        "WOOHUB_GX_ROOT": str(gx_root),
        "WOOHUB_RETRY_DELAY_SECONDS": "5",
        # no proxy may route the sandbox traffic anywhere else
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })
    return staging


def migrate_airflow_db(log_dir: Path) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    result = subprocess.run([airflow, "db", "migrate"], capture_output=True, text=True, check=False)
    (log_dir / "airflow-db-migrate.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"airflow db migrate failed:\n{result.stderr[-3000:]}")


def maxrss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def hubspot_writes(routes: dict[str, int]) -> dict[str, int]:
    """HubSpot write calls per object (by the first object name in the route), plus ``total``."""
    writes: dict[str, int] = {"total": 0}
    for route, count in routes.items():
        method, _, path = route.partition(" ")
        if method not in ("POST", "PATCH", "PUT", "DELETE") or "/search" in path or "batch/read" in path:
            continue
        writes["total"] += count
        segments = path.split("/")
        owner = next((name for seg in segments for name, s in HUBSPOT_OBJECT_SEGMENTS.items() if seg == s),
                     "other")
        writes[owner] = writes.get(owner, 0) + count
    return writes


def run_stats(staging: Path, run_id: str) -> dict[str, dict[str, int]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{staging}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "select object_type, extracted, valid, quarantined, created, updated, unchanged, failed, "
                "api_calls from run_stats where run_id = :run_id"), {"run_id": run_id}).mappings().all()
    finally:
        engine.dispose()
    return {row["object_type"]: {k: int(v) for k, v in row.items() if k != "object_type"} for row in rows}


def hubspot_integrity(hubspot: Any) -> dict[str, Any]:
    """Active records per object and duplicates in the portal, from the sandbox's admin snapshot (which is
    neither counted in ``stats()`` nor rate limited)."""
    from collections import Counter

    records = hubspot.state()["portal"]["records"]
    active = {t: [r["properties"] for r in recs if not r["archived"]] for t, recs in records.items()}

    def dupes(object_type: str, prop: str, fold: bool = False) -> int:
        values = Counter((str(p[prop]).lower() if fold else str(p[prop])) for p in active.get(object_type, [])
                         if p.get(prop))
        return sum(n - 1 for n in values.values() if n > 1)

    return {
        "active": {t: len(v) for t, v in active.items()},
        "duplicate_contact_emails": dupes("contacts", "email", fold=True),
        "duplicate_woo_customer_ids": dupes("contacts", "woo_customer_id"),
        "duplicate_woo_order_ids": dupes("deals", "woo_order_id"),
        "duplicate_woo_product_ids": dupes("products", "woo_product_id"),
        "duplicate_woo_line_item_ids": dupes("line_items", "woo_line_item_id"),
    }


def overlapping_contacts(hubspot: Any, woo: Any) -> int:
    """HubSpot contacts whose email (case-insensitive) is a WooCommerce customer's or guest buyer's."""
    store = woo.state()["store"]
    shop = {str(c.get("email") or "").lower() for c in store["customers"]}
    shop |= {str((o.get("billing") or {}).get("email") or "").lower() for o in store["orders"]}
    contacts = hubspot.state()["portal"]["records"].get("contacts", [])
    return sum(1 for c in contacts if str(c["properties"].get("email") or "").lower() in shop - {""})


def task_states(dag_run: Any) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances(session=session)}


def run_once(dag: Any, logical_date: datetime, staging: Path, hubspot: Any, woo: Any) -> dict[str, Any]:
    """One ``dag.test()`` run with its figures."""
    hubspot.stats(reset=True)
    woo.stats(reset=True)
    children_before = maxrss_mib(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    dag_run = dag.test(logical_date=logical_date)
    seconds = time.perf_counter() - started
    hub_stats, woo_stats = hubspot.stats(), woo.stats()
    integrity = hubspot_integrity(hubspot)
    stats = run_stats(staging, dag_run.run_id)
    writes = hubspot_writes(hub_stats["routes"])
    per_object = {}
    for name in OBJECTS:
        row = stats.get(name, {})
        synced = row.get("created", 0) + row.get("updated", 0) + row.get("unchanged", 0)
        written = row.get("created", 0) + row.get("updated", 0)
        per_object[name] = {**row, "synced": synced, "written": written, "hubspot_write_calls": writes.get(name, 0)}
    synced = sum(o["synced"] for o in per_object.values())
    written = sum(o["written"] for o in per_object.values())
    api_calls = hub_stats["requests"] + woo_stats["requests"]
    return {
        "logical_date": logical_date.isoformat(),
        "run_id": dag_run.run_id,
        "state": str(dag_run.state),
        "task_states": task_states(dag_run),
        "seconds": round(seconds, 1),
        "objects": per_object,
        "records_synced": synced,
        "records_written": written,
        "failed": sum(o.get("failed", 0) for o in per_object.values()),
        "quarantined": sum(o.get("quarantined", 0) for o in per_object.values()),
        "hubspot_calls": hub_stats["requests"],
        "hubspot_write_calls": writes["total"],
        "hubspot_write_calls_by_object": writes,
        "hubspot_routes": hub_stats["routes"],
        "hubspot_statuses": hub_stats["statuses"],
        "woocommerce_calls": woo_stats["requests"],
        "woocommerce_routes": woo_stats["routes"],
        "woocommerce_statuses": woo_stats["statuses"],
        "responses_429": int(hub_stats["statuses"].get("429", 0)) + int(woo_stats["statuses"].get("429", 0)),
        "records_per_write_call": round(written / writes["total"], 1) if writes["total"] else None,
        "api_calls_per_synced_record": round(api_calls / synced, 3) if synced else None,
        "records_per_second": round(synced / seconds, 1) if seconds else None,
        "peak_rss_mib_self": round(maxrss_mib(resource.RUSAGE_SELF), 1),
        "hubspot_after_run": integrity,
        "child_processes_grew": maxrss_mib(resource.RUSAGE_CHILDREN) > children_before,
    }


def print_report(result: dict[str, Any]) -> None:
    print()
    print(f"woocommerce_to_hubspot sync benchmark: {result['store']['orders']} orders, "
          f"{result['store']['customers']} customers, {result['store']['products']} products "
          f"(seed {result['store']['seed']}); HubSpot limit {result['rate_limit']} calls / 10 s, enforced")
    for label, run in (("first run (initial load)", result["first_run"]),
                       ("second run (nothing changed)", result["second_run"])):
        print(f"\n{label}: state {run['state']}, {run['seconds']:.1f} s")
        header = (f"  {'object':<11}{'extracted':>10}{'valid':>8}{'quar.':>7}{'created':>9}{'updated':>9}"
                  f"{'unchgd':>8}{'failed':>8}{'synced':>8}{'HS writes':>10}{'rec/write':>10}{'api_calls':>10}")
        print(header)
        for name, o in run["objects"].items():
            per_write = f"{o['written'] / o['hubspot_write_calls']:.1f}" if o["hubspot_write_calls"] else "-"
            print(f"  {name:<11}{o.get('extracted', 0):>10}{o.get('valid', 0):>8}{o.get('quarantined', 0):>7}"
                  f"{o.get('created', 0):>9}{o.get('updated', 0):>9}{o.get('unchanged', 0):>8}"
                  f"{o.get('failed', 0):>8}{o['synced']:>8}{o['hubspot_write_calls']:>10}{per_write:>10}"
                  f"{o.get('api_calls', 0):>10}")
        other = run["hubspot_write_calls_by_object"].get("other", 0)
        print(f"  {'total':<11}{'':>10}{'':>8}{run['quarantined']:>7}{'':>9}{'':>9}{'':>8}{run['failed']:>8}"
              f"{run['records_synced']:>8}{run['hubspot_write_calls']:>10}"
              f"{run['records_per_write_call'] if run['records_per_write_call'] is not None else '-':>10}")
        if other:
            print(f"  (HubSpot write calls not attributed to an object: {other})")
        print(f"  records synced {run['records_synced']}, written {run['records_written']}")
        print(f"  HubSpot write calls        {run['hubspot_write_calls']}")
        print(f"  records per write call     {run['records_per_write_call']}")
        print(f"  API calls                  HubSpot {run['hubspot_calls']} + WooCommerce {run['woocommerce_calls']}"
              f" = {run['hubspot_calls'] + run['woocommerce_calls']}")
        print(f"  API calls per synced rec.  {run['api_calls_per_synced_record']}")
        print(f"  end-to-end records/s       {run['records_per_second']}")
        print(f"  429 responses              {run['responses_429']}")
        print(f"  peak RSS so far (self)     {run['peak_rss_mib_self']} MiB")
        dup = {k: v for k, v in run["hubspot_after_run"].items() if k.startswith("duplicate") and v}
        print(f"  HubSpot active records     {run['hubspot_after_run']['active']}; duplicates: {dup or 'none'}")
        failed_tasks = {t: s for t, s in run["task_states"].items() if s != "success"}
        if failed_tasks:
            print(f"  tasks not successful:      {failed_tasks}")
    print(f"\nHubSpot seeded with {result['hubspot_seed']}; before the first run: "
          f"{result['hubspot_before']['active']}; contacts sharing an email with a WooCommerce customer or "
          f"guest: {result['overlapping_contacts']}")
    mem = result["memory"]
    print(f"\npeak memory: {mem['peak_rss_mib_self']} MiB max RSS of this process (dag.test() runs tasks "
          f"in-process: {mem['tasks_in_process']}); baseline before the first run {mem['baseline_rss_mib_self']}"
          f" MiB; children (airflow db migrate) {mem['peak_rss_mib_children']} MiB")
    second = result["second_run"]
    print(f"second run: {second['hubspot_write_calls']} HubSpot write calls, {second['records_written']} records "
          f"written, {second['seconds']:.1f} s (first run {result['first_run']['seconds']:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="woohub-bench-sync-"))
    hubspot_port, woo_port = free_port(), free_port()
    staging = set_environment(work, hubspot_port, woo_port, args.rate_limit)

    from woohub.sandbox.control import SandboxControl

    sandbox_log = (work / "sandbox.log").open("w")
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "woohub.sandbox", "--host", "127.0.0.1", "--hubspot-port", str(hubspot_port),
         "--woo-port", str(woo_port), "--empty"], stdout=sandbox_log, stderr=subprocess.STDOUT)
    hubspot = SandboxControl(f"http://127.0.0.1:{hubspot_port}", timeout=900)
    woo = SandboxControl(f"http://127.0.0.1:{woo_port}", timeout=900)
    try:
        hubspot.wait_until_up(60)
        woo.wait_until_up(60)
        store = {"seed": args.seed, "customers": args.customers, "products": args.products, "orders": args.orders}
        print(f"work dir {work}; seeding sandboxes {store} ...", flush=True)
        seeding = time.perf_counter()
        woo.reset(**store)
        hubspot.reset(**store)
        before = hubspot_integrity(hubspot)
        overlap = overlapping_contacts(hubspot, woo)
        hubspot.configure(rate_limits_enabled=True, ten_second_limit=args.rate_limit)
        print(f"seeded in {time.perf_counter() - seeding:.1f} s; migrating the Airflow metadata DB ...", flush=True)
        migrate_airflow_db(work)

        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(ROOT / "dags" / f"{DAG_ID}.py")).dags[DAG_ID]
        baseline = maxrss_mib(resource.RUSAGE_SELF)
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
        print("first run (initial load) ...", flush=True)
        first = run_once(dag, start, staging, hubspot, woo)
        print(f"first run: {first['state']} in {first['seconds']} s; second run ...", flush=True)
        second = run_once(dag, start + timedelta(minutes=15), staging, hubspot, woo)
        result = {
            "store": store,
            "hubspot_seed": store,
            "rate_limit": args.rate_limit,
            "hubspot_before": before,
            "overlapping_contacts": overlap,
            "first_run": first,
            "second_run": second,
            "memory": {
                "peak_rss_mib_self": round(maxrss_mib(resource.RUSAGE_SELF), 1),
                "baseline_rss_mib_self": round(baseline, 1),
                "peak_rss_mib_children": round(maxrss_mib(resource.RUSAGE_CHILDREN), 1),
                # dag.test() without use_executor runs each task via run_task_in_process (no fork), so no
                # child process appears during the runs.
                "tasks_in_process": not (first["child_processes_grew"] or second["child_processes_grew"]),
            },
            "work_dir": str(work) if args.keep else None,
        }
        print_report(result)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, default=str))
            print(f"\nfigures written to {args.json}")
        dups = [k for run in (first, second) for k, v in run["hubspot_after_run"].items()
                if k.startswith("duplicate") and v]
        ok = not dups and first["state"] == second["state"] == "success" and second["hubspot_write_calls"] == 0
        return 0 if ok else 1
    finally:
        sandbox.terminate()
        try:
            sandbox.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sandbox.kill()
            sandbox.wait()
        sandbox_log.close()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
