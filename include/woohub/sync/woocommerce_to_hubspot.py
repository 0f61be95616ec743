"""The steps of the ``woocommerce_to_hubspot`` DAG as plain functions (each DAG task calls one).

Data moves through the staging database: each extract stages payloads under the run id; each validation
quarantines the bad records of the run; each load maps and writes the run's valid records, plus the
records whose earlier load failed and whose retry is due (dead letters claimed by the run).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from woohub.staging import repository
from woohub.woocommerce.extract import ExtractWindow

log = logging.getLogger(__name__)

STREAMS = ("orders", "customers", "products")
DEFAULT_LOOKBACK = timedelta(minutes=int(os.getenv("WOOHUB_LOOKBACK_MINUTES", "5")))
CUSTOMER_FULL_SCAN_EVERY = timedelta(hours=float(os.getenv("WOOHUB_CUSTOMER_FULL_SCAN_HOURS", "24")))
CUSTOMER_FULL_SCAN_STREAM = "customers_full_scan"
DEFAULT_MAX_BAD_SHARE = 0.05


def max_bad_share() -> float:
    """The share of a stream's records that may be quarantined before its validation task fails."""
    return float(os.getenv("WOOHUB_MAX_QUARANTINE_SHARE", str(DEFAULT_MAX_BAD_SHARE)))


@dataclass(frozen=True)
class RunPlan:
    """What one run does; small and JSON-able so it can travel through XCom."""

    run_id: str
    start: str | None
    end: str
    full: bool
    customer_full_scan: bool
    retries_claimed: int

    @property
    def window(self) -> ExtractWindow:
        return ExtractWindow(start=datetime.fromisoformat(self.start) if self.start else None,
                             end=datetime.fromisoformat(self.end), full=self.full)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def to_naive_utc(moment: datetime) -> datetime:
    """``moment`` in UTC without tzinfo (staging and WooCommerce's ``*_gmt`` form)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def plan_run(engine: Engine, run_id: str, interval_start: datetime | None, interval_end: datetime | None,
             params: Mapping[str, Any], *, lookback: timedelta = DEFAULT_LOOKBACK,
             now: datetime | None = None) -> RunPlan:
    """Decide the run's window and claim due dead letters.

    - ``params.full_resync``: everything. ``params.window_start``/``window_end`` (ISO, UTC): that window.
    - otherwise ``[min(data interval start, the orders and products high-water marks) - lookback, data
      interval end)``, so a skipped or failed run is caught up; a first run (no mark yet) is a full load.
    - customers get a full scan when the last one is older than ``WOOHUB_CUSTOMER_FULL_SCAN_HOURS``.
    """
    now = now or repository.utcnow()
    end = to_naive_utc(interval_end) if interval_end else now
    marks = [repository.get_high_water_mark(engine, stream) for stream in ("orders", "products")]
    mark = None if None in marks else min(marks)
    full = bool(params.get("full_resync")) or mark is None
    if params.get("window_start"):
        start = to_naive_utc(datetime.fromisoformat(params["window_start"]))
        end = to_naive_utc(datetime.fromisoformat(params["window_end"])) if params.get("window_end") else end
        full = bool(params.get("full_resync"))
    else:
        start = to_naive_utc(interval_start) if interval_start else end
        if mark is not None and mark < start:
            start = mark
        start = start - lookback
    last_scan = repository.get_high_water_mark(engine, CUSTOMER_FULL_SCAN_STREAM)
    full_scan = full or last_scan is None or now - last_scan >= CUSTOMER_FULL_SCAN_EVERY
    claimed = repository.claim_due_dead_letters(engine, run_id)
    return RunPlan(run_id, None if full else start.isoformat(), end.isoformat(), full, full_scan, claimed)


def candidate_payloads(engine: Engine, stream: str, run_id: str) -> list[dict[str, Any]]:
    """The staged records a run processes for ``stream``: those it extracted plus its claimed retries."""
    extracted = repository.staged_payloads(engine, stream, run_id=run_id)
    have = {str(p["id"]) for p in extracted}
    retry_ids = repository.retry_refs(engine, run_id).get(stream, set()) - have
    return extracted + (repository.staged_payloads(engine, stream, source_ids=retry_ids) if retry_ids else [])


def valid_payloads(engine: Engine, stream: str, run_id: str) -> list[dict[str, Any]]:
    """:func:`candidate_payloads` minus the records the run quarantined."""
    bad = {row["source_key"] for row in repository.quarantined(engine, run_id=run_id, object_type=stream)}
    return [p for p in candidate_payloads(engine, stream, run_id) if str(p["id"]) not in bad]


def record_extract(engine: Engine, run_id: str, result: Any) -> dict[str, Any]:
    """Record an extract's WooCommerce API calls in ``run_stats`` (object ``woocommerce_<stream>``, next to
    the HubSpot objects' rows) and return its counts for XCom."""
    repository.record_counts(engine, run_id, f"woocommerce_{result.stream}", extracted=result.staged,
                             api_calls=result.api_calls)
    return result.as_dict()


