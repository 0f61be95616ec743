"""Write the staging suites (and their validation definitions and checkpoints) through GX's own API, so the
committed JSON under ``great_expectations/`` has GX 1.x's exact shape.

Run once after changing a rule here, then review and commit the JSON (``--suite`` rewrites only the named
suites, so the others keep their expectation ids):

    .venv/bin/python scripts/generate_gx_suites.py [--gx-root great_expectations] [--suite hubspot_deals_staging ...]

The committed JSON is the source of truth at run time; this script is only its generator.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection
from typing import Any

from woohub.core.quality import (
    ORDER_STATUSES_PARAMETER,
    SUITE_BY_STREAM,
    context_lock,
    ensure_checkpoint,
    file_context,
    resolve_gx_root,
)
from woohub.reconciliation.results import DRIFT_THRESHOLD_PARAMETER as RECONCILIATION_DRIFT_PARAMETER
from woohub.reconciliation.results import SUITE as RECONCILIATION_SUITE

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
MONEY_PATTERN = r"^-?[0-9]+(?:\.[0-9]+)?$"
INTEGER_PATTERN = r"^-?[0-9]+$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
# The order statuses come from the mapping's stage table at run time (woohub.core.quality passes them as
# this suite parameter), so plugin statuses given a stage there load without touching the suite.
ORDER_STATUSES = {"$PARAMETER": ORDER_STATUSES_PARAMETER}
PRODUCT_STATUSES = ["publish", "draft", "pending", "private", "trash"]
PRODUCT_TYPES = ["simple", "variable", "grouped", "external", "variation"]
WOO_DATETIME = "%Y-%m-%dT%H:%M:%S"
DECIMAL_PATTERN = r"^[0-9]+(?:\.[0-9]+)?$"


def rule(expectation_type: str, column: str, severity: str = "error", notes: str | None = None,
         **kwargs: Any) -> dict[str, Any]:
    """One expectation as data: type, column, extra kwargs and its severity (error = quarantine, warning =
    count only), kept both in ``meta`` (what woohub reads) and in GX's own ``severity`` (for Data Docs)."""
    return {"type": expectation_type, "kwargs": {"column": column, **kwargs}, "meta": {"severity": severity},
            "notes": notes, "severity": "warning" if severity == "warning" else "critical"}


