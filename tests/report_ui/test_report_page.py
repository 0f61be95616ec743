"""The report page at ``/woohub`` in a running Airflow API server, on the data of a real sync run: nothing
reaches anyone who is not logged in to Airflow, the page works in a real browser (headless Chromium from
Debian's packages), and the GX Data Docs it serves hold no personal data."""

from __future__ import annotations

import csv
import http.client
import io
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import select

from tests.conftest import PROJECT_ROOT
from tests.report_ui.conftest import (
    BAD_CUSTOMER_EMAIL,
    BAD_GUEST_EMAIL,
    HOSTILE_VALUE,
    REFUSED_BY_HUBSPOT,
    REVIEWER,
    WATCHER,
    AirflowApi,
    SyncedStaging,
)

CHROMIUM = Path("/usr/bin/chromium")
DATA_URLS = ("/woohub", "/woohub/", "/woohub/?kind=field_mismatch", "/woohub/api/differences.csv",
             "/woohub/data-docs", "/woohub/data-docs/", "/woohub/data-docs/index.html")


def _raw_get(api: AirflowApi, path: str, cookie: str | None = None) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side ``..`` normalisation)."""
    parts = urlsplit(api.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Cookie": f"_token={cookie}"} if cookie else {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_anonymous_requests_get_no_data(airflow_api: AirflowApi, synced_staging: SyncedStaging) -> None:
    """Without a valid Airflow login the page and the Data Docs send the browser to Airflow's login page and
    the API answers 401, none of them with a byte of data; with a login the same URLs answer, a viewer may not
    act, and an action without the page's CSRF token is refused."""
    secrets_in_data = [synced_staging.run_id, synced_staging.quarantined_order, "field_mismatch", "woocommerce_id",
                       synced_staging.reconciliation_runs[1], "woohub report"]
    for credentials in (None, "not-a-jwt", airflow_api.token(REVIEWER)[:-4] + "AAAA"):
        cookies = {"_token": credentials} if credentials else {}
        for path in DATA_URLS:
            response = requests.get(airflow_api.url + path, cookies=cookies, allow_redirects=False, timeout=30)
            location = response.headers.get("location", "")
            assert response.status_code in (303, 307, 401), (path, credentials, response.status_code)
            if response.status_code == 401:
                assert path.startswith("/woohub/api/")
            elif path == "/woohub":
                assert location == "/woohub/"
            else:
                assert location.startswith("/auth/login?next="), (path, location)
                assert parse_qs(urlsplit(location).query)["next"] == [path]
            assert not any(text in response.text for text in secrets_in_data), (path, response.text[:300])
        refused = requests.post(f"{airflow_api.url}/woohub/api/quarantine/dismiss", cookies=cookies, timeout=30,
                                json={"object_type": "woocommerce.orders", "source_key": synced_staging.quarantined_order})
        assert refused.status_code == 401
        incomplete = requests.post(f"{airflow_api.url}/woohub/api/quarantine/dismiss", cookies=cookies, json={},
                                   timeout=30)
        assert incomplete.status_code == 401, "authentication comes before the body's validation"

    watcher = airflow_api.session(WATCHER)
    page = watcher.get(f"{airflow_api.url}/woohub/", timeout=30)
    assert page.status_code == 200 and synced_staging.run_id in page.text
    assert synced_staging.quarantined_order in page.text and '<button type="button" data-action' not in page.text, \
        "a viewer sees the quarantine but gets no buttons"
    exported = watcher.get(f"{airflow_api.url}/woohub/api/differences.csv", timeout=30)
    assert exported.status_code == 200 and "field_mismatch" in exported.text
    bearer = requests.get(f"{airflow_api.url}/woohub/api/differences.csv", timeout=30,
                          headers={"Authorization": f"Bearer {airflow_api.token(WATCHER)}"})
    assert bearer.status_code == 200 and bearer.text == exported.text
    body = {"object_type": "woocommerce.orders", "source_key": synced_staging.quarantined_order}
    assert watcher.post(f"{airflow_api.url}/woohub/api/quarantine/dismiss", json=body, timeout=30).status_code == 403
    reviewer = airflow_api.session(REVIEWER)
    no_token = reviewer.post(f"{airflow_api.url}/woohub/api/quarantine/dismiss", json=body, timeout=30)
    assert no_token.status_code == 403 and "X-Woohub-CSRF" in no_token.json()["detail"]
    forged = reviewer.post(f"{airflow_api.url}/woohub/api/quarantine/dismiss", json=body, timeout=30,
                           headers={"X-Woohub-CSRF": "0" * 64})
    assert forged.status_code == 403
    with synced_staging.engine().connect() as connection:
        from woohub.staging.schema import quarantine, review_action

        assert connection.execute(select(review_action)).all() == []
        still_open = connection.execute(select(quarantine.c.released_at).where(
            quarantine.c.source_key == synced_staging.quarantined_order)).scalar_one()
        assert still_open is None

    cookie = airflow_api.token(REVIEWER)
    # the site is <gx root>/uncommitted/data_docs/local_site: three levels up is great_expectations.yml
    for escape in ("/woohub/data-docs/../../../great_expectations.yml",
                   "/woohub/data-docs/..%2f..%2f..%2fgreat_expectations.yml",
                   "/woohub/data-docs/%2e%2e/%2e%2e/%2e%2e/great_expectations.yml", "/woohub/data-docs//etc/passwd",
                   f"/woohub/data-docs/{synced_staging.gx_root}/great_expectations.yml"):
        status, content = _raw_get(airflow_api, escape, cookie)
        assert status in (400, 404), (escape, status)
        assert b"config_version" not in content and b"root:" not in content, escape
    status, content = _raw_get(airflow_api, "/woohub/data-docs/index.html", cookie)
    assert status == 200 and b"<html" in content.lower()


