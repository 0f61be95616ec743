"""Benchmark the whole ``woocommerce_to_hubspot`` DAG run by Airflow (``make bench-sync``; ``BENCH_ARGS`` pass through).

Self-contained: per store size a fresh process with a temporary AIRFLOW_HOME (SQLite metadata DB,
``airflow db migrate`` in a subprocess), a temporary SQLite staging file, a temporary copy of
``great_expectations/`` (``WOOHUB_GX_ROOT``) and its own ``python -m woohub.sandbox`` on free 127.0.0.1
ports. All environment is set before Airflow is imported.

Part 1, per store size (``--orders``, default 10,000 and 50,000; customers and products scaled 1/5 and
1/50 of the orders unless given), each in its own process so that its peak RSS is its own:

1. seeds the WooCommerce sandbox (seed 42) and the HubSpot sandbox with the same options (so the portal
   already holds overlapping contacts), enables USD, EUR and GBP in the portal (the seeded store sells in
   all three); HubSpot rate limits stay ON (``--rate-limit`` calls per rolling 10 s, default 100, the real
   default) and the hooks' client-side limiter is set to the same limit;
2. runs the DAG once with ``dag.test()`` and ``{"full_resync": true}`` (the full initial load; a manual
   run without that param would sync only its own window) and measures wall time, the staging
   ``run_stats``, both sandboxes' request counts and the peak RSS;
3. runs it again for the next logical date with nothing changed (should write nothing);
4. prints a table per run (``--json FILE`` also writes the figures).

Part 2 (unless ``--no-scheduler``): the DAG run by a REAL Airflow (``airflow standalone``: scheduler,
DAG processor, API server, LocalExecutor; its own AIRFLOW_HOME) against a seeded sandbox
(``--scheduler-orders``, default 10,000) with HubSpot's limit of ``--scheduler-rate-limit`` (default 100)
per 10 s ON: unpausing the DAG makes the scheduler create a *scheduled* run (the initial load), whose
tasks run in separate worker processes, ``load_products`` and ``load_contacts`` at the same time, all
sharing one rate budget through the staging DB. Reports the run's state, the 429s HubSpot answered
(goal 0), and whether the two loads overlapped. Airflow is stopped by process group.

Definitions
  records synced      created + updated + unchanged from ``run_stats`` (loaded without failure)
  records written     created + updated
  HubSpot write calls POST/PATCH/PUT/DELETE requests on records and associations, except ``/search`` and
                      ``batch/read``; property definitions (``/crm/v3/properties``, created once per portal
                      by ``check_hubspot_setup``) are set-up calls, counted apart
  records/write call  records written / HubSpot write calls (association writes count as write calls)
  API calls/record    (all HubSpot + all WooCommerce requests) / records synced
  rec/s               records synced / run wall time
  peak memory         ``ru_maxrss`` of the process running ``dag.test()``: Airflow 3.x runs every task in
                      that process (``run_task_in_process``; the task instances' pid says so), so
                      RUSAGE_SELF is the pipeline's figure. The sandbox snapshots the bench checks
                      (duplicates, overlapping contacts) are read in short-lived subprocesses, not here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import signal
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
    parser.add_argument("--orders", type=int, nargs="+", default=[10_000, 50_000],
                        help="store sizes in WooCommerce orders, one initial load each (default 10000 50000)")
    parser.add_argument("--customers", type=int, help="customers to seed (default orders / 5)")
    parser.add_argument("--products", type=int, help="products to seed (default orders / 50)")
    parser.add_argument("--seed", type=int, default=42, help="random seed for both sandboxes (default 42)")
    parser.add_argument("--rate-limit", type=int, default=100,
                        help="HubSpot calls per rolling 10 s for the dag.test() runs, enforced by the sandbox "
                             "and the hooks (default 100, HubSpot's real limit)")
    parser.add_argument("--scheduler-orders", type=int, default=10_000,
                        help="store size of the real-scheduler run (default 10000)")
    parser.add_argument("--scheduler-rate-limit", type=int, default=100,
                        help="HubSpot calls per rolling 10 s in the real-scheduler run (default 100)")
    parser.add_argument("--no-scheduler", action="store_true", help="skip the real-scheduler run")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the real-scheduler run may take")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories (logs, DBs)")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)  # one size, this process
    parser.add_argument("--snapshot-checks", nargs="+", help=argparse.SUPPRESS)  # see snapshot_checks()
    return parser.parse_args(argv)


def store_of(args: argparse.Namespace, orders: int) -> dict[str, int]:
    """The seed options of one store size: customers and products scale with the orders unless given."""
    return {"seed": args.seed, "orders": orders,
            "customers": args.customers if args.customers is not None else max(1, orders // 5),
            "products": args.products if args.products is not None else max(1, orders // 50)}


CURRENCIES = ["USD", "EUR", "GBP"]


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


def setup_calls(routes: dict[str, int]) -> int:
    """HubSpot property-definition writes (``/crm/v3/properties``): portal set-up, not record writes."""
    return sum(count for route, count in routes.items()
               if route.partition(" ")[0] != "GET" and "/properties/" in route)


def hubspot_writes(routes: dict[str, int]) -> dict[str, int]:
    """HubSpot record and association write calls per object (by the first object name in the route),
    plus ``total``; property definitions are left out (see :func:`setup_calls`)."""
    writes: dict[str, int] = {"total": 0}
    for route, count in routes.items():
        method, _, path = route.partition(" ")
        if method not in ("POST", "PATCH", "PUT", "DELETE") or "/search" in path or "batch/read" in path:
            continue
        if "/properties/" in path:
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


def snapshot_checks(hubspot_url: str, woo_url: str | None = None) -> dict[str, Any]:
    """:func:`hubspot_integrity` (and with ``woo_url`` :func:`overlapping_contacts`) computed in a short-lived
    subprocess: the sandboxes' admin snapshots of a big store take hundreds of MiB, which must not count
    in the peak RSS of the process that runs the DAG."""
    command = [sys.executable, str(Path(__file__).resolve()), "--snapshot-checks", hubspot_url]
    command += [woo_url] if woo_url else []
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_snapshot_checks(urls: list[str]) -> None:
    from woohub.sandbox.control import SandboxControl

    hubspot = SandboxControl(urls[0], timeout=900)
    result: dict[str, Any] = {"integrity": hubspot_integrity(hubspot)}
    if len(urls) > 1:
        result["overlapping_contacts"] = overlapping_contacts(hubspot, SandboxControl(urls[1], timeout=900))
    print(json.dumps(result))


def task_pids(dag_run: Any) -> list[int]:
    """The process ids the run's task instances ran in (``dag.test()``: this process)."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return sorted({ti.pid for ti in dag_run.get_task_instances(session=session) if ti.pid is not None})


