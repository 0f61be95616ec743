#!/usr/bin/env python3
"""Known-vulnerability audit of the pinned dependencies (``requirements.lock``), run by ``make test`` and
``make audit``; it says exactly what was audited, by which source, and what could not be.

1. ``pip-audit -r requirements.lock --no-deps --disable-pip --format json`` (its default service: PyPI's
   per-version JSON, ``/pypi/<name>/<version>/json``, whose ``vulnerabilities`` are OSV's advisories for
   that version). A package it could not look up comes back with a ``skip_reason`` (pip-audit still says
   "No known vulnerabilities found" then; this script never does).
2. Fallback for the packages pip-audit skipped: PyPI's project JSON, ``/pypi/<name>/json``. Its
   ``vulnerabilities`` are those of the project's LATEST release only, so they are authoritative for a pin
   that IS the latest release, and such a package counts as audited ("pypi-latest"). A pin behind the
   latest release stays NOT audited: the latest release's list says nothing about older versions.
3. Every vulnerability found must be listed in ``audit-exceptions.toml`` (id or alias, package, reason,
   review date not past), or the audit fails.

Exit codes: 0 = every audited package is clean or excepted; 1 = an unexplained vulnerability, an invalid
exceptions file or an exception past its review date; 2 = only with ``WOOHUB_AUDIT_STRICT=1`` (or
``--strict``): some packages could not be audited. Without strict mode unaudited packages do not fail the
run, but the script prints a WARNING banner with their count and names: where the vulnerability service
is unreachable (a sandboxed CI), the run stays green, never silently.

``--pip-audit-json FILE`` reads a saved pip-audit report instead of running pip-audit; ``--no-fallback``
skips step 2 (no network beyond pip-audit's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCK = ROOT / "requirements.lock"
DEFAULT_EXCEPTIONS = ROOT / "audit-exceptions.toml"
PYPI_PROJECT_JSON = "https://pypi.org/pypi/{name}/json"
STRICT_VAR = "WOOHUB_AUDIT_STRICT"
PIP_AUDIT = "pip-audit"  # the source names printed per package
PYPI_LATEST = "pypi-latest"

#: the project JSON of one package (``None`` when it could not be fetched): what the fallback reads
ProjectFetcher = Callable[[str], Mapping[str, Any] | None]


def normalize(name: str) -> str:
    """A package name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Vulnerability:
    id: str
    package: str
    version: str
    aliases: tuple[str, ...] = ()
    fixed_in: tuple[str, ...] = ()
    source: str = PIP_AUDIT

    def ids(self) -> set[str]:
        return {self.id.upper(), *(alias.upper() for alias in self.aliases)}


@dataclass(frozen=True)
class AuditException:
    id: str
    package: str
    reason: str
    review_by: dt.date


@dataclass
class AuditResult:
    """What the audit found; :meth:`exit_code` applies the policy in the module docstring."""

    packages: dict[str, str]  # normalized name -> pinned version
    audited_by: dict[str, str] = field(default_factory=dict)  # normalized name -> source
    not_audited: dict[str, str] = field(default_factory=dict)  # normalized name -> why
    vulnerabilities: list[Vulnerability] = field(default_factory=list)
    excepted: list[tuple[Vulnerability, AuditException]] = field(default_factory=list)
    unexplained: list[Vulnerability] = field(default_factory=list)
    expired: list[AuditException] = field(default_factory=list)
    unused: list[AuditException] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def exit_code(self, *, strict: bool) -> int:
        if self.unexplained or self.errors:
            return 1
        if strict and self.not_audited:
            return 2
        return 0


# -- inputs ---------------------------------------------------------------------------------------------