ORDER_RULES = [
    rule("expect_column_values_to_not_be_null", "id"),
    rule("expect_column_values_to_be_unique", "id"),
    rule("expect_column_values_to_not_be_null", "status"),
    rule("expect_column_values_to_be_in_set", "status", value_set=ORDER_STATUSES,
         notes="The statuses the mapping's stage table gives a deal stage (suite parameter "
               f"{ORDER_STATUSES_PARAMETER}, from mapping.yaml deals.stages at run time)."),
    rule("expect_column_values_to_not_be_null", "currency"),
    rule("expect_column_values_to_match_regex", "currency", regex=CURRENCY_PATTERN,
         notes="An ISO 4217 code as WooCommerce sends it (upper case)."),
    rule("expect_column_values_to_be_null", "currency_not_in_hubspot",
         notes="Null unless the order's currency is not enabled in the HubSpot portal (the options of "
               "deal_currency_code); then the reason names the currency and the enabled ones."),
    rule("expect_column_values_to_not_be_null", "customer_id"),
    rule("expect_column_values_to_not_be_null", "total"),
    rule("expect_column_values_to_match_regex", "total", regex=MONEY_PATTERN),
    rule("expect_column_values_to_be_between", "total_amount", min_value=0),
    rule("expect_column_values_to_not_be_null", "total_difference",
         notes="Null when a component (line subtotal, discount, shipping, fee, tax) is missing or not a number."),
    rule("expect_column_values_to_be_between", "total_difference", min_value=-0.01, max_value=0.01,
         notes="total - (sum line subtotals - discount_total + shipping_total + sum fee totals + total_tax)."),
    rule("expect_column_values_to_match_regex", "guest_billing_email", regex=EMAIL_PATTERN,
         notes="Guest orders (customer_id 0) are keyed by billing email in HubSpot; null for registered customers."),
    rule("expect_column_values_to_not_be_null", "date_modified_gmt"),
    rule("expect_column_values_to_match_strftime_format", "date_modified_gmt", strftime_format=WOO_DATETIME),
    rule("expect_column_values_to_be_between", "line_items_difference", "warning", min_value=0, max_value=0,
         notes="Order total minus the sum of its HubSpot line items (product, shipping, fee and tax lines, "
               "quantity x (price - discount)) in the currency's decimals; loaded, but reported."),
    rule("expect_column_values_to_be_between", "unknown_product_line_count", "warning", max_value=0,
         notes="Line items whose product is gone (product_id 0) or not staged: loaded without a product link."),
]
CUSTOMER_RULES = [
    rule("expect_column_values_to_not_be_null", "id"),
    rule("expect_column_values_to_be_unique", "id"),
    rule("expect_column_values_to_not_be_null", "email"),
    rule("expect_column_values_to_match_regex", "email", regex=EMAIL_PATTERN),
    rule("expect_column_values_to_be_in_set", "role", "warning", value_set=["customer", "subscriber"],
         notes="Other roles (administrator, shop_manager) are synced but counted."),
]
PRODUCT_RULES = [
    rule("expect_column_values_to_not_be_null", "id"),
    rule("expect_column_values_to_be_unique", "id"),
    rule("expect_column_values_to_not_be_null", "type"),
    rule("expect_column_values_to_be_in_set", "type", value_set=PRODUCT_TYPES),
    rule("expect_column_values_to_not_be_null", "status"),
    rule("expect_column_values_to_be_in_set", "status", value_set=PRODUCT_STATUSES),
    rule("expect_column_values_to_be_unique", "own_sku", "warning",
         notes="SKUs are optional (products are keyed by woo_product_id); a SKU two records claim as their "
               "own is counted. A variation returning its parent's SKU has none of its own."),
    rule("expect_column_values_to_match_regex", "price", regex=MONEY_PATTERN,
         notes="Null when the price is empty (a variable parent without variations)."),
    rule("expect_column_values_to_be_between", "price_amount", min_value=0),
    rule("expect_column_values_to_match_regex", "stock_quantity", regex=INTEGER_PATTERN,
         notes="JSON text of stock_quantity: an integer, or null when stock is not managed."),
]
# HubSpot returns every property value as a string, an empty one as null: the frames
# (woohub.hubspot.checks) turn "" into null too, so "present" is not-null and formats apply when present.
HUBSPOT_DEAL_RULES = [
    rule("expect_column_values_to_not_be_null", "id"),
    rule("expect_column_values_to_be_unique", "id"),
    rule("expect_column_values_to_match_regex", "amount", regex=MONEY_PATTERN,
         notes="A decimal number as HubSpot returns it (\"1234.5\"); an empty amount passes."),
    rule("expect_column_values_to_match_regex", "deal_currency_code", regex=CURRENCY_PATTERN,
         notes="An ISO 4217 code (upper case); an empty one passes (the portal's default currency)."),
    rule("expect_column_values_to_not_be_null", "pipeline"),
    rule("expect_column_values_to_not_be_null", "dealstage"),
    rule("expect_column_values_to_not_be_null", "hs_lastmodifieddate"),
    rule("expect_column_values_to_be_between", "unknown_line_item_count", "warning", max_value=0,
         notes="Line items the deal names that are not staged (deleted since, or not read): the order "
               "checks see the deal without them."),
]
HUBSPOT_CONTACT_RULES = [
    rule("expect_column_values_to_not_be_null", "id"),
    rule("expect_column_values_to_be_unique", "id"),
    rule("expect_column_values_to_match_regex", "email_shape", regex=EMAIL_PATTERN,
         notes="The email's shape, never the address (runs of characters other than @, . and white space "
               "become one x): it matches exactly when the address does. A contact without email passes."),
    rule("expect_column_values_to_not_be_null", "email_shape", "warning",
         notes="Contacts without an email are staged, but cannot be matched to a customer by email."),
    rule("expect_column_values_to_not_be_null", "lastmodifieddate"),
]
HUBSPOT_LINE_ITEM_RULES = [
    rule("expect_column_values_to_not_be_null", "id"),
    rule("expect_column_values_to_be_unique", "id"),
    rule("expect_column_values_to_not_be_null", "quantity"),
    rule("expect_column_values_to_match_regex", "quantity", regex=DECIMAL_PATTERN,
         notes="A non-negative number as HubSpot returns it."),
    rule("expect_column_values_to_match_regex", "price", regex=MONEY_PATTERN,
         notes="The unit price; an empty one passes."),
    rule("expect_column_values_to_match_regex", "hs_product_id", regex=INTEGER_PATTERN,
         notes="The HubSpot product the line is based on; a custom line without a product passes."),
    rule("expect_column_values_to_not_be_null", "hs_lastmodifieddate"),
]
RULES_BY_STREAM = {
    "woocommerce.orders": ORDER_RULES, "woocommerce.customers": CUSTOMER_RULES,
    "woocommerce.products": PRODUCT_RULES, "hubspot.deals": HUBSPOT_DEAL_RULES,
    "hubspot.contacts": HUBSPOT_CONTACT_RULES, "hubspot.line_items": HUBSPOT_LINE_ITEM_RULES,
}
# The nightly reconciliation's results (woohub.reconciliation.results): one row per object type, counts only.
RECONCILIATION_RULES = [
    rule("expect_column_values_to_not_be_null", "object_type"),
    rule("expect_column_values_to_be_unique", "object_type"),
    rule("expect_column_values_to_be_between", "drift_rate", min_value=0,
         max_value={"$PARAMETER": RECONCILIATION_DRIFT_PARAMETER},
         notes="Records with at least one drift difference (missing on a side, a field mismatch, a duplicate, "
               "an orphaned link) / records, per object; the maximum is drift_threshold in "
               "include/woohub/reconciliation/reconciliation.yaml (suite parameter "
               f"{RECONCILIATION_DRIFT_PARAMETER})."),
    rule("expect_column_values_to_be_between", "duplicates", min_value=0, max_value=0,
         notes="Two HubSpot records for one WooCommerce record, or the reverse: none."),
]
#: suite name -> (meta, rules) of every suite this script writes
SUITES = {**{suite: ({"stream": stream}, RULES_BY_STREAM[stream]) for stream, suite in SUITE_BY_STREAM.items()},
          RECONCILIATION_SUITE: ({"results": "reconciliation"}, RECONCILIATION_RULES)}


