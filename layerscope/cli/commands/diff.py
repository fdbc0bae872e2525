"""``layerscope diff OLD NEW``: what grew between two images, and growth budgets.

OLD and NEW are references or archives (as for ``layerscope IMAGE``); OLD may
instead be a JSON report of an earlier run (``--baseline report.json``, or a
``.json`` path in OLD's place). The comparison itself is
:mod:`layerscope.comparison`; its reports are :mod:`layerscope.report.diff`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import Any

from layerscope.analysis import Analysis
from layerscope.comparison import Diff, compare, load_report, snapshot
from layerscope.errors import EXIT_BUDGET, EXIT_OK, UsageError

DIFF_EXTENSIONS = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}


def build_parser() -> argparse.ArgumentParser:
    from layerscope.cli import ci
    from layerscope.cli.parser import Parser
    from layerscope.cli.progress import add_verbosity_arguments
    from layerscope.policy.budgets import GROWTH_BUDGETS, IMAGE_BUDGETS

    p = Parser(
        prog="layerscope diff",
        description="Compare two images (or a baseline report and an image): per-layer and "
        "per-directory growth, new and gone findings; growth budgets.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="OLD NEW, or NEW with --baseline")
    p.add_argument("--baseline", metavar="REPORT", help="OLD is this JSON report of a past run")
    p.add_argument(
        "--growth-only",
        action="store_true",
        help="judge only the growth budgets, not NEW's own (when `layerscope NEW` already "
        "judges them in the same job, so a failure is reported once)",
    )
    p.add_argument(
        "--baseline-missing",
        choices=("ok", "error"),
        default="error",
        help="when the --baseline file does not exist (a branch's first run): `ok` judges NEW "
        "alone (no growth budgets) and says so on stderr; `error` (default) exits 2",
    )
    from layerscope.cli.reading import add_reading_arguments

    add_reading_arguments(p, what="the images")
    add_verbosity_arguments(p)
    p.add_argument("--format", choices=("table", "json", "markdown", "html"), help="stdout format")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        action="append",
        help="write the diff to FILE (.json, .md, .html; others: --format or table; `-` is "
        "stdout); repeatable",
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
    diff: Diff,
    new: Analysis,
    policy: Any,
    args: argparse.Namespace,
    refs: tuple[str, ...],
    growth_budgets: bool = True,
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
        *(budget.evaluate(budget.GROWTH_BUDGETS, growth, limits, origin) if growth_budgets else ()),
        *(() if args.growth_only else budget.evaluate(budget.IMAGE_BUDGETS, new, limits, origin)),
        *(() if args.growth_only else budget.rule_results(new, policy)),
    )
    return dataclasses.replace(diff, budgets=verdicts)


def main(argv: Sequence[str]) -> int:
    """``layerscope diff ...``; returns the exit status."""
    from layerscope import pipeline
    from layerscope.cli import ci
    from layerscope.cli.output import plan_outputs, write_output, write_reports
    from layerscope.cli.progress import Status
    from layerscope.cli.reading import reading_options
    from layerscope.report.diff import render

    args = build_parser().parse_args(argv)
    from layerscope.cli.input_guard import refuse_overwriting_inputs

    inputs = [*args.images, args.baseline, getattr(args, "config", None)]
    refuse_overwriting_inputs(args.output, inputs)  # before anything is read or written
    old_ref, new_ref = _split(args)
    files, stdout_fmt = plan_outputs(args.output, args.format, DIFF_EXTENSIONS, "layerscope diff")
    policy = ci.load(args)
    options = reading_options(args)
    status = Status(args)

    def side(label: str, target: str, attribute_base: bool) -> Analysis:
        # Both sides get content digests, so duplicate findings compare like for like.
        request = pipeline.Request(
            target=target,
            options=options,
            source=args.source,
            policy=policy,
            attribute_base=attribute_base,
            judge=False,  # judged below, with the growth budgets
            on_phase=status.phase,
        )
        return status.read_and_finish(request, f"{label} {target}")

    baseline = args.baseline
    if old_ref is not None and old_ref.endswith(".json"):
        baseline, old_ref = old_ref, None
    missing = bool(baseline) and not os.path.exists(baseline)
    if missing and args.baseline_missing == "error":
        raise UsageError(
            f"--baseline {baseline}: no such file (--baseline-missing ok for a first run)"
        )
    if baseline and not missing:
        old = load_report(baseline)
    elif old_ref is not None:
        old = snapshot(side("OLD", old_ref, attribute_base=False))
    # NEW's waste budgets judge its own layers, as `layerscope IMAGE` does.
    new_result = side("NEW", new_ref, attribute_base=True)
    new = snapshot(new_result)
    if missing:
        if not status.quiet:
            print(
                f"layerscope: note: baseline {baseline} not found (--baseline-missing ok): "
                "NEW is judged alone, no growth budget",
                file=sys.stderr,
            )
        old = new
    diff = judge(compare(old, new), new_result, policy, args, (new_ref,), not missing)
    if missing:
        diff = dataclasses.replace(diff, baseline_missing=True)

    errors = write_reports(
        diff, files, stdout_fmt, policy, render, write_output, quiet=status.quiet
    )
    if stdout_fmt is None and ci.ci_mode(args):
        sys.stdout.write(ci.policy_line(policy))
        sys.stdout.write(render("table", diff))
        sys.stdout.flush()
    from layerscope.cli import github

    errors += github.publish_diff(diff)
    sys.stderr.writelines(ci.budget_lines(diff.budgets))
    sys.stderr.flush()
    status.phase("report")
    if errors:
        raise UsageError("; ".join(errors))
    return EXIT_OK if diff.passed else EXIT_BUDGET
