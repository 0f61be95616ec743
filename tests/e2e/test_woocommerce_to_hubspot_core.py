"""The run machinery end to end, through Airflow against the sandboxes: nothing lost when a run fails half
way, marks that only scheduled runs move, overlapping runs, dead letters that cap and requeue, a full resync
that rewrites what a person archived in HubSpot, and a dry run that writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import PROJECT_ROOT, Sandbox
from tests.e2e.conftest import STORE
from tests.e2e.test_woocommerce_to_hubspot import (
    at,
    hubspot_records,
    hubspot_writes,
    run_dag,
    staging_rows,
    woo,
    woo_all,
)
from tests.e2e.test_woocommerce_to_hubspot_faults import assert_everything_once, make_dead_letters_due

pytestmark = pytest.mark.usefixtures("airflow_db", "gx_root")
SQLITE_ONLY = pytest.mark.parametrize("staging_url", ["sqlite"], indirect=True)


def now_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def deal_values(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    deals = hubspot_records(sandbox, "deals", ["woo_order_id", "amount", "woo_order_status", "dealname"])
    counts = Counter(d["properties"].get("woo_order_id") for d in deals)
    assert all(n == 1 for key, n in counts.items() if key), f"duplicate deals: {counts.most_common(3)}"
    return {d["properties"]["woo_order_id"]: d for d in deals if d["properties"].get("woo_order_id")}


def usd_orders(sandbox: Sandbox, status: tuple[str, ...] = ("pending", "on-hold", "processing")) -> list[dict]:
    return [o for o in woo_all(sandbox, "orders") if o["status"] in status and o["currency"] == "USD"]


def marks(staging_url: str) -> dict[str, str]:
    return {r.stream: str(r.high_water_mark) for r in staging_rows(staging_url, "select stream, high_water_mark "
                                                                                 "from sync_state")}


def test_a_run_that_fails_after_its_extract_is_made_good_by_the_next_run(seeded: Sandbox, staging_url: str) -> None:
    """HubSpot refuses every batch write, so the run fails after staging everything; a later manual run whose
    own window holds no change loads everything the failed run staged, because "needs loading" comes from
    the ledger of what was written, not from what a run extracted."""
    seeded.hubspot.set_faults({"kind": "status", "status": 401, "method": "POST", "path": r"/objects/.*/batch/"})
    start = now_minute() - timedelta(minutes=30)
    failed = run_dag(start, scheduled=True)
    assert failed.state == "failed"
    staged = staging_rows(staging_url, f"select count(*) as n from staged_run_record where run_id = '{failed.run_id}'"
                                       " and stream = 'woocommerce.orders'")[0].n
    assert staged >= STORE["orders"] - 2 and deal_values(seeded) == {}
    assert marks(staging_url) == {}, "a failed run moved a mark"
    seeded.hubspot.clear_faults()

    healthy = run_dag(start + timedelta(minutes=15))  # a manual run: its own window is empty
    assert healthy.state == "success"
    own = staging_rows(staging_url, f"select count(*) as n from staged_run_record where run_id = '{healthy.run_id}' "
                                    "and stream = 'woocommerce.orders'")[0].n
    assert own == 0, "the healthy run's window should hold no change"
    assert_everything_once(seeded, staging_url)
    unsynced = staging_rows(staging_url, "select o.source_id from stg_woocommerce_orders o left join quarantine q on "
                                         "q.object_type = 'woocommerce.orders' and q.source_key = o.source_id and "
                                         "q.released_at is null where q.source_key is null and "
                                         "(o.synced_hash is null or o.synced_hash != o.content_hash)")
    assert unsynced == [], "orders left unsynced"


@SQLITE_ONLY
def test_a_manual_window_after_a_gap_leaves_the_gap_to_the_next_scheduled_run(seeded: Sandbox, staging_url: str) -> None:
    first = run_dag(now_minute(), scheduled=True)
    assert first.state == "success"
    mark = marks(staging_url)["woocommerce.orders"]
    synced_until = datetime.fromisoformat(mark).replace(tzinfo=UTC)
    in_gap, in_window = usd_orders(seeded)[:2]
    try:  # the schedule stops (paused); the shop goes on
        seeded.woo.configure(clock=at(synced_until + timedelta(hours=1)))
        woo(seeded, "PUT", f"/orders/{in_gap['id']}", json={"status": "completed"})
        seeded.woo.configure(clock=at(synced_until + timedelta(hours=3)))
        woo(seeded, "PUT", f"/orders/{in_window['id']}", json={"status": "completed"})
    finally:
        seeded.woo.configure(clock=None)

    window = {"window_start": at(synced_until + timedelta(hours=2, minutes=30)),
              "window_end": at(synced_until + timedelta(hours=3, minutes=30))}
    manual = run_dag(synced_until + timedelta(hours=4), window)
    assert manual.state == "success"
    deals = deal_values(seeded)
    assert deals[str(in_window["id"])]["properties"]["woo_order_status"] == "completed"
    assert deals[str(in_gap["id"])]["properties"]["woo_order_status"] == in_gap["status"], "outside its window"
    assert marks(staging_url)["woocommerce.orders"] == mark, "a manual run moved the mark"

    scheduled = run_dag(synced_until + timedelta(hours=5), scheduled=True)  # catches up from the mark
    assert scheduled.state == "success"
    assert deal_values(seeded)[str(in_gap["id"])]["properties"]["woo_order_status"] == "completed"
    assert marks(staging_url)["woocommerce.orders"] > mark


_CONCURRENT_RUN = r"""
import sys
from datetime import datetime
sys.path.insert(0, sys.argv[1])
from tests.helpers import run_dag_test
import json
run = run_dag_test("woocommerce_to_hubspot", datetime.fromisoformat(sys.argv[2]), json.loads(sys.argv[3]),
                   scheduled=sys.argv[4] == "scheduled")