def _delete_if_present(context: Any, name: str) -> None:
    """Drop the checkpoint, validation definition and suite called ``name`` so they are rebuilt together."""
    from great_expectations.exceptions import DataContextError

    for store in (context.checkpoints, context.validation_definitions, context.suites):
        try:
            store.delete(name)
        except DataContextError:
            pass


def write_suites(gx_root: str | None = None, suites: Collection[str] | None = None) -> list[str]:
    """Replace the suites named in ``suites`` (default: all of :data:`SUITES`) in the file context, then
    get-or-create their checkpoints."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    import great_expectations as gx

    root = resolve_gx_root(gx_root)
    written = []
    with context_lock(root):
        context = file_context(root)
        for suite_name, (meta, rules) in SUITES.items():
            if suites is not None and suite_name not in suites:
                continue
            _delete_if_present(context, suite_name)
            suite = context.suites.add(gx.ExpectationSuite(name=suite_name, meta=meta))
            for config in rules:
                suite.add_expectation_configuration(ExpectationConfiguration(**config))
            suite.save()
            ensure_checkpoint(context, suite_name)
            written.append(suite_name)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gx-root", default=None)
    parser.add_argument("--suite", action="append", choices=sorted(SUITES),
                        help="rewrite only this suite (repeatable; default: every suite)")
    arguments = parser.parse_args()
    print("\n".join(write_suites(arguments.gx_root, arguments.suite)))
