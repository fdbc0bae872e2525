"""The markdown report: made for a pull-request comment or ``$GITHUB_STEP_SUMMARY``.

Verdict first, then the figures, the budgets, the top findings with their
fixes, and the per-layer table folded in a ``<details>`` block. Every text
from the image (paths, commands) is escaped: archive names may hold any
character, and a path must never turn into markup, a link or a broken table.
"""

from __future__ import annotations

import html
import re

from layerscope.analysis import Analysis, BudgetResult
from layerscope.base.attribution import rank
from layerscope.counts import counted
from layerscope.names import printable
from layerscope.report.summary import relation, size, verdict

TOP_FINDINGS = 10
MAX_FINDINGS = 100
MAX_LAYERS = 200
COMMAND_WIDTH = 100
# Markdown punctuation that could start emphasis, links, code or cells mid-line
# (``<``/``>``/``&`` become entities first, so no HTML gets through either).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")
_ICON = {"ok": "✅", "FAIL": "❌", "warn": "⚠️"}


def text(value: str, width: int | None = None) -> str:
    """``value`` as inert markdown text (safe inside a table cell)."""
    flat = printable(" ".join(value.split()))
    if width is not None and len(flat) > width:
        flat = flat[: width - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))


def code(value: str, width: int | None = None) -> str:
    """``value`` in a ``<code>`` element, escaped like ``text``."""
    return f"<code>{text(value, width)}</code>" if value else ""


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _figures(result: Analysis) -> list[str]:
    s = result.summary
    wasted_pct = s.wasted_bytes / s.total_bytes if s.total_bytes else 0.0
    out = [
        "| | |",
        "|---|---:|",
        _row(["Total", f"{size(s.total_bytes)} in {counted(s.layer_count, 'layer')}"]),
        _row(["Final", f"{size(s.final_bytes)} ({counted(s.file_count, 'file')})"]),
        _row(["Wasted", f"{size(s.wasted_bytes)} ({wasted_pct:.1%})"]),
        _row(["Reclaimable", size(s.reclaimable_bytes)]),
        _row(["Efficiency", f"{s.efficiency:.1%}"]),
    ]
    if result.base_layer_count:
        # Waste budgets judge the own layers: their figures belong beside the image's.
        from layerscope.base.attribution import split

        own = split(result).own
        out += [
            _row(
                [
                    f"Own layers ({own.layer_count}, after {result.base_layer_count} base)",
                    f"{size(own.total_bytes)}",
                ]
            ),
            _row(["Own wasted", f"{size(own.wasted_bytes)} ({own.wasted_fraction:.1%})"]),
            _row(["Own efficiency", f"{own.efficiency:.1%}"]),
        ]
    return out


def budget_table(budgets: tuple[BudgetResult, ...]) -> list[str]:
    """The budget verdicts as a markdown table (the image's and the diff's)."""
    if not budgets:
        return []
    out = ["", "### Budgets", "", "| | Budget | Actual vs limit |", "|---|---|---|"]
    out.extend(_row([_ICON[verdict(b)], f"`{b.name}`", text(relation(b))]) for b in budgets)
    return out


def _budgets(result: Analysis) -> list[str]:
    return budget_table(result.budgets)


def _shown_path(path: str) -> str:
    """A Dockerfile path as the reader's checkout names it (relative to the
    repository root when inside it)."""
    from layerscope.report.where import relative, repository_root

    return relative(path, repository_root()) or path


def fenced(body: str, info: str = "") -> list[str]:
    """``body`` in a code fence longer than any backtick run inside it."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    lines = [printable(line) for line in body.splitlines()]
    return [f"{fence}{info}", *lines, fence]


# Bytes in your own layers need no label; the others say what they are.
_LABELS = {0: "", 1: " (rebuild cost, not bytes in the image)", 2: " (base image)"}


def _findings(result: Analysis) -> list[str]:
    if not result.findings:
        return ["", "No waste found."]
    out = [
        "",
        f"### Top findings ({min(TOP_FINDINGS, len(result.findings))} of {len(result.findings)})",
        "",
    ]
    for i, f in enumerate(result.findings[:TOP_FINDINGS], 1):
        layer = "" if f.layer is None else f" in layer {f.layer}"
        where = ""
        if f.location is not None:
            where = f" ({code(_shown_path(f.location[0]))} line {f.location[1]})"
        label = _LABELS[rank(result, f)]
        message = text(printable(f.message))  # escape first: a newline in a name shows as \n
        out.append(
            f"{i}. **{size(f.bytes)}** `{f.rule}` {f.kind.value}{label}{layer}{where}: {message}"
        )
        if f.paths:
            more = f" and {f.path_count - len(f.paths)} more" if f.path_count > len(f.paths) else ""
            out.append(f"   - paths: {', '.join(code(printable(p), 120) for p in f.paths)}{more}")
        if f.fix and "\n" in f.fix.strip():
            # A multi-line fix (a diff, a rewritten RUN) keeps its lines.
            out.append("   - fix:")
            out += ["", *("     " + line for line in fenced(f.fix.strip("\n"))), ""]
        elif f.fix:
            out.append(f"   - fix: {text(f.fix, 600)}")
    rest = result.findings[TOP_FINDINGS:MAX_FINDINGS]
    hidden = len(result.findings) - TOP_FINDINGS - len(rest)
    if rest:
        out += ["", f"<details><summary>More findings ({len(rest)})</summary>", ""]
        out += ["| Bytes | Rule | Kind | Layer | Path |", "|---:|---|---|---:|---|"]
        out.extend(
            _row(
                [
                    size(f.bytes),
                    f"`{f.rule}`",
                    f.kind.value,
                    "" if f.layer is None else str(f.layer),
                    code(printable(f.paths[0]), 120) if f.paths else "",
                ]
            )
            for f in rest
        )
        out += ["", "</details>"]
    if hidden > 0:
        out += [
            "",
            f"{counted(hidden, 'more finding')} not shown here (of {len(result.findings)}): "
            "every finding is in the JSON and SARIF reports.",
        ]
    return out


def _layers(result: Analysis) -> list[str]:
    image = result.image
    out = ["", f"<details><summary>Layers ({len(image.layers)})</summary>", ""]
    out += ["| # | Size | Wasted | Instruction | Command |", "|---:|---:|---:|---|---|"]
    for layer, stats in list(zip(image.layers, result.layers, strict=True))[:MAX_LAYERS]:
        h = image.layer_history(layer)
        out.append(
            _row(
                [
                    str(layer.index),
                    size(stats.content_bytes),
                    size(stats.wasted_bytes) if stats.wasted_bytes else "",
                    h.parsed.instruction.value if h else "?",
                    code(h.parsed.args if h else "", COMMAND_WIDTH),
                ]
            )
        )
    return [*out, "", "</details>"]


def render(result: Analysis) -> str:
    """The whole markdown report."""
    image = result.image
    status = ""
    if result.budgets:
        status = " ✅ passed" if result.passed else " ❌ failed"
    title = f"## layerscope: {code(image.reference or image.id)}{status}"
    out = [title, "", *_figures(result), *_budgets(result), *_findings(result), *_layers(result)]
    if image.warnings:
        out += ["", *(f"> warning: {text(w)}" for w in image.warnings)]
    return "\n".join(out) + "\n"