print("RUN", run.run_id, run.state)
"""


def start_run(tmp_path: Path, name: str, logical_date: datetime, conf: dict, kind: str) -> subprocess.Popen[str]:
    """A DAG run in its own process with its own copy of the Airflow metadata DB (two dag.test() runs must not
    share one SQLite metadata file); staging and the sandboxes are shared, as with two real workers."""
    import json

    from tests.helpers import copy_sqlite_database

    home = Path(os.environ["AIRFLOW_HOME"])
    metadata = tmp_path / f"{name}-airflow.db"
    copy_sqlite_database(home / "airflow.db", metadata)
    env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{metadata}"}
    return subprocess.Popen([sys.executable, "-c", _CONCURRENT_RUN, str(PROJECT_ROOT), logical_date.isoformat(),
                             json.dumps(conf), kind], env=env, cwd=PROJECT_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_backfill_next_to_the_schedule_loses_and_duplicates_nothing(seeded: Sandbox, staging_url: str,
                                                                      tmp_path: Path) -> None:
    start = now_minute() - timedelta(minutes=30)
    assert run_dag(start, scheduled=True).state == "success"
    edited = usd_orders(seeded)[:6]
    for n, order in enumerate(edited):
        woo(seeded, "PUT", f"/orders/{order['id']}", json={"customer_note": f"edit {n}", "status": "completed"})
    customer = woo_all(seeded, "customers")[0]
    woo(seeded, "PUT", f"/customers/{customer['id']}", json={"first_name": "Overlapping"})

    # a backfill run of the last hour and the next scheduled run, at the same time, over the same records
    backfill = start_run(tmp_path, "backfill", start + timedelta(minutes=15),
                         {"window_start": at(start - timedelta(hours=1)), "window_end": at(now_minute() +
                                                                                          timedelta(hours=1))},
                         "manual")
    scheduled = start_run(tmp_path, "scheduled", start + timedelta(hours=1), {}, "scheduled")
    outputs = [p.communicate(timeout=600)[0] for p in (backfill, scheduled)]
    results = [line.split() for out in outputs for line in out.splitlines() if line.startswith("RUN ")]
    assert [r[2] for r in results] == ["success", "success"], "\n".join(o[-3000:] for o in outputs)
    run_ids = [r[1] for r in results]

    for run_id in run_ids:  # each run's extracted set is its own
        own = {r.source_id for r in staging_rows(staging_url, "select source_id from staged_run_record where "
                                                              f"run_id = '{run_id}' and stream = 'woocommerce.orders'")}
        assert {str(o["id"]) for o in edited} <= own, f"{run_id} lost its extracted records"
    deals = deal_values(seeded)
    for order in edited:
        assert deals[str(order["id"])]["properties"]["woo_order_status"] == "completed"
    updated = staging_rows(staging_url, "select run_id, updated, created from run_stats where object_type = 'deals' "
                                        f"and run_id in ('{run_ids[0]}', '{run_ids[1]}')")
    assert sum(r.updated for r in updated) == len(edited), f"each edited deal is written once in all: {updated}"
    assert sum(r.created for r in updated) == 0
    contacts = [c for c in hubspot_records(seeded, "contacts", ["woo_customer_id", "firstname"])
                if c["properties"].get("woo_customer_id") == str(customer["id"])]
    assert [c["properties"]["firstname"] for c in contacts] == ["Overlapping"]
    assert_everything_once(seeded, staging_url)


def hubspot_contact(sandbox: Sandbox, email: str) -> dict[str, Any]:
    response = requests.post(f"{sandbox.hubspot_url}/crm/v3/objects/contacts", timeout=30,
                             headers={"Authorization": "Bearer sandbox-token"},
                             json={"properties": {"email": email, "firstname": "Someone", "lastname": "Else"}})
    response.raise_for_status()
    return response.json()


def letter(staging_url: str, key: str) -> Any:
    rows = staging_rows(staging_url, f"select * from dead_letter where source_key = '{key}'")
    assert len(rows) == 1, rows
    return rows[0]


@SQLITE_ONLY
def test_dead_letters_cap_alert_once_and_requeue(seeded: Sandbox, staging_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOOHUB_DEAD_LETTER_MAX_ATTEMPTS", "2")
    start = now_minute() - timedelta(hours=2)
    assert run_dag(start, scheduled=True).state == "success"
    customer = woo_all(seeded, "customers")[0]
    taken = f"taken.{customer['id']}@example.org"
    other = hubspot_contact(seeded, taken)  # a contact the sync does not own holds the address
    woo(seeded, "PUT", f"/customers/{customer['id']}", json={"email": taken})
    key = f"customer:{customer['id']}"

    assert run_dag(start + timedelta(minutes=15), {"window_start": at(start), "window_end": at(
        now_minute() + timedelta(minutes=5))}).state == "success"
    first = letter(staging_url, key)
    assert (first.state, first.attempts, first.source_ref) == ("open", 1, f"woocommerce.customers:{customer['id']}")
    assert "EMAIL_CONFLICT" in first.error_code

    make_dead_letters_due(staging_url)
    assert run_dag(start + timedelta(minutes=30)).state == "success"
    exhausted = letter(staging_url, key)
    assert (exhausted.state, exhausted.attempts) == ("exhausted", 2)
    assert exhausted.alerted_at is not None, "an exhausted letter is alerted"

    make_dead_letters_due(staging_url)
    assert run_dag(start + timedelta(minutes=45)).state == "success"
    still = letter(staging_url, key)
    assert (still.state, still.attempts, str(still.alerted_at)) == ("exhausted", 2, str(exhausted.alerted_at)), \
        "an exhausted letter is neither retried nor alerted again"

    requests.delete(f"{seeded.hubspot_url}/crm/v3/objects/contacts/{other['id']}", timeout=30,
                    headers={"Authorization": "Bearer sandbox-token"}).raise_for_status()
    requeued = run_dag(start + timedelta(hours=1), {"requeue_dead_letters": True})
    assert requeued.state == "success"
    assert letter(staging_url, key).state == "resolved"
    contacts = [c for c in hubspot_records(seeded, "contacts", ["woo_customer_id", "email"])
                if c["properties"].get("woo_customer_id") == str(customer["id"])]
    assert [c["properties"]["email"] for c in contacts] == [taken]


@SQLITE_ONLY
def test_a_full_resync_rewrites_what_a_person_archived_in_hubspot(seeded: Sandbox, staging_url: str) -> None:
    start = now_minute() - timedelta(minutes=30)
    assert run_dag(start, scheduled=True).state == "success"
    order = usd_orders(seeded)[0]
    deal = deal_values(seeded)[str(order["id"])]
    requests.delete(f"{seeded.hubspot_url}/crm/v3/objects/deals/{deal['id']}", timeout=30,
                    headers={"Authorization": "Bearer sandbox-token"}).raise_for_status()

    assert run_dag(start + timedelta(minutes=15)).state == "success"
    assert str(order["id"]) not in deal_values(seeded), "unchanged in WooCommerce: a normal run writes nothing"

    assert run_dag(start + timedelta(minutes=30), {"full_resync": True}).state == "success"
    restored = deal_values(seeded)[str(order["id"])]
    assert Decimal(restored["properties"]["amount"]) == Decimal(order["total"])
    assert restored["associations"]["line items"]["results"], "its line items are linked again"
    assert_everything_once(seeded, staging_url)


@SQLITE_ONLY
def test_a_dry_run_maps_everything_and_writes_nothing(seeded: Sandbox, staging_url: str) -> None:
    writes = hubspot_writes(seeded)
    dry = run_dag(now_minute(), {"dry_run": True, "full_resync": True})
    assert dry.state == "success"
    assert hubspot_writes(seeded) == writes, "a dry run wrote to HubSpot"
    assert staging_rows(staging_url, "select count(*) as n from id_map")[0].n == 0
    assert staging_rows(staging_url, "select count(*) as n from stg_woocommerce_orders where synced_hash is not "
                                     "null")[0].n == 0
    assert marks(staging_url) == {}
    properties = requests.get(f"{seeded.hubspot_url}/crm/v3/properties/deals", timeout=30,
                              headers={"Authorization": "Bearer sandbox-token"}).json()["results"]
    assert "woo_order_id" not in {p["name"] for p in properties}, "a dry run created a property"

    real = run_dag(now_minute() + timedelta(minutes=15), scheduled=True)  # what the dry run staged loads now
    assert real.state == "success"
    assert_everything_once(seeded, staging_url)



@SQLITE_ONLY
def test_a_batch_hubspot_rejects_for_one_record_isolates_it_and_loads_the_rest(seeded: Sandbox,
                                                                              staging_url: str) -> None:
    """WooCommerce's ``is_email`` takes ``first..last@…``; HubSpot refuses it, and refuses the whole batch
    upsert of customers that holds it (400, nothing written). The load splits the batch until that customer
    is alone: the others load, the bad one is a dead letter with its own error."""
    bad_email = "first..last@example.org"
    customer = woo(seeded, "POST", "/customers", json={"email": bad_email, "first_name": "Dotty"})
    run = run_dag(now_minute(), scheduled=True)
    assert run.state == "success"

    bad = letter(staging_url, f"customer:{customer['id']}")
    assert bad.state == "open" and "INVALID_EMAIL" in bad.error_message and bad_email in bad.error_message
    assert bad.source_ref == f"woocommerce.customers:{customer['id']}"
    others = staging_rows(staging_url, "select source_key from dead_letter where object_type = 'contact' and "
                                       f"source_key != 'customer:{customer['id']}'")
    assert others == [], "only the bad contact is a dead letter"
    synced = {c["properties"].get("woo_customer_id") for c in hubspot_records(seeded, "contacts", ["woo_customer_id"])}
    customers = {str(c["id"]) for c in woo_all(seeded, "customers", role="all")}
    assert customers - synced == {str(customer["id"])}, "every other customer is a contact"
    routes = seeded.hubspot.stats()["routes"]
    upserts = sum(n for route, n in routes.items() if route == "POST /crm/v3/objects/contacts/batch/upsert")
    assert 2 <= upserts <= 12, f"the whole-batch rejection was split in {upserts} upsert calls"