def commit_high_water_marks(engine: Engine, plan: RunPlan) -> None:
    """After every load of the run succeeded: orders and products are synced up to the window end; a full
    customer scan happened now. A mark never moves back, so a backfill of an old window leaves it alone."""
    end = datetime.fromisoformat(plan.end)
    for stream in ("orders", "products"):
        repository.set_high_water_mark(engine, stream, end, plan.run_id)
    if plan.customer_full_scan:
        repository.set_high_water_mark(engine, CUSTOMER_FULL_SCAN_STREAM, end, plan.run_id)


# Staged stream -> the HubSpot object whose run counts it feeds.
OBJECT_OF_STREAM = {"orders": "deals", "customers": "contacts", "products": "products"}


def check_hubspot_setup(hook: Any, mapping: Any = None) -> list[str]:
    """Create the custom ``woo_*`` properties the mapping needs (idempotent), then check the status →
    stage table against the portal's deal pipelines; a mismatch fails with every problem named."""
    from woohub.hubspot.load import ensure_custom_properties
    from woohub.mapping.woocommerce_to_hubspot import check_stage_table, load_mapping

    mapping = mapping or load_mapping()
    definitions: dict[str, list[dict[str, Any]]] = {}
    for prop in mapping.custom_properties:
        definitions.setdefault(prop.object_type, []).append(prop.to_hubspot())
    created = ensure_custom_properties(hook, definitions)
    check_stage_table(mapping, hook.get_pipelines("deals"))
    if created:
        log.info("created HubSpot properties: %s", ", ".join(created))
    return created


def validate_stream(engine: Engine, stream: str, run_id: str, bad_share_limit: float | None = None) -> dict[str, Any]:
    """Run the stream's Great Expectations suite on the run's staged records; quarantine the failing ones
    with their reasons; fail (after recording) when the bad share passes ``max_bad_share``."""
    from woohub.core.quality import enforce_threshold, validate_staged

    payloads = candidate_payloads(engine, stream, run_id)
    known_products = ({int(i) for i in repository.staged_hashes(engine, "products")}
                      if stream == "orders" else None)
    outcome = validate_staged(stream, payloads, run_id=run_id, known_product_ids=known_products)
    repository.quarantine_records(engine, run_id, stream, outcome.quarantined)
    repository.record_counts(engine, run_id, OBJECT_OF_STREAM[stream], extracted=outcome.total,
                             valid=len(outcome.valid_ids), quarantined=len(outcome.quarantined))
    for source_id, reasons in sorted(outcome.quarantined.items())[:50]:
        log.warning("quarantined %s %s: %s", stream, source_id, "; ".join(reasons))
    for expectation, count in outcome.warnings.items():
        if count:
            log.warning("%s: %d %s record(s) flagged by warning check %s", run_id, count, stream, expectation)
    enforce_threshold(outcome, max_bad_share() if bad_share_limit is None else bad_share_limit)
    return {"stream": stream, "total": outcome.total, "valid": len(outcome.valid_ids),
            "quarantined": len(outcome.quarantined), "warnings": outcome.warnings,
            "data_docs": outcome.data_docs_path}


def report_run(engine: Engine, run_id: str) -> dict[str, Any]:
    """Log and return the run's counts per object, its quarantined records and the open dead letters."""
    counts = repository.run_counts(engine, run_id)
    quarantined = repository.quarantined(engine, run_id=run_id)
    open_letters = repository.dead_letters(engine)
    for object_type, row in sorted(counts.items()):
        log.info("%s %s: %s", run_id, object_type, ", ".join(f"{k}={v}" for k, v in row.items()))
    if quarantined:
        log.warning("%d record(s) quarantined in this run", len(quarantined))
    if open_letters:
        worst = max(open_letters, key=lambda r: r["attempts"])
        log.warning("%d dead letter(s) open; most attempts: %s %s (%d, last error %s)", len(open_letters),
                    worst["object_type"], worst["source_key"], worst["attempts"], worst["error_code"])
    return {"counts": counts, "quarantined": len(quarantined), "dead_letters_open": len(open_letters)}


# HubSpot object -> the dead-letter / id-map object type the loaders use.
ID_MAP_TYPE = {"products": "product", "contacts": "contact", "deals": "deal", "line_items": "line_item"}


