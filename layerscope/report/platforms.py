"""``--all-platforms``: the reports of several platforms of one image.

JSON is one object whose ``platforms`` holds a whole single-platform report
per platform, in the index's order; SARIF is one log with a run per
platform; the text formats are each platform's report under a heading.
``passed`` holds when every platform's does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from layerscope import __version__
from layerscope.analysis import Analysis
from layerscope.report import render as render_one
from layerscope.report.schema import SCHEMA_MINOR, SCHEMA_VERSION, to_dict


def platform_of(result: Analysis) -> str:
    """``os/arch[/variant]`` of the analysed image."""
    image = result.image
    return "/".join(p for p in (image.os, image.architecture, image.variant) if p)


def to_document(results: Sequence[Analysis]) -> dict[str, Any]:
    """The JSON document: every platform's report, and the overall verdict."""
    return {
        "schema_version": SCHEMA_VERSION,
        "schema_minor": SCHEMA_MINOR,
        "tool": {"name": "layerscope", "version": __version__},
        "platforms": [{"platform": platform_of(r), "report": to_dict(r)} for r in results],
        "passed": all(r.passed for r in results),
    }


def render(fmt: str, results: Sequence[Analysis]) -> str:
    """All platforms' reports in format ``fmt``."""
    if fmt == "json":
        return json.dumps(to_document(results), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        logs = [json.loads(render_one("sarif", r)) for r in results]
        merged = logs[0] if logs else {}
        merged["runs"] = [run for log in logs for run in log.get("runs", [])]
        return json.dumps(merged, indent=2, ensure_ascii=False) + "\n"
    heading = "## Platform {}\n\n" if fmt == "markdown" else "=== platform {} ===\n"
    return "\n".join(heading.format(platform_of(r)) + render_one(fmt, r) for r in results)


def summary(results: Sequence[Analysis]) -> str:
    """The ``--ci`` summary of every platform."""
    from layerscope.report.summary import render as summary_one

    return "".join(f"[{platform_of(r)}] " + summary_one(r) for r in results)
