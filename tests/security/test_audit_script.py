"""The decision logic of ``scripts/audit_dependencies.py`` on pip-audit JSON fixtures (no network): what
counts as audited, by which source, when it fails, and that it never claims "no vulnerabilities" for
packages it could not audit."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 2)


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("audit_dependencies", ROOT / "scripts" / "audit_dependencies.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


audit_script = _load_script()

PINS = {"requests": "2.32.4", "jinja2": "3.1.6", "old-lib": "1.0.0"}


def _skipped(name: str, version: str) -> dict[str, Any]:
    """What pip-audit 2.10.1 reports when PyPI's per-version JSON answers 404 (as on this machine)."""
    return {"name": name, "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} ({version})"}


def _audited(name: str, version: str, *vulns: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "version": version, "vulns": list(vulns)}


def _vuln(vuln_id: str, *aliases: str, fixed: str = "9.9") -> dict[str, Any]:
    return {"id": vuln_id, "fix_versions": [fixed], "aliases": list(aliases), "description": "…"}


def _project(latest: str, *vulns: dict[str, Any]) -> dict[str, Any]:
    return {"info": {"name": "x", "version": latest}, "vulnerabilities": list(vulns)}


def _exception(vuln_id: str, package: str, review_by: dt.date = dt.date(2027, 1, 31)) -> Any:
    return audit_script.AuditException(vuln_id, package, "does not apply: the vulnerable function is unused",
                                       review_by)


def _run(report: dict[str, Any] | None, exceptions: list[Any] = (), projects: dict[str, Any] | None = None,
         fallback: bool = True) -> Any:
    fetch = (lambda name: (projects or {}).get(name)) if fallback else None
    return audit_script.audit(PINS, report, list(exceptions), fetch=fetch, today=TODAY)


def test_nothing_reachable_is_reported_as_nothing_audited_never_as_clean() -> None:
    report = {"dependencies": [_skipped(n, v) for n, v in PINS.items()], "fixes": []}
    result = _run(report, projects={})
    text = audit_script.render(result, strict=False)
    assert result.audited_by == {} and set(result.not_audited) == set(PINS)
    assert result.exit_code(strict=False) == 0 and result.exit_code(strict=True) == 2
    assert "0 audited" in text and "3 NOT audited" in text and "NOTHING AUDITED" in text
    assert "no known vulnerabilit" not in text.lower()
    assert "WARNING 3 package(s) could NOT be audited" in text
    assert "FAILED (strict): 3 package(s) could not be audited" in audit_script.render(result, strict=True)


def test_no_pip_audit_report_at_all_leaves_every_package_unaudited() -> None:
    result = _run(None, fallback=False)
    assert set(result.not_audited) == set(PINS)
    assert all(why == "pip-audit produced no report" for why in result.not_audited.values())


def test_the_fallback_audits_only_pins_that_are_the_latest_release() -> None:
    report = {"dependencies": [_skipped(n, v) for n, v in PINS.items()]}
    projects = {"requests": _project("2.32.4"),  # the pin is the latest: authoritative, clean
                "jinja2": _project("3.2.0", _vuln("GHSA-latest-only")),  # newer release exists: not for 3.1.6
                "old-lib": None}  # project JSON unreachable
    result = _run(report, projects=projects)
    assert result.audited_by == {"requests": "pypi-latest"}
    assert set(result.not_audited) == {"jinja2", "old-lib"}
    assert "lists the vulnerabilities of 3.2.0 only" in result.not_audited["jinja2"]
    assert result.vulnerabilities == []  # jinja2's latest-release advisory says nothing about 3.1.6
    text = audit_script.render(result, strict=False)
    assert "1 audited (0 by pip-audit, 1 by the PyPI project JSON of their latest release), 2 NOT audited" in text
    assert text.endswith("no known vulnerability left unexplained in the 1 audited package(s); "
                         "2 package(s) NOT audited")


