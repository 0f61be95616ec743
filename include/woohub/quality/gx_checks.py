"""Validate staged WooCommerce payloads with the committed Great Expectations suites (GX 1.x file context).

``validate_staged`` flattens a stream's payloads (``frames.validation_frame``), runs the stream's checkpoint
(validation definition + ``UpdateDataDocsAction``) with ``result_format`` COMPLETE, and turns row-level
failures into per-record quarantine reasons. Expectations whose meta says ``{"severity": "warning"}`` are
only counted. GX is imported inside functions so that DAG parsing stays fast.

Concurrency: one Airflow task per stream may run at the same time against the same file context. Every
GX call that reads or writes the context (get-or-create of datasource/validation definition/checkpoint,
which rewrites ``great_expectations.yml``; validation results; the shared Data Docs index) runs under an
exclusive ``fcntl`` lock on ``uncommitted/woohub-gx.lock``. Frames are built outside the lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import woohub
from woohub.quality.frames import validation_frame

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.checkpoint import Checkpoint
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.data_context import FileDataContext

GX_ROOT_ENV = "WOOHUB_GX_ROOT"
SUITE_BY_STREAM = {
    "orders": "woocommerce_orders_staging",
    "customers": "woocommerce_customers_staging",
    "products": "woocommerce_products_staging",
}
DATASOURCE_NAME = "woohub_staged_frames"
BATCH_DEFINITION_NAME = "whole_frame"
DATA_DOCS_SITE = "local_site"
_DATA_DOCS_INDEX = Path("uncommitted/data_docs/local_site/index.html")
_LOCK_FILE = Path("uncommitted/woohub-gx.lock")
_MAX_SHOWN_VALUE = 80


@dataclass
class ValidationOutcome:
    """What one stream's validation decided: which source ids go on, which are quarantined and why."""

    stream: str
    suite: str
    total: int
    valid_ids: list[str]
    quarantined: dict[str, list[str]]
    warnings: dict[str, int]
    bad_share: float
    statistics: dict[str, Any] = field(default_factory=dict)
    data_docs_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The outcome as plain JSON-able data."""
        return asdict(self)


class DataQualityError(Exception):
    """Too large a share of a stream's records failed validation."""


def resolve_gx_root(gx_root: str | os.PathLike[str] | None = None) -> Path:
    """``gx_root``, else ``$WOOHUB_GX_ROOT``, else ``<project root>/great_expectations``."""
    if gx_root is None:
        gx_root = os.environ.get(GX_ROOT_ENV) or Path(woohub.__file__).resolve().parents[2] / "great_expectations"
    return Path(gx_root).resolve()


@contextmanager
def context_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive cross-process lock on the file context rooted at ``root``."""
    lock_path = root / _LOCK_FILE
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def file_context(root: Path) -> FileDataContext:
    """The GX file context whose ``great_expectations.yml`` lives in ``root`` (call under ``context_lock``)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx.get_context(mode="file", context_root_dir=str(root))


def ensure_checkpoint(context: FileDataContext, suite_name: str) -> Checkpoint:
    """Get or create the dataframe asset, validation definition and checkpoint named after ``suite_name``."""
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.exceptions import DataContextError

    from great_expectations import Checkpoint, ValidationDefinition

    try:
        return context.checkpoints.get(suite_name)
    except DataContextError:
        pass
    try:
        validation = context.validation_definitions.get(suite_name)
    except DataContextError:
        validation = context.validation_definitions.add(ValidationDefinition(
            name=suite_name, data=_batch_definition(context, suite_name), suite=context.suites.get(suite_name)))
    return context.checkpoints.add(Checkpoint(
        name=suite_name, validation_definitions=[validation],
        actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[DATA_DOCS_SITE])],
        result_format={"result_format": "COMPLETE"}))


def _batch_definition(context: FileDataContext, asset_name: str) -> Any:
    """Get or create the whole-dataframe batch definition of the pandas asset ``asset_name``."""
    try:
        datasource = context.data_sources.get(DATASOURCE_NAME)
    except LookupError:
        datasource = context.data_sources.add_pandas(DATASOURCE_NAME)
    try:
        asset = datasource.get_asset(asset_name)
    except LookupError:
        asset = datasource.add_dataframe_asset(asset_name)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION_NAME)
    except LookupError:
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION_NAME)


def validate_staged(stream: str, payloads: list[dict], *, run_id: str,
                    known_product_ids: set[int] | None = None,
                    gx_root: str | os.PathLike[str] | None = None) -> ValidationOutcome:
    """Validate staged ``payloads`` of ``stream`` against its suite and sort their ids into valid/quarantined.

    A source id is quarantined when any of its rows fails an error-severity expectation (so a duplicated id
    is quarantined as a whole); warning-severity failures are only counted per expectation.
    """
    frame = validation_frame(stream, payloads, known_product_ids=known_product_ids)
    suite = SUITE_BY_STREAM[stream]
    if frame.empty:
        return _outcome(stream, suite, frame, {}, {}, {"evaluated_expectations": 0}, None)
    root = resolve_gx_root(gx_root)
    results, gx_statistics = run_checkpoint(root, suite, frame, run_id)
    quarantined, warnings = sort_failures(results, frame)
    docs = root / _DATA_DOCS_INDEX
    return _outcome(stream, suite, frame, quarantined, warnings, gx_statistics,
                    str(docs) if docs.exists() else None)