def test_data_docs_show_no_personal_data(synced_staging: SyncedStaging) -> None:
    """The sync run quarantined a guest order and a customer for their emails and GX wrote the failures into
    the Data Docs; rebuilt, the site shows the emails' shapes (``x.x@x``), never an address."""
    from woohub.core.quality import build_data_docs
    from woohub.report_ui.data_docs import data_docs_directory

    build_data_docs(synced_staging.gx_root)
    site = data_docs_directory(synced_staging.gx_root)
    pages = [p for p in site.rglob("*") if p.is_file() and p.suffix in (".html", ".json", ".js")]
    text = "\n".join(p.read_text(errors="replace") for p in pages)
    assert any("validations" in p.parts for p in pages), "the run's validation results are not in the Data Docs"
    assert "x.x@x" in text, "the failing email shapes should be shown"
    for email in (BAD_GUEST_EMAIL, BAD_CUSTOMER_EMAIL, REFUSED_BY_HUBSPOT):
        local, _, domain = email.partition("@")
        for piece in (email, local, domain.strip("@")):
            assert piece not in text, f"{piece!r} appears in the Data Docs"


def test_report_page_in_a_browser(airflow_api: AirflowApi, synced_staging: SyncedStaging,
                                  tmp_path: Path) -> None:
    """Log in through Airflow's login page in headless Chromium, open /woohub/: the runs table, the charts
    with their data points, the differences filter and its CSV link, Requeue and Dismiss recorded with the
    user's name; every value shown as text. A screenshot of the page is saved."""
    from playwright.sync_api import expect, sync_playwright

    from woohub.staging.schema import (
        dead_letter,
        quarantine,
        reconciliation_difference,
        reconciliation_run,
        review_action,
    )

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)"
    with synced_staging.engine().connect() as connection:
        nights = connection.execute(select(reconciliation_run.c.run_id, reconciliation_run.c.object_type,
                                           reconciliation_run.c.differences)).all()
        latest = connection.execute(select(reconciliation_difference).where(
            reconciliation_difference.c.run_id == synced_staging.reconciliation_runs[1])).all()
    assert {run_id for run_id, _, _ in nights} == set(synced_staging.reconciliation_runs)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            # generous waits: the machine may be busy (the Airflow UI's bundle is large); nothing here is timed
            page.set_default_timeout(90_000)
            expect.set_options(timeout=30_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{airflow_api.url}/woohub/")
            page.wait_for_url("**/auth/login**")
            page.fill("input[name=username]", REVIEWER)
            page.fill("input[name=password]", airflow_api.passwords[REVIEWER])
            page.press("input[name=password]", "Enter")
            page.wait_for_url(f"{airflow_api.url}/woohub/")
            expect(page.locator("#user-name")).to_have_text(REVIEWER)

            runs = page.locator("table.runs[data-dag=woocommerce_to_hubspot] tbody tr")
            expect(runs.filter(has_text=synced_staging.run_id)).to_have_count(1)
            expect(runs.filter(has_text=synced_staging.run_id).locator("td").nth(1)).to_have_text("success")
            # (the test process's Airflow may know runs of other test modules too: look for this module's)
            recon = page.locator("table.runs[data-dag=reconciliation] tbody tr")
            for run_id in synced_staging.reconciliation_runs:
                expect(recon.filter(has_text=run_id)).to_have_count(1)
                expect(recon.filter(has_text=run_id).locator("td").nth(1)).to_have_text("success")

            sync_points = page.locator("svg[data-chart=runs-woocommerce_to_hubspot] circle.point")
            expect(sync_points).to_have_count(3)  # synced, quarantined and failed of the one run
            synced_point = page.locator("svg[data-chart=runs-woocommerce_to_hubspot] circle[data-series=synced]")
            assert int(synced_point.get_attribute("data-value")) > 0
            drift_points = page.locator("svg[data-chart=drift] circle.point")
            expect(drift_points).to_have_count(len(nights))  # one per night and object
            expect(page.locator("svg[data-chart=drift] polyline")).to_have_count(len({o for _, o, _ in nights}))
            assert {(p.get_attribute("data-series"), p.get_attribute("data-value")) for p in drift_points.all()} == {
                (object_type, str(found)) for _, object_type, found in nights}
            for point in (*sync_points.all(), *drift_points.all()):
                expect(point).to_be_visible()
                box = point.bounding_box()
                assert box and box["width"] > 0 and box["height"] > 0

            # every value is text: the deal name set through HubSpot's API is shown, not run
            expect(page.locator("#differences td", has_text="<script>window.__woohub_xss")).to_have_count(1)
            assert page.evaluate("window.__woohub_xss") is None
            differences = page.locator("#differences tbody tr")
            expect(differences).to_have_count(len(latest))
            kinds = {row.kind for row in latest}
            assert {"field_mismatch", "missing_in_hubspot"} <= kinds, kinds

            page.select_option("#filter-kind", "field_mismatch")
            page.wait_for_url("**kind=field_mismatch**")
            mismatches = [row for row in latest if row.kind == "field_mismatch"]
            expect(differences).to_have_count(len(mismatches))
            assert set(differences.evaluate_all("rows => rows.map(r => r.dataset.kind)")) == {"field_mismatch"}
            page.select_option("#filter-object-type", "deal")
            page.wait_for_url("**object_type=deal**")
            deal_mismatches = [row for row in mismatches if row.object_type == "deal"]
            expect(differences).to_have_count(len(deal_mismatches))
            expect(differences.first).to_contain_text(synced_staging.drifted_order)
            link = page.locator("#differences-csv").get_attribute("href")
            assert parse_qs(urlsplit(link).query) == {"object_type": ["deal"], "kind": ["field_mismatch"]}
            exported = page.request.get(f"{airflow_api.url}{link}")
            assert exported.ok
            rows = list(csv.DictReader(io.StringIO(exported.text())))
            assert len(rows) == len(deal_mismatches)
            assert {(r["object_type"], r["kind"], r["run_id"]) for r in rows} == {
                ("deal", "field_mismatch", synced_staging.reconciliation_runs[1])}
            assert HOSTILE_VALUE in {r["hubspot_value"] for r in rows}

            page.goto(f"{airflow_api.url}/woohub/")
            order_row = page.locator(f"#quarantine tr[data-object-type='woocommerce.orders']"
                                     f"[data-source-key='{synced_staging.quarantined_order}']")
            expect(order_row).to_have_count(1)
            expect(order_row).to_contain_text("guest_billing_email")
            order_row.locator("button[data-action=requeue]").click()
            expect(order_row.locator(".status")).to_contain_text(f"requeue recorded by {REVIEWER}")
            customer_row = page.locator(f"#quarantine tr[data-object-type='woocommerce.customers']"
                                        f"[data-source-key='{synced_staging.quarantined_customer}']")
            customer_row.locator("button[data-action=dismiss]").click()
            expect(customer_row.locator(".status")).to_contain_text(f"dismiss recorded by {REVIEWER}")
            letter_row = page.locator(f"#dead-letters tr[data-source-key='{synced_staging.dead_letter_key}']")
            expect(letter_row).to_contain_text("INVALID_EMAIL")
            letter_row.locator("button[data-action=dismiss]").click()
            expect(letter_row.locator(".status")).to_contain_text(f"dismiss recorded by {REVIEWER}")

            page.reload()
            expect(page.locator("#review-actions tbody tr")).to_have_count(3)
            expect(page.locator(f"#quarantine tr[data-source-key='{synced_staging.quarantined_customer}']")) \
                .to_have_count(0)
            expect(page.locator(f"#dead-letters tr[data-source-key='{synced_staging.dead_letter_key}']")) \
                .to_have_count(0)
            screenshot = tmp_path / "report-page.png"
            page.screenshot(path=str(screenshot), full_page=True)
            assert not errors, errors

            # the entry in Airflow's navigation opens the page inside the Airflow UI
            page.goto(f"{airflow_api.url}/")
            page.get_by_role("link", name="woohub report").click()
            page.wait_for_url("**/plugin/woohub")
            expect(page.frame_locator("iframe").locator("#user-name")).to_have_text(REVIEWER)
        finally:
            browser.close()
    artifact = PROJECT_ROOT / ".artifacts" / "report-page.png"
    artifact.parent.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, artifact)
    print(f"report page screenshot: {screenshot} (and {artifact})")

    with synced_staging.engine().connect() as connection:
        recorded = connection.execute(select(review_action.c.actor, review_action.c.action, review_action.c.target,
                                             review_action.c.object_type, review_action.c.source_key)
                                      .order_by(review_action.c.id)).all()
        assert [tuple(r) for r in recorded] == [
            (REVIEWER, "requeue", "quarantine", "woocommerce.orders", synced_staging.quarantined_order),
            (REVIEWER, "dismiss", "quarantine", "woocommerce.customers", synced_staging.quarantined_customer),
            (REVIEWER, "dismiss", "dead_letter", "contact", synced_staging.dead_letter_key)]
        order = connection.execute(select(quarantine.c.released_at, quarantine.c.content_hash).where(
            quarantine.c.source_key == synced_staging.quarantined_order)).one()
        assert order.released_at is None and order.content_hash is None, "requeued: open, version forgotten"
        customer = connection.execute(select(quarantine.c.released_at).where(
            quarantine.c.source_key == synced_staging.quarantined_customer)).scalar_one()
        assert customer is not None
        assert connection.execute(select(dead_letter.c.state).where(
            dead_letter.c.source_key == synced_staging.dead_letter_key)).scalar_one() == "dismissed"
        assert connection.execute(select(reconciliation_difference.c.id)).all(), "the differences are still there"
