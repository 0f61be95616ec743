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
LINES_DO_NOT_ADD_UP = "expect_column_values_to_be_between(line_items_difference)"
REPEATED_SKU = "expect_column_values_to_be_unique(own_sku)"


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
                              enabled_currencies={"USD", "EUR"}, gx_root=gx_root)

    assert outcome.valid_ids == ["223", "229", "231", "230", "305"]
    assert outcome.quarantined == {
        "301": ["expect_column_values_to_match_regex(guest_billing_email): 'x'"],  # the shape, not the address
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
        # was a fixed currency list in the suite; now the portal's enabled currencies, named in the reason
        "307": ["expect_column_values_to_be_null(currency_not_in_hubspot): "
                "'XYZ is not a currency of the HubSpot portal (enabled: EUR, USD)'"],
        "308": ["expect_column_values_to_match_strftime_format(date_modified_gmt): '2026-13-01T00:00:00'"],
    }
    # 302 and 303 had their totals changed, so their line items no longer add up (reported, not quarantined)
    assert outcome.warnings == {UNKNOWN_LINE_WARNING: 1, LINES_DO_NOT_ADD_UP: 2}
    assert outcome.total == 12 and outcome.bad_share == pytest.approx(7 / 12)
    assert outcome.statistics["quarantined"] == 7 and outcome.statistics["warning_rows"] == 3


def test_currency_is_not_checked_without_the_portal_currencies(gx_root: Path) -> None:
    outcome = validate_staged("orders", [_mutated("085-get-order-eur", 307, currency="XYZ")], run_id="test_cur",
                              known_product_ids=KNOWN_PRODUCT_IDS, gx_root=gx_root)

    assert outcome.valid_ids == ["307"] and outcome.quarantined == {}


def test_allowed_statuses_come_from_the_stage_table(gx_root: Path) -> None:
    from tests.mapping.helpers import parse_edited

    def shipped_gets_a_stage(data: dict) -> None:
        data["deals"]["extra_order_statuses"] = ["shipped"]
        data["deals"]["stages"]["default"]["shipped"] = "closedwon"

    orders = [_mutated("083-get-order", 304, status="shipped"), _mutated("083-get-order", 309, status="picked")]

    plugin = validate_staged("orders", orders, run_id="test_status", known_product_ids=KNOWN_PRODUCT_IDS,
                             mapping=parse_edited(shipped_gets_a_stage), gx_root=gx_root)
    packaged = validate_staged("orders", orders[:1], run_id="test_status", known_product_ids=KNOWN_PRODUCT_IDS,
                               gx_root=gx_root)

    assert plugin.valid_ids == ["304"]
    assert plugin.quarantined == {"309": ["expect_column_values_to_be_in_set(status): 'picked'"]}
    assert packaged.quarantined == {"304": ["expect_column_values_to_be_in_set(status): 'shipped'"]}


def test_real_taxed_orders_are_valid_and_add_up(gx_root: Path) -> None:
    names = ["230-create-order-tax-excl-ca-2-lines-shipping", "231-create-order-tax-excl-ca-reduced-rate-and-fees",
             "232-create-order-tax-excl-ca-coupon-10-percent", "236-create-order-tax-excl-ca-line-subtotal-total-override",
             "240-create-order-tax-incl-ca-2-lines-shipping", "242-create-order-tax-incl-ny-single-line",
             "246-create-order-tax-excl-ca-2-lines-shipping-round-at-subtotal",
             "252-create-order-tax-sku-lines-variations-no-sku-and-parent-sku",
             "254-create-order-tax-excl-ca-decimals-0"]
    orders = [recorded_body(name) for name in names]

    outcome = validate_staged("orders", orders, run_id="test_taxed", enabled_currencies={"USD"}, gx_root=gx_root)

    assert outcome.valid_ids == [str(o["id"]) for o in orders] and outcome.quarantined == {}
    assert outcome.warnings[LINES_DO_NOT_ADD_UP] == 0


