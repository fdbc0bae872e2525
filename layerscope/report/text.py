"""The table report for people: layers, then findings ranked by bytes."""

from __future__ import annotations

import re
import textwrap

import humanize
from tabulate import tabulate

from layerscope.analysis import Analysis
from layerscope.base.attribution import BaseWaste, layer_origin, ranked, split
from layerscope.counts import counted
from layerscope.names import printable
from layerscope.report.layer_command import layer_command
from layerscope.rules.types import Finding

COMMAND_WIDTH = 60
PATH_WIDTH = 48
FIX_WIDTH = 90


def size(n: int) -> str:
    """Bytes for people (binary units)."""
    return humanize.naturalsize(n, binary=True, format="%.1f")


def _short(text: str, width: int, *, collapse: bool = True) -> str:
    """``text`` escaped and cut to ``width``. ``collapse`` joins whitespace runs
    (commands, prose); names keep every character, a newline shown as ``\\n``."""
    if collapse:
        text = " ".join(text.split())
    text = printable(text)
    return text if len(text) <= width else text[: width - 1] + "…"


_SECTIONS = {
    0: "Your image (bytes in your own layers):",
    1: "Rebuild costs (LS5xx: no bytes in the image; what every rebuild redoes):",
    2: "Base image (bytes you pull with FROM, not made by your Dockerfile):",
}


# A fix line that is Dockerfile text (a -old/+new rewrite, or an instruction to
# paste) is kept whole on one line; prose is wrapped, never cut.
_CODE = re.compile(
    r"^([-+]|(RUN|COPY|ADD|FROM|ENV|ARG|WORKDIR|USER|CMD|ENTRYPOINT|LABEL|EXPOSE|VOLUME|"
    r"SHELL|HEALTHCHECK|ONBUILD|STOPSIGNAL)\s)"
)


def _wrapped(first: str, text: str, indent: int) -> list[str]:
    """``text`` (whitespace joined, escaped) after ``first``, wrapped at
    ``FIX_WIDTH`` columns with continuation lines indented ``indent``."""
    return textwrap.wrap(
        printable(" ".join(text.split())),
        width=FIX_WIDTH + indent,
        initial_indent=first,
        subsequent_indent=" " * indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


def _fix_lines(i: int, f: Finding) -> list[str]:
    out = _wrapped(f"{i:>3}. [{f.rule}] ", f.message, 5)
    if f.location is not None:
        out.append(f"     at: {printable(f.location[0])}:{f.location[1]}")
    lines = [line for line in f.fix.splitlines() if line.strip()] or [""]
    for n, line in enumerate(lines):
        lead = "     fix: " if n == 0 else " " * 10
        if _CODE.match(line.strip()):
            out.append(lead + printable(" ".join(line.split())))
        else:
            out.extend(_wrapped(lead, line, 10))
    return out


def _fixes(result: Analysis) -> list[str]:
    """The findings in their ranks, each rank labelled; the base image's
    findings as one: what the base carries, and the biggest one's fix."""
    ranks = ranked(result)
    out: list[str] = []
    i = 0
    for n, found in ranks:
        if len(ranks) > 1 or n:
            out.append(f"  {_SECTIONS[n]}")
        if isinstance(found, BaseWaste):
            i += 1
            out.append(f"{i:>3}. [base] {found.sentence()}; the biggest:")
            first = found.findings[0]
            out.extend(_wrapped(f"     [{first.rule}] ", first.message, 5))
            out.extend(_fix_lines(i, first)[1:])
            continue
        for f in found:
            i += 1
            out.extend(_fix_lines(i, f))
    return out


def render(result: Analysis) -> str:
    """The whole table report as text."""
    image = result.image
    s = result.summary
    out = [
        f"Image:       {printable(image.reference or image.id)} ({image.source}, "
        f"{image.os}/{image.architecture}{'/' + image.variant if image.variant else ''})",
        f"Id:          {image.id}",
        f"Total:       {size(s.total_bytes)} ({s.total_bytes} bytes) in "
        f"{counted(s.layer_count, 'layer')}",
        f"Final:       {size(s.final_bytes)} ({counted(s.file_count, 'file')} visible)",
        f"Wasted:      {size(s.wasted_bytes)} (removed {size(s.removed_bytes)}, "
        f"overwritten {size(s.overwritten_bytes)})",
        f"Reclaimable: {size(s.reclaimable_bytes)}",
        f"Efficiency:  {s.efficiency:.2%}",
    ]
    # Shown only where the source knows it (never estimated).
    download = image.download_bytes
    if download is not None:
        out.insert(3, f"Download:    {size(download)} ({download} bytes) to pull")
    per_layer = any(layer.download_bytes is not None for layer in image.layers)
    download_header = ["Download"] if per_layer else []
    download_align = ("right",) if per_layer else ()
    if result.base_layer_count is not None:
        sides = split(result)
        named = f", {printable(result.base_reference)}" if result.base_reference else ""
        for label, side in (("Base", sides.base), ("Own", sides.own)):
            out.append(
                f"{label + ':':<13}{counted(side.layer_count, 'layer')}, {size(side.total_bytes)}, "
                f"wasted {size(side.wasted_bytes)}, reclaimable {size(side.reclaimable_bytes)}"
                + (f" (found by {result.base_signal}{named})" if label == "Base" else "")
            )
    out.append("")
    rows = []
    for layer, stats in zip(image.layers, result.layers, strict=True):
        instr, command = layer_command(result, layer.index)
        rows.append(
            [
                layer.index,
                layer_origin(result, layer.index).value,
                size(stats.content_bytes),
                *(
                    ["-" if layer.download_bytes is None else size(layer.download_bytes)]
                    if per_layer
                    else []
                ),
                size(stats.wasted_bytes) if stats.wasted_bytes else "-",
                instr.value if instr is not None else "-",
                _short(command, COMMAND_WIDTH),
            ]
        )
    out.append(
        tabulate(
            rows,
            headers=["#", "Origin", "Size", *download_header, "Wasted", "Instr", "Command"],
            colalign=("right", "left", "right", *download_align, "right", "left", "left"),
        )
    )
    out.append("")
    if not result.findings:
        out.append("No waste found.")
    else:
        frows = []
        for f in result.findings:
            where = f.paths[0] if f.paths else ""
            more = f" (+{f.path_count - 1})" if f.path_count > 1 else ""
            frows.append(
                [
                    size(f.bytes),
                    f.rule,
                    f.kind.value,
                    "-" if f.layer is None else f.layer,
                    _short(where, PATH_WIDTH, collapse=False) + more,
                ]
            )
        out.append(
            tabulate(
                frows,
                headers=["Bytes", "Rule", "Kind", "Layer", "Path"],
                colalign=("right", "left", "left", "right", "left"),
            )
        )
        out.append("")
        out.append("Fixes:")
        out.extend(_fixes(result))
    out.extend(f"warning: {printable(w)}" for w in image.warnings)
    return "\n".join(out) + "\n"