def load_object(hook: Any, engine: Engine, object_type: str, run_id: str, mapping: Any = None) -> dict[str, Any]:
    """Map the run's valid staged records to one HubSpot object type and load them; record the counts and,
    for each failed record, which staged record a later run re-processes."""
    from woohub.mapping.woocommerce_to_hubspot import load_mapping

    mapping = mapping or load_mapping()
    frame, refs = _FRAMES[object_type](engine, run_id, mapping)
    result = _LOADERS[object_type](hook, engine, frame, run_id)
    failed = {f["source_key"]: refs.get(f["source_key"]) for f in result.failures}
    repository.set_dead_letter_refs(engine, ID_MAP_TYPE[object_type],
                                    {key: ref for key, ref in failed.items() if ref})
    counts = {"created": result.created, "updated": result.updated, "unchanged": result.unchanged,
              "failed": result.failed, "api_calls": result.api_calls}
    if object_type == "line_items":
        counts.update(extracted=len(frame), valid=len(frame))
    repository.record_counts(engine, run_id, object_type, **counts)
    for failure in result.failures[:50]:
        log.warning("%s %s not loaded: %s %s", object_type, failure["source_key"], failure["error_code"],
                    failure["error_message"])
    unlinked = _unlinked_product_lines(frame, result.unlinked_line_items) if object_type == "line_items" else []
    if unlinked:
        log.warning("%d product line item(s) have no HubSpot product link (product gone from WooCommerce, "
                    "or quarantined): %s", len(unlinked), ", ".join(unlinked[:20]))
    return {**counts, "archived": result.archived, "unlinked_line_items": len(unlinked)}


def _unlinked_product_lines(frame: Any, unlinked_keys: list[str]) -> list[str]:
    """The unlinked line items that stand for products (shipping and fee lines never have a product)."""
    kinds = dict(zip(frame["source_key"], frame["properties"].map(lambda p: p.get("woo_line_item_type")),
                     strict=True))
    return sorted(k for k in unlinked_keys if kinds.get(k) not in ("shipping", "fee"))


def _loader(name: str) -> Any:
    def load(*args: Any) -> Any:
        import woohub.hubspot.load

        return getattr(woohub.hubspot.load, name)(*args)

    return load


_LOADERS = {"products": _loader("load_products"), "contacts": _loader("load_contacts"),
            "deals": _loader("load_deals"), "line_items": _loader("load_line_items")}


def _products_frame(engine: Engine, run_id: str, mapping: Any) -> tuple[Any, dict[str, str]]:
    from woohub.mapping.woocommerce_to_hubspot import map_products

    products = valid_payloads(engine, "products", run_id)
    variations = [p for p in products if p.get("type") == "variation"]
    parents = [p for p in products if p.get("type") != "variation"]
    frame = map_products(parents, variations, mapping)
    return frame, {key: f"products:{key}" for key in frame["source_key"]}


def _guest_orders(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in orders if not o.get("customer_id")]


def _latest_order_per_email(orders: list[dict[str, Any]]) -> dict[str, str]:
    latest: dict[str, dict[str, Any]] = {}
    for order in orders:
        email = str((order.get("billing") or {}).get("email") or "").strip().lower()
        if email and (email not in latest or order.get("date_modified_gmt", "") >= latest[email].get(
                "date_modified_gmt", "")):
            latest[email] = order
    return {email: str(order["id"]) for email, order in latest.items()}


def _contacts_frame(engine: Engine, run_id: str, mapping: Any) -> tuple[Any, dict[str, str]]:
    """Customers and guest buyers as contacts; guest orders without a usable email are quarantined."""
    from woohub.mapping.woocommerce_to_hubspot import map_contacts

    orders = valid_payloads(engine, "orders", run_id)
    frame = map_contacts(valid_payloads(engine, "customers", run_id), _guest_orders(orders), mapping)
    unusable = frame[frame["error"].notna()]
    if len(unusable):
        repository.quarantine_records(engine, run_id, "contacts", {
            key: [f"contact mapping: {error}"] for key, error in zip(unusable["source_key"], unusable["error"],
                                                                      strict=True)})
    frame = frame[frame["error"].isna()]
    by_email = _latest_order_per_email(_guest_orders(orders))
    refs = {key: (f"customers:{key.split(':', 1)[1]}" if key.startswith("customer:")
                  else f"orders:{by_email.get(key.split(':', 1)[1], '')}") for key in frame["source_key"]}
    return frame, refs


def _deals_frame(engine: Engine, run_id: str, mapping: Any) -> tuple[Any, dict[str, str]]:
    """Orders as deals; a guest order whose email belongs to a registered customer links to that customer."""
    from woohub.mapping.woocommerce_to_hubspot import guest_aliases, map_contacts, map_deals

    orders = valid_payloads(engine, "orders", run_id)
    frame = map_deals(orders, mapping)
    customers = valid_payloads(engine, "customers", run_id)
    aliases = guest_aliases(map_contacts(customers, _guest_orders(orders), mapping))
    frame["contact_source_key"] = frame["contact_source_key"].map(lambda key: aliases.get(key, key))
    return frame, {key: f"orders:{key}" for key in frame["source_key"]}


def _line_items_frame(engine: Engine, run_id: str, mapping: Any) -> tuple[Any, dict[str, str]]:
    from woohub.mapping.woocommerce_to_hubspot import map_line_items

    frame = map_line_items(valid_payloads(engine, "orders", run_id), mapping)
    return frame, dict(zip(frame["source_key"], "orders:" + frame["deal_source_key"], strict=True))


_FRAMES = {"products": _products_frame, "contacts": _contacts_frame, "deals": _deals_frame,
           "line_items": _line_items_frame}
