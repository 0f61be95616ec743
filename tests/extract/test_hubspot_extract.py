"""HubSpot extraction against the HubSpot sandbox: the window on the modification time (half open, many deals
on one timestamp), what comes with a deal (associations, line items, products,
contacts) and how many calls that costs, rechecked deals, full resyncs, contacts, the search rate limit."""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Sandbox

LINE_ITEM_TO_DEAL, DEAL_TO_CONTACT = 20, 3
DEAL_KEYS = {"id", "properties", "createdAt", "updatedAt", "archived", "associations"}


def _connection(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, conn_id: str, **extra: Any) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(
        {"conn_type": "http", "host": sandbox.hubspot_url, "password": "sandbox-token", "extra": extra}))
    return conn_id


@pytest.fixture
def portal(sandbox: Sandbox) -> Iterator[Sandbox]:
    """An empty portal, searchable at once, without server-side rate limits; default settings afterwards."""
    sandbox.hubspot.reset(empty=True)
    sandbox.hubspot.configure(search_index_delay_seconds=0, rate_limits_enabled=False)
    yield sandbox
    sandbox.hubspot.reset(empty=True)


@pytest.fixture
def hook(portal: Sandbox, monkeypatch: pytest.MonkeyPatch):
    from tests.hooks.policies import FAST_RETRIES
    from woohub.hubspot import HubSpotHook

    return HubSpotHook(_connection(monkeypatch, portal, "hs_extract", rate_limits_enabled=False),
                       retry_policy=FAST_RETRIES)


@pytest.fixture
def engine(tmp_path: Path):
    from woohub.staging.database import engine_for_url, migrate

    engine = engine_for_url(f"sqlite:///{tmp_path / 'staging.db'}")
    migrate(engine)
    return engine


def _created(outcomes: list[Any]) -> list[str]:
    assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok][:3]
    return [str(o.id) for o in outcomes]


def create_deals(hook, count: int, **properties: Any) -> list[str]:
    """``count`` deals; each batch of 100 shares one ``hs_lastmodifieddate`` (one sandbox write)."""
    deals = [{"dealname": f"Deal {n}", "pipeline": "default", "dealstage": "closedwon", "amount": "10",
              "deal_currency_code": "USD", **properties} for n in range(count)]
    return _created(hook.batch_create("deals", deals))


