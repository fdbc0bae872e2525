"""``layerscope diff OLD NEW``: what grew between two images, and growth budgets.

OLD and NEW are references or archives (as for ``layerscope IMAGE``); OLD may
instead be a JSON report of an earlier run (``--baseline report.json``, or a
``.json`` path in OLD's place). The comparison is plain data (``Diff``): the
per-layer and per-directory growth, the findings that are new and gone, and
the verdicts of the growth budgets (``max_growth`` ...) and of NEW's own
budgets. Per-directory growth needs both images: a JSON report holds no
file tree.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import posixpath
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from layerscope.analysis import Analysis, BudgetResult
from layerscope.errors import SourceError, UsageError
from layerscope.model import EntryType

DIR_DEPTH = 2
TOP_DIRS = 20


@dataclass(frozen=True, slots=True)
class LayerInfo:
    index: int
    digest: str
    bytes: int
    command: str


@dataclass(frozen=True, slots=True)
class FindingInfo:
    rule: str
    kind: str
    bytes: int
    path: str
    message: str
    fix: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.path)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a diff needs of one side: from an analysis or a JSON report."""

    reference: str
    id: str
    total_bytes: int
    final_bytes: int
    wasted_bytes: int
    reclaimable_bytes: int
    layers: tuple[LayerInfo, ...]
    findings: tuple[FindingInfo, ...]
    dirs: Mapping[str, int] | None  # final bytes per directory (DIR_DEPTH deep)


@dataclass(frozen=True, slots=True)
class LayerDelta:
    """Layer ``index`` of both images: ``same`` (one digest), ``changed``,
    ``added`` (only NEW has it) or ``removed`` (only OLD)."""

    index: int
    status: str
    old_bytes: int
    new_bytes: int
    command: str

    @property
    def growth(self) -> int:
        return self.new_bytes - self.old_bytes


@dataclass(frozen=True, slots=True)
class DirDelta:
    path: str
    old_bytes: int
    new_bytes: int

    @property
    def growth(self) -> int:
        return self.new_bytes - self.old_bytes


@dataclass(frozen=True, slots=True)
class Diff:
    old: Snapshot
    new: Snapshot
    layers: tuple[LayerDelta, ...]
    dirs: tuple[DirDelta, ...] | None
    new_findings: tuple[FindingInfo, ...]
    gone_findings: tuple[FindingInfo, ...]
    budgets: tuple[BudgetResult, ...] = ()

    @property
    def passed(self) -> bool:
        return all(b.passed or b.severity != "fail" for b in self.budgets)


def directory_bytes(result: Analysis, depth: int = DIR_DEPTH) -> dict[str, int]:
    """Final bytes per directory, each file counted in its directory cut to
    ``depth`` components (``/usr/lib`` holds everything below it)."""
    out: dict[str, int] = defaultdict(int)
    for path, (_, entry) in result.union.final.items():
        if entry.type is EntryType.FILE and entry.size:
            parts = posixpath.dirname(path).split("/") if "/" in path else []
            out["/" + "/".join(parts[:depth])] += entry.size
    return dict(out)


def snapshot(result: Analysis) -> Snapshot:
    """The diff's view of an analysed image."""
    image = result.image
    layers = []
    for layer, stats in zip(image.layers, result.layers, strict=True):
        h = image.layer_history(layer)
        layers.append(LayerInfo(layer.index, layer.digest, stats.content_bytes, _cmd(h)))
    s = result.summary
    return Snapshot(
        reference=image.reference,
        id=image.id,
        total_bytes=s.total_bytes,
        final_bytes=s.final_bytes,
        wasted_bytes=s.wasted_bytes,
        reclaimable_bytes=s.reclaimable_bytes,
        layers=tuple(layers),
        findings=tuple(
            FindingInfo(
                f.rule, f.kind.value, f.bytes, f.paths[0] if f.paths else "", f.message, f.fix
            )
            for f in result.findings
        ),
        dirs=directory_bytes(result),
    )


