"""analyze(image) -> Analysis: exact byte accounting plus rule findings.

Pure: no I/O, no UI. Every source's Image goes in; every view (table, JSON,
TUI, budgets) reads the one Analysis that comes out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from layerscope.model import EntryType, Image
from layerscope.rules import Finding, all_rules
from layerscope.rules.context import LayerStats, Options, RuleContext
from layerscope.tallies import file_changes, file_totals
from layerscope.union import Cause, UnionFS, replay

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Summary:
    """Whole-image figures. ``efficiency`` is final/total (1.0 when empty)."""

    total_bytes: int
    final_bytes: int
    wasted_bytes: int
    removed_bytes: int
    overwritten_bytes: int
    efficiency: float
    layer_count: int
    file_count: int
    reclaimable_bytes: int


@dataclass(frozen=True, slots=True)
class BudgetResult:
    """One budget's verdict. ``severity`` is ``fail`` or ``warn``; a warn
    budget that does not hold leaves ``Analysis.passed`` true."""

    name: str
    limit: float
    actual: float
    passed: bool
    severity: str = "fail"
    message: str = ""


@dataclass(frozen=True, slots=True)
class Analysis:
    """The one result every report and view is made from.

    Views and later stages add to it with ``dataclasses.replace``: budgets
    (their verdicts), ``base_layer_count`` (layers that came from the base
    image, when known), ``dockerfile`` (the path findings point into) and
    ``warnings`` (see :mod:`layerscope.pipeline`).
    """

    image: Image
    union: UnionFS
    layers: tuple[LayerStats, ...]
    summary: Summary
    findings: tuple[Finding, ...]
    budgets: tuple[BudgetResult, ...] = ()
    base_layer_count: int | None = None
    base_signal: str = ""
    base_reference: str = ""  # the base image's name when known (see layerscope.base.attribution)
    dockerfile: str | None = None
    # Doubts met after the read (a Dockerfile that differs from the history):
    # the command line prints them on stderr.
    warnings: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when no budget with severity ``fail`` is broken."""
        return all(b.passed or b.severity != "fail" for b in self.budgets)


def layer_stats(image: Image, union: UnionFS) -> tuple[LayerStats, ...]:
    """Per-layer counts from the entries and the replay's change log."""
    wasted = [0] * len(image.layers)
    removed_bytes = [0] * len(image.layers)
    removed_files = [0] * len(image.layers)
    for h in union.hidden:
        wasted[h.layer] += h.size
        removed_bytes[h.hidden_by] += h.size
        removed_files[h.hidden_by] += 1
    out = []
    for layer, log in zip(image.layers, union.log, strict=True):
        files, content = file_totals(layer.entries)
        added_files, added_bytes, modified_files, modified_bytes = file_changes(log)
        out.append(
            LayerStats(
                index=layer.index,
                entry_count=len(layer.entries),
                file_count=files,
                content_bytes=content,
                added_bytes=added_bytes,
                added_files=added_files,
                modified_bytes=modified_bytes,
                modified_files=modified_files,
                removed_bytes=removed_bytes[layer.index],
                removed_files=removed_files[layer.index],
                wasted_bytes=wasted[layer.index],
            )
        )
    return tuple(out)


def claimed_bytes(union: UnionFS, findings: list[Finding]) -> int:
    """Bytes still visible that reclaimable findings cover, each byte once.

    A finding names the visible paths it counts in ``claims``; two findings
    over the same file (a cache under /tmp, a duplicate inside a leftover)
    count it once. A finding without claims counts its ``bytes``.
    """
    paths: set[str] = set()
    loose = 0
    for f in findings:
        if not f.reclaimable:
            continue
        if f.claims:
            paths.update(f.claims)
        else:
            loose += f.bytes
    final = union.final
    return loose + sum(final[p][1].size for p in paths if p in final)


def analyze(
    image: Image,
    options: Options | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> Analysis:
    """Replay the image's layers, account every byte, run every rule.

    ``on_phase`` is told when the ``replay`` and the ``rules`` are done (for
    ``--verbose``).
    """
    options = options or Options()
    union = replay(layer.entries for layer in image.layers)
    if on_phase is not None:
        on_phase("replay")
    stats = layer_stats(image, union)
    total = sum(s.content_bytes for s in stats)
    removed = overwritten = 0
    removal, overwrite = Cause.REMOVED, Cause.OVERWRITTEN  # not looked up per file
    for h in union.hidden:
        if h.cause is removal:
            removed += h.size
        elif h.cause is overwrite:
            overwritten += h.size
    wasted = removed + overwritten
    final = total - wasted
    ctx = RuleContext(image, union, stats, options)
    findings: list[Finding] = []
    for r in all_rules():
        if r.id in options.disabled:
            continue
        minimum = options.threshold(r.id, r.min_bytes)
        findings.extend(f for f in r.func(ctx) if f.bytes >= minimum)
    findings.sort(key=lambda f: (-f.bytes, f.rule, f.layer or 0, f.paths))
    if on_phase is not None:
        on_phase("rules")
    reclaimable = wasted + claimed_bytes(union, findings)
    summary = Summary(
        total_bytes=total,
        final_bytes=final,
        wasted_bytes=wasted,
        removed_bytes=removed,
        overwritten_bytes=overwritten,
        efficiency=final / total if total else 1.0,
        layer_count=len(image.layers),
        file_count=ctx.paths.types.count(EntryType.FILE),
        reclaimable_bytes=reclaimable,
    )
    return Analysis(image, union, stats, summary, tuple(findings))