def read_lock(path: Path) -> dict[str, str]:
    """``name==version`` pins of a lock file (normalized name -> version); other lines are ignored."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;]+).*", line)
        if match:
            pins[normalize(match.group(1))] = match.group(2)
    return pins


def read_exceptions(path: Path) -> tuple[list[AuditException], list[str]]:
    """The accepted vulnerabilities (``[[exception]]`` tables) and the problems of the file."""
    if not path.exists():
        return [], []
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        return [], [f"{path.name}: not valid TOML: {error}"]
    entries, problems = [], []
    for number, raw in enumerate(document.get("exception", []), start=1):
        missing = [key for key in ("id", "package", "reason", "review_by") if not raw.get(key)]
        if missing:
            problems.append(f"{path.name}: exception #{number} lacks {', '.join(missing)}")
            continue
        review_by = raw["review_by"]
        if isinstance(review_by, str):
            try:
                review_by = dt.date.fromisoformat(review_by)
            except ValueError:
                problems.append(f"{path.name}: exception #{number} review_by is not a date: {review_by!r}")
                continue
        if not isinstance(review_by, dt.date):
            problems.append(f"{path.name}: exception #{number} review_by is not a date")
            continue
        entries.append(AuditException(str(raw["id"]), normalize(str(raw["package"])), str(raw["reason"]),
                                      review_by))
    return entries, problems


def run_pip_audit(lock: Path, service: str) -> tuple[dict[str, Any] | None, str]:
    """pip-audit's JSON report of ``lock`` (``None`` when it produced none) and its stderr."""
    command = [sys.executable, "-m", "pip_audit", "-r", str(lock), "--no-deps", "--disable-pip",
               "--format", "json", "--progress-spinner", "off", "--vulnerability-service", service]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        return json.loads(done.stdout), done.stderr
    except ValueError:
        return None, done.stderr