def create_line_items(hook, lines: list[tuple[str, str]]) -> list[str]:
    """One line item (2 x 5) per ``(deal id, product id)``, attached to the deal on create."""
    items = [{"properties": {"name": f"Line {n}", "quantity": "2", "price": "5", "hs_product_id": product_id},
              "associations": [{"to": {"id": deal_id}, "types": [
                  {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": LINE_ITEM_TO_DEAL}]}]}
             for n, (deal_id, product_id) in enumerate(lines)]
    return _created(hook.batch_create("line_items", items))


def modified_at(hook, object_type: str, ids: list[str]) -> set[str]:
    """The distinct ``hs_lastmodifieddate`` values of these records (as HubSpot returns them)."""
    return {r["properties"]["hs_lastmodifieddate"]
            for r in hook.batch_read(object_type, ids, properties=["hs_lastmodifieddate"])}


def naive(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def later_batch(hook, count: int, after: set[str], **properties: Any) -> list[str]:
    """``count`` deals modified strictly later than the timestamps ``after`` (waits a millisecond or two)."""
    time.sleep(0.003)
    ids = create_deals(hook, count, **properties)
    assert min(modified_at(hook, "deals", ids)) > max(after)
    return ids


def staged(engine, stream: str) -> dict[str, dict[str, Any]]:
    from woohub.staging import repository

    return {r.source_id: r.payload for r in repository.staged_records(engine, stream)}


def test_deals_of_the_window_come_with_associations_line_items_products_and_contacts(hook, engine) -> None:
    from woohub.core.extract import ExtractWindow
    from woohub.hubspot.extract import extract_deals
    from woohub.staging.schema import stg_hubspot_deals

    products = _created(hook.batch_create("products", [{"name": f"P{n}", "hs_sku": f"SKU-{n}", "price": "5"}
                                                       for n in range(3)]))
    contacts = _created(hook.batch_create("contacts", [{"email": f"buyer{n}@example.com", "firstname": f"B{n}"}
                                                       for n in range(3)]))
    before = create_deals(hook, 2)
    inside = later_batch(hook, 3, modified_at(hook, "deals", before))
    after = later_batch(hook, 2, modified_at(hook, "deals", inside))
    items = {inside[0]: create_line_items(hook, [(inside[0], products[0]), (inside[0], products[1])]),
             inside[1]: create_line_items(hook, [(inside[1], products[1])]),
             before[0]: create_line_items(hook, [(before[0], products[2])])}
    hook.batch_associate("deals", "contacts", [(inside[0], contacts[0]), (inside[0], contacts[1]),
                                               (inside[2], contacts[1]), (after[0], contacts[2])],
                         association_type_id=DEAL_TO_CONTACT)
    (start,) = modified_at(hook, "deals", inside)
    (end,) = modified_at(hook, "deals", after)

    calls_before = dict(hook.api_calls)
    result = extract_deals(hook, engine, ExtractWindow(naive(start), naive(end)), "run-1")

    deals = staged(engine, "hubspot.deals")
    assert set(deals) == set(inside) and result.staged == 3  # start inclusive, end exclusive
    first = deals[inside[0]]
    assert set(first) == DEAL_KEYS and first["archived"] is False
    assert first["associations"] == {"line_items": sorted(items[inside[0]], key=int),
                                     "contacts": [contacts[0], contacts[1]]}
    assert deals[inside[1]]["associations"] == {"line_items": items[inside[1]], "contacts": []}
    assert deals[inside[2]]["associations"] == {"line_items": [], "contacts": [contacts[1]]}
    assert first["properties"]["dealstage"] == "closedwon" and first["properties"]["hs_lastmodifieddate"] == start
    assert "woo_order_id" not in first["properties"]  # requested, but the portal has no such property
    assert set(staged(engine, "hubspot.line_items")) == set(items[inside[0]] + items[inside[1]])
    line = staged(engine, "hubspot.line_items")[items[inside[0]][0]]
    assert line["properties"]["hs_product_id"] == products[0] and line["properties"]["amount"] == "10"
    assert set(staged(engine, "hubspot.products")) == {products[0], products[1]}
    assert staged(engine, "hubspot.products")[products[1]]["properties"]["hs_sku"] == "SKU-1"
    contact_payloads = staged(engine, "hubspot.contacts")
    assert set(contact_payloads) == {contacts[0], contacts[1]}
    assert contact_payloads[contacts[0]]["properties"]["email"] == "buyer0@example.com"
    assert result.details == {"line_items": 3, "products": 2, "contacts": 2, "rechecked": 0, "missing_deals": 0,
                              "missing_line_items": 0, "missing_products": 0, "missing_contacts": 0}
    spent = {route: count - calls_before.get(route, 0) for route, count in hook.api_calls.items()
             if count != calls_before.get(route, 0)}
    assert spent == {"POST /crm/v3/objects/deals/search": 1,
                     "POST /crm/v3/objects/line_items/search": 1,  # line items edited in the window
                     "POST /crm/v4/associations/deals/line_items/batch/read": 1,
                     "POST /crm/v4/associations/deals/contacts/batch/read": 1,
                     "POST /crm/v3/objects/line_items/batch/read": 1,
                     "POST /crm/v3/objects/products/batch/read": 1,
                     "POST /crm/v3/objects/contacts/batch/read": 1}
    assert result.api_calls == 7
    with engine.connect() as connection:
        modified = connection.execute(select(stg_hubspot_deals.c.source_modified_at).where(
            stg_hubspot_deals.c.source_id == inside[0])).scalar_one()
    assert modified == naive(start)


def test_calls_are_per_batch_and_staging_goes_batch_by_batch(hook, engine, monkeypatch) -> None:
    from woohub.core.extract import ExtractWindow
    from woohub.core.progress import Progress
    from woohub.hubspot import extract
    from woohub.staging import repository

    products = _created(hook.batch_create("products", [{"name": f"P{n}", "price": "5"} for n in range(130)]))
    contacts = _created(hook.batch_create("contacts", [{"email": f"c{n}@example.com"} for n in range(150)]))
    deals = create_deals(hook, 250)
    item_count = len(create_line_items(hook, [(deal_id, products[(n + k) % 130]) for n, deal_id in enumerate(deals)
                                              for k in (0, 1)]))
    hook.batch_associate("deals", "contacts", [(d, contacts[n % 150]) for n, d in enumerate(deals)],
                         association_type_id=DEAL_TO_CONTACT)
    writes: list[tuple[str, int]] = []
    original = repository.stage_records

    def counting(engine, stream, records, run_id, *args, **kwargs):
        records = list(records)
        writes.append((stream, len(records)))
        return original(engine, stream, records, run_id, *args, **kwargs)

    monkeypatch.setattr(repository, "stage_records", counting)
    monkeypatch.setattr(extract, "STAGE_BATCH", 40)
    monkeypatch.setattr(extract, "ASSOCIATION_READ_SIZE", 100)  # three rounds of association reads
    lines: list[str] = []
    monkeypatch.setattr(extract, "Progress", functools.partial(Progress, emit=lines.append))
    calls_before = dict(hook.api_calls)

    now = datetime.now(UTC).replace(tzinfo=None)
    result = extract.extract_deals(hook, engine, ExtractWindow(now - timedelta(hours=1), now + timedelta(hours=1)),
                                   "run-1")

    assert result.staged == 250 and result.details["line_items"] == item_count == 500
    assert result.details["products"] == 130 and result.details["contacts"] == 150
    spent = {route: count - calls_before.get(route, 0) for route, count in hook.api_calls.items()
             if count != calls_before.get(route, 0)}
    rounds = math.ceil(250 / 100)
    assert spent["POST /crm/v3/objects/deals/search"] == math.ceil(250 / 200)
    assert spent["POST /crm/v4/associations/deals/line_items/batch/read"] == rounds
    assert spent["POST /crm/v4/associations/deals/contacts/batch/read"] == rounds
    # each record is read once: per round at most one partial batch more than the records need
    assert spent["POST /crm/v3/objects/line_items/batch/read"] <= math.ceil(500 / 100) + rounds
    assert spent["POST /crm/v3/objects/products/batch/read"] <= math.ceil(130 / 100) + rounds
    assert spent["POST /crm/v3/objects/contacts/batch/read"] <= math.ceil(150 / 100) + rounds
    assert not [route for route in spent if route.startswith("GET ")], spent
    bound = math.ceil(250 / 200) + 2 * rounds + sum(math.ceil(n / 100) + rounds for n in (500, 130, 150))
    assert result.api_calls == sum(spent.values()) <= bound < (250 + 500 + 130 + 150) / 30
    assert max(count for _, count in writes) <= 40
    assert {stream for stream, _ in writes} == {"hubspot.deals", "hubspot.line_items", "hubspot.products",
                                                "hubspot.contacts"}
    assert sum(count for stream, count in writes if stream == "hubspot.deals") == 250
    deal_lines = [line for line in lines if line.startswith("extract hubspot.deals: ")]
    assert deal_lines and deal_lines[-1].startswith("extract hubspot.deals: 250, ") and "API calls" in deal_lines[-1]
    assert deal_lines[-1].endswith("done")


def _restore_with_timestamps(sandbox: Sandbox, stamps: dict[str, int]) -> None:
    """Give the deals ``stamps`` (id -> epoch ms) as their modification time, through the admin surface."""
    from woohub.sandbox.hubspot.values import iso

    state = sandbox.hubspot.state()
    for record in state["portal"]["records"]["deals"]:
        stamp = stamps.get(str(record["id"]))
        if stamp is not None:
            record["updatedAt"] = stamp
            record["properties"]["hs_lastmodifieddate"] = iso(stamp)
    sandbox.hubspot.restore(state)
    sandbox.hubspot.configure(search_index_delay_seconds=0, rate_limits_enabled=False)


def test_many_deals_sharing_one_timestamp_are_all_staged_once(portal: Sandbox, hook, engine) -> None:
    from woohub.core.extract import ExtractWindow
    from woohub.hubspot.extract import extract_deals, iter_window

    deals = create_deals(hook, 460)
    stamp = int(datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp() * 1000)
    shared, earlier, later, at_end = deals[:450], deals[450:453], deals[453:457], deals[457:]
    _restore_with_timestamps(portal, {**{d: stamp for d in shared}, **{d: stamp - 1 for d in earlier},
                                      **{d: stamp + 1 for d in later}, **{d: stamp + 2 for d in at_end}})
    start = datetime(2026, 11, 20, 12, 0)
    window = ExtractWindow(start, start + timedelta(milliseconds=2))

    walked = list(iter_window(hook, "deals", window, ["dealname"]))
    result = extract_deals(hook, engine, window, "run-1")

    ids = [d["id"] for d in walked]
    assert len(ids) == len(set(ids)) == 454 and set(ids) == set(shared + later)
    times = [d["properties"]["hs_lastmodifieddate"] for d in walked]
    assert times == sorted(times, key=naive)  # ascending on the modification time
    assert result.staged == 454 and set(staged(engine, "hubspot.deals")) == set(shared + later)


def test_include_ids_reads_unchanged_deals_again(hook, engine) -> None:
    from woohub.core.extract import ExtractWindow
    from woohub.hubspot.extract import extract_deals

    products = _created(hook.batch_create("products", [{"name": "P", "price": "5"}]))
    old = create_deals(hook, 2)
    items = create_line_items(hook, [(old[0], products[0])])
    inside = later_batch(hook, 1, modified_at(hook, "deals", old))
    (start,) = modified_at(hook, "deals", inside)
    window = ExtractWindow(naive(start), naive(start) + timedelta(minutes=5))
    calls_before = hook.api_calls["POST /crm/v3/objects/deals/batch/read"]

    result = extract_deals(hook, engine, window, "run-1", include_ids=[old[0], inside[0], "999999"])

    deals = staged(engine, "hubspot.deals")
    assert set(deals) == {old[0], inside[0]} and result.staged == 2
    assert deals[old[0]]["associations"] == {"line_items": items, "contacts": []}
    assert set(deals[old[0]]) == DEAL_KEYS and deals[old[0]]["properties"]["dealname"] == "Deal 0"
    assert set(deals[old[0]]["properties"]) == set(deals[inside[0]]["properties"])  # same shape as search
    assert set(staged(engine, "hubspot.line_items")) == set(items)
    assert result.details["rechecked"] == 1 and result.details["missing_deals"] == 1  # 999999 does not exist
    assert hook.api_calls["POST /crm/v3/objects/deals/batch/read"] - calls_before == 1


def test_a_full_window_lists_every_deal(hook, engine) -> None:
    from woohub.core.extract import ExtractWindow
    from woohub.hubspot.extract import extract_deals

    deals = create_deals(hook, 126)
    searches = hook.api_calls["POST /crm/v3/objects/deals/search"]
    lists = hook.api_calls["GET /crm/v3/objects/deals"]

    result = extract_deals(hook, engine, ExtractWindow(None, datetime(2100, 1, 1), full=True), "run-full")

    assert result.staged == len(deals) == 126 and set(staged(engine, "hubspot.deals")) == set(deals)
    assert hook.api_calls["POST /crm/v3/objects/deals/search"] == searches
    assert hook.api_calls["GET /crm/v3/objects/deals"] - lists == 2  # 100 per page


def test_contacts_of_the_window(hook, engine) -> None:
    from woohub.core.extract import ExtractWindow
    from woohub.hubspot.extract import extract_contacts

    assert hook.ensure_property("contacts", {"name": "woo_customer_id", "label": "WooCommerce customer ID",
                                             "type": "string", "fieldType": "text",
                                             "groupName": "contactinformation", "hasUniqueValue": True})
    before = _created(hook.batch_create("contacts", [{"email": "old@example.com"}]))
    time.sleep(0.003)
    inside = _created(hook.batch_create("contacts", [
        {"email": "new@example.com", "firstname": "Nia", "woo_customer_id": "7"}, {"email": "two@example.com"}]))
    stamps = {r["id"]: r["properties"]["lastmodifieddate"]
              for r in hook.batch_read("contacts", before + inside, properties=["lastmodifieddate"])}
    assert stamps[inside[0]] > stamps[before[0]]

    result = extract_contacts(hook, engine, ExtractWindow(naive(stamps[inside[0]]), datetime(2100, 1, 1)), "run-1")

    contacts = staged(engine, "hubspot.contacts")
    assert set(contacts) == set(inside) and result.staged == 2 and result.stream == "hubspot.contacts"
    properties = contacts[inside[0]]["properties"]
    assert (properties["email"], properties["firstname"], properties["woo_customer_id"]) == (
        "new@example.com", "Nia", "7")
    assert properties["lastname"] is None  # requested and defined, but empty
    assert properties["lastmodifieddate"] == stamps[inside[0]]
    assert set(contacts[inside[0]]) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert result.api_calls == 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A migrated staging database on SQLite or on PostgreSQL (``WOOHUB_TEST_POSTGRES_URL``)."""
    from tests.helpers import migrated_staging

    with migrated_staging(request.param, tmp_path, "woohub_h2w_extract") as (engine, _):
        yield engine


def test_source_modified_at_is_the_naive_utc_modification_time(hook, any_engine) -> None:
    from woohub.core.extract import ExtractWindow
    from woohub.hubspot.extract import extract_contacts, stager_for
    from woohub.staging.schema import stg_hubspot_contacts

    (contact,) = _created(hook.batch_create("contacts", [{"email": "stamp@example.com"}]))
    (stamp,) = {r["properties"]["lastmodifieddate"]
                for r in hook.batch_read("contacts", [contact], properties=["lastmodifieddate"])}
    window = ExtractWindow(naive(stamp), naive(stamp) + timedelta(seconds=1))

    extract_contacts(hook, any_engine, window, "run-2")
    (older,) = staged(any_engine, "hubspot.contacts").values()
    time.sleep(0.003)
    hook.batch_update("contacts", [{"id": contact, "properties": {"firstname": "Later"}}])
    newer = extract_contacts(hook, any_engine, ExtractWindow(naive(stamp), datetime(2100, 1, 1)), "run-3")

    with any_engine.connect() as connection:
        row = connection.execute(select(stg_hubspot_contacts.c.source_modified_at, stg_hubspot_contacts.c.payload)
                                 .where(stg_hubspot_contacts.c.source_id == contact)).one()
    payload = json.loads(row.payload)
    assert newer.staged == 1 and payload["properties"]["firstname"] == "Later"
    assert row.source_modified_at == naive(payload["properties"]["lastmodifieddate"]) > naive(stamp)
    slower_run = stager_for(any_engine, "hubspot.contacts", "run-1", hook)  # a run that read the old copy
    slower_run.add(older)
    slower_run.finish()
    assert staged(any_engine, "hubspot.contacts")[contact]["properties"]["firstname"] == "Later"


def test_a_later_copy_of_a_deal_never_gives_way_to_an_older_one(hook, engine) -> None:
    from woohub.hubspot.extract import DEALS, stager_for

    older = {"id": "1", "properties": {"dealname": "old"}, "updatedAt": "2026-11-20T12:00:00.500Z"}
    newer = {"id": "1", "properties": {"dealname": "new"}, "updatedAt": "2026-11-20T12:00:01Z"}
    stager = stager_for(engine, DEALS, "run-1", hook)
    stager.add(newer)
    stager.add(older)  # read twice in one walk: the older copy comes second
    stager.finish()
    assert staged(engine, DEALS)["1"]["properties"]["dealname"] == "new"
    slower_run = stager_for(engine, DEALS, "run-0", hook)
    slower_run.add(older)
    slower_run.finish()
    assert staged(engine, DEALS)["1"]["properties"]["dealname"] == "new"


def test_association_reads_stay_within_hubspots_limit(hook) -> None:
    from woohub.hubspot.extract import read_associations

    before = hook.api_calls["POST /crm/v4/associations/deals/line_items/batch/read"]
    found = read_associations(hook, "deals", "line_items", [str(n) for n in range(1, 1002)])  # no such deals

    assert found == {}
    assert hook.api_calls["POST /crm/v4/associations/deals/line_items/batch/read"] - before == 2


def test_an_association_list_hubspot_pages_is_read_to_the_end(monkeypatch: pytest.MonkeyPatch,
                                                              requests_mock) -> None:
    """HubSpot may split one record's long association list (``paging`` inside the result): the rest is
    asked for with ``after`` next to the id."""
    from woohub.hubspot import HubSpotHook
    from woohub.hubspot.extract import read_associations

    monkeypatch.setenv("AIRFLOW_CONN_HS_PAGED", json.dumps({
        "conn_type": "http", "host": "api.hubapi.test", "schema": "https", "password": "pat-x",
        "extra": {"rate_limits_enabled": False}}))
    url = "https://api.hubapi.test/crm/v4/associations/deals/line_items/batch/read"

    def to(*ids: int) -> list[dict[str, Any]]:
        return [{"toObjectId": i, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 19}]} for i in ids]

    requests_mock.post(url, [
        {"status_code": 207, "json": {"status": "COMPLETE", "results": [
            {"from": {"id": "7"}, "to": to(30, 4), "paging": {"next": {"after": "MC0yLTQ%3D"}}},
            {"from": {"id": "8"}, "to": to(5)}], "numErrors": 1, "errors": [
            {"status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
             "message": "No line_item is associated with deal 9.", "context": {"fromObjectId": ["9"]}}]}},
        {"json": {"status": "COMPLETE", "results": [{"from": {"id": "7"}, "to": to(100)}]}},
    ])

    found = read_associations(HubSpotHook("hs_paged"), "deals", "line_items", ["7", "8", "9"])

    assert found == {"7": ["4", "30", "100"], "8": ["5"]}
    sent = [request.json() for request in requests_mock.request_history]
    assert sent == [{"inputs": [{"id": "7"}, {"id": "8"}, {"id": "9"}]},
                    {"inputs": [{"id": "7", "after": "MC0yLTQ%3D"}]}]


def test_searches_keep_to_hubspots_five_per_second(portal: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                   engine) -> None:
    """The hook's search budget holds for an extract's searches: twelve back to back, no 429 from a sandbox
    that enforces 5 searches per second."""
    from woohub.core.extract import ExtractWindow
    from woohub.hubspot import HubSpotHook
    from woohub.hubspot.extract import extract_contacts

    portal.hubspot.configure(rate_limits_enabled=True, search_per_second=5, ten_second_limit=1000)
    hook = HubSpotHook(_connection(monkeypatch, portal, "hs_paced", search_per_second=5, ten_second_limit=1000))
    portal.hubspot.stats(reset=True)
    start = datetime(2026, 1, 1)

    for n in range(12):
        extract_contacts(hook, engine, ExtractWindow(start + timedelta(days=n), start + timedelta(days=n + 1)),
                         f"run-{n}")

    assert hook.api_calls["POST /crm/v3/objects/contacts/search"] == 12  # not one retried
    assert portal.hubspot.stats()["statuses"] == {"200": 12}



def test_a_deal_whose_line_item_alone_was_edited_in_the_window_is_extracted(hook, engine) -> None:
    """Editing a line item leaves its deal's modification time alone; the extract still brings the deal in
    (a deal already turned into an order reports such an edit as a conflict)."""
    from woohub.core.extract import ExtractWindow
    from woohub.hubspot.extract import extract_deals

    products = _created(hook.batch_create("products", [{"name": "P", "price": "5"}]))
    old = create_deals(hook, 2)
    items = create_line_items(hook, [(old[0], products[0])])
    time.sleep(0.003)
    _created(hook.batch_update("line_items", [{"id": items[0], "properties": {"quantity": "3"}}]))
    (edited,) = modified_at(hook, "line_items", items)
    assert max(modified_at(hook, "deals", old)) < edited, "the deal's modification time moved"
    window = ExtractWindow(naive(edited), naive(edited) + timedelta(minutes=5))

    result = extract_deals(hook, engine, window, "run-1")

    assert set(staged(engine, "hubspot.deals")) == {old[0]} and result.details["rechecked"] == 1
    assert staged(engine, "hubspot.line_items")[items[0]]["properties"]["quantity"] == "3"
