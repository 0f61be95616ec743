"""The report page's logic without a server: the SVG charts, the CSV export, the differences filter, which
Data Docs file a URL may read, the staging queries behind the page, and what Requeue and Dismiss do to what
the next run processes (on a real SQLite staging database)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from woohub.core import dead_letters, quarantine, runs
from woohub.report_ui import actions, charts, queries
from woohub.report_ui.app import csv_cell, differences_csv
from woohub.report_ui.data_docs import data_docs_directory, docs_file
from woohub.staging import repository
from woohub.staging.database import engine_for_url, migrate
from woohub.staging.schema import reconciliation_difference, reconciliation_run, review_action, run_stats

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def staging(tmp_path: Path) -> Engine:
    engine = engine_for_url(f"sqlite:///{tmp_path / 'staging.db'}")
    migrate(engine)
    return engine


# ------------------------------------------------------------------------------------------------ charts


@pytest.mark.parametrize(("top", "ticks"), [
    (0, [0, 1]), (-3, [0, 1]), (3, [0, 1, 2, 3]), (22, [0, 10, 20, 30]), (1000, [0, 250, 500, 750, 1000]),
    (0.03, [0, 0.01, 0.02, 0.03]), (7, [0, 2, 4, 6, 8]),
])
def test_ticks_are_round_and_reach_the_top(top: float, ticks: list[float]) -> None:
    assert charts.nice_ticks(top) == ticks


def test_a_line_chart_is_valid_svg_with_one_escaped_point_per_value() -> None:
    svg = charts.line_chart("runs", "records <per> run", ["06-01 02:00", "06-02 02:00", "<b>"], [
        charts.Series("synced", [10, 40, 25]), charts.Series('quarantined "x" & <y>', [1, None, 3])])
    root = ElementTree.fromstring(str(svg))  # well-formed: every label escaped
    points = root.findall(f"{SVG}circle")
    assert [(p.get("data-series"), p.get("data-value")) for p in points] == [
        ("synced", "10"), ("synced", "40"), ("synced", "25"), ('quarantined "x" & <y>', "1"),
        ('quarantined "x" & <y>', "3")]
    top_point = min(points, key=lambda p: float(p.get("cy")))
    assert top_point.get("data-value") == "40"
    assert len(root.findall(f"{SVG}polyline")) == 2
    labels = [t.text for t in root.findall(f"{SVG}text")]
    assert "<b>" in labels and "records <per> run" in labels
    assert "<b>" not in str(svg).replace("&lt;b&gt;", "")


def test_a_series_must_have_a_value_per_label() -> None:
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        charts.line_chart("x", "x", ["a", "b", "c"], [charts.Series("s", [1, 2])])


# ------------------------------------------------------------------------------------------------ CSV, filter


def test_csv_cells_never_become_formulas() -> None:
    assert [csv_cell(v) for v in ("=HYPERLINK(\"x\")", "+1", "-5", "@SUM(A1)", "\tx", "47.00", None, 3)] == [
        "'=HYPERLINK(\"x\")", "'+1", "'-5", "'@SUM(A1)", "'\tx", "47.00", "", "3"]
    assert csv_cell(datetime(2026, 6, 1, 2, 0)) == "2026-06-01 02:00:00"


def test_the_csv_has_a_header_and_every_row() -> None:
    rows = [{name: None for name in queries.DIFFERENCE_COLUMNS} | {"kind": "duplicate", "woocommerce_id": str(i)}
            for i in range(1201)]
    chunks = list(differences_csv(iter(rows)))
    assert len(chunks) == 3  # 500 rows per chunk
    parsed = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert len(parsed) == 1201 and parsed[-1]["woocommerce_id"] == "1200" and parsed[0]["kind"] == "duplicate"


def test_the_differences_filter_refuses_what_cannot_be_right() -> None:
    assert queries.DifferenceFilter.parse("", " ") == queries.DifferenceFilter(None, None)
    assert queries.DifferenceFilter.parse("deal", "duplicate").query_params() == {"object_type": "deal",
                                                                                  "kind": "duplicate"}
    with pytest.raises(queries.FilterError, match="unknown difference kind 'drift'"):
        queries.DifferenceFilter.parse(None, "drift")
    with pytest.raises(queries.FilterError, match="not an object type"):
        queries.DifferenceFilter.parse("deal' OR 1=1 --", None)


# ------------------------------------------------------------------------------------------------ Data Docs


def test_only_files_inside_the_data_docs_site_are_served(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "validations").mkdir(parents=True)
    (site / "index.html").write_text("index")
    (site / "validations" / "index.html").write_text("validations")
    (site / "validations" / "run.html").write_text("run")
    (tmp_path / "secret.txt").write_text("secret")
    (site / "link.html").symlink_to(tmp_path / "secret.txt")
    assert docs_file(site, "") == site.resolve() / "index.html"
    assert docs_file(site, "validations/") == site.resolve() / "validations" / "index.html"
    assert docs_file(site, "validations/run.html") == site.resolve() / "validations" / "run.html"
    for escape in ("../secret.txt", "validations/../../secret.txt", "/../secret.txt", str(tmp_path / "secret.txt"),
                   "link.html", "index.html\x00.png", "..\\secret.txt", "missing.html"):
        assert docs_file(site, escape) is None, escape


def test_the_data_docs_directory_is_the_one_great_expectations_yml_names(tmp_path: Path) -> None:
    (tmp_path / "great_expectations.yml").write_text(
        "data_docs_sites:\n  local_site:\n    class_name: SiteBuilder\n    store_backend:\n"
        "      class_name: TupleFilesystemStoreBackend\n      base_directory: docs/site/\n")
    assert data_docs_directory(tmp_path) == (tmp_path / "docs" / "site").resolve()
    assert data_docs_directory(tmp_path / "elsewhere") == (tmp_path / "elsewhere" / "uncommitted" / "data_docs" /
                                                           "local_site").resolve()


# ------------------------------------------------------------------------------------------------ queries


def _stats(engine: Engine, run_id: str, object_type: str, at: datetime, **counts: int) -> None:
    with engine.begin() as connection:
        connection.execute(insert(run_stats).values(run_id=run_id, object_type=object_type, updated_at=at, **counts))


def test_runs_are_told_apart_by_dag_even_when_they_share_a_run_id(staging: Engine) -> None:
    """Both sync DAGs' scheduled runs at one time have the same run id; their rows are told apart by object
    type, and Airflow's runs (with their state) are joined with staging's counts."""
    at = datetime(2026, 6, 1, 2, 0)
    shared = "scheduled__2026-06-01T02:00:00+00:00"
    _stats(staging, shared, "woocommerce_orders", at, extracted=10, api_calls=2)
    _stats(staging, shared, "deals", at, extracted=10, valid=9, quarantined=1, created=7, updated=2, api_calls=3)
    _stats(staging, shared, "contacts", at, created=4, unchanged=5, failed=1, api_calls=2)
    _stats(staging, shared, "hubspot_deals_extract", at, extracted=3, api_calls=1)
    _stats(staging, shared, "hubspot_deals", at, extracted=3, valid=3)
    _stats(staging, shared, "orders", at, created=2, failed=1, api_calls=4)
    _stats(staging, "manual__older", "products", at - timedelta(hours=1), created=1)
    airflow = [queries.AirflowRun("woocommerce_to_hubspot", shared, "success", "scheduled",
                                  datetime(2026, 6, 1, 2, 0, 5, tzinfo=UTC), None),
               queries.AirflowRun("woocommerce_to_hubspot", "manual__failed_early", "failed", "manual",
                                  datetime(2026, 6, 1, 3, 0, tzinfo=UTC), None)]

    w2h = queries.recent_runs(staging, "woocommerce_to_hubspot", airflow)
    assert [(r.run_id, r.state) for r in w2h] == [("manual__failed_early", "failed"), (shared, "success"),
                                                  ("manual__older", None)]
    assert w2h[0].objects == {} and w2h[0].totals["synced"] == 0
    assert set(w2h[1].objects) == {"woocommerce_orders", "deals", "contacts"}
    assert w2h[1].totals == {"extracted": 10, "synced": 13, "unchanged": 5, "quarantined": 1, "failed": 1,
                             "api_calls": 7}
    assert w2h[1].started_at == datetime(2026, 6, 1, 2, 0, 5)  # naive UTC, like staging

    h2w = queries.recent_runs(staging, "hubspot_to_woocommerce", airflow)
    assert [r.run_id for r in h2w] == [shared] and set(h2w[0].objects) == {"hubspot_deals_extract",
                                                                           "hubspot_deals", "orders"}
    assert h2w[0].totals == {"extracted": 3, "synced": 2, "unchanged": 0, "quarantined": 0, "failed": 1,
                             "api_calls": 5}
    assert queries.recent_runs(staging, "woocommerce_to_hubspot", airflow, limit=1)[0].run_id == "manual__failed_early"


def _night(engine: Engine, run_id: str, started: datetime, differences: dict[str, int]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(reconciliation_run), [
            {"run_id": run_id, "object_type": name, "woocommerce_records": 10, "hubspot_records": 10, "paired": 10,
             "differences": count, "started_at": started, "finished_at": started + timedelta(minutes=2)}
            for name, count in differences.items()])


def test_drift_history_and_the_latest_reconciliation(staging: Engine) -> None:
    """Drift per object per night, oldest first; the latest night is the latest run even when it found
    nothing (a clean night shows no differences, not the night before's)."""
    first, second, third = (datetime(2026, 6, d, 2, 0) for d in (1, 2, 3))
    _night(staging, "night-1", first, {"deal": 2, "contact": 1})
    _night(staging, "night-2", second, {"deal": 1, "contact": 0, "product": 4})
    with staging.begin() as connection:
        connection.execute(insert(reconciliation_difference), [
            {"run_id": "night-2", "object_type": "deal", "kind": kind, "action": "reported", "detected_at": second}
            for kind in ("field_mismatch", "duplicate", "field_mismatch")])
    labels, series = queries.drift_history(staging)
    assert labels == ["2026-06-01 02:00", "2026-06-02 02:00"]
    assert series == {"contact": [1, 0], "deal": [2, 1], "product": [None, 4]}
    assert queries.latest_reconciliation_run_id(staging) == "night-2"
    mismatches = queries.DifferenceFilter.parse("deal", "field_mismatch")
    assert queries.count_differences(staging, "night-2", mismatches) == 2
    assert [r["kind"] for r in queries.iter_differences(staging, "night-2", queries.DifferenceFilter(), chunk=1)] == [
        "field_mismatch", "duplicate", "field_mismatch"]
    assert queries.difference_options(staging, "night-2") == (["deal"], ["duplicate", "field_mismatch"])
    recon = queries.recent_runs(staging, "reconciliation", [])
    assert [r.run_id for r in recon] == ["night-2", "night-1"] and recon[0].totals["differences"] == 5

    _night(staging, "night-3", third, {"deal": 0})
    assert queries.latest_reconciliation_run_id(staging) == "night-3"
    assert queries.count_differences(staging, "night-3", queries.DifferenceFilter()) == 0


# ------------------------------------------------------------------------------------------------ actions


def _plan(run_id: str) -> runs.RunPlan:
    return runs.RunPlan(run_id=run_id, run_type="manual", start=None, end="2026-06-01T00:00:00", full=False,
                        moves_marks=False)


def _quarantined_order(engine: Engine, order_id: int, email: str) -> None:
    stream = "woocommerce.orders"
    repository.stage_records(engine, stream, [{"id": order_id, "billing": {"email": email}}], "run-1",
                             modified_field=None)
    hashes = repository.staged_hashes(engine, stream)
    quarantine.quarantine_records(engine, "run-1", stream, {str(order_id): ["bad email"]}, hashes)


def test_requeue_makes_the_next_run_validate_a_quarantined_record_again(staging: Engine) -> None:
    _quarantined_order(staging, 7, "x@@y")
    assert "7" not in runs.candidate_ids(staging, "woocommerce.orders", _plan("run-2")), "quarantined as is"

    result = actions.review(staging, "requeue", "quarantine", "woocommerce.orders", "7", actor="ana")
    assert "7" in runs.candidate_ids(staging, "woocommerce.orders", _plan("run-2"))
    assert [r["source_key"] for r in quarantine.quarantined(staging)] == ["7"], "listed until it passes"
    with staging.connect() as connection:
        recorded = connection.execute(select(review_action)).one()
    assert (recorded.id, recorded.actor, recorded.action, recorded.target, recorded.source_key) == (
        result.review_action_id, "ana", "requeue", "quarantine", "7")


def test_dismiss_releases_a_quarantined_record_until_its_source_changes(staging: Engine) -> None:
    _quarantined_order(staging, 8, "x@@y")
    actions.review(staging, "dismiss", "quarantine", "woocommerce.orders", "8", actor="ana")
    assert quarantine.quarantined(staging) == []
    assert "8" not in runs.candidate_ids(staging, "woocommerce.orders", _plan("run-2")), "dismissed version skipped"
    repository.stage_records(staging, "woocommerce.orders", [{"id": 8, "billing": {"email": "fixed@example.org"}}],
                             "run-3", modified_field=None)
    assert "8" in runs.candidate_ids(staging, "woocommerce.orders", _plan("run-4")), "a new version is checked"
    with pytest.raises(actions.ReviewError) as gone:
        actions.review(staging, "dismiss", "quarantine", "woocommerce.orders", "8", actor="ana")
    assert gone.value.status == 404


def test_mapping_quarantine_has_no_requeue(staging: Engine) -> None:
    quarantine.quarantine_records(staging, "run-1", "woocommerce_to_hubspot.contacts",
                                  {"guest:x": ["contact mapping: no email"]})
    with pytest.raises(actions.ReviewError) as refused:
        actions.review(staging, "requeue", "quarantine", "woocommerce_to_hubspot.contacts", "guest:x", actor="ana")
    assert refused.value.status == 409 and "every run" in str(refused.value)
    with staging.connect() as connection:
        assert connection.execute(select(review_action)).all() == [], "nothing done, nothing recorded"


def test_dead_letters_requeue_and_dismiss(staging: Engine) -> None:
    for key in ("customer:1", "customer:2"):
        dead_letters.record_failures(staging, "contact", [{"source_key": key, "error_code": "VALIDATION_ERROR",
                                                           "error_message": "INVALID_EMAIL",
                                                           "source_ref": f"woocommerce.customers:{key[9:]}"}],
                                     "run-1", attempts_cap=1)
    assert {r["state"] for r in dead_letters.dead_letters(staging)} == {"exhausted"}
    assert actions.target_dag(staging, "dead_letter", "contact", "customer:1") == "woocommerce_to_hubspot"

    actions.review(staging, "requeue", "dead_letter", "contact", "customer:1", actor="ana")
    actions.review(staging, "dismiss", "dead_letter", "contact", "customer:2", actor="ben")
    assert [(r["source_key"], r["state"], r["attempts"]) for r in dead_letters.dead_letters(staging)] == [
        ("customer:1", "open", 0)]
    assert dead_letters.claim_due(staging, "run-2", now=repository.utcnow() + timedelta(seconds=1)) == 1
    assert dead_letters.retry_refs(staging, "run-2") == {"woocommerce.customers": {"1"}}
    with pytest.raises(actions.ReviewError):
        actions.review(staging, "requeue", "dead_letter", "contact", "customer:2", actor="ana")
    assert [(r["actor"], r["action"], r["source_key"]) for r in reversed(queries.recent_review_actions(staging))] == [
        ("ana", "requeue", "customer:1"), ("ben", "dismiss", "customer:2")]
