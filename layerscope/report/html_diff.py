"""The HTML page of ``layerscope diff``: growth per layer and per directory,
new and gone findings, the budgets. The same page and script as the image
report (:mod:`layerscope.report.html`), with ``kind: diff`` data."""

from __future__ import annotations

from typing import Any

from layerscope import __version__
from layerscope.comparison import Diff, FindingInfo, Snapshot
from layerscope.report.html import page
from layerscope.report.html_data import lines, text
from layerscope.report.summary import relation, verdict

__all__ = ["diff_data", "render"]


def _side(s: Snapshot) -> dict[str, Any]:
    return {
        "reference": text(s.reference),
        "id": s.id,
        "total": s.total_bytes,
        "final": s.final_bytes,
        "wasted": s.wasted_bytes,
        "reclaimable": s.reclaimable_bytes,
        "layers": len(s.layers),
    }


def _finding(f: FindingInfo) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "kind": f.kind,
        "bytes": f.bytes,
        "path": text(f.path),
        "message": text(" ".join(f.message.split())),
        "fix": lines(f.fix),
    }


def diff_data(d: Diff) -> dict[str, Any]:
    """Everything the diff page shows, as plain data (exact bytes; growth signed)."""
    budgets = sorted(d.budgets, key=lambda b: (b.passed, b.severity != "fail"))
    return {
        "version": 1,
        "tool": f"layerscope {__version__}",
        "kind": "diff",
        "old": _side(d.old),
        "new": _side(d.new),
        "layers": [
            {
                "index": x.index,
                "status": x.status,
                "old": x.old_bytes,
                "new": x.new_bytes,
                "command": text(" ".join(x.command.split())),
            }
            for x in d.layers
        ],
        "directories": None
        if d.dirs is None
        else [{"path": text(x.path), "old": x.old_bytes, "new": x.new_bytes} for x in d.dirs],
        "new_findings": [_finding(f) for f in d.new_findings],
        "gone_findings": [_finding(f) for f in d.gone_findings],
        "budgets": [
            {"name": b.name, "verdict": verdict(b), "relation": text(relation(b))} for b in budgets
        ],
        "passed": d.passed,
    }


def render(d: Diff) -> str:
    """The whole HTML page of a diff."""
    return page(diff_data(d))
