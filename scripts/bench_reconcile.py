"""Benchmark the nightly reconciliation (``make bench-reconcile``; ``BENCH_RECONCILE_ARGS`` pass through).

Self-contained like ``scripts/bench_sync.py``, whose helpers it imports: its own ``python -m woohub.sandbox``
on free 127.0.0.1 ports, a temporary AIRFLOW_HOME (the hooks read their connections from the environment;
no Airflow run is needed), and per size a fresh staging database (a SQLite file, or with
``--staging-url`` a throwaway PostgreSQL database per size).

Records per side (``--records``, default 10,000 and 100,000): the HubSpot records of a store in sync =
deals + contacts + products + line items; each stands for exactly one WooCommerce record: an order, a
registered customer or a guest buyer (one per email), a product or a variation, an order line (product,
shipping and fee lines, and one tax line per taxed order). The store is seeded with orders sized so that
this count is within 1 % of the target (customers 1/5 and products 1/50 of the orders, as
``bench-sync``), and the report prints both sides' counts per object.

Set-up per size (not measured; printed as seeding time):

1. seeds the WooCommerce sandbox store (its seeding, ``--seed``), empties the HubSpot portal and switches
   its limits off;
2. mirrors the store into HubSpot as ``woocommerce_to_hubspot``'s initial load leaves it
   (:mod:`woohub.sandbox.mirror`): read through the WooCommerce hook's list endpoints, mapped with the
   sync's own mapping functions, the custom properties made by the sync's ``check_hubspot_setup``, the
   records inserted through the HubSpot sandbox's bulk-insert control endpoint (``POST
   /__sandbox__/records``), the loaders' ``id_map`` rows (hashes, links, two-way bases) written to
   staging, so both sides are in sync;
3. switches HubSpot's limits on (``--rate-limit`` calls per rolling 10 s, default 100, HubSpot's real
   limit; the hooks' client-side limiter gets the same limit and shares its budget through staging as in
   the DAG) and waits out the window the set-up filled.

Measured (the DAG's steps, each in a process of its own as LocalExecutor runs the DAG's tasks, so each
peak RSS is that step's): ``start_snapshot``; then ``snapshot_woocommerce`` and ``snapshot_hubspot`` at the
same time in two processes, started together once both finished their imports (the clock holds no import
time); then ``compare_run`` (a real run, not a dry run; queuing heals is the DAG's next step and not
measured). Wall time per step, CPU per step and of the sandbox process, both sandboxes' request counts per
route and status, the snapshot's rows and the differences by kind. With ``--drifts N`` (default 6, 0 skips
it) a second reconciliation at the first size runs after N known differences were made directly through
the APIs (HubSpot deal amounts and contact last names edited, WooCommerce product prices changed): each
must be found exactly once, and nothing else.

Definitions
  calls needed       HubSpot: per object type (deals, contacts, products, line items) ceil(active / 100)
                     list pages plus ceil(archived / 100) pages of ``archived=true`` (an empty listing is
                     still one call); WooCommerce: orders, trashed orders, products, trashed products and
                     customers by pages of 100, and the variations of each variable product (one listing
                     each). Search is not used (it stops at 10,000 results).
  limit bound        the least wall time the limits allow those calls: both sides are read at the same
                     time, so the slower side's calls needed / its rate. HubSpot: calls / (limit per 10 s);
                     the WooCommerce sandbox, like WooCommerce's REST API itself, has no rate limit (0 s).
                     The bound for the calls actually made is printed too.
  wall / bound       reconciliation wall time (start_snapshot + both reads + compare) / limit bound
                     (goal <= 1.3)
  peak memory        the largest peak resident set (``VmHWM``; not ``ru_maxrss``, which Linux carries over
                     from the parent across fork and exec) of the three step processes (each one's, with its
                     value after the imports, is printed too), and the largest resident set sampled
                     (``/proc/self/statm``, every 50 ms) while a step ran, which the peak hides when the
                     imports peaked higher; each as a ratio to the first size (goal at 100,000 vs 10,000:
                     <= 1.25)
  CPU seconds        of each step's process while it ran, and of the sandbox process serving both APIs
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_sync  # noqa: E402  (the sync benchmark: its sandbox and process helpers are reused, not copied)
from bench_h2w import failure_excerpt, process_cpu_seconds  # noqa: E402

ROOT = bench_sync.ROOT
PAGE = 100  # list page size of both APIs
RATE_WINDOW_SECONDS = 10
HUBSPOT_OBJECTS = ("deals", "contacts", "products", "line_items")
RECORDS_PER_ORDER_GUESS = 3.745  # records per side per seeded order (measured 3.744-3.746), refined per size
TOLERANCE = 0.01


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000],
                        help="records per side, one reconciliation each (default 10000 100000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the store (default 42)")
    parser.add_argument("--rate-limit", type=int, default=100,
                        help="HubSpot calls per rolling 10 s during the measured part, enforced by the sandbox "
                             "and the hooks (default 100, HubSpot's real limit)")
    parser.add_argument("--drifts", type=int, default=6,
                        help="known differences made through the APIs for a second run at the first size "
                             "(default 6; 0 skips it)")
    parser.add_argument("--staging-url",
                        help="a PostgreSQL SQLAlchemy URL (a user that may create databases): each size gets a "
                             "throwaway database there; default a SQLite file per size")
    parser.add_argument("--seed-only", action="store_true",
                        help="seed and mirror each size and print the counts and the limit bound, measure nothing")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, staging files)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--run-id", help=argparse.SUPPRESS)
    parser.add_argument("--hubspot-url", help=argparse.SUPPRESS)
    parser.add_argument("--woo-url", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sandbox-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--read-side", choices=["woocommerce", "hubspot"], help=argparse.SUPPRESS)
    parser.add_argument("--ready", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# -- environment ------------------------------------------------------------------------------------------

def set_environment(work: Path, hubspot_port: int, woo_port: int, rate_limit: int) -> None:
    """What the hooks and the staging engine read, set before Airflow is imported (the staging connection
    is set per size by :func:`use_staging`)."""
    from woohub.sandbox.control import isolated_airflow_env, sandbox_connection_env

    logging.getLogger("alembic").setLevel(logging.WARNING)  # no line per staging migration

    home = work / "airflow-home"
    home.mkdir()
    os.environ.update(sandbox_connection_env(hubspot_port, woo_port, hubspot_extra={"ten_second_limit": rate_limit}))
    os.environ.update(isolated_airflow_env(home, ROOT))
    os.environ.update({"WOOHUB_RETRY_DELAY_SECONDS": "5",
                       "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})


@contextmanager
def use_staging(work: Path, label: str, postgres_url: str | None) -> Iterator[str]:
    """A fresh staging database for one size, set as the ``woohub_staging`` connection; yields its URL."""
    if postgres_url is None:
        path = work / f"staging-{label}.db"
        os.environ["AIRFLOW_CONN_WOOHUB_STAGING"] = json.dumps({"conn_type": "sqlite", "host": str(path)})
        yield f"sqlite:///{path}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"woohub_bench_reconcile_{label}_{os.getpid()}"
    admin = create_engine(make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    os.environ["AIRFLOW_CONN_WOOHUB_STAGING"] = json.dumps({"conn_type": "postgres", "extra": {"sqlalchemy_url": url}})
    try:
        yield url
    finally:
        from woohub.staging.database import engine_for_url

        engine_for_url(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- seeding ----------------------------------------------------------------------------------------------

def store_options(seed: int, orders: int) -> dict[str, int]:
    """The seed options of a store of ``orders`` orders (customers and products scaled as in bench-sync)."""
    return {"seed": seed, "orders": orders, "customers": max(1, orders // 5), "products": max(1, orders // 50)}


def estimated_records(shop: Any) -> int:
    """Records per side the mirror of ``shop`` will hold (what :func:`mirror_shop` counts exactly): orders,
    their lines (+1 per taxed order), products and variations not trashed, customers and guest emails."""
    trashed = {p["id"] for p in shop.products if p.get("status") == "trash"}
    products = sum(1 for p in shop.products if p["id"] not in trashed)
    products += sum(1 for v in shop.variations if v.get("parent_id") not in trashed and v.get("status") != "trash")
    customer_emails = {str(c.get("email") or "").strip().lower() for c in shop.customers}
    guests = {str((o.get("billing") or {}).get("email") or "").strip().lower()
              for o in shop.orders if not o.get("customer_id")} - customer_emails - {""}
    lines = sum(len(o.get(k) or []) for o in shop.orders for k in ("line_items", "shipping_lines", "fee_lines"))
    lines += sum(1 for o in shop.orders if o.get("tax_lines"))
    return len(shop.orders) + lines + products + len(shop.customers) + len(guests)


def seed_size(target: int, seed: int, hubspot: Any, woo: Any) -> tuple[dict[str, int], Any]:
    """Seed the WooCommerce store with the orders that make ``target`` records per side (within
    :data:`TOLERANCE`, one correction at most), empty the portal; ``(seed options, the shop as read)``."""
    from woohub.sandbox.mirror import read_shop
    from woohub.woocommerce import WooCommerceHook

    orders = max(1, round(target / RECORDS_PER_ORDER_GUESS))
    for attempt in range(3):
        options = store_options(seed, orders)
        woo.reset(**options)
        shop = read_shop(WooCommerceHook())
        estimate = estimated_records(shop)
        if abs(estimate - target) <= TOLERANCE * target or attempt == 2:
            break
        orders = max(1, round(orders * target / estimate))
    hubspot.reset(empty=True)
    hubspot.configure(rate_limits_enabled=False)
    return options, shop


def mirror(shop: Any, hubspot: Any, run_id: str) -> Any:
    """The HubSpot side and the id map of ``shop`` (:mod:`woohub.sandbox.mirror`)."""
    from woohub.hubspot import HubSpotHook
    from woohub.sandbox.mirror import mirror_shop, prepare_portal
    from woohub.staging.database import staging_engine

    prepare_portal(HubSpotHook(), hubspot, shop)
    return mirror_shop(shop, hubspot, staging_engine(), run_id=run_id)


def hubspot_counts(hubspot: Any) -> dict[str, dict[str, int]]:
    """Active and archived records per object type in the portal (admin snapshot, in a short-lived child
    process like ``bench_sync.snapshot_checks``, so a big portal's JSON does not sit in this process)."""
    command = [sys.executable, "-c", (
        "import json, sys\n"
        "from woohub.sandbox.control import SandboxControl\n"
        "records = SandboxControl(sys.argv[1], timeout=900).state()['portal']['records']\n"
        "print(json.dumps({t: {'active': sum(1 for r in rs if not r['archived']),"
        " 'archived': sum(1 for r in rs if r['archived'])} for t, rs in records.items()}))\n"), hubspot.base_url]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the limit bound --------------------------------------------------------------------------------------

def pages(records: int) -> int:
    """List calls that read ``records`` records, 100 a page; an empty listing still costs one call."""
    return max(1, math.ceil(records / PAGE))


def hubspot_calls_needed(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    """Per object type: active pages + archived pages (see the module docstring), and ``total``."""
    needed = {t: pages(counts.get(t, {}).get("active", 0)) + pages(counts.get(t, {}).get("archived", 0))
              for t in HUBSPOT_OBJECTS}
    return {**needed, "total": sum(needed.values())}


def woocommerce_calls_needed(woo_counts: dict[str, int], variable_products: int) -> dict[str, int]:
    """Orders (live + trash listings), products (live + trash), customers, variations (one listing per
    variable product), and ``total``."""
    live_orders = woo_counts["orders"] - woo_counts["trashed_orders"]
    live_products = woo_counts["products"] - woo_counts["trashed_products"]
    needed = {"orders": pages(live_orders) + pages(woo_counts["trashed_orders"]),
              "products": pages(live_products) + pages(woo_counts["trashed_products"]),
              "variations": variable_products, "customers": pages(woo_counts["customers"])}
    return {**needed, "total": sum(needed.values())}


def limit_bound(hubspot_calls: int, rate_limit: int) -> float:
    """Seconds HubSpot's rolling limit needs for ``hubspot_calls`` (WooCommerce has no limit: 0 s)."""
    return hubspot_calls / (rate_limit / RATE_WINDOW_SECONDS)


# -- drifts -----------------------------------------------------------------------------------------------

def inject_drifts(count: int, seed: int, ids: dict[str, dict[str, str]], shop: Any) -> list[dict[str, str]]:
    """``count`` known differences made directly through both APIs, cycling through: a HubSpot deal's
    amount raised by 1.11, a HubSpot contact's last name changed, a WooCommerce simple product's regular
    price raised by 1.00 (a published product without a sale price, so its price changes with it). Each
    on a different record; returns what was changed (object, both ids, field)."""
    from woohub.hubspot import HubSpotHook
    from woohub.woocommerce import WooCommerceHook

    rng = random.Random(seed)
    hub, woo = HubSpotHook(), WooCommerceHook()
    simple = [p for p in shop.products if p.get("type") == "simple" and p.get("status") == "publish"
              and not p.get("sale_price") and p.get("regular_price") and str(p["id"]) in ids["product"]]
    deals = rng.sample(sorted(ids["deal"].items()), k=min(len(ids["deal"]), count))
    contacts = rng.sample(sorted(ids["contact"].items()), k=min(len(ids["contact"]), count))
    products = rng.sample(simple, k=min(len(simple), count))
    made: list[dict[str, str]] = []
    for n in range(count):
        kind = n % 3
        if kind == 0:
            key, hubspot_id = deals.pop()
            deal = hub.get_object("deals", hubspot_id, properties=["amount"]) or {}
            amount = float((deal.get("properties") or {}).get("amount") or 0) + 1.11
            hub.request("PATCH", f"/crm/v3/objects/deals/{hubspot_id}", json={"properties": {"amount": f"{amount:.2f}"}})
            made.append({"object_type": "deal", "woocommerce_id": key, "hubspot_id": hubspot_id, "field": "amount"})
        elif kind == 1:
            key, hubspot_id = contacts.pop()
            hub.request("PATCH", f"/crm/v3/objects/contacts/{hubspot_id}",
                        json={"properties": {"lastname": f"Drift{n}"}})
            made.append({"object_type": "contact", "woocommerce_id": key, "hubspot_id": hubspot_id,
                         "field": "lastname"})
        else:
            product = products.pop()
            price = f"{float(product['regular_price']) + 1:.2f}"
            woo.request("PUT", f"/products/{product['id']}", json={"regular_price": price})
            made.append({"object_type": "product", "woocommerce_id": str(product["id"]),
                         "hubspot_id": ids["product"][str(product["id"])], "field": "price"})
    return made


def drifts_found(made: list[dict[str, str]], differences: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether each made drift is exactly one difference row (by either id) and nothing else was found."""
    matched, unexplained = Counter(), []
    for row in differences:
        hits = [n for n, d in enumerate(made) if str(row.get("hubspot_id") or "") == d["hubspot_id"]
                or (str(row.get("woocommerce_id") or "") == d["woocommerce_id"]
                    and str(row.get("object_type") or "").rstrip("s") == d["object_type"])]
        if hits:
            matched[hits[0]] += 1
        else:
            unexplained.append(row)
    exact = all(matched[n] == 1 for n in range(len(made))) and not unexplained and len(differences) == len(made)
    return {"injected": len(made), "found_rows": len(differences), "exact": exact,
            "missed": [made[n] for n in range(len(made)) if matched[n] == 0],
            "found_twice": [made[n] for n in range(len(made)) if matched[n] > 1],
            "unexplained": unexplained[:20]}


# -- the measured child -----------------------------------------------------------------------------------

def reconciliation_steps() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any],
                                    Callable[..., Any] | None]:
    """``(start_snapshot, snapshot_woocommerce, snapshot_hubspot, compare_run)`` of
    :mod:`woohub.reconciliation` (the comparison ``None`` while that module does not exist: the reads are
    measured alone). The comparison runs as in a real night (not a dry run): it classifies and writes the
    differences; queuing the heals is the DAG's next step and not part of this benchmark."""
    from woohub.reconciliation.snapshot import snapshot_hubspot, snapshot_woocommerce, start_snapshot

    try:
        from woohub.reconciliation.compare import compare_run
    except ImportError:
        return start_snapshot, snapshot_woocommerce, snapshot_hubspot, None
    return start_snapshot, snapshot_woocommerce, snapshot_hubspot, compare_run


def timed(step: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = step(*args, **kwargs)
    return result, time.perf_counter() - started


def read_child(args: argparse.Namespace) -> int:
    """``--read-side``: one side's full read (``snapshot_woocommerce`` or ``snapshot_hubspot``) in this
    process, as one DAG task runs it in its own process; it starts once the imports are done (``--ready``
    written) and the parent writes a line to stdin, so the parent's clock holds no import time."""
    from woohub.sync import dag_support

    logging.getLogger("alembic").setLevel(logging.WARNING)
    _, snapshot_woocommerce, snapshot_hubspot, _ = reconciliation_steps()
    engine = dag_support.engine()
    woocommerce = args.read_side == "woocommerce"
    hook = dag_support.woocommerce_hook() if woocommerce else dag_support.hubspot_hook()
    step = snapshot_woocommerce if woocommerce else snapshot_hubspot
    baseline_max, baseline_now = peak_rss_mib(), current_rss_mib()
    args.ready.write_text("ready")
    sys.stdin.readline()
    cpu_before = cpu_seconds()
    with RssSampler() as rss:
        rows, seconds = timed(step, engine, hook, args.run_id)
    args.result.write_text(json.dumps({
        "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds() - cpu_before, 1), "rows": summary(rows),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "baseline_rss_mib": round(baseline_max, 1), "rss_before_mib": round(baseline_now, 1),
        "peak_rss_during_mib": round(rss.peak, 1), "hook_calls": dict(hook.api_calls)}, default=str))
    return 0


def run_reads(args: argparse.Namespace) -> tuple[dict[str, dict[str, Any]], float]:
    """Both reads at the same time, each in a process of its own (:func:`read_child`); their figures and the
    wall time from the common start to the end of the slower one."""
    work = args.result.parent
    children: dict[str, tuple[subprocess.Popen[bytes], Path, Path, Path]] = {}
    for side in ("woocommerce", "hubspot"):
        ready, result, log = (work / f"{args.run_id}-{side}.{suffix}" for suffix in ("ready", "json", "log"))
        command = [sys.executable, str(Path(__file__).resolve()), "--read-side", side, "--run-id", args.run_id,
                   "--ready", str(ready), "--result", str(result)]
        with log.open("wb") as out:
            children[side] = (subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT),
                              ready, result, log)
    while not all(ready.exists() for _, ready, _, _ in children.values()):
        for side, (child, _, _, log) in children.items():
            if child.poll() is not None:
                raise SystemExit(f"read_{side} died before it started; its log ({log}) ends:\n{failure_excerpt(log)}")
        time.sleep(0.05)
    started = time.perf_counter()
    for child, _, _, _ in children.values():
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        child.stdin.close()
    for child, _, _, _ in children.values():
        child.wait()
    seconds = time.perf_counter() - started
    figures = {}
    for side, (_, _, result, log) in children.items():
        if not result.exists():
            raise SystemExit(f"read_{side} failed; its log ({log}) ends:\n{failure_excerpt(log)}")
        figures[side] = json.loads(result.read_text())
    return figures, seconds


def measure_child(args: argparse.Namespace) -> int:
    """``--measure``: one reconciliation (``--run-id``): ``start_snapshot`` and the comparison in this
    process, the two reads in two processes at the same time (as the DAG's two read tasks); the figures are
    written to ``--result``."""
    from woohub.sandbox.control import SandboxControl
    from woohub.sync import dag_support

    logging.getLogger("alembic").setLevel(logging.WARNING)
    start_snapshot, _, _, compare = reconciliation_steps()
    engine = dag_support.engine()
    baseline_max, baseline_now = peak_rss_mib(), current_rss_mib()
    hubspot = SandboxControl(args.hubspot_url, timeout=900)
    woo = SandboxControl(args.woo_url, timeout=900)
    hubspot.stats(reset=True)
    woo.stats(reset=True)
    sandbox_cpu_before = process_cpu_seconds(args.sandbox_pid) if args.sandbox_pid else None
    _, start_s = timed(start_snapshot, engine, args.run_id)
    reads, reads_s = run_reads(args)
    cpu_before = cpu_seconds()
    with RssSampler() as rss:
        compared, compare_s = timed(compare, engine, args.run_id) if compare else ("compare not available", 0.0)
    compare_figures = {"seconds": round(compare_s, 1), "cpu_seconds": round(cpu_seconds() - cpu_before, 1),
                       "peak_rss_mib": round(peak_rss_mib(), 1),
                       "baseline_rss_mib": round(baseline_max, 1), "rss_before_mib": round(baseline_now, 1),
                       "peak_rss_during_mib": round(rss.peak, 1)}
    hub_stats, woo_stats = hubspot.stats(), woo.stats()
    sandbox_cpu = process_cpu_seconds(args.sandbox_pid) if args.sandbox_pid else None
    steps = {"read_woocommerce": reads["woocommerce"], "read_hubspot": reads["hubspot"], "compare": compare_figures}
    result = {
        "run_id": args.run_id, "seconds": round(start_s + reads_s + compare_s, 1),
        "start_snapshot_s": round(start_s, 2), "read_woocommerce_s": reads["woocommerce"]["seconds"],
        "read_hubspot_s": reads["hubspot"]["seconds"], "reads_s": round(reads_s, 1), "compare_s": round(compare_s, 1),
        "steps": steps, "compare_result": summary(compared),
        "peak_rss_mib": max(step["peak_rss_mib"] for step in steps.values()),
        "peak_rss_during_mib": max(step["peak_rss_during_mib"] for step in steps.values()),
        "cpu_seconds": round(sum(step["cpu_seconds"] for step in steps.values()), 1),
        "sandbox_cpu_seconds": None if sandbox_cpu is None or sandbox_cpu_before is None
        else round(sandbox_cpu - sandbox_cpu_before, 1),
        "hubspot_calls": hub_stats["requests"], "hubspot_routes": hub_stats["routes"],
        "hubspot_statuses": hub_stats["statuses"], "woocommerce_calls": woo_stats["requests"],
        "woocommerce_routes": woo_stats["routes"], "woocommerce_statuses": woo_stats["statuses"],
        "responses_429": int(hub_stats["statuses"].get("429", 0)) + int(woo_stats["statuses"].get("429", 0)),
        "snapshot_rows": snapshot_rows(engine, args.run_id), "differences": differences(engine, args.run_id),
    }
    args.result.write_text(json.dumps(result, default=str))
    return 0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """This process's peak resident set (``VmHWM`` of ``/proc/self/status``). Not ``ru_maxrss``: Linux
    carries the parent's peak into a child's ``ru_maxrss`` across fork and exec, so a child started by a
    process holding a big shop would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def current_rss_mib() -> float:
    """This process's resident set now (Linux ``/proc/self/statm``)."""
    pages_resident = int(Path("/proc/self/statm").read_text().split()[1])
    return pages_resident * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssSampler:
    """The largest resident set seen while it runs (sampled every ``interval`` s in a daemon thread): the
    reconciliation's own peak, which ``ru_maxrss`` hides when the imports peaked higher."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval, self.peak = interval, current_rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, current_rss_mib())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_mib())


def summary(value: Any) -> Any:
    """A step's return value as JSON (dataclasses and objects by their fields; big lists cut short)."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): summary(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [summary(v) for v in value[:20]]
    if value is None or isinstance(value, int | float | str | bool):
        return value
    return str(value)


def snapshot_rows(engine: Any, run_id: str) -> dict[str, dict[str, int]]:
    """Rows the run's snapshot holds per system and object type (and how many of them archived)."""
    from sqlalchemy import func, select

    from woohub.staging.schema import reconciliation_snapshot as snap

    query = select(snap.c.system, snap.c.object_type, func.count(), func.sum(snap.c.archived)).where(
        snap.c.run_id == run_id).group_by(snap.c.system, snap.c.object_type)
    rows: dict[str, dict[str, int]] = {}
    with engine.connect() as connection:
        for system, object_type, count, archived in connection.execute(query):
            rows.setdefault(system, {})[object_type] = int(count)
            rows[system][f"{object_type}_archived"] = int(archived or 0)
    return rows


def differences(engine: Any, run_id: str) -> list[dict[str, Any]]:
    """The run's difference rows (values left out: they may hold personal data)."""
    from sqlalchemy import select

    from woohub.staging.schema import reconciliation_difference as diff

    query = select(diff.c.object_type, diff.c.woocommerce_id, diff.c.hubspot_id, diff.c.kind, diff.c.field,
                   diff.c.action).where(diff.c.run_id == run_id)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def run_measured(work: Path, label: str, run_id: str, hubspot: Any, woo: Any, sandbox_pid: int) -> dict[str, Any]:
    """One reconciliation in a child process (:func:`measure_child`); its figures."""
    result_file, log = work / f"{label}.json", work / f"{label}.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", "--run-id", run_id,
               "--hubspot-url", hubspot.base_url, "--woo-url", woo.base_url, "--result", str(result_file),
               "--sandbox-pid", str(sandbox_pid)]
    started = time.perf_counter()
    with log.open("wb") as out:
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if not result_file.exists():
        raise SystemExit(f"{label}: the reconciliation child gave no result; its log ({log}) ends:\n"
                         f"{failure_excerpt(log)}")
    result = json.loads(result_file.read_text())
    result.update(process_seconds=round(time.perf_counter() - started, 1), log=str(log))
    return result


# -- one size ---------------------------------------------------------------------------------------------

def bench_size(args: argparse.Namespace, work: Path, target: int, hubspot: Any, woo: Any, sandbox_pid: int,
               first: bool) -> dict[str, Any]:
    """Seed, mirror and (unless ``--seed-only``) reconcile one size; its figures."""
    label = str(target)
    with use_staging(work, label, args.staging_url):
        print(f"\n== {target:,} records per side: seeding ...", flush=True)
        seeding = time.perf_counter()
        options, shop = seed_size(target, args.seed, hubspot, woo)
        seeded = time.perf_counter()
        mirrored = mirror(shop, hubspot, f"bench_mirror__{label}")
        mirror_s = time.perf_counter() - seeded
        counts = hubspot_counts(hubspot)
        variable = sum(1 for p in shop.products if p.get("type") == "variable")
        woo_counts = dict(mirrored.woocommerce)
        del shop
        hubspot.configure(rate_limits_enabled=True, ten_second_limit=args.rate_limit)
        time.sleep(RATE_WINDOW_SECONDS + 0.5)  # the sandbox's window counted the set-up calls
        seeding_s = time.perf_counter() - seeding
        needed_hub, needed_woo = hubspot_calls_needed(counts), woocommerce_calls_needed(woo_counts, variable)
        result: dict[str, Any] = {
            "target": target, "store": options, "records_per_side": mirrored.records,
            "hubspot_records": mirrored.hubspot, "hubspot_counts": counts, "woocommerce_records": woo_counts,
            "left_out": mirrored.left_out, "seed_store_s": round(seeded - seeding, 1),
            "mirror_s": round(mirror_s, 1), "seeding_s": round(seeding_s, 1), "rate_limit": args.rate_limit,
            "hubspot_calls_needed": needed_hub, "woocommerce_calls_needed": needed_woo,
            "limit_bound_s": round(limit_bound(needed_hub["total"], args.rate_limit), 1),
        }
        print(f"   seeded {options} + mirrored {mirrored.records:,} HubSpot records in {seeding_s:.1f} s "
              f"(store {result['seed_store_s']} s, mirror {result['mirror_s']} s); limit bound "
              f"{result['limit_bound_s']} s", flush=True)
        if args.seed_only:
            return result
        print("   reconciling (rate limits on) ...", flush=True)
        run = run_measured(work, f"reconcile-{label}", f"bench_reconcile__{label}", hubspot, woo,
                           sandbox_pid)
        result["run"] = with_ratios(run, args.rate_limit, result["limit_bound_s"])
        print(f"   {run['seconds']} s ({run['reads_s']} s reads, {run['compare_s']} s compare), "
              f"{len(run['differences'])} differences, peak {run['peak_rss_mib']} MiB", flush=True)
        if first and args.drifts:
            from woohub.sandbox.mirror import read_shop
            from woohub.woocommerce import WooCommerceHook

            made = inject_drifts(args.drifts, args.seed, mirrored.ids, read_shop(WooCommerceHook()))
            time.sleep(RATE_WINDOW_SECONDS + 0.5)
            print(f"   {len(made)} drifts made; reconciling again ...", flush=True)
            drift_run = run_measured(work, f"drifts-{label}", f"bench_reconcile_drifts__{label}", hubspot, woo,
                                     sandbox_pid)
            result["drift_run"] = {**with_ratios(drift_run, args.rate_limit, result["limit_bound_s"]),
                                   "made": made, "check": drifts_found(made, drift_run["differences"])}
        return result


def with_ratios(run: dict[str, Any], rate_limit: int, bound: float) -> dict[str, Any]:
    """The run plus its bound for the calls it made and wall / bound."""
    made = limit_bound(run["hubspot_calls"], rate_limit)
    return {**run, "bound_for_calls_made_s": round(made, 1),
            "wall_over_bound": round(run["seconds"] / bound, 2) if bound else None}


# -- report -----------------------------------------------------------------------------------------------

def print_size(size: dict[str, Any]) -> None:
    hub, woo = size["hubspot_records"], size["woocommerce_records"]
    print(f"\n{size['records_per_side']:,} records per side (target {size['target']:,}; store seed "
          f"{size['store']['seed']}: {size['store']['orders']:,} orders, {size['store']['customers']:,} customers, "
          f"{size['store']['products']:,} products)")
    print(f"  HubSpot      deals {hub.get('deals', 0):,} + contacts {hub.get('contacts', 0):,} + products "
          f"{hub.get('products', 0):,} + line items {hub.get('line_items', 0):,} = {size['records_per_side']:,}")
    lines = {k.removeprefix("line_items_"): v for k, v in woo.items() if k.startswith("line_items_")}
    print(f"  WooCommerce  orders {woo['orders']:,} (trashed {woo['trashed_orders']}) + customers "
          f"{woo['customers']:,} + guest buyers {woo.get('guest_buyers', 0):,} + products {woo['products']:,} "
          f"(trashed {woo['trashed_products']}) + variations {woo['variations']:,} + order lines "
          f"{sum(lines.values()):,} {lines}")
    print(f"  not mirrored (as the initial load leaves them): {size['left_out']}")
    print(f"  seeding (not measured): {size['seeding_s']} s = store {size['seed_store_s']} s + mirror "
          f"{size['mirror_s']} s + rate window")
    need_h, need_w = size["hubspot_calls_needed"], size["woocommerce_calls_needed"]
    print(f"  calls needed HubSpot {need_h['total']} {({k: v for k, v in need_h.items() if k != 'total'})}; "
          f"WooCommerce {need_w['total']} {({k: v for k, v in need_w.items() if k != 'total'})}")
    print(f"  limit bound  {need_h['total']} HubSpot calls / {size['rate_limit']} per 10 s = "
          f"{size['limit_bound_s']} s (WooCommerce: no rate limit, 0 s)")
    for key, title in (("run", "clean mirror"), ("drift_run", "with known drifts")):
        run = size.get(key)
        if not run:
            continue
        kinds = Counter(d["kind"] for d in run["differences"])
        print(f"  reconciliation ({title}): wall {run['seconds']} s = start {run['start_snapshot_s']} s + reads "
              f"{run['reads_s']} s (WooCommerce {run['read_woocommerce_s']} s, HubSpot {run['read_hubspot_s']} s, "
              f"in parallel) + compare {run['compare_s']} s; child process {run['process_seconds']} s, CPU "
              f"{run['cpu_seconds']} s")
        print(f"    calls made HubSpot {run['hubspot_calls']} (bound for them {run['bound_for_calls_made_s']} s), "
              f"WooCommerce {run['woocommerce_calls']}; 429 responses {run['responses_429']}")
        print(f"    wall / bound {run['wall_over_bound']} (goal <= 1.3)")
        print(f"    peak RSS {run['peak_rss_mib']} MiB, largest resident set during the steps "
              f"{run['peak_rss_during_mib']} MiB; CPU {run['cpu_seconds']} s; sandbox process (both APIs) CPU "
              f"{run['sandbox_cpu_seconds']} s")
        for name, step in run["steps"].items():
            print(f"      {name:<17} {step['seconds']:>6} s, CPU {step['cpu_seconds']:>6} s, peak RSS "
                  f"{step['peak_rss_mib']} MiB (after imports {step['baseline_rss_mib']}), resident before "
                  f"{step['rss_before_mib']} MiB, largest during {step['peak_rss_during_mib']} MiB")
        print(f"    snapshot rows {run['snapshot_rows']}")
        print(f"    differences {len(run['differences'])} {dict(kinds) or ''}")
        if key == "drift_run":
            check = run["check"]
            print(f"    drifts made {check['injected']}, found rows {check['found_rows']}, exact: {check['exact']}"
                  + (f"; missed {check['missed']}" if check["missed"] else "")
                  + (f"; found twice {check['found_twice']}" if check["found_twice"] else "")
                  + (f"; unexplained {check['unexplained']}" if check["unexplained"] else ""))
        routes = sorted(run["hubspot_routes"].items(), key=lambda item: -item[1])
        print(f"    HubSpot routes {dict(routes)}")
        print(f"    WooCommerce routes {dict(sorted(run['woocommerce_routes'].items(), key=lambda i: -i[1])[:8])}")


def print_summary(sizes: list[dict[str, Any]]) -> None:
    measured = [s for s in sizes if s.get("run")]
    if not measured:
        return
    print("\nsummary: reconciliation with the rate limit on (peak = largest VmHWM of the step processes; "
          "during = largest resident set sampled while a step ran)")
    print(f"  {'rec/side':>9}{'limit/10s':>10}{'HS calls':>9}{'needed':>7}{'bound s':>8}{'wall s':>8}{'x bound':>8}"
          f"{'429s':>6}{'peak MiB':>9}{'x first':>8}{'during':>8}{'x first':>8}{'diffs':>6}")
    first = measured[0]["run"]
    for size in measured:
        run = size["run"]
        print(f"  {size['records_per_side']:>9}{size['rate_limit']:>10}{run['hubspot_calls']:>9}"
              f"{size['hubspot_calls_needed']['total']:>7}{size['limit_bound_s']:>8}{run['seconds']:>8}"
              f"{run['wall_over_bound']:>8}{run['responses_429']:>6}{run['peak_rss_mib']:>9}"
              f"{run['peak_rss_mib'] / first['peak_rss_mib']:>8.2f}{run['peak_rss_during_mib']:>8}"
              f"{run['peak_rss_during_mib'] / first['peak_rss_during_mib']:>8.2f}{len(run['differences']):>6}")


def succeeded(sizes: list[dict[str, Any]]) -> bool:
    """Every clean mirror reconciled with no difference and no 429; the drift run (if any) found exactly
    what was made."""
    for size in sizes:
        if "run" in size and (size["run"]["differences"] or size["run"]["responses_429"]):
            return False
        if "drift_run" in size and not size["drift_run"]["check"]["exact"]:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.read_side:
        return read_child(args)
    if args.measure:
        return measure_child(args)
    from woohub.sandbox.control import SandboxControl, free_port

    work = Path(tempfile.mkdtemp(prefix="woohub-bench-reconcile-"))
    hubspot_port, woo_port = free_port(), free_port()
    set_environment(work, hubspot_port, woo_port, args.rate_limit)
    sandbox = bench_sync.start_sandbox(work, hubspot_port, woo_port)
    keep, sizes = args.keep, []
    try:
        hubspot = SandboxControl(f"http://127.0.0.1:{hubspot_port}", timeout=900)
        woo = SandboxControl(f"http://127.0.0.1:{woo_port}", timeout=900)
        hubspot.wait_until_up(60)
        woo.wait_until_up(60)
        print(f"work dir {work}; staging {'PostgreSQL' if args.staging_url else 'SQLite'}", flush=True)
        for n, target in enumerate(args.records):
            sizes.append(bench_size(args, work, target, hubspot, woo, sandbox.pid, first=n == 0))
        print("\nreconciliation benchmark: records per side = HubSpot deals + contacts + products + line items, "
              "each one WooCommerce order, customer or guest buyer, product or variation, or order line")
        for size in sizes:
            print_size(size)
        print_summary(sizes)
        if args.json:
            args.json.write_text(json.dumps({"sizes": sizes}, indent=2, default=str))
            print(f"\nfigures written to {args.json}")
        ok = args.seed_only or succeeded(sizes)
        keep |= not ok
        if not ok:
            print("\nFAILED: a clean mirror showed differences or 429s, or the drifts were not found exactly")
        return 0 if ok else 1
    except BaseException:
        keep = True
        raise
    finally:
        bench_sync.stop_process_group(sandbox)
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
