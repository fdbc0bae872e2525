"""GitLab Code Quality JSON (``artifacts:reports:codequality``): one issue
per finding and per broken budget.

The format is Code Climate's issue list as GitLab documents it: an array of
objects with ``description``, ``check_name``, ``fingerprint`` (unique in the
report, stable across runs), ``severity`` (info, minor, major, critical,
blocker) and ``location`` (``path`` relative to the repository root and
``lines.begin``). Findings and budgets point at the Dockerfile when it is
known; otherwise at the image (its reference as the path, line 1).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from layerscope.analysis import Analysis
from layerscope.base.attribution import finding_origin
from layerscope.names import json_text
from layerscope.report.summary import relation, size
from layerscope.report.where import budget_location, from_line, relative, repository_root
from layerscope.rules import Severity

_SEVERITY = {
    Severity.HIGH: "major",
    Severity.MEDIUM: "minor",
    Severity.LOW: "info",
    Severity.INFO: "info",
}
_POLICY = {"fail": "critical", "warn": "major"}


def _path(path: str, root: str) -> str:
    return json_text(relative(path, root) or path)


def _issue(
    check: str,
    description: str,
    severity: str,
    where: tuple[str, int],
    key: str,
    body: str = "",
) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "type": "issue",
        "check_name": check,
        "description": json_text(description),
        "categories": ["Performance"],
        "severity": severity,
        "fingerprint": hashlib.md5(key.encode("utf-8", "surrogateescape")).hexdigest(),
        "location": {"path": where[0], "lines": {"begin": max(1, where[1])}},
    }
    if body:
        issue["content"] = {"body": json_text(body)}
    return issue


def to_issues(result: Analysis) -> list[dict[str, Any]]:
    """The Code Quality issues as plain data."""
    root = repository_root()
    image = json_text(result.image.reference or result.image.id)
    fallback: tuple[str, int] = (image, 1)
    if result.dockerfile:
        line = from_line(result.dockerfile)
        if line is not None:
            fallback = (_path(result.dockerfile, root), line)
    levels = {
        b.name.removeprefix("rule:"): b.severity
        for b in result.budgets
        if b.name.startswith("rule:") and b.severity in _POLICY
    }
    out = []
    seen: dict[str, int] = {}
    for f in result.findings:
        where = (_path(f.location[0], root), f.location[1]) if f.location else fallback
        severity = _SEVERITY[f.severity]
        if f.rule in levels and finding_origin(result, f).value == "own":
            severity = _POLICY[levels[f.rule]]
        key = "\0".join((image, f.rule, f.kind.value, f.paths[0] if f.paths else ""))
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # fingerprints must be unique in a report
            key += f"\0{seen[key]}"
        text = f"{f.rule} ({size(f.bytes)}): {f.message}"
        out.append(_issue(f.rule, text, severity, where, key, f"Fix: {f.fix}" if f.fix else ""))
    for b in result.budgets:
        if b.passed or b.name.startswith("rule:"):
            continue
        located = budget_location(result, b)
        where = (_path(located[0], root), located[1]) if located else fallback
        severity = "critical" if b.severity == "fail" else "minor"
        text = f"Budget {b.name} broken: {relation(b)} ({b.message})"
        out.append(_issue(f"budget/{b.name}", text, severity, where, f"{image}\0budget\0{b.name}"))
    return out


def render(result: Analysis) -> str:
    """The Code Quality report as JSON text."""
    return json.dumps(to_issues(result), indent=2, ensure_ascii=False) + "\n"
