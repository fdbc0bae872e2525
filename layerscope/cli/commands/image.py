"""``layerscope IMAGE``: analyze one image; the interactive view on a terminal, else reports.

Exit status: 0 every budget holds, 1 a budget or failing rule, 2 usage,
input or source error (:mod:`layerscope.errors`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from layerscope import __version__
from layerscope.errors import EXIT_BUDGET, EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The main command's parser (``--help`` shows it)."""
    from layerscope.cli import ci
    from layerscope.cli.parser import Parser
    from layerscope.cli.reading import add_reading_arguments
    from layerscope.policy.budgets import IMAGE_BUDGETS
    from layerscope.report import FORMATS

    p = Parser(
        prog="layerscope",
        description="Find the wasted bytes in a container image and how to fix the Dockerfile.",
        epilog="Compare two images: layerscope diff OLD NEW (see layerscope diff --help). "
        "Budgets, policy files and CI jobs: docs/ci.md.",
    )
    p.add_argument(
        "image",
        help="image reference in the engine, a `docker save` or OCI archive (.tar, .tar.gz), "
        "or an OCI layout directory",
    )
    add_reading_arguments(p)
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
        help="write a report to FILE, its format from the extension (.json, .md, .sarif; "
        "others: --format or table); repeat for several",
    )
    ci.add_ci_arguments(p)
    ci.add_budget_arguments(p, IMAGE_BUDGETS)
    p.add_argument("--version", action="version", version=f"layerscope {__version__}")
    return p


def _interactive(args: argparse.Namespace) -> bool:
    from layerscope.cli.ci import in_ci_environment

    if args.format or args.output or args.ci or in_ci_environment():
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
    from layerscope.cli.reading import reading_options
    from layerscope.policy import budgets

    request = pipeline.Request(
        target=args.image,
        options=reading_options(args),
        source=args.source,
        policy=ci.load(args),
        limits=ci.overrides(args, budgets.IMAGE_BUDGETS),
        base=args.base,
        dockerfile=args.dockerfile,
        stage=args.target,
    )
    if _interactive(args):
        # Textual is imported here only: the headless paths never load it.
        from layerscope.tui.app import run_tui

        return run_tui(request)
    result = pipeline.run(request)
    for warning in result.warnings:
        print(f"layerscope: warning: {warning}", file=sys.stderr)
    ci.emit(args, result, request.policy)
    return EXIT_OK if result.passed else EXIT_BUDGET
