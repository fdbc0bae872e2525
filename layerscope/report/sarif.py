"""SARIF 2.1.0: one result per finding, for code-scanning dashboards.

Results point at the Dockerfile line when it is known (the finding's
``location``, else the analysed Dockerfile's first line, else line 1 of
``Dockerfile``: code scanning refuses results without a file), with the
image layer as a logical location. The budget verdicts and the overall
``passed`` are in the run's properties; the invocation is always marked
successful, since a broken budget is a result, not a failure of the tool.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from typing import Any
from urllib.parse import quote

from layerscope import __version__
from layerscope.analysis import Analysis
from layerscope.base.attribution import finding_origin
from layerscope.names import json_text, printable, safe_json
from layerscope.report.schema import budget_to_dict, finding_to_dict
from layerscope.rules import Finding, Severity, all_rules

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# Code scanning refuses results without a file; when the Dockerfile is not
# known, results point at the conventional name (the layer is the logical location).
DEFAULT_DOCKERFILE = "Dockerfile"
_LEVEL = {
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def _uri(path: str) -> str:
    """A file path as a SARIF URI reference (relative paths stay relative)."""
    path = json_text(path).replace(os.sep, "/")
    if path.startswith("/"):
        return "file://" + quote(path)
    return quote(path)


def _location(f: Finding, dockerfile: str | None) -> dict[str, Any]:
    if f.location is not None:
        file, line = f.location
    else:
        file, line = dockerfile or DEFAULT_DOCKERFILE, 1
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(file)},
            "region": {"startLine": max(1, line)},
        }
    }
    if f.layer is not None:
        location["logicalLocations"] = [{"name": f"layer {f.layer}", "kind": "module"}]
    return location


def _fingerprint(f: Finding) -> str:
    key = "\0".join((f.rule, f.kind.value, f.paths[0] if f.paths else ""))
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def _result(f: Finding, index: int, dockerfile: str | None, origin: str) -> dict[str, Any]:
    message = printable(f.message)  # for people: a newline in a name is shown as \n
    if f.fix:
        message += f" Fix: {json_text(f.fix)}"
    props = finding_to_dict(f, origin)
    for key in ("rule", "message", "fix", "location", "severity"):
        props.pop(key, None)
    return {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": _LEVEL[f.severity],
        "message": {"text": message},
        "locations": [_location(f, dockerfile)],
        "partialFingerprints": {"layerscopeFinding/v1": _fingerprint(f)},
        "properties": props,
    }


def to_sarif(result: Analysis) -> dict[str, Any]:
    """The SARIF log as plain data."""
    rules = all_rules()
    index = {r.id: i for i, r in enumerate(rules)}
    descriptors = [
        {
            "id": r.id,
            "name": r.kind.value,
            "shortDescription": {"text": r.title},
            "fullDescription": {"text": inspect.cleandoc(r.doc) or r.title},
            "help": {"text": inspect.cleandoc(r.doc) or r.title},
            "defaultConfiguration": {"level": _LEVEL[r.severity]},
            "properties": {"tags": ["container-image", r.kind.value]},
        }
        for r in rules
    ]
    findings = [f for f in result.findings if f.rule in index]
    image = result.image
    s = result.summary
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "layerscope",
                        "version": __version__,
                        "rules": descriptors,
                    }
                },
                "invocations": [{"executionSuccessful": True}],
                "results": [
                    _result(f, index[f.rule], result.dockerfile, finding_origin(result, f).value)
                    for f in findings
                ],
                "properties": {
                    "image": {"reference": json_text(image.reference), "id": image.id},
                    "summary": {
                        "total_bytes": s.total_bytes,
                        "final_bytes": s.final_bytes,
                        "wasted_bytes": s.wasted_bytes,
                        "reclaimable_bytes": s.reclaimable_bytes,
                        "efficiency": s.efficiency,
                        "layer_count": s.layer_count,
                    },
                    "budgets": [budget_to_dict(b) for b in result.budgets],
                    "passed": result.passed,
                },
            }
        ],
    }


def render(result: Analysis) -> str:
    """The SARIF log as JSON text."""
    return safe_json(json.dumps(to_sarif(result), indent=2, ensure_ascii=False)) + "\n"
