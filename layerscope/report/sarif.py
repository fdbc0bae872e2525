"""SARIF 2.1.0: one result per finding and per broken budget, for
code-scanning dashboards.

Findings point at the Dockerfile line when it is known (the finding's
``location``); broken budgets at the Dockerfile's ``FROM`` line (image-wide)
or the line of the step that made the layer (per-layer), see
:mod:`layerscope.report.where`. Without a known Dockerfile, a result is about
the image: its location names the image, with the layer as a logical
location (give ``--dockerfile`` for results on lines of a file). Paths inside
the repository are relative to the ``%SRCROOT%`` base (the root, described in
``originalUriBaseIds``); others are absolute ``file:`` URIs.

A finding's level follows the policy: a rule set to ``fail`` makes its
findings in the image's own layers ``error``, ``warn`` makes them
``warning``; otherwise the rule's severity decides. Every result carries
``partialFingerprints`` so alerts stay the same alert across runs. The
invocation is always marked successful: a broken budget is a result, not a
failure of the tool.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from typing import Any
from urllib.parse import quote

from layerscope import __version__
from layerscope.analysis import Analysis, BudgetResult
from layerscope.base.attribution import finding_origin
from layerscope.names import json_text, printable, safe_json
from layerscope.report.schema import budget_to_dict, finding_to_dict
from layerscope.report.summary import relation
from layerscope.report.where import budget_location, from_line, relative, repository_root
from layerscope.rules import Finding, Severity, all_rules

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
_POLICY_LEVEL = {"fail": "error", "warn": "warning"}
BUDGET_RULE = "budget/"  # ruleId prefix of budget verdicts: budget/max_total
_LEVEL = {
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def _artifact(path: str, root: str) -> dict[str, Any]:
    """A file as a SARIF artifactLocation: relative to %SRCROOT% inside the
    repository, an absolute ``file:`` URI outside it."""
    rel = relative(path, root)
    if rel is not None:
        return {"uri": quote(json_text(rel)), "uriBaseId": SRCROOT}
    full = json_text(os.path.realpath(path)).replace(os.sep, "/")
    return {"uri": "file://" + quote(full)}


def _image_location(result: Analysis, layer: int | None) -> dict[str, Any]:
    """The image itself (no Dockerfile known): named, not a repository file."""
    image = result.image
    name = json_text(image.reference or image.id)
    logical: list[dict[str, Any]] = [{"name": name, "kind": "module"}]
    if layer is not None:
        logical.insert(
            0,
            {
                "name": f"layer {layer}",
                "fullyQualifiedName": f"{name}/layer {layer}",
                "kind": "module",
            },
        )
    return {
        "physicalLocation": {
            "artifactLocation": {
                "uri": quote(name, safe="/@"),
                "description": {"text": "the container image (no Dockerfile given)"},
            }
        },
        "logicalLocations": logical,
    }


def _file_location(path: str, line: int, root: str, layer: int | None) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": _artifact(path, root),
            "region": {"startLine": max(1, line)},
        }
    }
    if layer is not None:
        location["logicalLocations"] = [{"name": f"layer {layer}", "kind": "module"}]
    return location


def _hash(*parts: str) -> str:
    key = "\0".join(parts)
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def _fingerprint(f: Finding) -> str:
    return _hash(f.rule, f.kind.value, f.paths[0] if f.paths else "")


def _result(
    f: Finding, index: int, result: Analysis, origin: str, levels: dict[str, str], root: str
) -> dict[str, Any]:
    message = printable(f.message)  # for people: a newline in a name is shown as \n
    if f.fix:
        message += f" Fix: {json_text(f.fix)}"
    props = finding_to_dict(f, origin)
    for key in ("rule", "message", "fix", "location", "severity"):
        props.pop(key, None)
    level = _LEVEL[f.severity]
    if f.rule in levels and origin == "own":
        level = _POLICY_LEVEL[levels[f.rule]]
        props["policy_level"] = levels[f.rule]
    where = f.location
    if where is None and result.dockerfile:
        # Not mapped to a step (a base layer's finding): the FROM line.
        line = from_line(result.dockerfile)
        where = None if line is None else (result.dockerfile, line)
    if where is not None:
        location = _file_location(where[0], where[1], root, f.layer)
    else:
        location = _image_location(result, f.layer)
    return {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": level,
        "message": {"text": message},
        "locations": [location],
        "partialFingerprints": {"layerscopeFinding/v1": _fingerprint(f)},
        "properties": props,
    }


def _budget_descriptor(b: BudgetResult) -> dict[str, Any]:
    text = f"Budget {b.name}"
    return {
        "id": BUDGET_RULE + b.name,
        "name": "budget-" + b.name.replace("_", "-").replace(":", "-"),
        "shortDescription": {"text": text},
        "fullDescription": {"text": f"{text}: {json_text(b.message.split('; set in ')[0])}"},
        "help": {"text": "A budget of the policy (docs/ci.md): the image must keep within it."},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["container-image", "budget"]},
    }


def _budget_result(b: BudgetResult, index: int, result: Analysis, root: str) -> dict[str, Any]:
    where = budget_location(result, b)
    if where is not None:
        location = _file_location(where[0], where[1], root, None)
    else:
        location = _image_location(result, None)
    level = "error" if b.severity == "fail" else "warning"
    image = result.image.reference or ""
    return {
        "ruleId": BUDGET_RULE + b.name,
        "ruleIndex": index,
        "level": level,
        "message": {"text": f"Budget {b.name} broken: {relation(b)} ({json_text(b.message)})."},
        "locations": [location],
        # One alert per budget and image, whatever its figures this run.
        "partialFingerprints": {"layerscopeBudget/v1": _hash(b.name, json_text(image))},
        "properties": budget_to_dict(b),
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
    broken = [b for b in result.budgets if not b.passed and not b.name.startswith("rule:")]
    for b in broken:
        index[BUDGET_RULE + b.name] = len(descriptors)
        descriptors.append(_budget_descriptor(b))
    levels = {
        b.name.removeprefix("rule:"): b.severity
        for b in result.budgets
        if b.name.startswith("rule:") and b.severity in _POLICY_LEVEL
    }
    root = repository_root()
    findings = [f for f in result.findings if f.rule in index]
    results = [
        _result(f, index[f.rule], result, finding_origin(result, f).value, levels, root)
        for f in findings
    ]
    results += [_budget_result(b, index[BUDGET_RULE + b.name], result, root) for b in broken]
    image = result.image
    s = result.summary
    run_base: dict[str, Any] = {}
    if any(
        loc["physicalLocation"].get("artifactLocation", {}).get("uriBaseId") == SRCROOT
        for r in results
        for loc in r["locations"]
    ):
        uri = "file://" + quote(json_text(root).replace(os.sep, "/").rstrip("/") + "/")
        run_base["originalUriBaseIds"] = {
            SRCROOT: {"uri": uri, "description": {"text": "the repository root"}}
        }
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
                **run_base,
                "invocations": [{"executionSuccessful": True}],
                "results": results,
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