def task_states(dag_run: Any) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances(session=session)}


def run_once(dag: Any, logical_date: datetime, staging: Path, hubspot: Any, woo: Any,
             conf: dict[str, Any] | None = None) -> dict[str, Any]:
    """One ``dag.test()`` run with its figures."""
    hubspot.stats(reset=True)
    woo.stats(reset=True)
    started = time.perf_counter()
    dag_run = dag.test(logical_date=logical_date, run_conf=conf or {})
    seconds = time.perf_counter() - started
    hub_stats, woo_stats = hubspot.stats(), woo.stats()
    peak = maxrss_mib(resource.RUSAGE_SELF)
    integrity = snapshot_checks(hubspot.base_url)["integrity"]
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
        "hubspot_setup_calls": setup_calls(hub_stats["routes"]),
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
        "peak_rss_mib_self": round(peak, 1),
        "hubspot_after_run": integrity,
        "task_pids": task_pids(dag_run),
    }


def print_report(result: dict[str, Any]) -> None:
    print()
    print(f"woocommerce_to_hubspot sync benchmark: {result['store']['orders']} orders, "
          f"{result['store']['customers']} customers, {result['store']['products']} products "
          f"(seed {result['store']['seed']}); HubSpot limit {result['rate_limit']} calls / 10 s, enforced; "
          f"portal currencies {', '.join(CURRENCIES)}")
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
        print(f"  HubSpot write calls        {run['hubspot_write_calls']} (+ {run['hubspot_setup_calls']} "
              "property definitions, set-up once per portal)")
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


