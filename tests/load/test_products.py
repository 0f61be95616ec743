"""load_products against the sandbox: one record per product, no calls when unchanged, updates in place,
archives, and per-record failures that a later run resolves."""

from __future__ import annotations

from typing import Any

from tests.load.builders import product_frame, records, write_calls


def test_products_load_once_and_rerun_writes_nothing(portal: Any, hubspot: Any, engine: Any) -> None:
    from woohub.core.ledger import id_map_rows
    from woohub.hubspot.load import load_products

    first = load_products(portal, engine, product_frame(range(1, 151)), "run-1")
    assert (first.created, first.updated, first.failed) == (150, 0, 0)
    assert first.api_calls == 3  # property check + 2 upsert chunks
    stored = records(hubspot, "products")
    assert sorted(r["properties"]["woo_product_id"] for r in stored) == sorted(str(i) for i in range(1, 151))
    one = next(r for r in stored if r["properties"]["woo_product_id"] == "7")
    assert (one["properties"]["name"], one["properties"]["price"], one["properties"]["hs_sku"]) == (
        "Product 7",
        "9.5",
        "SKU-7",
    )
    assert id_map_rows(engine, "product", ["7"])["7"]["hubspot_id"] == str(one["id"])

    portal.api_calls.clear()
    again = load_products(portal, engine, product_frame(range(1, 151)), "run-2")
    assert (again.unchanged, again.created, again.updated, again.api_calls) == (150, 0, 0, 0)
    assert not portal.api_calls


def test_edited_product_updates_the_same_record_and_archive_is_applied_once(
    portal: Any, hubspot: Any, engine: Any
) -> None:
    from woohub.hubspot.load import load_products

    load_products(portal, engine, product_frame(range(1, 4)), "run-1")
    ids = {r["properties"]["woo_product_id"]: r["id"] for r in records(hubspot, "products")}
    edited = product_frame(range(1, 4))
    edited.loc[0, "properties"]["price"] = "12"
    edited.loc[2, "action"] = "archive"
    result = load_products(portal, engine, edited, "run-2")
    assert (result.updated, result.unchanged, result.archived, result.created) == (1, 1, 1, 0)
    live = {r["properties"]["woo_product_id"]: r for r in records(hubspot, "products")}
    assert (
        set(live) == {"1", "2"} and live["1"]["id"] == ids["1"] and live["1"]["properties"]["price"] == "12"
    )

    portal.api_calls.clear()
    rerun = load_products(portal, engine, edited, "run-3")
    assert (rerun.unchanged, rerun.archived) == (3, 0) and write_calls(portal) == 0


def test_invalid_record_is_dead_lettered_alone_and_resolved_later(
    portal: Any, hubspot: Any, engine: Any
) -> None:
    from woohub.core.dead_letters import dead_letters
    from woohub.hubspot.load import load_products

    frame = product_frame(range(1, 6))
    frame.loc[1, "properties"]["price"] = "not a number"
    result = load_products(portal, engine, frame, "run-1")
    assert (result.created, result.failed) == (4, 1)
    assert result.failures[0]["source_key"] == "2" and result.failures[0]["error_code"] == "VALIDATION_ERROR"
    letters = dead_letters(engine, "product")
    assert [(d["source_key"], d["attempts"]) for d in letters] == [("2", 1)]

    fixed = load_products(portal, engine, product_frame(range(1, 6)), "run-2")
    assert (fixed.created, fixed.unchanged, fixed.failed) == (1, 4, 0)
    assert dead_letters(engine, "product") == []
    assert len(records(hubspot, "products")) == 5