def test_a_vulnerability_of_a_latest_pin_fails_unless_excepted_by_an_alias() -> None:
    report = {"dependencies": [_skipped("requests", "2.32.4"), _audited("jinja2", "3.1.6"),
                               _audited("old-lib", "1.0.0")]}
    advisory = {"id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2026-0001"], "fixed_in": ["2.33.0"],
                "withdrawn": None}
    withdrawn = {"id": "GHSA-gone", "aliases": [], "fixed_in": [], "withdrawn": "2026-01-01T00:00:00Z"}
    projects = {"requests": _project("2.32.4", advisory, withdrawn)}
    failing = _run(report, projects=projects)
    assert [(v.id, v.source) for v in failing.vulnerabilities] == [("GHSA-aaaa-bbbb-cccc", "pypi-latest")]
    assert failing.exit_code(strict=False) == 1
    assert "VULNERABLE requests 2.32.4: GHSA-aaaa-bbbb-cccc (CVE-2026-0001), fixed in 2.33.0" in \
        audit_script.render(failing, strict=False)
    excepted = _run(report, [_exception("cve-2026-0001", "Requests")], projects=projects)
    assert excepted.exit_code(strict=True) == 0 and excepted.unexplained == []
    assert "excepted requests 2.32.4: GHSA-aaaa-bbbb-cccc until 2027-01-31" in \
        audit_script.render(excepted, strict=False)


def test_pip_audit_findings_fail_unless_excepted_and_exceptions_expire() -> None:
    report = {"dependencies": [_audited("requests", "2.32.4", _vuln("PYSEC-2026-1", "GHSA-x")),
                               _audited("jinja2", "3.1.6"), _audited("old-lib", "1.0.0")]}
    assert _run(report).exit_code(strict=True) == 1
    wrong_package = _run(report, [_exception("PYSEC-2026-1", "jinja2")])
    assert wrong_package.exit_code(strict=False) == 1 and len(wrong_package.unused) == 1
    ok = _run(report, [_exception("GHSA-x", "requests")])
    assert ok.exit_code(strict=True) == 0
    assert ok.audited_by == {"requests": "pip-audit", "jinja2": "pip-audit", "old-lib": "pip-audit"}
    expired = _run(report, [_exception("PYSEC-2026-1", "requests", review_by=dt.date(2026, 12, 1))])
    assert expired.exit_code(strict=False) == 1 and expired.expired
    assert "EXPIRED exception PYSEC-2026-1 for requests" in audit_script.render(expired, strict=False)


def test_exceptions_file_needs_every_field(tmp_path: Path) -> None:
    path = tmp_path / "exceptions.toml"
    path.write_text('[[exception]]\nid = "GHSA-1"\npackage = "requests"\nreason = "unused code path"\n'
                    'review_by = 2027-02-01\n\n[[exception]]\nid = "GHSA-2"\npackage = "jinja2"\n')
    entries, problems = audit_script.read_exceptions(path)
    assert [(e.id, e.package, e.review_by) for e in entries] == [("GHSA-1", "requests", dt.date(2027, 2, 1))]
    assert problems == ["exceptions.toml: exception #2 lacks reason, review_by"]
    result = audit_script.audit(PINS, {"dependencies": []}, entries, fetch=None, today=TODAY,
                                exception_problems=problems)
    assert result.exit_code(strict=False) == 1


def test_the_repository_lock_and_exceptions_file_parse() -> None:
    entries, problems = audit_script.read_exceptions(ROOT / "audit-exceptions.toml")
    assert problems == []
    assert all(e.reason and e.review_by for e in entries)
    pins = audit_script.read_lock(ROOT / "requirements.lock")
    assert pins["pip-audit"] == "2.10.1" and len(pins) > 100


def test_main_with_a_saved_report(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("Requests==2.32.4\njinja2==3.1.6  # a comment\n-e .\n")
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"dependencies": [_audited("requests", "2.32.4"), _skipped("jinja2", "3.1.6")]}))
    argv = ["--lock", str(lock), "--exceptions", str(tmp_path / "none.toml"), "--pip-audit-json", str(report),
            "--no-fallback"]
    monkeypatch.delenv(audit_script.STRICT_VAR, raising=False)
    assert audit_script.main(argv) == 0
    out = capsys.readouterr().out
    assert "2 pinned package(s): 1 audited (1 by pip-audit, 0 by the PyPI project JSON" in out
    assert "jinja2==3.1.6: Dependency not found on PyPI" in out
    monkeypatch.setenv(audit_script.STRICT_VAR, "1")
    assert audit_script.main(argv) == 2
