"""The diff's reports: a plain table, JSON and markdown (for a PR comment)."""

from __future__ import annotations

import json
from typing import Any

from layerscope.comparison import Diff, FindingInfo, Snapshot
from layerscope.errors import UsageError
from layerscope.names import json_text, printable
from layerscope.report.markdown import budget_table, code, text
from layerscope.report.schema import budget_to_dict
from layerscope.report.summary import signed_size, size, verdict_lines

DIFF_SCHEMA_VERSION = 1


def _side(s: Snapshot) -> dict[str, Any]:
    return {
        "reference": json_text(s.reference),
        "id": s.id,
        "total_bytes": s.total_bytes,
        "final_bytes": s.final_bytes,
        "wasted_bytes": s.wasted_bytes,
        "reclaimable_bytes": s.reclaimable_bytes,
        "layer_count": len(s.layers),
    }


def _finding(f: FindingInfo) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "kind": f.kind,
        "bytes": f.bytes,
        "path": json_text(f.path),
        "message": json_text(f.message),
        "fix": json_text(f.fix),
    }


def to_dict(d: Diff) -> dict[str, Any]:
    """The diff as plain data (sizes in exact bytes, growth may be negative)."""
    return {
        "schema_version": DIFF_SCHEMA_VERSION,
        "kind": "layerscope-diff",
        "old": _side(d.old),
        "new": _side(d.new),
        "growth": {
            "total_bytes": d.new.total_bytes - d.old.total_bytes,
            "final_bytes": d.new.final_bytes - d.old.final_bytes,
            "wasted_bytes": d.new.wasted_bytes - d.old.wasted_bytes,
            "reclaimable_bytes": d.new.reclaimable_bytes - d.old.reclaimable_bytes,
            "layer_count": len(d.new.layers) - len(d.old.layers),
        },
        "layers": [
            {
                "index": x.index,
                "status": x.status,
                "old_bytes": x.old_bytes,
                "new_bytes": x.new_bytes,
                "growth": x.growth,
                "command": json_text(x.command),
            }
            for x in d.layers
        ],
        "directories": None
        if d.dirs is None
        else [
            {
                "path": json_text(x.path),
                "old_bytes": x.old_bytes,
                "new_bytes": x.new_bytes,
                "growth": x.growth,
            }
            for x in d.dirs
        ],
        "findings": {
            "new": [_finding(f) for f in d.new_findings],
            "gone": [_finding(f) for f in d.gone_findings],
        },
        "budgets": [budget_to_dict(b) for b in d.budgets],
        "baseline_missing": d.baseline_missing,
        "passed": d.passed,
    }


def _name(s: Snapshot) -> str:
    return s.reference or s.id[:19]


def render_table(d: Diff) -> str:
    """The diff for a terminal or a CI log."""
    g = to_dict(d)["growth"]
    out = [
        f"layerscope diff: {printable(_name(d.old))} -> {printable(_name(d.new))}",
        f"  total {size(d.old.total_bytes)} -> {size(d.new.total_bytes)} "
        f"({signed_size(g['total_bytes'])}), final {signed_size(g['final_bytes'])}, "
        f"wasted {signed_size(g['wasted_bytes'])}, layers {g['layer_count']:+d}",
        "layers:",
    ]
    for x in d.layers:
        if x.status == "same":
            continue
        out.append(
            f"  {x.index:>3}  {x.status:<8} {signed_size(x.growth):>12}  "
            f"{printable(x.command)[:70]}"
        )
    if all(x.status == "same" for x in d.layers):
        out.append("  (all layers identical)")
    if d.dirs is None:
        out.append("directories: (not known for a baseline report)")
    elif d.dirs:
        out.append("directories:")
        out.extend(f"  {signed_size(x.growth):>12}  {printable(x.path)}" for x in d.dirs)
    for title, items in (("new findings", d.new_findings), ("gone findings", d.gone_findings)):
        if items:
            out.append(f"{title}:")
            out.extend(
                f"  {size(f.bytes):>10}  {f.rule}  {f.kind}  {printable(f.path)}" for f in items
            )
    out.extend(verdict_lines(d.budgets, d.passed))
    return "\n".join(out) + "\n"


def render_markdown(d: Diff) -> str:
    """The diff as a PR comment."""
    g = to_dict(d)["growth"]
    status = ""
    if d.budgets:
        status = " ✅ passed" if d.passed else " ❌ failed"
    out = [
        f"## layerscope diff: {code(_name(d.old))} → {code(_name(d.new))}{status}",
        "",
        "| | Old | New | Growth |",
        "|---|---:|---:|---:|",
    ]
    for label, key in (
        ("Total", "total_bytes"),
        ("Final", "final_bytes"),
        ("Wasted", "wasted_bytes"),
        ("Reclaimable", "reclaimable_bytes"),
    ):
        old, new = getattr(d.old, key), getattr(d.new, key)
        out.append(f"| {label} | {size(old)} | {size(new)} | {signed_size(g[key])} |")
    out += budget_table(d.budgets)
    changed = [x for x in d.layers if x.status != "same"]
    out += ["", f"<details><summary>Layers ({len(changed)} changed)</summary>", ""]
    out += ["| # | Status | Old | New | Growth | Command |", "|---:|---|---:|---:|---:|---|"]
    out.extend(
        f"| {x.index} | {x.status} | {size(x.old_bytes)} | {size(x.new_bytes)} | "
        f"{signed_size(x.growth)} | {code(x.command, 100)} |"
        for x in changed
    )
    out += ["", "</details>"]
    if d.dirs:
        out += ["", "<details><summary>Directories</summary>", ""]
        out += ["| Directory | Old | New | Growth |", "|---|---:|---:|---:|"]
        out.extend(
            f"| {code(x.path)} | {size(x.old_bytes)} | {size(x.new_bytes)} | "
            f"{signed_size(x.growth)} |"
            for x in d.dirs
        )
        out += ["", "</details>"]
    for title, items in (("New findings", d.new_findings), ("Gone findings", d.gone_findings)):
        if items:
            out += ["", f"### {title} ({len(items)})", ""]
            out.extend(
                f"- **{size(f.bytes)}** `{f.rule}` {code(f.path)}: {text(f.message)}" for f in items
            )
    return "\n".join(out) + "\n"


def render(fmt: str, d: Diff) -> str:
    """``table``, ``json``, ``markdown`` or ``html``."""
    if fmt == "html":
        from layerscope.report.html_diff import render as render_html

        return render_html(d)
    if fmt == "json":
        return json.dumps(to_dict(d), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return render_markdown(d)
    if fmt == "table":
        return render_table(d)
    raise UsageError(f"layerscope diff has no {fmt} format (table, json, markdown, html)")