def run_checkpoint(root: Path, suite_name: str, frame: pd.DataFrame,
                   run_id: str) -> tuple[list[ExpectationValidationResult], dict[str, Any]]:
    """Run the suite's checkpoint on ``frame``: per-expectation results and GX's run statistics."""
    from great_expectations.core.run_identifier import RunIdentifier

    with context_lock(root):
        context = file_context(root)
        checkpoint = ensure_checkpoint(context, suite_name)
        result = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run_id))
    (validation_result,) = result.run_results.values()
    return list(validation_result.results), dict(validation_result.statistics)


def expectation_label(result: ExpectationValidationResult) -> str:
    """``expect_x(column)``: the name warnings and quarantine reasons use for an expectation."""
    config = result.expectation_config
    column = config.kwargs.get("column")
    return f"{config.type}({column})" if column else config.type


def sort_failures(results: list[ExpectationValidationResult],
                  frame: pd.DataFrame) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Failed rows of error expectations as ``source id -> reasons``; warning expectations as counts."""
    quarantined: dict[str, list[str]] = {}
    warnings: dict[str, int] = {}
    for result in results:
        label = expectation_label(result)
        failures = [] if result.success else _failed_rows(result, len(frame))
        if (result.expectation_config.meta or {}).get("severity") == "warning":
            warnings[label] = len(failures)
            continue
        for position, reason in failures:
            quarantined.setdefault(str(frame["source_id"].iat[position]), []).append(f"{label}: {reason}")
    return quarantined, warnings


def _failed_rows(result: ExpectationValidationResult, row_count: int) -> list[tuple[int, str]]:
    """``(row position, shown value)`` of each failing row; every row when the expectation itself errored
    or did not report row indexes."""
    details = result.result or {}
    if result.exception_info and result.exception_info.get("raised_exception"):
        message = result.exception_info.get("exception_message")
        return [(position, f"expectation raised {message}") for position in range(row_count)]
    indexes = details.get("unexpected_index_list")
    if indexes is None:
        return [(position, f"failed for the whole batch, observed {details.get('observed_value')!r}")
                for position in range(row_count)]
    values = details.get("unexpected_list") or [None] * len(indexes)
    return [(int(index), _shown(value)) for index, value in zip(indexes, values, strict=True)]


def _shown(value: Any) -> str:
    """An offending value as it appears in a reason (repr, shortened)."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN_VALUE else text[: _MAX_SHOWN_VALUE - 1] + "…"


def _outcome(stream: str, suite: str, frame: pd.DataFrame, quarantined: dict[str, list[str]],
             warnings: dict[str, int], gx_statistics: dict[str, Any], docs: str | None) -> ValidationOutcome:
    """Assemble the outcome; ``bad_share`` is the share of rows whose source id is quarantined."""
    source_ids = frame["source_id"].tolist() if len(frame) else []
    bad_rows = sum(source_id in quarantined for source_id in source_ids)
    valid_ids = list(dict.fromkeys(s for s in source_ids if s not in quarantined))
    bad_share = bad_rows / len(source_ids) if source_ids else 0.0
    statistics = {
        "total": len(source_ids), "valid": len(valid_ids), "quarantined": len(quarantined),
        "bad_share": round(bad_share, 6), "warning_rows": sum(warnings.values()),
        "evaluated_expectations": gx_statistics.get("evaluated_expectations", 0),
        "unsuccessful_expectations": gx_statistics.get("unsuccessful_expectations", 0),
    }
    return ValidationOutcome(stream=stream, suite=suite, total=len(source_ids), valid_ids=valid_ids,
                             quarantined=quarantined, warnings=warnings, bad_share=bad_share,
                             statistics=statistics, data_docs_path=docs)


def enforce_threshold(outcome: ValidationOutcome, max_bad_share: float) -> None:
    """Raise ``DataQualityError`` when more than ``max_bad_share`` of the stream's rows were quarantined."""
    if outcome.bad_share <= max_bad_share:
        return
    counts: dict[str, int] = {}
    for reasons in outcome.quarantined.values():
        for expectation in {reason.split(": ", 1)[0] for reason in reasons}:
            counts[expectation] = counts.get(expectation, 0) + 1
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]
    raise DataQualityError(
        f"{outcome.stream}: {outcome.bad_share:.1%} of {outcome.total} records failed suite {outcome.suite} "
        f"(threshold {max_bad_share:.1%}); top reasons: "
        + "; ".join(f"{name} ×{count}" for name, count in top))


def build_data_docs(gx_root: str | os.PathLike[str] | None = None) -> str:
    """(Re)build the local Data Docs site and return the path of its ``index.html``."""
    root = resolve_gx_root(gx_root)
    with context_lock(root):
        file_context(root).build_data_docs(site_names=[DATA_DOCS_SITE])
    return str(root / _DATA_DOCS_INDEX)


__all__ = [
    "DataQualityError", "SUITE_BY_STREAM", "ValidationOutcome", "build_data_docs", "enforce_threshold",
    "ensure_checkpoint", "resolve_gx_root", "validate_staged",
]
