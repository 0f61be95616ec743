"""Benchmark the ``hubspot_to_woocommerce`` DAG run by Airflow (second half of ``make bench-sync``;
``BENCH_H2W_ARGS`` pass through).

Self-contained like ``scripts/bench_sync.py``, whose helpers it imports: a temporary AIRFLOW_HOME (SQLite
metadata DB, ``airflow db migrate``), a temporary SQLite staging file shared by both DAGs, a temporary copy of
``great_expectations/`` and its own ``python -m woohub.sandbox`` on free 127.0.0.1 ports. Every DAG run is
``dag.test()`` made a *scheduled* run (``tests.helpers._runs_created_as_scheduled``, as the e2e tests do) in
a child process of its own, so that its peak RSS is its own.

Set-up (not measured; HubSpot's rate limits off in the sandbox, the hooks' client-side limiter still on):

1. seeds the WooCommerce sandbox (``--products`` products, simple and variable with variations;
   ``--contacts`` customers; no orders; seed ``--seed``), gives every published, purchasable simple product
   and variation a managed stock of 100,000; HubSpot starts empty (its default pipelines and properties);
2. runs ``woocommerce_to_hubspot`` once (its first scheduled run: the full initial load), so the portal
   holds the products with ``woo_product_id`` and the contacts with ``woo_customer_id``;
3. runs ``hubspot_to_woocommerce`` once (its first scheduled run: a full load, by the list endpoints, that
   sets its high-water marks; its logical date is now, so they end before the changes below and the
   measured run is an incremental one that finds its records through CRM search);
4. through HubSpot's API (batch creates, 100 per call): ``--deals`` deals in pipeline ``default``, stage
   ``closedwon``, USD, each with 2-3 line items (``hs_product_id`` the HubSpot product of a sellable
   WooCommerce product or variation, quantity 1-3, price the WooCommerce price; the deal's amount the sum
   of its lines) and associated with one linked contact; then batch updates of ``--contacts`` contacts
   (new phone and city);
5. switches HubSpot's limits back on (``--rate-limit`` calls per rolling 10 s, 5 searches per second) and
   waits out the rolling window the set-up filled.

Measured: one scheduled run whose data interval ends ~15 minutes after now (as in
``tests/e2e/test_hubspot_to_woocommerce.py``), catching up from the marks of step 3, so its window covers
every change; then a second scheduled run with nothing changed (it should write nothing on either side).

Definitions
  records synced        orders created + customers updated (``run_stats`` rows ``orders``, ``customers``)
  API calls / record    a side's requests during the run / records synced
  WooCommerce writes    its POST/PUT/PATCH/DELETE requests; records per write call = orders created +
                        customers updated over them (and per batch route)
  HubSpot writes        as in ``bench_sync.hubspot_writes`` (searches and batch reads are reads)
  limit bound           the least wall time HubSpot's limits allow the run's calls:
                        max(search calls / 5 per s, all HubSpot calls / (rate limit / 10 s))
  peak memory           ``ru_maxrss`` of the child process that ran ``dag.test()`` (Airflow 3 runs every task
                        in that process), and its baseline after importing Airflow and parsing the DAG
  task seconds          each task instance's end - start (Airflow metadata DB)
  CPU seconds           of the ``dag.test()`` process, and of the sandbox process (both APIs) during the run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_sync  # noqa: E402  (the other direction's benchmark: its helpers are reused, not copied)

ROOT = bench_sync.ROOT
H2W, W2H = "hubspot_to_woocommerce", "woocommerce_to_hubspot"
WOO_API = "/wp-json/wc/v3"
BATCH = 100  # HubSpot's and WooCommerce's batch limit
STOCK = 100_000
SEARCHES_PER_SECOND = 5  # HubSpot's CRM search limit (the sandbox's ``search_per_second``)
RATE_WINDOW_SECONDS = 10
DEAL_TO_CONTACT, LINE_ITEM_TO_DEAL = 3, 20  # HUBSPOT_DEFINED association type ids
CITIES = ["Springfield", "Riverton", "Fairview", "Madison", "Georgetown", "Salem", "Franklin", "Clinton",
          "Greenville", "Bristol", "Oakland", "Ashland"]
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=1000, help="closed-won deals to create (default 1000)")
    parser.add_argument("--contacts", type=int, default=5000,
                        help="WooCommerce customers to seed and HubSpot contacts to change (default 5000)")
    parser.add_argument("--products", type=int, default=200, help="WooCommerce products to seed (default 200)")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the store and the deals (default 42)")
    parser.add_argument("--rate-limit", type=int, default=100,
                        help="HubSpot calls per rolling 10 s in the measured runs, enforced by the sandbox and "
                             "the hooks (default 100, HubSpot's real limit)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, DBs)")
    # one dag.test() in this process (the child the parent starts per run)
    parser.add_argument("--run-dag", help=argparse.SUPPRESS)
    parser.add_argument("--logical-date", help=argparse.SUPPRESS)
    parser.add_argument("--hubspot-url", help=argparse.SUPPRESS)
    parser.add_argument("--woo-url", help=argparse.SUPPRESS)
    parser.add_argument("--staging", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# -- one DAG run in a child process ---------------------------------------------------------------------

def run_child(args: argparse.Namespace) -> int:
    """``--run-dag``: one scheduled ``dag.test()`` with ``bench_sync.run_once``'s figures, plus the run's
    whole ``run_stats`` and the RSS before the run, written to ``--result``."""
    sys.path.insert(0, str(ROOT))
    from airflow.dag_processing.dagbag import DagBag

    from tests.helpers import _runs_created_as_scheduled
    from woohub.sandbox.control import SandboxControl

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{args.run_dag}.py"))
    if args.run_dag not in bag.dags:
        print(f"{args.run_dag} did not load: {bag.import_errors}", flush=True)
        return 2
    baseline = bench_sync.maxrss_mib(resource.RUSAGE_SELF)
    hubspot = SandboxControl(args.hubspot_url, timeout=900)
    woo = SandboxControl(args.woo_url, timeout=900)
    cpu_before = cpu_seconds_self()
    with _runs_created_as_scheduled():
        result = bench_sync.run_once(bag.dags[args.run_dag], datetime.fromisoformat(args.logical_date),
                                     args.staging, hubspot, woo, {})
    result["cpu_seconds_self"] = round(cpu_seconds_self() - cpu_before, 1)
    result["baseline_rss_mib_self"] = round(baseline, 1)
    result["run_stats"] = bench_sync.run_stats(args.staging, result["run_id"])
    windows = bench_sync.task_windows(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db", result["run_id"])
    result["task_seconds"] = {task: task_seconds(window) for task, window in windows.items()}
    args.result.write_text(json.dumps(result, default=str))
    return 0


def cpu_seconds_self() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def task_seconds(window: tuple[str | None, str | None]) -> float | None:
    """A task instance's duration from its ``(start_date, end_date)``."""
    start, end = window
    if start is None or end is None:
        return None
    return round((datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds(), 1)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a running process (Linux ``/proc``), ``None`` where unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def failure_excerpt(log: Path, lines: int = 60) -> str:
    """The last traceback in a child's log (or its last lines when there is none)."""
    text = log.read_text(errors="replace").splitlines()
    starts = [n for n, line in enumerate(text) if "Traceback (most recent call last)" in line]
    return "\n".join(text[starts[-1]: starts[-1] + lines] if starts else text[-lines:])


@dataclass(frozen=True)
class Runner:
    """Starts the child processes that run the DAGs against one pair of sandboxes and one staging DB."""

    work: Path
    hubspot_url: str
    woo_url: str
    staging: Path
    sandbox_pid: int

    def run(self, label: str, dag_id: str, logical_date: datetime) -> dict[str, Any]:
        """One scheduled run of ``dag_id`` in a child process; its figures (see :func:`run_child`), its
        process wall time and log. A failed run's traceback is printed."""
        result_file, log = self.work / f"{label}.json", self.work / f"{label}.log"
        command = [sys.executable, str(Path(__file__).resolve()), "--run-dag", dag_id,
                   "--logical-date", logical_date.isoformat(), "--hubspot-url", self.hubspot_url,
                   "--woo-url", self.woo_url, "--staging", str(self.staging), "--result", str(result_file)]
        started, sandbox_cpu = time.perf_counter(), process_cpu_seconds(self.sandbox_pid)
        with log.open("wb") as out:
            subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
        sandbox_cpu_after = process_cpu_seconds(self.sandbox_pid)
        if not result_file.exists():
            raise SystemExit(f"{label}: the child process gave no result; its log ({log}) ends:\n"
                             f"{failure_excerpt(log)}")
        result = json.loads(result_file.read_text())
        result.update(process_seconds=round(time.perf_counter() - started, 1), log=str(log),
                      sandbox_cpu_seconds=None if None in (sandbox_cpu, sandbox_cpu_after)
                      else round(sandbox_cpu_after - sandbox_cpu, 1))
        if result["state"] != "success":
            failed = {t: s for t, s in result["task_states"].items() if s != "success"}
            print(f"{label}: {dag_id} run {result['state']}, tasks {failed}; last traceback in {log}:\n"
                  f"{failure_excerpt(log)}", flush=True)
        return result


def next_logical_date(ahead: timedelta = timedelta(0), *, after: datetime | None = None) -> datetime:
    """Now + ``ahead`` to the second, later than ``after`` (each run gets its own logical date)."""
    moment = datetime.now(UTC).replace(microsecond=0) + ahead
    return max(moment, after + timedelta(seconds=1)) if after else moment


# -- set-up through the vendor APIs ---------------------------------------------------------------------

class VendorApi:
    """Set-up calls to one sandbox's vendor API with the credentials of the DAG's connection."""

    def __init__(self, base_url: str, session: requests.Session) -> None:
        self.base_url, self.session = base_url.rstrip("/"), session
        self.calls = 0

    @classmethod
    def hubspot(cls, base_url: str) -> VendorApi:
        session = requests.Session()
        token = json.loads(os.environ["AIRFLOW_CONN_HUBSPOT_DEFAULT"])["password"]
        session.headers["Authorization"] = f"Bearer {token}"
        return cls(base_url, session)

    @classmethod
    def woocommerce(cls, base_url: str) -> VendorApi:
        from requests_oauthlib import OAuth1

        connection = json.loads(os.environ["AIRFLOW_CONN_WOOCOMMERCE_DEFAULT"])
        session = requests.Session()
        session.auth = OAuth1(connection["login"], connection["password"], signature_method="HMAC-SHA256")
        return cls(base_url + WOO_API, session)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        self.calls += 1
        response = self.session.request(method, self.base_url + path, timeout=300, **kwargs)
        if not response.ok:
            raise SystemExit(f"set-up call {method} {path}: {response.status_code} {response.text[:800]}")
        return response.json() if response.content else None

    def pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every record of a WooCommerce listing (``per_page`` 100)."""
        records, page = [], 1
        while True:
            batch = self.call("GET", path, params={"per_page": BATCH, "page": page, **params})
            records += batch
            if len(batch) < BATCH:
                return records
            page += 1


def chunks(items: list[Any], size: int = BATCH) -> list[list[Any]]:
    return [items[n: n + size] for n in range(0, len(items), size)]


def sellable_catalog(woo: VendorApi) -> list[dict[str, Any]]:
    """The store's published, purchasable simple products and variations (not variable parents)."""
    sellable = []
    for product in woo.pages("/products", status="publish"):
        if product["type"] == "simple" and product["purchasable"]:
            sellable.append({"id": product["id"], "parent_id": 0, "name": product["name"],
                             "price": product["price"]})
        elif product["type"] == "variable":
            for variation in woo.pages(f"/products/{product['id']}/variations"):
                if variation["purchasable"] and variation["status"] == "publish":
                    sizes = ", ".join(str(a.get("option")) for a in variation.get("attributes") or [])
                    sellable.append({"id": variation["id"], "parent_id": product["id"],
                                     "name": f"{product['name']} - {sizes}", "price": variation["price"]})
    return sellable


def stock_up(woo: VendorApi, catalog: list[dict[str, Any]], quantity: int = STOCK) -> None:
    """Managed stock of ``quantity`` for every product and variation of ``catalog`` (batch updates)."""
    stock = {"manage_stock": True, "stock_quantity": quantity}
    simple = [{"id": p["id"], **stock} for p in catalog if not p["parent_id"]]
    for batch in chunks(simple):
        woo.call("POST", "/products/batch", json={"update": batch})
    by_parent: dict[int, list[dict[str, Any]]] = {}
    for p in catalog:
        if p["parent_id"]:
            by_parent.setdefault(p["parent_id"], []).append({"id": p["id"], **stock})
    for parent, variations in by_parent.items():
        for batch in chunks(variations):
            woo.call("POST", f"/products/{parent}/variations/batch", json={"update": batch})


def portal_links(hubspot: Any) -> tuple[dict[int, str], dict[int, dict[str, Any]]]:
    """From the HubSpot sandbox's admin snapshot (not counted, not rate limited): WooCommerce product id ->
    HubSpot product id, and WooCommerce customer id -> the linked contact (``id`` and ``properties``)."""
    records = hubspot.state()["portal"]["records"]

    def linked(object_type: str, prop: str) -> dict[int, dict[str, Any]]:
        return {int(r["properties"][prop]): r for r in records.get(object_type, [])
                if not r["archived"] and str(r["properties"].get(prop) or "").isdigit()}

    products = {woo_id: r["id"] for woo_id, r in linked("products", "woo_product_id").items()}
    return products, linked("contacts", "woo_customer_id")


@dataclass(frozen=True)
class DealPlan:
    """One deal to create: its name, contact and lines ``(HubSpot product id, name, quantity, unit price)``."""

    name: str
    contact_id: str
    lines: list[tuple[str, str, int, str]]

    @property
    def amount(self) -> str:
        return str(sum((Decimal(price) * quantity for _, _, quantity, price in self.lines), Decimal("0.00")))


def plan_deals(rng: random.Random, count: int, catalog: list[dict[str, Any]], products: dict[int, str],
               contacts: dict[int, dict[str, Any]]) -> list[DealPlan]:
    """``count`` deals of 2-3 distinct products each (quantity 1-3, the WooCommerce price), each for a
    random linked contact."""
    offered = [p for p in catalog if p["id"] in products]
    if len(offered) < 3:
        raise SystemExit(f"only {len(offered)} sellable products are in HubSpot; seed more (--products)")
    contact_ids = [contacts[c]["id"] for c in sorted(contacts)]
    plans = []
    for n in range(count):
        chosen = rng.sample(offered, rng.choice([2, 3]))
        lines = [(products[p["id"]], p["name"], rng.randint(1, 3), p["price"]) for p in chosen]
        plans.append(DealPlan(f"Bench upsell {n + 1:05d}", rng.choice(contact_ids), lines))
    return plans


def association(to_id: str, type_id: int) -> dict[str, Any]:
    return {"to": {"id": to_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}


def create_deals(hubspot: VendorApi, plans: list[DealPlan]) -> dict[str, str]:
    """The deals (associated with their contacts), then their line items (associated with their deal),
    through batch creates; deal name -> HubSpot deal id."""
    deal_ids: dict[str, str] = {}
    for batch in chunks(plans):
        inputs = [{"properties": {"dealname": p.name, "pipeline": "default", "dealstage": "closedwon",
                                  "deal_currency_code": "USD", "amount": p.amount},
                   "associations": [association(p.contact_id, DEAL_TO_CONTACT)]} for p in batch]
        answer = hubspot.call("POST", "/crm/v3/objects/deals/batch/create", json={"inputs": inputs})
        deal_ids.update({r["properties"]["dealname"]: r["id"] for r in answer["results"]})  # any order
    items = [{"properties": {"name": name, "quantity": str(quantity), "price": price, "hs_product_id": product,
                             "hs_line_item_currency_code": "USD"},
              "associations": [association(deal_ids[p.name], LINE_ITEM_TO_DEAL)]}
             for p in plans for product, name, quantity, price in p.lines]
    for batch in chunks(items):
        hubspot.call("POST", "/crm/v3/objects/line_items/batch/create", json={"inputs": batch})
    return deal_ids


def change_contacts(hubspot: VendorApi, rng: random.Random, contacts: dict[int, dict[str, Any]],
                    count: int) -> dict[int, dict[str, str]]:
    """A new phone and city for the first ``count`` linked contacts (batch updates); WooCommerce customer
    id -> the new values."""
    changes: dict[int, dict[str, str]] = {}
    for n, customer_id in enumerate(sorted(contacts)[:count]):
        old_city = contacts[customer_id]["properties"].get("city")
        city = rng.choice([c for c in CITIES if c != old_city])
        changes[customer_id] = {"phone": f"555-{1000 + n:04d}", "city": city}
    inputs = [{"id": contacts[c]["id"], "properties": values} for c, values in changes.items()]
    for batch in chunks(inputs):
        hubspot.call("POST", "/crm/v3/objects/contacts/batch/update", json={"inputs": batch})
    return changes


# -- figures ----------------------------------------------------------------------------------------------

def woo_writes(routes: dict[str, int]) -> dict[str, int]:
    """WooCommerce write requests per route, plus ``total``."""
    writes = {route: count for route, count in routes.items() if route.partition(" ")[0] in WRITE_METHODS}
    return {**writes, "total": sum(writes.values())}


def search_calls(routes: dict[str, int]) -> dict[str, int]:
    """HubSpot CRM search requests per object type, plus ``total``."""
    searches: Counter[str] = Counter()
    for route, count in routes.items():
        method, _, path = route.partition(" ")
        if method == "POST" and path.endswith("/search"):
            searches[path.split("/")[-2]] += count
    return {**searches, "total": sum(searches.values())}


def per(numerator: float, denominator: float, digits: int = 2) -> float | None:
    return round(numerator / denominator, digits) if denominator else None


def figures(run: dict[str, Any], rate_limit: int) -> dict[str, Any]:
    """The measured figures of one ``hubspot_to_woocommerce`` run (see the module docstring)."""
    stats = run["run_stats"]
    orders, customers = stats.get("orders", {}), stats.get("customers", {})
    created, updated = orders.get("created", 0), customers.get("updated", 0)
    synced = created + updated
    hub_routes, woo_routes = run["hubspot_routes"], run["woocommerce_routes"]
    woo_write = woo_writes(woo_routes)
    order_calls = woo_routes.get(f"POST {WOO_API}/orders/batch", 0)
    customer_calls = woo_routes.get(f"POST {WOO_API}/customers/batch", 0)
    searches = search_calls(hub_routes)
    hub_calls = run["hubspot_calls"]
    by_search = searches["total"] / SEARCHES_PER_SECOND
    by_burst = hub_calls / (rate_limit / RATE_WINDOW_SECONDS)
    bound = max(by_search, by_burst)
    return {
        "state": run["state"], "seconds": run["seconds"], "process_seconds": run["process_seconds"],
        "task_seconds": run["task_seconds"], "cpu_seconds_dag_process": run["cpu_seconds_self"],
        "cpu_seconds_sandboxes": run["sandbox_cpu_seconds"],
        "orders_created": created, "orders_rejected": orders.get("quarantined", 0),
        "orders_failed": orders.get("failed", 0), "customers_updated": updated,
        "customers_failed": customers.get("failed", 0), "records_synced": synced,
        "hubspot_calls": hub_calls, "woocommerce_calls": run["woocommerce_calls"],
        "hubspot_calls_per_synced_record": per(hub_calls, synced, 3),
        "woocommerce_calls_per_synced_record": per(run["woocommerce_calls"], synced, 3),
        "hubspot_write_calls": bench_sync.hubspot_writes(hub_routes)["total"],
        "woocommerce_write_calls": woo_write["total"],
        "orders_batch_calls": order_calls, "orders_per_batch_call": per(created, order_calls, 1),
        "customers_batch_calls": customer_calls, "customers_per_batch_call": per(updated, customer_calls, 1),
        "records_per_woocommerce_write_call": per(synced, woo_write["total"], 1),
        "hubspot_search_calls": searches,
        "limit_bound_seconds": round(bound, 1), "limit_bound_by_search_s": round(by_search, 1),
        "limit_bound_by_rate_limit_s": round(by_burst, 1),
        "wall_over_bound": per(run["seconds"], bound),
        "responses_429": run["responses_429"],
        "peak_rss_mib": run["peak_rss_mib_self"], "baseline_rss_mib": run["baseline_rss_mib_self"],
        "run_stats": stats, "hubspot_routes": hub_routes, "woocommerce_routes": woo_routes,
        "hubspot_statuses": run["hubspot_statuses"], "woocommerce_statuses": run["woocommerce_statuses"],
        "hubspot_after_run": run["hubspot_after_run"], "task_states": run["task_states"],
        "logical_date": run["logical_date"], "run_id": run["run_id"], "log": run["log"],
    }


def outcome_check(hubspot: Any, woo: Any, changes: dict[int, dict[str, str]]) -> dict[str, int]:
    """What the stores hold after the measured run (admin snapshots, not counted): orders made from deals
    (and for how many distinct deals), customers carrying their contact's new phone and city, and deals by
    ``woo_sync_status``."""
    store = woo.state()["store"]
    deal_refs = [str(m["value"]) for o in store["orders"] for m in o.get("meta_data") or []
                 if m.get("key") == "hubspot_deal_id"]
    updated = sum(1 for c in store["customers"] if c["id"] in changes
                  and (c.get("billing") or {}).get("phone") == changes[c["id"]]["phone"]
                  and (c.get("billing") or {}).get("city") == changes[c["id"]]["city"])
    deals = hubspot.state()["portal"]["records"].get("deals", [])
    statuses = Counter(str(d["properties"].get("woo_sync_status") or "none") for d in deals if not d["archived"])
    return {"orders_with_hubspot_deal_id": len(deal_refs), "distinct_deals_with_orders": len(set(deal_refs)),
            "customers_with_new_phone_and_city": updated,
            **{f"deals_woo_sync_status_{status}": count for status, count in sorted(statuses.items())}}


# -- report -----------------------------------------------------------------------------------------------

def print_routes(title: str, routes: dict[str, int]) -> None:
    print(f"  {title}:")
    for route, count in sorted(routes.items(), key=lambda item: (-item[1], item[0])):
        print(f"    {count:>7}  {route}")


def print_run_stats(stats: dict[str, dict[str, int]]) -> None:
    print(f"  {'run_stats':<26}{'extracted':>10}{'valid':>8}{'quar.':>7}{'created':>9}{'updated':>9}"
          f"{'unchgd':>8}{'failed':>8}{'api_calls':>10}")
    for name, row in sorted(stats.items()):
        print(f"  {name:<26}{row['extracted']:>10}{row['valid']:>8}{row['quarantined']:>7}{row['created']:>9}"
              f"{row['updated']:>9}{row['unchanged']:>8}{row['failed']:>8}{row['api_calls']:>10}")


def print_tasks(run: dict[str, Any]) -> None:
    tasks = ", ".join(f"{task} {seconds}" for task, seconds in sorted(
        run["task_seconds"].items(), key=lambda item: -(item[1] or 0)))
    print(f"  task seconds: {tasks}")
    print(f"  CPU seconds during the run: dag.test() process {run['cpu_seconds_dag_process']}, sandboxes "
          f"(both APIs, one process) {run['cpu_seconds_sandboxes']}")


def print_report(result: dict[str, Any]) -> None:
    size, setup, m, second = result["size"], result["setup"], result["measured_run"], result["second_run"]
    print(f"\nhubspot_to_woocommerce sync benchmark: {size['deals']} closed-won deals (2-3 line items), "
          f"{setup['contacts_changed']} contact changes (phone, city); store {size['products']} products "
          f"({setup['sellable_products']} sellable incl. variations), {size['contacts']} customers "
          f"(seed {size['seed']}); HubSpot limits enforced: {result['rate_limit']} calls / 10 s, "
          f"{SEARCHES_PER_SECOND} searches / s")
    print(f"set-up: woocommerce_to_hubspot initial load {setup['w2h_state']} in {setup['w2h_seconds']} s; "
          f"hubspot_to_woocommerce initial load {setup['h2w_initial_state']} in {setup['h2w_initial_seconds']} s "
          f"(HubSpot writes {setup['h2w_initial_hubspot_writes']}, WooCommerce writes "
          f"{setup['h2w_initial_woocommerce_writes']}); {setup['deals_created']} deals + line items and "
          f"{setup['contacts_changed']} contact changes in {setup['hubspot_setup_calls']} HubSpot calls")
    slowest = sorted(setup["h2w_initial_task_seconds"].items(), key=lambda item: -(item[1] or 0))[:3]
    print(f"  hubspot_to_woocommerce initial load, slowest tasks: {', '.join(f'{k} {v} s' for k, v in slowest)}")
    print(f"\nmeasured run (scheduled, logical date {m['logical_date']}): {m['state']}, wall {m['seconds']} s "
          f"(child process {m['process_seconds']} s)")
    print_run_stats(m["run_stats"])
    print_tasks(m)
    print(f"  records synced             {m['records_synced']} = orders created {m['orders_created']} + "
          f"customers updated {m['customers_updated']} (orders rejected {m['orders_rejected']}, failed "
          f"{m['orders_failed']}; customers failed {m['customers_failed']})")
    print(f"  HubSpot calls              {m['hubspot_calls']} = {m['hubspot_calls_per_synced_record']} per synced "
          f"record ({m['hubspot_write_calls']} writes)")
    print(f"  WooCommerce calls          {m['woocommerce_calls']} = {m['woocommerce_calls_per_synced_record']} per "
          f"synced record ({m['woocommerce_write_calls']} writes)")
    print(f"  records per Woo write call {m['records_per_woocommerce_write_call']} (orders/batch: "
          f"{m['orders_batch_calls']} calls, {m['orders_per_batch_call']} orders each; customers/batch: "
          f"{m['customers_batch_calls']} calls, {m['customers_per_batch_call']} customers each)")
    searches = {k: v for k, v in m["hubspot_search_calls"].items() if k != "total"}
    print(f"  HubSpot search calls       {m['hubspot_search_calls']['total']} {searches}")
    print(f"  HubSpot limit bound        max({m['hubspot_search_calls']['total']} searches / "
          f"{SEARCHES_PER_SECOND} per s = {m['limit_bound_by_search_s']} s, {m['hubspot_calls']} calls / "
          f"{result['rate_limit']} per 10 s = {m['limit_bound_by_rate_limit_s']} s) = {m['limit_bound_seconds']} s")
    print(f"  wall time vs bound         {m['seconds']} s vs {m['limit_bound_seconds']} s = "
          f"{m['wall_over_bound']} x the bound")
    print(f"  429 responses              {m['responses_429']}")
    print(f"  peak memory                {m['peak_rss_mib']} MiB max RSS of the dag.test() process (baseline "
          f"after importing Airflow and parsing the DAG {m['baseline_rss_mib']} MiB)")
    print_routes("HubSpot requests per route", m["hubspot_routes"])
    print_routes("WooCommerce requests per route", m["woocommerce_routes"])
    check = result["outcome"]
    print(f"  after the run: {check}")
    dups = {k: v for k, v in m["hubspot_after_run"].items() if k.startswith("duplicate") and v}
    print(f"  HubSpot duplicates: {dups or 'none'}")
    print(f"\nsecond run (nothing changed, logical date {second['logical_date']}): {second['state']}, "
          f"{second['seconds']} s; writes: HubSpot {second['hubspot_write_calls']}, WooCommerce "
          f"{second['woocommerce_write_calls']}; calls: HubSpot {second['hubspot_calls']} (search "
          f"{second['hubspot_search_calls']['total']}), WooCommerce {second['woocommerce_calls']}; "
          f"records written {second['records_synced']}; 429s {second['responses_429']}; peak "
          f"{second['peak_rss_mib']} MiB")
    print_run_stats(second["run_stats"])
    print_tasks(second)


# -- the benchmark ----------------------------------------------------------------------------------------

def benchmark(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Set up, run and measure (see the module docstring); the figures."""
    from woohub.sandbox.control import SandboxControl, free_port

    hubspot_port, woo_port = free_port(), free_port()
    staging = bench_sync.set_environment(work, hubspot_port, woo_port, args.rate_limit)
    sandbox = bench_sync.start_sandbox(work, hubspot_port, woo_port)
    try:
        hubspot = SandboxControl(f"http://127.0.0.1:{hubspot_port}", timeout=900)
        woo = SandboxControl(f"http://127.0.0.1:{woo_port}", timeout=900)
        hubspot.wait_until_up(60)
        woo.wait_until_up(60)
        runner = Runner(work, hubspot.base_url, woo.base_url, staging, sandbox.pid)
        hub_api, woo_api = VendorApi.hubspot(hubspot.base_url), VendorApi.woocommerce(woo.base_url)
        print(f"work dir {work}; seeding {args.contacts} customers and {args.products} products ...", flush=True)
        woo.reset(seed=args.seed, customers=args.contacts, products=args.products, orders=0)
        hubspot.reset(empty=True)
        hubspot.configure(rate_limits_enabled=False)  # set-up only; switched back on before the measured run
        catalog = sellable_catalog(woo_api)
        stock_up(woo_api, catalog)
        bench_sync.migrate_airflow_db(work)

        print("set-up: woocommerce_to_hubspot initial load ...", flush=True)
        w2h = runner.run("setup-woocommerce_to_hubspot", W2H, next_logical_date())
        if w2h["state"] != "success":
            raise SystemExit("the woocommerce_to_hubspot set-up run failed")
        print(f"  {w2h['state']} in {w2h['seconds']} s; hubspot_to_woocommerce initial load ...", flush=True)
        initial = runner.run("setup-hubspot_to_woocommerce", H2W, next_logical_date())
        products, contacts = portal_links(hubspot)
        print(f"  {initial['state']} in {initial['seconds']} s; portal: {len(products)} linked products, "
              f"{len(contacts)} linked contacts; creating {args.deals} deals ...", flush=True)
        rng = random.Random(args.seed)
        plans = plan_deals(rng, args.deals, catalog, products, contacts)
        deal_ids = create_deals(hub_api, plans)
        changes = change_contacts(hub_api, rng, contacts, args.contacts)
        hubspot.configure(rate_limits_enabled=True, ten_second_limit=args.rate_limit)
        time.sleep(RATE_WINDOW_SECONDS + 0.5)  # the limiter counted the set-up calls: let its window pass

        print(f"  {len(deal_ids)} deals, {len(changes)} contact changes in {hub_api.calls} calls; measured run "
              "...", flush=True)
        measured = runner.run("measured-hubspot_to_woocommerce", H2W, next_logical_date(timedelta(minutes=15)))
        outcome = outcome_check(hubspot, woo, changes)
        print(f"  {measured['state']} in {measured['seconds']} s; second run (nothing changed) ...", flush=True)
        second = runner.run("second-hubspot_to_woocommerce", H2W,
                            next_logical_date(timedelta(minutes=15),
                                              after=datetime.fromisoformat(measured["logical_date"])))
        return {
            "size": {"deals": args.deals, "contacts": args.contacts, "products": args.products, "seed": args.seed},
            "rate_limit": args.rate_limit,
            "setup": {"w2h_state": w2h["state"], "w2h_seconds": w2h["seconds"],
                      "h2w_initial_state": initial["state"], "h2w_initial_seconds": initial["seconds"],
                      "h2w_initial_hubspot_writes": bench_sync.hubspot_writes(initial["hubspot_routes"])["total"],
                      "h2w_initial_woocommerce_writes": woo_writes(initial["woocommerce_routes"])["total"],
                      "h2w_initial_task_seconds": initial["task_seconds"],
                      "h2w_initial_run_stats": initial["run_stats"],
                      "sellable_products": len(catalog), "linked_products": len(products),
                      "linked_contacts": len(contacts), "deals_created": len(deal_ids),
                      "line_items_created": sum(len(p.lines) for p in plans), "contacts_changed": len(changes),
                      "hubspot_setup_calls": hub_api.calls},
            "measured_run": figures(measured, args.rate_limit),
            "outcome": outcome,
            "second_run": figures(second, args.rate_limit),
            "work_dir": str(work) if args.keep else None,
        }
    finally:
        bench_sync.stop_process_group(sandbox)


def succeeded(result: dict[str, Any]) -> bool:
    """Both runs succeeded, every deal became one order, every change reached its customer, and the
    second run wrote nothing."""
    m, second, outcome = result["measured_run"], result["second_run"], result["outcome"]
    return (m["state"] == second["state"] == "success"
            and m["orders_created"] == outcome["distinct_deals_with_orders"] == outcome[
                "orders_with_hubspot_deal_id"] == result["setup"]["deals_created"]
            and outcome["customers_with_new_phone_and_city"] == result["setup"]["contacts_changed"]
            and second["hubspot_write_calls"] == second["woocommerce_write_calls"] == 0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.run_dag:
        return run_child(args)
    work = Path(tempfile.mkdtemp(prefix="woohub-bench-h2w-"))
    keep = args.keep
    try:
        result = benchmark(args, work)
        print_report(result)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, default=str))
            print(f"\nfigures written to {args.json}")
        ok = succeeded(result)
        keep |= not ok
        if not ok:
            print("\nFAILED: see the runs above (a run failed, a deal or a contact change did not arrive, or "
                  "the second run wrote)")
        return 0 if ok else 1
    except BaseException:
        keep = True
        raise
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
