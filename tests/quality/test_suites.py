"""Every committed suite loads through the file context, and every expectation in it can fail: a frame
built from real payloads (recorded WooCommerce ones, HubSpot ones as staged from the sandbox) passes it, the
same frame with one violating value fails it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.quality.conftest import GX_ROOT, recorded_body
from tests.quality.test_hubspot_suites import valid_payloads as valid_hubspot_payloads
from woohub.core.quality import (
    SUITE_BY_STREAM,
    context_lock,
    ensure_checkpoint,
    file_context,
    suite_parameters,
    validation_frame,
)

VALID_PAYLOADS = {
    "woocommerce.orders": ["083-get-order", "084-get-order-guest"],
    "woocommerce.customers": ["086-get-customer", "020-create-customer-bob"],
    "woocommerce.products": ["087-get-product", "013-create-product-hoodie", "082-get-variation"],
}
SUITE_EXPECTATIONS = [
    (stream, index, expectation)
    for stream, suite in SUITE_BY_STREAM.items()
    for index, expectation in enumerate(json.loads((GX_ROOT / "expectations" / f"{suite}.json").read_text())
                                        ["expectations"])
]


def _valid_payloads(stream: str) -> list[dict[str, Any]]:
    if stream in VALID_PAYLOADS:
        return [recorded_body(name) for name in VALID_PAYLOADS[stream]]
    return valid_hubspot_payloads(stream)


def _violating(frame: pd.DataFrame, expectation: dict[str, Any]) -> pd.DataFrame:
    """``frame`` with its first row changed so that ``expectation`` fails (row 1 for uniqueness)."""
    column, kwargs, kind = expectation["kwargs"]["column"], expectation["kwargs"], expectation["type"]
    bad = frame.copy()
    bad[column] = bad[column].astype(object)
    value: Any = {
        "expect_column_values_to_not_be_null": None,
        "expect_column_values_to_be_null": "set where it must be null",
        "expect_column_values_to_be_in_set": "__not_in_set__",
        "expect_column_values_to_match_regex": "not valid!",
        "expect_column_value_lengths_to_be_between": "",
        "expect_column_values_to_match_strftime_format": "28/11/2026 07:05",
    }.get(kind)
    if kind == "expect_column_values_to_be_unique":
        value = bad[column].dropna().iat[0]
    if kind == "expect_column_values_to_be_between":
        value = kwargs["min_value"] - 1 if kwargs.get("min_value") is not None else kwargs["max_value"] + 1
    bad.at[1 if kind == "expect_column_values_to_be_unique" else 0, column] = value
    return bad


@pytest.fixture(scope="module")
def suite_runner(gx_root: Path) -> Any:
    """``run(stream, frame)``: per-expectation success flags of the stream's suite on ``frame``."""
    with context_lock(gx_root):
        context = file_context(gx_root)
        for suite in SUITE_BY_STREAM.values():
            ensure_checkpoint(context, suite)

    def run(stream: str, frame: pd.DataFrame) -> list[bool]:
        suite = context.suites.get(SUITE_BY_STREAM[stream])
        batch = context.validation_definitions.get(suite.name).batch_definition.get_batch(
            batch_parameters={"dataframe": frame})
        results = batch.validate(suite, result_format="COMPLETE",
                                 expectation_parameters=suite_parameters(stream, None)).results
        return [result.success for result in results]
    return run


def test_every_suite_loads_through_the_file_context(gx_root: Path) -> None:
    context = file_context(gx_root)

    for name in SUITE_BY_STREAM.values():
        suite = context.suites.get(name)
        assert suite.name == name and len(suite.expectations) >= 5
        assert {e.meta.get("severity") for e in suite.expectations} <= {"error", "warning"}
        assert context.checkpoints.get(name).validation_definitions[0].suite.name == name


@pytest.mark.parametrize(("stream", "index", "expectation"), SUITE_EXPECTATIONS,
                         ids=[f"{s}-{e['type']}({e['kwargs']['column']})" for s, _, e in SUITE_EXPECTATIONS])
def test_every_expectation_can_fail(suite_runner: Any, stream: str, index: int,
                                    expectation: dict[str, Any]) -> None:
    frame = validation_frame(stream, _valid_payloads(stream))
    assert suite_runner(stream, frame)[index], "the real payloads must pass the expectation"

    assert not suite_runner(stream, _violating(frame, expectation))[index]