def fetch_project_json(name: str, *, timeout: float = 15.0) -> Mapping[str, Any] | None:
    """PyPI's project JSON for ``name``, or ``None`` when it cannot be fetched."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(PYPI_PROJECT_JSON.format(name=name), headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None


# -- decision logic (pure; the unit tests drive it with fixtures) ---------------------------------------

def same_version(a: str, b: str) -> bool:
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - packaging is pinned in the lock
        return a == b
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def audit(pins: Mapping[str, str], report: Mapping[str, Any] | None, exceptions: Sequence[AuditException], *,
          fetch: ProjectFetcher | None, today: dt.date, exception_problems: Iterable[str] = ()) -> AuditResult:
    """Combine a pip-audit report, the fallback and the exceptions into one :class:`AuditResult`."""
    result = AuditResult(packages=dict(pins), errors=list(exception_problems))
    seen: set[str] = set()
    for dependency in (report or {}).get("dependencies", []):
        name = normalize(str(dependency.get("name", "")))
        if name not in pins:
            continue
        seen.add(name)
        if "vulns" in dependency and not dependency.get("skip_reason"):
            result.audited_by[name] = PIP_AUDIT
            version = str(dependency.get("version") or pins[name])
            result.vulnerabilities.extend(
                Vulnerability(str(v["id"]), name, version, tuple(v.get("aliases") or ()),
                              tuple(v.get("fix_versions") or ()), PIP_AUDIT) for v in dependency["vulns"])
        else:
            result.not_audited[name] = str(dependency.get("skip_reason") or "pip-audit gave no result")
    for name in pins:
        if name not in seen:
            result.not_audited[name] = "pip-audit produced no report" if report is None else \
                "not in pip-audit's report"
    if fetch is not None and result.not_audited:
        _fallback(result, fetch)
    _apply_exceptions(result, exceptions, today)
    return result


def _fallback(result: AuditResult, fetch: ProjectFetcher) -> None:
    names = sorted(result.not_audited)
    with ThreadPoolExecutor(max_workers=8) as pool:
        projects = dict(zip(names, pool.map(fetch, names), strict=True))
    for name in names:
        project = projects[name]
        pinned = result.packages[name]
        if project is None:
            result.not_audited[name] += "; no PyPI project JSON either (unreachable or unknown)"
            continue
        latest = str((project.get("info") or {}).get("version") or "")
        if not same_version(latest, pinned):
            result.not_audited[name] += (f"; the project JSON lists the vulnerabilities of {latest or '?'} only "
                                         f"(the latest release), not of the pinned {pinned}")
            continue
        del result.not_audited[name]
        result.audited_by[name] = PYPI_LATEST
        for v in project.get("vulnerabilities") or []:
            if v.get("withdrawn"):
                continue
            result.vulnerabilities.append(Vulnerability(str(v["id"]), name, pinned, tuple(v.get("aliases") or ()),
                                                        tuple(v.get("fixed_in") or ()), PYPI_LATEST))


def _apply_exceptions(result: AuditResult, exceptions: Sequence[AuditException], today: dt.date) -> None:
    used: set[int] = set()
    for vulnerability in result.vulnerabilities:
        match = next((i for i, e in enumerate(exceptions)
                      if normalize(e.package) == vulnerability.package and e.id.upper() in vulnerability.ids()),
                     None)
        if match is None:
            result.unexplained.append(vulnerability)
            continue
        used.add(match)
        exception = exceptions[match]
        if exception.review_by < today:
            result.expired.append(exception)
            result.unexplained.append(vulnerability)
        else:
            result.excepted.append((vulnerability, exception))
    result.unused = [e for i, e in enumerate(exceptions) if i not in used]


# -- output ---------------------------------------------------------------------------------------------

def render(result: AuditResult, *, strict: bool) -> str:
    by_pip = sum(1 for s in result.audited_by.values() if s == PIP_AUDIT)
    by_latest = sum(1 for s in result.audited_by.values() if s == PYPI_LATEST)
    total, audited = len(result.packages), len(result.audited_by)
    lines = [f"dependency audit of {total} pinned package(s): {audited} audited "
             f"({by_pip} by pip-audit, {by_latest} by the PyPI project JSON of their latest release), "
             f"{len(result.not_audited)} NOT audited"]
    for problem in result.errors:
        lines.append(f"ERROR {problem}")
    for v in result.unexplained:
        fixed = f", fixed in {', '.join(v.fixed_in)}" if v.fixed_in else ""
        aliases = f" ({', '.join(v.aliases)})" if v.aliases else ""
        lines.append(f"VULNERABLE {v.package} {v.version}: {v.id}{aliases}{fixed} [source: {v.source}]")
    for e in result.expired:
        lines.append(f"EXPIRED exception {e.id} for {e.package}: review date {e.review_by} has passed")
    for v, e in result.excepted:
        lines.append(f"excepted {v.package} {v.version}: {v.id} until {e.review_by}: {e.reason}")
    for e in result.unused:
        lines.append(f"note: exception {e.id} for {e.package} matched nothing (remove it once it is fixed)")
    if result.not_audited:
        lines.append("WARNING " + "=" * 70)
        lines.append(f"WARNING {len(result.not_audited)} package(s) could NOT be audited (no vulnerability data "
                     "reachable for their pinned version); their vulnerabilities are UNKNOWN:")
        for name in sorted(result.not_audited):
            lines.append(f"WARNING   {name}=={result.packages[name]}: {result.not_audited[name]}")
        lines.append("WARNING " + ("strict mode: this fails the audit" if strict else
                                   f"not failing (set {STRICT_VAR}=1 to fail on unaudited packages)"))
        lines.append("WARNING " + "=" * 70)
    lines.append(f"audit result: {verdict(result, strict=strict)}")
    return "\n".join(lines)


def verdict(result: AuditResult, *, strict: bool) -> str:
    """The last line's words: never "no vulnerabilities" for packages that were not audited."""
    code = result.exit_code(strict=strict)
    if code == 1:
        return "FAILED: vulnerabilities or exception problems above"
    if code == 2:
        return f"FAILED (strict): {len(result.not_audited)} package(s) could not be audited"
    if not result.audited_by:
        return f"NOTHING AUDITED: no vulnerability data was reachable for any of the {len(result.packages)} packages"
    clean = f"no known vulnerability left unexplained in the {len(result.audited_by)} audited package(s)"
    return clean if not result.not_audited else f"{clean}; {len(result.not_audited)} package(s) NOT audited"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", type=Path, default=DEFAULT_LOCK)
    parser.add_argument("--exceptions", type=Path, default=DEFAULT_EXCEPTIONS)
    parser.add_argument("--pip-audit-json", type=Path, help="a saved pip-audit JSON report (skip running it)")
    parser.add_argument("--service", default="pypi", choices=["pypi", "osv"], help="pip-audit's service")
    parser.add_argument("--no-fallback", action="store_true", help="do not query PyPI's project JSON")
    parser.add_argument("--strict", action="store_true", help=f"fail on unaudited packages (or {STRICT_VAR}=1)")
    args = parser.parse_args(argv)
    strict = args.strict or os.environ.get(STRICT_VAR, "") not in ("", "0", "false", "no")
    pins = read_lock(args.lock)
    exceptions, problems = read_exceptions(args.exceptions)
    if args.pip_audit_json:
        report: dict[str, Any] | None = json.loads(args.pip_audit_json.read_text(encoding="utf-8"))
    else:
        report, stderr = run_pip_audit(args.lock, args.service)
        if report is None:
            print(f"pip-audit produced no report:\n{stderr.strip()[-2000:]}", file=sys.stderr)
    result = audit(pins, report, exceptions, fetch=None if args.no_fallback else fetch_project_json,
                   today=dt.date.today(), exception_problems=problems)
    print(render(result, strict=strict))
    return result.exit_code(strict=strict)


if __name__ == "__main__":
    sys.exit(main())
