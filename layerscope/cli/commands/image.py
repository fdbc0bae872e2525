"""``layerscope IMAGE``: analyze one image; the interactive view on a terminal, else reports.

Exit status: 0 every budget holds, 1 a budget or failing rule, 2 usage,
input or source error (:mod:`layerscope.errors`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from layerscope import __version__
from layerscope.errors import EXIT_BUDGET, EXIT_OK

if TYPE_CHECKING:
    from layerscope import pipeline
    from layerscope.cli.progress import Status


def build_parser() -> argparse.ArgumentParser:
    """The main command's parser (``--help`` shows it)."""
    from layerscope.cli import ci
    from layerscope.cli.parser import Parser
    from layerscope.cli.progress import add_verbosity_arguments
    from layerscope.cli.reading import add_reading_arguments
    from layerscope.policy.budgets import IMAGE_BUDGETS
    from layerscope.report import FORMATS

    p = Parser(
        prog="layerscope",
        usage="%(prog)s [options] IMAGE\n"
        "       %(prog)s diff [options] OLD NEW     compare two images (diff --help)\n"
        "       %(prog)s fix --dockerfile PATH IMAGE  fix the Dockerfile (fix --help)",
        description="Find the wasted bytes in a container image and how to fix the Dockerfile.",
        epilog="Commands: `layerscope diff OLD NEW` compares two images or a baseline report "
        "with an image, with growth budgets (layerscope diff --help); `layerscope fix` writes "
        "the Dockerfile fixes (layerscope fix --help). Budgets, policy files and CI jobs: "
        "docs/ci.md.",
    )
    p.add_argument(
        "image",
        help="image reference in the engine, a `docker save` or OCI archive (.tar, .tar.gz), "
        "an OCI layout or `dir:` directory, or `-` for an archive streamed on stdin "
        "(docs/sources.md)",
    )
    add_reading_arguments(p)
    p.add_argument(
        "--all-platforms",
        action="store_true",
        help="report every platform of a multi-platform index (one JSON document holding a "
        "report per platform; docs/report.md); exit 1 when any platform breaks a budget",
    )
    add_verbosity_arguments(p)
    p.add_argument(
        "--base",
        metavar="IMAGE",
        help="the base image (engine reference or archive) whose layers start this image; "
        "`scratch` for none. Default: the Dockerfile's FROM, else the engine image sharing "
        "the most layers, else the history (docs/base.md)",
    )
    p.add_argument(
        "--dockerfile",
        metavar="PATH",
        help="the Dockerfile the image was built from: every finding gets its file and line, "
        "and its instruction order is checked too (fix it: layerscope fix, docs/fixes.md)",
    )
    p.add_argument("--target", metavar="STAGE", help="the --target stage the image was built as")
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="non-interactive output format (default: the interactive view on a terminal, "
        "else table)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        action="append",
        help="write a report to FILE, its format from the extension (.json, .md, .sarif, "
        ".html, .xml for junit; others: --format or table); `-` is stdout; repeat for several",
    )
    ci.add_ci_arguments(p)
    ci.add_budget_arguments(p, IMAGE_BUDGETS)
    p.add_argument("--version", action="version", version=f"layerscope {__version__}")
    return p


def _interactive(args: argparse.Namespace) -> bool:
    from layerscope.cli.ci import in_ci_environment

    if args.format or args.output or args.ci or args.all_platforms or in_ci_environment():
        return False
    return sys.stdout.isatty() and sys.stdin.isatty()


def main(argv: Sequence[str]) -> int:
    """``layerscope IMAGE ...``; returns the exit status."""
    args = build_parser().parse_args(argv)
    from layerscope.cli.input_guard import refuse_overwriting_inputs

    # Before anything is read or written: -o never replaces an input.
    inputs = [args.image, args.base, args.dockerfile, getattr(args, "config", None)]
    refuse_overwriting_inputs(args.output, inputs)
    from layerscope import pipeline
    from layerscope.cli import ci
    from layerscope.cli.progress import Status
    from layerscope.cli.reading import reading_options
    from layerscope.policy import budgets

    status = Status(args)
    planned = ci.plan(args)  # a bad -o is refused before any work
    request = pipeline.Request(
        target=args.image,
        options=reading_options(args),
        source=args.source,
        policy=ci.load(args),
        limits=ci.overrides(args, budgets.IMAGE_BUDGETS),
        base=args.base,
        dockerfile=args.dockerfile,
        stage=args.target,
        on_phase=status.phase,
    )
    if _interactive(args):
        # Textual is imported here only: the headless paths never load it.
        from layerscope.tui import run_tui

        code, shown = run_tui(request)
        if shown is not None:
            # The view is gone: the exit status's reason stays in the terminal.
            sys.stderr.writelines(ci.budget_lines(shown.budgets))
        return code
    if args.all_platforms:
        return _all_platforms(args, request, status)
    result = status.read_and_finish(request, args.image)
    for warning in result.warnings:
        status.warn(warning)
    ci.emit(args, result, request.policy, planned)
    status.phase("report")
    return EXIT_OK if result.passed else EXIT_BUDGET


def _all_platforms(args: argparse.Namespace, request: pipeline.Request, status: Status) -> int:
    """``--all-platforms``: analyze, judge and report every platform."""
    from layerscope import pipeline
    from layerscope.cli import ci
    from layerscope.errors import UsageError
    from layerscope.report import platforms
    from layerscope.sources.rehash import open_platform_images_with_digests

    if args.platform:
        raise UsageError("--platform and --all-platforms exclude each other")
    with pipeline.overlapping(request) as listing:
        images = open_platform_images_with_digests(
            request.target, source=request.source, options=request.options
        )
        status.phase("source")
        results = [pipeline.finish(image, request, listing) for image in images]
    for result in results:
        for warning in result.warnings:
            status.warn(warning)
    ci.emit(args, results, request.policy, render=platforms.render, summary=platforms.summary)
    status.phase("report")
    return EXIT_OK if all(r.passed for r in results) else EXIT_BUDGET