def test_line_items_of_unstaged_products_are_only_a_warning(gx_root: Path) -> None:
    order = recorded_body("083-get-order")  # lines reference 207, variation 219, 208

    outcome = validate_staged("orders", [order], run_id="test_unstaged", known_product_ids={207, 208},
                              gx_root=gx_root)

    assert outcome.valid_ids == ["223"] and outcome.quarantined == {}
    assert outcome.warnings == {UNKNOWN_LINE_WARNING: 1, LINES_DO_NOT_ADD_UP: 0}  # the new check passes


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
        "401": ["expect_column_values_to_match_regex(email): 'x'"],  # 'not-an-email': its shape
        "402": ["expect_column_values_to_not_be_null(email): None"],
        "47": ["expect_column_values_to_be_unique(id): 47"] * 2,
    }
    assert outcome.warnings == {"expect_column_values_to_be_in_set(role)": 1}
    assert outcome.bad_share == pytest.approx(4 / 7)


def test_customer_and_guest_emails_never_reach_reasons_validation_results_or_data_docs(gx_root: Path) -> None:
    secret = "qzxvwplk.mrtnbe@example"  # no dot in the domain: fails the pattern
    customer = _mutated("086-get-customer", 601, email=secret)
    outcome = validate_staged("customers", [customer], run_id="test_customers_privacy", gx_root=gx_root)
    assert outcome.quarantined == {"601": ["expect_column_values_to_match_regex(email): 'x.x@x'"]}
    written = [path for path in (gx_root / "uncommitted").rglob("*") if path.is_file()
               and "test_customers_privacy" in str(path)]
    assert {path.suffix for path in written} >= {".json", ".html"}  # the validation result and its Data Docs page
    for path in written:
        text = path.read_text(errors="replace")
        assert "qzxv" not in text and "mrtnbe" not in text and "wplk" not in text, path


def test_products_and_variations(gx_root: Path) -> None:
    # Changed with the SKU rework: a missing SKU (503, 501) and a repeated SKU (502 and 219, 504 and 207)
    # used to quarantine; SKUs are optional and products are keyed by id, so repeats are only counted.
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

    assert outcome.valid_ids == ["207", "217", "220", "219", "218", "501", "502", "503"]
    assert outcome.quarantined == {
        "504": ["expect_column_values_to_be_between(price_amount): -1.0"],
        "505": ["expect_column_values_to_be_in_set(status): 'deleted'"],
        "506": ["expect_column_values_to_be_in_set(type): 'bundle'"],
        "507": ["expect_column_values_to_match_regex(stock_quantity): '\"5\"'"],
    }
    assert outcome.warnings == {REPEATED_SKU: 4}  # the rows of TSHIRT-CLASSIC x2 and HOODIE-ORG-M x2


def test_variations_inheriting_the_parent_sku_are_not_repeats(gx_root: Path) -> None:
    """Real store: variations without own SKU return the parent's (224-226, 250); a simple product has
    sku "" (223). None of it is quarantined or counted."""
    payloads = [recorded_body("224-create-product-tax-variable-sku-parent"),
                *recorded_body("250-list-variations-tax-parent"),
                recorded_body("223-create-product-tax-simple-sku-empty"),
                recorded_body("221-create-product-tax-simple-19.99")]

    outcome = validate_staged("products", payloads, run_id="test_inherited", gx_root=gx_root)

    assert outcome.valid_ids == ["53", "55", "54", "52", "50"] and outcome.quarantined == {}
    assert outcome.warnings == {REPEATED_SKU: 0}


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
        "orders: 2 of 4 records (50.0%) failed suite woocommerce_orders_staging, more than the limit "
        "max(0, 25.0% x 4) = 1; top reasons: "
        "expect_column_values_to_be_in_set(status) ×2; expect_column_values_to_not_be_null(total) ×1")


def test_threshold_floor_keeps_a_few_bad_records_in_a_small_window_from_failing() -> None:
    reasons = {"1": ["expect_column_values_to_be_in_set(status): 'x'"],
               "2": ["expect_column_values_to_be_in_set(status): 'y'"]}
    enforce_threshold(_outcome(0.5, reasons), 0.05, floor=2)  # 2 of 4 bad, but no more than the floor
    with pytest.raises(DataQualityError):
        enforce_threshold(_outcome(0.5, reasons), 0.05, floor=1)


def test_gx_root_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WOOHUB_GX_ROOT", raising=False)
    assert resolve_gx_root() == Path(__file__).resolve().parents[2] / "great_expectations"
    monkeypatch.setenv("WOOHUB_GX_ROOT", str(tmp_path))
    assert resolve_gx_root() == tmp_path.resolve()
