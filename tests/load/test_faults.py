"""Under injected 503s and dropped creates the load loses nothing and duplicates nothing: what fails is
dead-lettered, and a re-run without faults completes the store."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

import pandas as pd
import pytest

from tests.load.builders import associations, guest, records
from tests.load.test_deals_line_items import load_store


def test_faults_then_rerun_leave_exactly_one_record_per_source_key(
    portal: Any, hubspot: Any, engine: Any
) -> None:
    from woohub.core.dead_letters import dead_letters

    hubspot.set_faults(
        {"kind": "status", "status": 503, "rate": 0.3, "path": "batch", "seed": 3},
        {"kind": "drop", "rate": 0.1, "path": "batch/create", "seed": 4},
    )
    with_faults = load_store(portal, engine, "run-1")
    injected = sum(rule["injected"] for rule in hubspot.stats()["faults"])
    assert injected > 0
    hubspot.clear_faults()
    rerun = load_store(portal, engine, "run-2")
    assert all(r.failed == 0 for r in rerun.values()), {k: r.failures for k, r in rerun.items()}
    assert dead_letters(engine) == []

    keys = {
        "products": "woo_product_id",
        "contacts": "email",
        "deals": "woo_order_id",
        "line_items": "woo_line_item_id",
    }
    counts = {t: Counter(r["properties"][p] for r in records(hubspot, t)) for t, p in keys.items()}
    assert all(n == 1 for c in counts.values() for n in c.values())
    assert (
        len(counts["products"]),
        len(counts["contacts"]),
        len(counts["deals"]),
        len(counts["line_items"]),
    ) == (10, 6, 40, 80)
    assert len(associations(hubspot, "deals", "contacts")) == 40
    assert len(associations(hubspot, "deals", "line_items")) == 80
    assert sum(r.created for r in rerun.values()) + sum(r.created for r in with_faults.values()) == 136


def test_guest_create_that_timed_out_but_was_applied_is_adopted_not_duplicated(
    portal: Any, hubspot: Any, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from woohub.core.dead_letters import dead_letters
    from woohub.hubspot.hook import HubSpotHook
    from woohub.hubspot.load import load_contacts

    connection = json.loads(os.environ["AIRFLOW_CONN_HUBSPOT_DEFAULT"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_IMPATIENT", json.dumps({**connection, "extra": {"timeout": [5, 0.5]}})
    )
    hubspot.set_faults({"kind": "slow", "delay_seconds": 1.0, "path": "contacts/batch/create", "count": 1})
    frame = pd.DataFrame([guest("late@mail.test"), guest("slow@mail.test")])
    first = load_contacts(HubSpotHook("hubspot_impatient"), engine, frame, "run-1")
    assert first.failed == 2 and {f["error_code"] for f in first.failures} == {"AMBIGUOUS_WRITE"}
    time.sleep(1.0)  # the server finishes the create after the client gave up
    assert len(records(hubspot, "contacts")) == 2

    rerun = load_contacts(portal, engine, frame, "run-2")
    assert (rerun.updated, rerun.created, rerun.failed) == (2, 0, 0)
    assert len(records(hubspot, "contacts")) == 2 and dead_letters(engine) == []
