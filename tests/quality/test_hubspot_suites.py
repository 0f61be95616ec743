"""validate_staged on staged HubSpot payloads (as the extract stages them from the sandbox) with targeted
mutations: which ids pass, which are quarantined and why, what is only a warning, and that no email
address reaches a reason, the validation results or Data Docs."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from woohub.core.quality import stream_name, validate_staged

#: payloads as ``woohub.hubspot.extract`` stages them from the HubSpot sandbox
DEAL: dict[str, Any] = {
    "id": "1003",
    "properties": {"dealname": "Upsell: Installation service", "amount": "298", "dealstage": "closedwon",
                   "pipeline": "default", "closedate": "2026-12-01T00:00:00.000Z", "deal_currency_code": "USD",
                   "hs_lastmodifieddate": "2026-12-02T01:37:44.698Z", "createdate": "2026-12-02T01:37:44.698Z",
                   "hs_object_id": "1003"},
    "createdAt": "2026-12-02T01:37:44.698Z", "updatedAt": "2026-12-02T01:37:44.698Z", "archived": False,
    "associations": {"line_items": ["1004"], "contacts": ["1002"]},
}
LINE_ITEM: dict[str, Any] = {
    "id": "1004",
    "properties": {"name": "Installation service", "quantity": "2", "price": "149", "amount": "298",
                   "discount": None, "hs_discount_percentage": None, "hs_product_id": "1001",
                   "hs_sku": "HS-SVC-INSTALL", "hs_line_item_currency_code": "USD",
                   "hs_lastmodifieddate": "2026-12-02T01:37:44.700Z", "hs_object_id": "1004"},
    "createdAt": "2026-12-02T01:37:44.700Z", "updatedAt": "2026-12-02T01:37:44.700Z", "archived": False,
}
CONTACT: dict[str, Any] = {
    "id": "1002",
    "properties": {"email": "nia.baker@example.com", "firstname": "Nia", "lastname": "Baker", "phone": None,
                   "address": None, "city": "Leeds", "state": None, "zip": None, "country": None, "company": None,
                   "lastmodifieddate": "2026-12-02T01:37:44.696Z", "hs_object_id": "1002"},
    "createdAt": "2026-12-02T01:37:44.696Z", "updatedAt": "2026-12-02T01:37:44.696Z", "archived": False,
}
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"  # the suite's pattern (scripts/generate_gx_suites.py)
UNKNOWN_LINES = "expect_column_values_to_be_between(unknown_line_item_count)"
NO_EMAIL = "expect_column_values_to_not_be_null(email_shape)"


def mutated(payload: dict[str, Any], new_id: str | None, **properties: Any) -> dict[str, Any]:
    """A copy of ``payload`` under ``new_id`` (``None``: without an id) with ``properties`` changed."""
    copied = copy.deepcopy(payload)
    if new_id is None:
        del copied["id"]
    else:
        copied["id"] = new_id
        copied["properties"]["hs_object_id"] = new_id
    copied["properties"].update(properties)
    return copied


def valid_payloads(stream: str) -> list[dict[str, Any]]:
    """Two payloads of ``stream`` that pass its suite (for the every-expectation-can-fail test)."""
    sample = {"hubspot.deals": DEAL, "hubspot.contacts": CONTACT, "hubspot.line_items": LINE_ITEM}[stream]
    return [copy.deepcopy(sample), mutated(sample, "2001")]


def test_deals_are_sorted_into_valid_and_quarantined(gx_root: Path) -> None:
    no_stage = mutated(DEAL, "2007")
    del no_stage["properties"]["dealstage"]
    gone_line = mutated(DEAL, "2009")
    gone_line["associations"]["line_items"] = ["1004", "9999"]
    payloads = [
        DEAL, mutated(DEAL, "2001", amount=None, deal_currency_code=None),  # empty amount and currency pass
        mutated(DEAL, "2002", amount="1234.50", deal_currency_code="EUR"),
        mutated(DEAL, "2003", amount="12,50"), mutated(DEAL, "2004", deal_currency_code="usd"),
        mutated(DEAL, "2005", deal_currency_code="EURO"), mutated(DEAL, "2006", pipeline=""), no_stage,
        mutated(DEAL, "2008", hs_lastmodifieddate=None), gone_line, mutated(DEAL, "2010"), mutated(DEAL, "2010"),
        mutated(DEAL, None),
    ]

    outcome = validate_staged("hubspot.deals", payloads, run_id="test_deals", known_line_item_ids={"1004"},
                              gx_root=gx_root)

    assert outcome.stream == "hubspot.deals" and outcome.suite == "hubspot_deals_staging"
    assert outcome.valid_ids == ["1003", "2001", "2002", "2009"]  # a line item not staged is only counted
    assert outcome.quarantined == {
        "2003": ["expect_column_values_to_match_regex(amount): '12,50'"],
        "2004": ["expect_column_values_to_match_regex(deal_currency_code): 'usd'"],
        "2005": ["expect_column_values_to_match_regex(deal_currency_code): 'EURO'"],
        "2006": ["expect_column_values_to_not_be_null(pipeline): None"],
        "2007": ["expect_column_values_to_not_be_null(dealstage): None"],
        "2008": ["expect_column_values_to_not_be_null(hs_lastmodifieddate): None"],
        "2010": ["expect_column_values_to_be_unique(id): '2010'"] * 2,
        "#12": ["expect_column_values_to_not_be_null(id): None"],
    }
    assert outcome.warnings == {UNKNOWN_LINES: 1}


def test_line_items_are_not_checked_without_the_staged_ids(gx_root: Path) -> None:
    gone_line = mutated(DEAL, "2009")
    gone_line["associations"]["line_items"] = ["9999"]

    outcome = validate_staged("hubspot.deals", [DEAL, gone_line], run_id="test_deals_unchecked", gx_root=gx_root)

    assert outcome.valid_ids == ["1003", "2009"] and outcome.warnings == {UNKNOWN_LINES: 0}


def test_contacts_are_checked_without_their_email_reaching_reasons_or_data_docs(gx_root: Path) -> None:
    secret = "qzxvwplk.mrtnbe@example"  # no dot in the domain: fails the pattern
    no_email = mutated(CONTACT, "3003")
    del no_email["properties"]["email"]
    payloads = [CONTACT, mutated(CONTACT, "3001", email=secret), mutated(CONTACT, "3002", email="qzxv wplk@x.org"),
                no_email, mutated(CONTACT, "3004", email=""), mutated(CONTACT, "3005", lastmodifieddate=None),
                mutated(CONTACT, "3006", email="Nia.Baker@Example.co.uk"), mutated(CONTACT, "3007"),
                mutated(CONTACT, "3007")]

    outcome = validate_staged("hubspot.contacts", payloads, run_id="test_contacts_privacy", gx_root=gx_root)

    assert outcome.valid_ids == ["1002", "3003", "3004", "3006"]  # no email is only a warning
    assert outcome.quarantined == {
        "3001": ["expect_column_values_to_match_regex(email_shape): 'x.x@x'"],
        "3002": ["expect_column_values_to_match_regex(email_shape): 'x x@x.x'"],
        "3005": ["expect_column_values_to_not_be_null(lastmodifieddate): None"],
        "3007": ["expect_column_values_to_be_unique(id): '3007'"] * 2,
    }
    assert outcome.warnings == {NO_EMAIL: 2}
    written = [path for path in (gx_root / "uncommitted").rglob("*") if path.is_file()
               and "test_contacts_privacy" in str(path)]
    assert {path.suffix for path in written} >= {".json", ".html"}  # the validation result and its Data Docs page
    for path in written:
        text = path.read_text(errors="replace")
        assert "qzxv" not in text and "mrtnbe" not in text and "wplk" not in text, path


def test_line_items(gx_root: Path) -> None:
    custom = mutated(LINE_ITEM, "4001", hs_product_id=None, price=None)  # a custom line without a product
    payloads = [LINE_ITEM, custom, mutated(LINE_ITEM, "4002", quantity="1.5"),
                mutated(LINE_ITEM, "4003", quantity=None), mutated(LINE_ITEM, "4004", quantity="-1"),
                mutated(LINE_ITEM, "4005", price="9,99"), mutated(LINE_ITEM, "4006", hs_product_id="SKU-1"),
                mutated(LINE_ITEM, "4007", hs_lastmodifieddate="")]

    outcome = validate_staged("hubspot.line_items", payloads, run_id="test_line_items", gx_root=gx_root)

    assert outcome.valid_ids == ["1004", "4001", "4002"]
    assert outcome.quarantined == {
        "4003": ["expect_column_values_to_not_be_null(quantity): None"],
        "4004": ["expect_column_values_to_match_regex(quantity): '-1'"],
        "4005": ["expect_column_values_to_match_regex(price): '9,99'"],
        "4006": ["expect_column_values_to_match_regex(hs_product_id): 'SKU-1'"],
        "4007": ["expect_column_values_to_not_be_null(hs_lastmodifieddate): None"],
    }


@pytest.mark.parametrize("email", [
    "nia.baker@example.com", "a@b.c", "Nia.Baker+shop@mail.example.co.uk", "x@y", "no-at-sign.example.com",
    "two@@example.com", "a@b.", "a@.b", "@example.com", "nia@example..com", "nia baker@example.com",
    "nia@exa mple.com", "nia@example.com ", " nia@example.com", ".@a.b", "a@b.c.", "ünïcødé@exämple.de",
    "a@b@c.d", "tab\t@example.com",
])
def test_an_emails_shape_matches_the_pattern_exactly_when_the_email_does(email: str) -> None:
    from woohub.hubspot.checks import email_shape

    shape = email_shape(email)
    assert shape is not None and not re.search(r"[^x@.\s]", shape)  # nothing of the address is left
    assert bool(re.match(EMAIL_PATTERN, shape)) == bool(re.match(EMAIL_PATTERN, email))


def test_stream_names(gx_root: Path) -> None:
    assert [stream_name(s) for s in ("orders", "customers", "products", "hubspot.deals", "woocommerce.orders")] == [
        "woocommerce.orders", "woocommerce.customers", "woocommerce.products", "hubspot.deals", "woocommerce.orders"]
    empty = validate_staged("hubspot.contacts", [], run_id="test_empty", gx_root=gx_root)
    assert (empty.total, empty.valid_ids, empty.quarantined, empty.suite) == (0, [], {}, "hubspot_contacts_staging")
    with pytest.raises(ValueError, match="no suite for stream 'deals'"):
        validate_staged("deals", [DEAL], run_id="test_unknown", gx_root=gx_root)
    short = validate_staged("customers", [{"id": 1, "email": "a@b.co", "role": "customer"}], run_id="test_short",
                            gx_root=gx_root)
    full = validate_staged("woocommerce.customers", [{"id": 1, "email": "a@b.co", "role": "customer"}],
                           run_id="test_full", gx_root=gx_root)
    assert (short.stream, short.suite, short.valid_ids) == ("customers", "woocommerce_customers_staging", ["1"])
    assert (full.stream, full.suite, full.valid_ids) == ("woocommerce.customers", "woocommerce_customers_staging",
                                                         ["1"])