def start_sandbox(work: Path, hubspot_port: int, woo_port: int) -> subprocess.Popen[bytes]:
    log = (work / "sandbox.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "woohub.sandbox", "--host", "127.0.0.1", "--hubspot-port", str(hubspot_port),
         "--woo-port", str(woo_port), "--empty"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_process_group(child: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Stop ``child`` and everything it started (it leads its own process group)."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, signum)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def seed(hubspot: Any, woo: Any, store: dict[str, int], rate_limit: int) -> dict[str, Any]:
    """Seed both sandboxes, enable the store's currencies in the portal, switch the rate limit on."""
    woo.reset(**store)
    hubspot.reset(**store)
    hubspot.configure(enabled_currencies=CURRENCIES)
    checks = snapshot_checks(hubspot.base_url, woo.base_url)
    before = {"hubspot_before": checks["integrity"], "overlapping_contacts": checks["overlapping_contacts"]}
    hubspot.configure(rate_limits_enabled=True, ten_second_limit=rate_limit)
    return before


def run_size(args: argparse.Namespace) -> int:
    """Part 1 for one store size, in this process (``--single``)."""
    store = store_of(args, args.orders[0])
    work = Path(tempfile.mkdtemp(prefix="woohub-bench-sync-"))
    hubspot_port, woo_port = free_port(), free_port()
    staging = set_environment(work, hubspot_port, woo_port, args.rate_limit)

    from woohub.sandbox.control import SandboxControl

    sandbox = start_sandbox(work, hubspot_port, woo_port)
    hubspot = SandboxControl(f"http://127.0.0.1:{hubspot_port}", timeout=900)
    woo = SandboxControl(f"http://127.0.0.1:{woo_port}", timeout=900)
    try:
        hubspot.wait_until_up(60)
        woo.wait_until_up(60)
        print(f"work dir {work}; seeding sandboxes {store} ...", flush=True)
        seeding = time.perf_counter()
        before = seed(hubspot, woo, store, args.rate_limit)
        print(f"seeded in {time.perf_counter() - seeding:.1f} s; migrating the Airflow metadata DB ...", flush=True)
        migrate_airflow_db(work)

        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(ROOT / "dags" / f"{DAG_ID}.py")).dags[DAG_ID]
        baseline = maxrss_mib(resource.RUSAGE_SELF)
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
        print("first run (initial load, full_resync) ...", flush=True)
        first = run_once(dag, start, staging, hubspot, woo, {"full_resync": True})
        print(f"first run: {first['state']} in {first['seconds']} s; second run ...", flush=True)
        # explicit: dag.test() runs tasks in this process and the first run's conf would stay in the params
        second = run_once(dag, start + timedelta(minutes=15), staging, hubspot, woo, {"full_resync": False})
        result = {
            "store": store,
            "hubspot_seed": store,
            "rate_limit": args.rate_limit,
            **before,
            "first_run": first,
            "second_run": second,
            "memory": {
                "peak_rss_mib_self": round(maxrss_mib(resource.RUSAGE_SELF), 1),
                "baseline_rss_mib_self": round(baseline, 1),
                "peak_rss_mib_children": round(maxrss_mib(resource.RUSAGE_CHILDREN), 1),
                # dag.test() without use_executor runs each task via run_task_in_process (no fork): the
                # task instances record this process's pid.
                "tasks_in_process": bool(first["task_pids"]) and set(first["task_pids"] + second["task_pids"])
                <= {os.getpid()},
            },
            "work_dir": str(work) if args.keep else None,
        }
        print_report(result)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, default=str))
        dups = [k for run in (first, second) for k, v in run["hubspot_after_run"].items()
                if k.startswith("duplicate") and v]
        ok = not dups and first["state"] == second["state"] == "success" and second["hubspot_write_calls"] == 0
        return 0 if ok else 1
    finally:
        stop_process_group(sandbox)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def scheduler_environment(work: Path, hubspot_port: int, woo_port: int, api_port: int,
                          rate_limit: int) -> dict[str, str]:
    """A real Airflow in ``work``: SQLite metadata, LocalExecutor, this project's DAGs, sandbox connections."""
    home = work / "airflow-home"
    home.mkdir()
    gx_root = work / "great_expectations"
    shutil.copytree(ROOT / "great_expectations", gx_root, ignore=shutil.ignore_patterns("uncommitted"))
    env = dict(os.environ)
    env.update(isolated_airflow_env(home, ROOT))
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    env.update(sandbox_connection_env(hubspot_port, woo_port, hubspot_extra={"ten_second_limit": rate_limit}))
    env.update({
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{api_port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_CONN_WOOHUB_STAGING": json.dumps({"conn_type": "sqlite", "host": str(work / "staging.db")}),
        "WOOHUB_GX_ROOT": str(gx_root),
        "WOOHUB_RETRY_DELAY_SECONDS": "5",
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })
    return env


def airflow_json(env: dict[str, str], *argv: str) -> list[dict[str, Any]]:
    """The JSON list an ``airflow ... --output json`` command printed (it may print warnings first)."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    done = subprocess.run([airflow, *argv, "--output", "json"], env=env, capture_output=True, text=True, check=False)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("["):
            return json.loads(line)
    return []


def task_windows(airflow_db: Path, run_id: str) -> dict[str, tuple[str | None, str | None]]:
    """``task_id -> (start, end)`` of the run's task instances, from the Airflow metadata DB."""
    import sqlite3

    with sqlite3.connect(airflow_db) as connection:
        rows = connection.execute("select task_id, start_date, end_date from task_instance where run_id = ?",
                                  (run_id,)).fetchall()
    return {task_id: (start, end) for task_id, start, end in rows}


def overlap_seconds(a: tuple[str | None, str | None], b: tuple[str | None, str | None]) -> float:
    if None in a or None in b:
        return 0.0
    starts = [datetime.fromisoformat(str(x[0])) for x in (a, b)]
    ends = [datetime.fromisoformat(str(x[1])) for x in (a, b)]
    return max(0.0, (min(ends) - max(starts)).total_seconds())


def run_scheduler(args: argparse.Namespace) -> dict[str, Any]:
    """Part 2: one scheduled initial load by ``airflow standalone`` (see the module docstring)."""
    from woohub.sandbox.control import SandboxControl

    store = store_of(args, args.scheduler_orders)
    work = Path(tempfile.mkdtemp(prefix="woohub-bench-scheduler-"))
    hubspot_port, woo_port, api_port = free_port(), free_port(), free_port()
    env = scheduler_environment(work, hubspot_port, woo_port, api_port, args.scheduler_rate_limit)
    sandbox = start_sandbox(work, hubspot_port, woo_port)
    airflow_log = (work / "airflow.log").open("wb")
    airflow: subprocess.Popen[bytes] | None = None
    try:
        hubspot = SandboxControl(f"http://127.0.0.1:{hubspot_port}", timeout=900)
        woo = SandboxControl(f"http://127.0.0.1:{woo_port}", timeout=900)
        hubspot.wait_until_up(60)
        woo.wait_until_up(60)
        print(f"\nreal scheduler run: work dir {work}; seeding {store} ...", flush=True)
        seed(hubspot, woo, store, args.scheduler_rate_limit)
        airflow = subprocess.Popen([str(Path(sys.executable).with_name("airflow")), "standalone"], env=env,
                                   stdout=airflow_log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + args.timeout
        while not any(d.get("dag_id") == DAG_ID for d in airflow_json(env, "dags", "list")):
            if time.monotonic() > deadline or airflow.poll() is not None:
                raise SystemExit(f"Airflow did not parse {DAG_ID}; see {work / 'airflow.log'}")
            time.sleep(3)
        hubspot.stats(reset=True)
        woo.stats(reset=True)
        started = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("airflow")), "dags", "unpause", DAG_ID], env=env,
                       capture_output=True, check=True)
        print("airflow standalone is up; DAG unpaused, waiting for the scheduler's run ...", flush=True)
        run: dict[str, Any] = {}
        while time.monotonic() < deadline:
            runs = airflow_json(env, "dags", "list-runs", DAG_ID)
            if runs and runs[0].get("state") in ("success", "failed"):
                run = runs[0]
                break
            time.sleep(10)
        seconds = time.perf_counter() - started
        hub_stats, woo_stats = hubspot.stats(), woo.stats()
        windows = task_windows(work / "airflow-home" / "airflow.db", run.get("run_id", "")) if run else {}
        result = {
            "store": store, "rate_limit": args.scheduler_rate_limit, "run_id": run.get("run_id"),
            "run_type": str(run.get("run_id", "")).split("__", 1)[0], "state": run.get("state", "timed out"),
            "seconds": round(seconds, 1),
            "hubspot_calls": hub_stats["requests"], "woocommerce_calls": woo_stats["requests"],
            "responses_429": int(hub_stats["statuses"].get("429", 0)) + int(woo_stats["statuses"].get("429", 0)),
            "hubspot_statuses": hub_stats["statuses"],
            "load_products_contacts_overlap_s": round(overlap_seconds(
                windows.get("load_products", (None, None)), windows.get("load_contacts", (None, None))), 1),
            "task_windows": windows,
            "work_dir": str(work) if args.keep else None,
        }
        print(f"real scheduler run ({result['run_type']}, LocalExecutor): state {result['state']} in "
              f"{result['seconds']} s (from unpause); {store['orders']} orders; HubSpot limit "
              f"{args.scheduler_rate_limit} / 10 s ON; HubSpot calls {result['hubspot_calls']}, "
              f"429 responses {result['responses_429']}; load_products and load_contacts ran at the same "
              f"time for {result['load_products_contacts_overlap_s']} s", flush=True)
        return result
    finally:
        if airflow is not None:
            stop_process_group(airflow)
        airflow_log.close()
        stop_process_group(sandbox)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def print_summary(sizes: list[dict[str, Any]], scheduler: dict[str, Any] | None) -> None:
    print("\nsummary: initial load (dag.test(), full_resync) per store size")
    print(f"  {'orders':>8}{'limit/10s':>10}{'synced':>9}{'seconds':>9}{'rec/s':>8}{'rec/write':>10}"
          f"{'api/rec':>9}{'429s':>6}{'peak RSS MiB':>14}{'x smallest':>11}")
    smallest = sizes[0]["memory"]["peak_rss_mib_self"] if sizes else None
    for size in sizes:
        first, peak = size["first_run"], size["memory"]["peak_rss_mib_self"]
        print(f"  {size['store']['orders']:>8}{size['rate_limit']:>10}{first['records_synced']:>9}"
              f"{first['seconds']:>9}{first['records_per_second']:>8}{first['records_per_write_call']:>10}"
              f"{first['api_calls_per_synced_record']:>9}{first['responses_429']:>6}{peak:>14}"
              f"{peak / smallest:>11.2f}")
    if scheduler:
        print(f"  real scheduler (LocalExecutor, {scheduler['store']['orders']} orders, limit "
              f"{scheduler['rate_limit']}/10 s ON): {scheduler['run_type']} run {scheduler['state']}, "
              f"{scheduler['responses_429']} × 429, load_products ∥ load_contacts "
              f"{scheduler['load_products_contacts_overlap_s']} s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.snapshot_checks:
        print_snapshot_checks(args.snapshot_checks)
        return 0
    if args.single:
        return run_size(args)
    sizes, failed = [], False
    with tempfile.TemporaryDirectory(prefix="woohub-bench-results-") as results:
        for orders in args.orders:
            out = Path(results) / f"{orders}.json"
            command = [sys.executable, str(Path(__file__).resolve()), "--single", "--orders", str(orders),
                       "--seed", str(args.seed), "--rate-limit", str(args.rate_limit), "--json", str(out)]
            command += ["--customers", str(args.customers)] if args.customers is not None else []
            command += ["--products", str(args.products)] if args.products is not None else []
            command += ["--keep"] if args.keep else []
            print(f"== initial load at {orders} orders (own process) ==", flush=True)
            failed |= subprocess.run(command, check=False).returncode != 0
            if out.exists():
                sizes.append(json.loads(out.read_text()))
    scheduler = None if args.no_scheduler else run_scheduler(args)
    print_summary(sizes, scheduler)
    if args.json:
        args.json.write_text(json.dumps({"sizes": sizes, "scheduler": scheduler}, indent=2, default=str))
        print(f"\nfigures written to {args.json}")
    if scheduler is not None:
        failed |= scheduler["state"] != "success" or scheduler["responses_429"] > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
