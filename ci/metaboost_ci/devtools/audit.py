"""The npm audit gate of bump-version and sync, with an allowlist.

``npm audit --omit=dev --audit-level=moderate`` as the old scripts ran it, but
read as JSON so that advisories a maintainer has reviewed and accepted can be
allowlisted by ID in the monorepo's root package.json::

    "metaboost-ci": {"auditAllowlist": ["GHSA-xvch-5gv4-984h", "1096471"]}

An ID is the GitHub advisory ID (GHSA-...) or npm's numeric advisory number.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import anyio

from ..core.errors import CheckFailed, ConfigError
from ..core.versions import parse_package_json

AUDIT_ARGS = ("audit", "--omit=dev", "--audit-level=moderate", "--json")
GATED_SEVERITIES = frozenset({"moderate", "high", "critical"})
CONFIG_KEY = "metaboost-ci"
ALLOWLIST_KEY = "auditAllowlist"


@dataclass(frozen=True)
class Advisory:
    ids: tuple[str, ...]  # GHSA ID first when known, then npm's number
    package: str
    severity: str
    title: str

    @property
    def label(self) -> str:
        return f"{self.ids[0] if self.ids else '?'} {self.severity} in {self.package}: {self.title}"


@dataclass(frozen=True)
class AuditResult:
    ran: bool
    allowlisted: tuple[Advisory, ...] = ()
    note: str = ""


def read_allowlist(package_json_text: str | None) -> frozenset[str]:
    """The allowlisted advisory IDs from a root package.json's text."""
    if package_json_text is None:
        return frozenset()
    section: Any = parse_package_json(package_json_text, "The root package.json").get(CONFIG_KEY)
    if section is None:
        return frozenset()
    fix = f'Write "{CONFIG_KEY}": {{"{ALLOWLIST_KEY}": ["GHSA-xxxx-xxxx-xxxx", ...]}}.'
    if not isinstance(section, dict):
        raise ConfigError(f'package.json "{CONFIG_KEY}" is not an object.', fix=fix)
    ids: Any = cast(dict[str, Any], section).get(ALLOWLIST_KEY, [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in cast(list[Any], ids)):
        raise ConfigError(
            f'package.json "{CONFIG_KEY}.{ALLOWLIST_KEY}" is not a list of IDs.', fix=fix
        )
    return frozenset(i.strip() for i in cast(list[str], ids))


def find_npm() -> str | None:
    return shutil.which("npm")


def parse_advisories(report: dict[str, Any]) -> list[Advisory]:
    """Every gated (moderate or worse) advisory in an ``npm audit --json`` report."""
    found: dict[tuple[str, ...], Advisory] = {}
    vulns: Any = report.get("vulnerabilities") or {}
    for package, entry in cast(dict[str, Any], vulns).items():
        via: Any = cast(dict[str, Any], entry).get("via", []) if isinstance(entry, dict) else []
        for item in cast(list[Any], via):
            if not isinstance(item, dict):
                continue  # a name: the advisory is listed under that package
            adv = cast(dict[str, Any], item)
            severity = str(adv.get("severity", ""))
            if severity not in GATED_SEVERITIES:
                continue
            ids: list[str] = []
            url = str(adv.get("url") or "")
            if "/advisories/" in url:
                ids.append(url.rstrip("/").rsplit("/", 1)[-1])
            if adv.get("source") is not None:
                ids.append(str(adv["source"]))
            key = tuple(ids) or (package, str(adv.get("title")))
            found[key] = Advisory(
                ids=tuple(ids),
                package=str(adv.get("name") or package),
                severity=severity,
                title=str(adv.get("title") or ""),
            )
    return sorted(found.values(), key=lambda a: (a.package, a.ids))


async def audit_gate(directory: Path, allowlist: frozenset[str], *, npm: str | None) -> AuditResult:
    """Run npm audit in ``directory``; raise ``CheckFailed`` on advisories not allowlisted."""
    if npm is None:
        return AuditResult(ran=False, note="npm is not installed: the audit gate was skipped.")
    fix = (
        "Update the affected dependencies, or after review add the advisory IDs to "
        f'package.json "{CONFIG_KEY}": {{"{ALLOWLIST_KEY}": [...]}}; --skip-audit skips the gate.'
    )
    env = {**os.environ, "LC_ALL": "C", "NO_COLOR": "1"}
    result = await anyio.run_process([npm, *AUDIT_ARGS], cwd=directory, env=env, check=False)
    stdout = result.stdout.decode("utf-8", "replace")
    try:
        report: Any = json.loads(stdout) if stdout.strip() else {}
    except json.JSONDecodeError:
        report = {}
    report_dict = cast(dict[str, Any], report) if isinstance(report, dict) else {}
    advisories = parse_advisories(report_dict)
    blocking = [a for a in advisories if not allowlist.intersection(a.ids)]
    allowed = tuple(a for a in advisories if allowlist.intersection(a.ids))
    if blocking:
        raise CheckFailed(
            f"npm audit found {len(blocking)} advisory(ies) of moderate or higher severity.",
            [a.label for a in blocking],
            fix=fix,
        )
    if result.returncode != 0 and not advisories:
        error: Any = report_dict.get("error")
        detail = (
            str(cast(dict[str, Any], error).get("summary", ""))
            if isinstance(error, dict)
            else result.stderr.decode("utf-8", "replace").strip()[-500:]
        )
        raise CheckFailed(
            f"npm audit failed (exit {result.returncode}): {detail or 'no details'}",
            fix="Check that package-lock.json exists and the npm registry is reachable; "
            "--skip-audit skips the gate.",
        )
    note = "npm audit: no advisories of moderate or higher severity."
    if allowed:
        note = f"npm audit: only allowlisted advisories ({', '.join(a.ids[0] for a in allowed)})."
    return AuditResult(ran=True, allowlisted=allowed, note=note)