def _cmd(h: Any) -> str:
    if h is None:
        return ""
    return f"{h.parsed.instruction.value} {h.parsed.args}".strip()


def snapshot_from_report(data: object, name: str) -> Snapshot:
    """The diff's view of a JSON report (schema version 1) from an earlier run."""

    def bad(why: str) -> SourceError:
        return SourceError(f"{name}: not a layerscope JSON report ({why})")

    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise bad("schema_version 1 expected")
    try:
        s = data["summary"]
        ints = {
            k: s[k] for k in ("total_bytes", "final_bytes", "wasted_bytes", "reclaimable_bytes")
        }
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints.values()):
            raise bad("summary sizes must be integers")
        commands = {
            h["layer"]: f"{h['instruction']} {h['args']}".strip()
            for h in data.get("history", [])
            if h.get("layer") is not None
        }
        layers = tuple(
            LayerInfo(
                int(x["index"]),
                str(x["digest"]),
                int(x["content_bytes"]),
                commands.get(x["index"], ""),
            )
            for x in data["layers"]
        )
        findings = tuple(
            FindingInfo(
                str(f["rule"]),
                str(f["kind"]),
                int(f["bytes"]),
                str(f["paths"][0]) if f["paths"] else "",
                str(f["message"]),
                str(f["fix"]),
            )
            for f in data["findings"]
        )
        image = data["image"]
        return Snapshot(
            reference=str(image.get("reference") or ""),
            id=str(image.get("id") or ""),
            layers=layers,
            findings=findings,
            dirs=None,
            **ints,
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise bad(f"missing or wrong field: {e}") from None


def load_report(path: str) -> Snapshot:
    """Read a baseline JSON report."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise SourceError(f"{path}: {e.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SourceError(f"{path}: not valid JSON: {e}") from None
    return snapshot_from_report(data, path)


def compare(old: Snapshot, new: Snapshot) -> Diff:
    """Layer by layer (by position), directory by directory, finding by finding."""
    layers = []
    for i in range(max(len(old.layers), len(new.layers))):
        a = old.layers[i] if i < len(old.layers) else None
        b = new.layers[i] if i < len(new.layers) else None
        if a is not None and b is not None:
            status = "same" if a.digest == b.digest else "changed"
            layers.append(LayerDelta(i, status, a.bytes, b.bytes, b.command))
        elif b is not None:
            layers.append(LayerDelta(i, "added", 0, b.bytes, b.command))
        elif a is not None:
            layers.append(LayerDelta(i, "removed", a.bytes, 0, a.command))
    dirs = None
    if old.dirs is not None and new.dirs is not None:
        deltas = [
            DirDelta(p, old.dirs.get(p, 0), new.dirs.get(p, 0))
            for p in sorted(set(old.dirs) | set(new.dirs))
        ]
        deltas = [d for d in deltas if d.growth]
        deltas.sort(key=lambda d: (-abs(d.growth), d.path))
        dirs = tuple(deltas[:TOP_DIRS])
    old_keys = {f.key for f in old.findings}
    new_keys = {f.key for f in new.findings}
    return Diff(
        old=old,
        new=new,
        layers=tuple(layers),
        dirs=dirs,
        new_findings=tuple(f for f in new.findings if f.key not in old_keys),
        gone_findings=tuple(f for f in old.findings if f.key not in new_keys),
    )


def build_parser() -> argparse.ArgumentParser:
    from layerscope.cli import ci
    from layerscope.cli.entry import _Parser
    from layerscope.policy.budgets import GROWTH_BUDGETS, IMAGE_BUDGETS

    p = _Parser(
        prog="layerscope diff",
        description="Compare two images (or a baseline report and an image): per-layer and "
        "per-directory growth, new and gone findings; growth budgets.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="OLD NEW, or NEW with --baseline")
    p.add_argument("--baseline", metavar="REPORT", help="OLD is this JSON report of a past run")
    from layerscope.cli.reading import add_reading_arguments

    add_reading_arguments(p, what="the images")
    p.add_argument("--format", choices=("table", "json", "markdown"), help="stdout format")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        action="append",
        help="write the diff to FILE (.json, .md; others: --format or table); repeatable",
    )
    ci.add_ci_arguments(p)
    ci.add_budget_arguments(p, (*GROWTH_BUDGETS, *IMAGE_BUDGETS))
    return p


def _split(args: argparse.Namespace) -> tuple[str | None, str]:
    images = list(args.images)
    if args.baseline:
        if len(images) != 1:
            raise UsageError("with --baseline give only NEW (see --help)")
        return None, images[0]
    if len(images) != 2:
        raise UsageError("give OLD and NEW, or --baseline REPORT and NEW (see --help)")
    return images[0], images[1]


def judge(
    diff: Diff, new: Analysis, policy: Any, args: argparse.Namespace, refs: tuple[str, ...]
) -> Diff:
    """The growth budgets and NEW's own budgets, from the policy and the flags."""
    from layerscope.cli import ci
    from layerscope.policy import budgets as budget

    flags = ci.overrides(args, (*budget.GROWTH_BUDGETS, *budget.IMAGE_BUDGETS))
    limits, origin = budget.limits_for(policy, [new.image.reference, *refs], flags)
    growth = budget.Growth(
        old_total=diff.old.total_bytes,
        new_total=diff.new.total_bytes,
        old_final=diff.old.final_bytes,
        new_final=diff.new.final_bytes,
        old_wasted=diff.old.wasted_bytes,
        new_wasted=diff.new.wasted_bytes,
    )
    verdicts = (
        *budget.evaluate(budget.GROWTH_BUDGETS, growth, limits, origin),
        *budget.evaluate(budget.IMAGE_BUDGETS, new, limits, origin),
        *budget.rule_results(new, policy),
    )
    return dataclasses.replace(diff, budgets=verdicts)


def main(argv: Sequence[str]) -> int:
    """``layerscope diff ...``; returns the exit status."""
    from layerscope.analysis import analyze
    from layerscope.base.attribution import attribute
    from layerscope.base.resolve import find_base
    from layerscope.cli import ci
    from layerscope.cli.entry import EXIT_BUDGET, EXIT_OK, _write_output
    from layerscope.cli.reading import reading_options
    from layerscope.policy import budgets as budget
    from layerscope.report.diff import render
    from layerscope.sources.rehash import open_image_with_digests

    args = build_parser().parse_args(argv)
    old_ref, new_ref = _split(args)
    policy = ci.load(args)
    options = reading_options(args)
    analysis_options = budget.analysis_options(policy)
    baseline = args.baseline
    if old_ref is not None and old_ref.endswith(".json"):
        baseline, old_ref = old_ref, None
    if baseline:
        old = load_report(baseline)
    else:
        assert old_ref is not None
        old_image = open_image_with_digests(old_ref, source=args.source, options=options)
        old = snapshot(analyze(old_image, analysis_options))
    # Both sides get content digests, so duplicate findings compare like for like.
    new_image = open_image_with_digests(new_ref, source=args.source, options=options)
    new_result = analyze(new_image, analysis_options)
    # NEW's waste budgets judge its own layers, as `layerscope IMAGE` does.
    new_result = attribute(
        new_result,
        find_base(
            new_result.image,
            options=options,
            local=new_result.image.source in ("docker", "podman"),
        ),
    )
    diff = judge(compare(old, snapshot(new_result)), new_result, policy, args, (new_ref,))

    files, stdout_fmt = ci.plan_outputs(
        args.output, args.format, {".json": "json", ".md": "markdown"}
    )
    ci.write_reports(diff, files, stdout_fmt, policy, render, _write_output)
    if stdout_fmt is None and ci.ci_mode(args):
        sys.stdout.write(render("table", diff))
    return EXIT_OK if diff.passed else EXIT_BUDGET
