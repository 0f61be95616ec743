"""validate_staged on real WooCommerce 11.0.1 payloads with targeted mutations: exactly which ids pass,
which are quarantined and why, what is only a warning, and the threshold, Data Docs and empty cases."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from tests.quality.conftest import recorded_body
from woohub.core.quality import (
    DataQualityError,
    ValidationOutcome,
    build_data_docs,
    enforce_threshold,
    resolve_gx_root,
    validate_staged,
)

KNOWN_PRODUCT_IDS = {207, 208, 209, 210, 213, 217, 218, 219, 220}
UNKNOWN_LINE_WARNING = "expect_column_values_to_be_between(unknown_product_line_count)"


def _mutated(name: str, new_id: int, **changes: object) -> dict:
    """The recorded body of ``name`` under a new id with top-level ``changes`` applied."""
    payload = recorded_body(name)
    payload.update(id=new_id, **changes)
    return payload


def _orders() -> list[dict]:
    guest_bad_email = _mutated("084-get-order-guest", 301)
    guest_bad_email["billing"]["email"] = "not-an-email"
    gone_product = _mutated("083-get-order", 305)
    gone_product["line_items"][0]["product_id"] = 0
    return [
        recorded_body("083-get-order"), recorded_body("084-get-order-guest"), recorded_body("085-get-order-eur"),
        recorded_body("035-create-order-coupon-zoe"), guest_bad_email,
        _mutated("083-get-order", 302, total="-5.00"),
        _mutated("083-get-order", 303, total="100.49"),
        _mutated("083-get-order", 304, status="shipped"),
        gone_product,
        {"id": 306},
        _mutated("085-get-order-eur", 307, currency="XYZ"),
        _mutated("083-get-order", 308, date_modified_gmt="2026-13-01T00:00:00"),
    ]


def test_orders_are_sorted_into_valid_and_quarantined(gx_root: Path) -> None:
    outcome = validate_staged("orders", _orders(), run_id="test_orders", known_product_ids=KNOWN_PRODUCT_IDS,
                              gx_root=gx_root)

    assert outcome.valid_ids == ["223", "229", "231", "230", "305"]
    assert outcome.quarantined == {
        "301": ["expect_column_values_to_match_regex(guest_billing_email): 'not-an-email'"],
        "302": ["expect_column_values_to_be_between(total_amount): -5.0",
                "expect_column_values_to_be_between(total_difference): -104.49"],
        "303": ["expect_column_values_to_be_between(total_difference): 1.0"],
        "304": ["expect_column_values_to_be_in_set(status): 'shipped'"],
        "306": ["expect_column_values_to_not_be_null(status): None",
                "expect_column_values_to_not_be_null(currency): None",
                "expect_column_values_to_not_be_null(customer_id): None",
                "expect_column_values_to_not_be_null(total): None",
                "expect_column_values_to_not_be_null(total_difference): nan",
                "expect_column_values_to_not_be_null(date_modified_gmt): None"],
        "307": ["expect_column_values_to_be_in_set(currency): 'XYZ'"],
        "308": ["expect_column_values_to_match_strftime_format(date_modified_gmt): '2026-13-01T00:00:00'"],
    }
    assert outcome.warnings == {UNKNOWN_LINE_WARNING: 1}
    assert outcome.total == 12 and outcome.bad_share == pytest.approx(7 / 12)
    assert outcome.statistics["quarantined"] == 7 and outcome.statistics["warning_rows"] == 1


def test_line_items_of_unstaged_products_are_only_a_warning(gx_root: Path) -> None:
    order = recorded_body("083-get-order")  # lines reference 207, variation 219, 208

    outcome = validate_staged("orders", [order], run_id="test_unstaged", known_product_ids={207, 208},
                              gx_root=gx_root)

    assert outcome.valid_ids == ["223"] and outcome.quarantined == {}
    assert outcome.warnings == {UNKNOWN_LINE_WARNING: 1}


def test_customers(gx_root: Path) -> None:
    admin = next(c for c in recorded_body("076-list-customers-role-all") if c["role"] == "administrator")
    no_email = _mutated("086-get-customer", 402)
    del no_email["email"]
    carol = recorded_body("021-create-customer-carol")
    payloads = [recorded_body("086-get-customer"), recorded_body("020-create-customer-bob"), admin,
                _mutated("086-get-customer", 401, email="not-an-email"), no_email, carol, dict(carol)]

    outcome = validate_staged("customers", payloads, run_id="test_customers", gx_root=gx_root)

    assert outcome.valid_ids == ["44", "46", "1"]  # bob's billing email "" is fine on a customer
    assert outcome.quarantined == {
        "401": ["expect_column_values_to_match_regex(email): 'not-an-email'"],
        "402": ["expect_column_values_to_not_be_null(email): None"],
        "47": ["expect_column_values_to_be_unique(id): 47"] * 2,
    }
    assert outcome.warnings == {"expect_column_values_to_be_in_set(role)": 1}
    assert outcome.bad_share == pytest.approx(4 / 7)


def test_products_and_variations(gx_root: Path) -> None:
    payloads = [
        recorded_body("087-get-product"), recorded_body("013-create-product-hoodie"),
        *recorded_body("081-list-variations"),
        _mutated("013-create-product-hoodie", 501, sku=""),
        _mutated("087-get-product", 502, sku="HOODIE-ORG-M"),
        _mutated("087-get-product", 503, sku=""),
        _mutated("087-get-product", 504, price="-1.00"),
        _mutated("087-get-product", 505, sku="X-505", status="deleted"),
        _mutated("087-get-product", 506, sku="X-506", type="bundle"),
        _mutated("087-get-product", 507, sku="X-507", stock_quantity="5"),
    ]

    outcome = validate_staged("products", payloads, run_id="test_products", gx_root=gx_root)

    assert outcome.valid_ids == ["217", "220", "218", "501"]
    assert outcome.quarantined == {
        "219": ["expect_column_values_to_be_unique(sku): 'HOODIE-ORG-M'"],
        "502": ["expect_column_values_to_be_unique(sku): 'HOODIE-ORG-M'"],
        "503": ["expect_column_value_lengths_to_be_between(required_sku): ''"],
        "504": ["expect_column_values_to_be_unique(sku): 'TSHIRT-CLASSIC'",
                "expect_column_values_to_be_between(price_amount): -1.0"],
        "207": ["expect_column_values_to_be_unique(sku): 'TSHIRT-CLASSIC'"],
        "505": ["expect_column_values_to_be_in_set(status): 'deleted'"],
        "506": ["expect_column_values_to_be_in_set(type): 'bundle'"],
        "507": ["expect_column_values_to_match_regex(stock_quantity): '\"5\"'"],
    }
    assert outcome.warnings == {"expect_column_value_lengths_to_be_between(variable_parent_sku)": 1}


def test_empty_input_validates_nothing(gx_root: Path) -> None:
    outcome = validate_staged("products", [], run_id="test_empty", gx_root=gx_root)

    assert (outcome.total, outcome.valid_ids, outcome.quarantined, outcome.bad_share) == (0, [], {}, 0.0)
    enforce_threshold(outcome, 0.0)


def test_each_validation_updates_data_docs(gx_root: Path) -> None:
    outcome = validate_staged("customers", [recorded_body("086-get-customer")], run_id="test_docs",
                              gx_root=gx_root)

    index = gx_root / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert outcome.data_docs_path == str(index) and index.exists()
    assert "woocommerce_customers_staging" in index.read_text()
    assert build_data_docs(gx_root) == str(index)


def _validate_in_subprocess(stream: str, gx_root: str) -> tuple[str, int]:
    payload = {"orders": "083-get-order", "customers": "086-get-customer", "products": "087-get-product"}[stream]
    outcome = validate_staged(stream, [recorded_body(payload)], run_id="test_parallel", gx_root=gx_root)
    return stream, len(outcome.valid_ids)


def test_three_streams_validate_in_parallel_processes(tmp_path: Path) -> None:
    from tests.quality.conftest import copy_gx_root

    root = copy_gx_root(tmp_path / "great_expectations")
    config_before = (root / "great_expectations.yml").read_text()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=3, mp_context=spawn) as pool:
        results = dict(pool.map(_validate_in_subprocess, ["orders", "customers", "products"], [str(root)] * 3))

    assert results == {"orders": 1, "customers": 1, "products": 1}
    assert (root / "great_expectations.yml").read_text() == config_before


def _outcome(bad_share: float, quarantined: dict[str, list[str]]) -> ValidationOutcome:
    return ValidationOutcome(stream="orders", suite="woocommerce_orders_staging", total=4, valid_ids=[],
                             quarantined=quarantined, warnings={}, bad_share=bad_share)


def test_threshold_passes_at_the_limit_and_fails_above_it() -> None:
    reasons = {"1": ["expect_column_values_to_be_in_set(status): 'x'", "expect_column_values_to_not_be_null(total): None"],
               "2": ["expect_column_values_to_be_in_set(status): 'y'"]}
    enforce_threshold(_outcome(0.5, reasons), 0.5)

    with pytest.raises(DataQualityError) as raised:
        enforce_threshold(_outcome(0.5, reasons), 0.25)

    assert str(raised.value) == (
        "orders: 50.0% of 4 records failed suite woocommerce_orders_staging (threshold 25.0%); top reasons: "
        "expect_column_values_to_be_in_set(status) ×2; expect_column_values_to_not_be_null(total) ×1")


def test_gx_root_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WOOHUB_GX_ROOT", raising=False)
    assert resolve_gx_root() == Path(__file__).resolve().parents[2] / "great_expectations"
    monkeypatch.setenv("WOOHUB_GX_ROOT", str(tmp_path))
    assert resolve_gx_root() == tmp_path.resolve()
