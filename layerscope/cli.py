"""Command line: arguments, source and format choice, exit codes. No analysis.

Exit status: 0 every budget holds, 1 a budget or failing rule, 2 usage,
input or source error, 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from layerscope import __version__
from layerscope.errors import LayerscopeError, UsageError

if TYPE_CHECKING:
    from layerscope.analysis import Analysis
    from layerscope.model import Image
    from layerscope.policy import Policy
    from layerscope.sources import SourceOptions

EXIT_OK = 0
EXIT_BUDGET = 1
EXIT_ERROR = 2

# Subcommands: ``layerscope NAME ...`` hands the rest of argv to MODULE.main(argv).
SUBCOMMANDS: dict[str, str] = {"diff": "layerscope.commands.diff", "fix": "layerscope.commands.fix"}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="layerscope",
        description="Find the wasted bytes in a container image and how to fix the Dockerfile.",
        epilog="Compare two images: layerscope diff OLD NEW (see layerscope diff --help). "
        "Budgets, policy files and CI jobs: docs/ci.md.",
    )
    p.add_argument(
        "image",
        help="image reference in the engine, a `docker save` or OCI archive (.tar, .tar.gz), "
        "an OCI layout or `dir:` directory, or `-` for an archive streamed on stdin "
        "(docs/sources.md)",
    )
    from layerscope.commands.reading import add_reading_arguments

    add_reading_arguments(p)
    p.add_argument(
        "--all-platforms",
        action="store_true",
        help="report every platform of a multi-platform index (one JSON document holding a "
        "report per platform; docs/report.md); exit 1 when any platform breaks a budget",
    )
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
    from layerscope.budget import IMAGE_BUDGETS
    from layerscope.commands import ci

    p.add_argument(
        "--format",
        choices=ci.FORMATS,
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


def _write_output(path: str, text: str) -> None:
    """Write a report to ``path``.

    A regular file (or a new one) is written atomically: a temp file beside
    it, then a rename, so a reader never sees half a report; through a
    symlink, the file it points to is replaced and the link kept. Anything
    else (``/dev/null``, ``/dev/stdout``, a FIFO) is written to as it is:
    renaming over it would replace the device with a file.
    """
    try:
        st = os.stat(path)  # through symlinks, /proc's magic ones included
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"cannot write {path}: it is a directory")
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            raise UsageError(f"cannot write {path}: {e.strerror or e}") from None
        return
    real = os.path.realpath(path)
    directory = os.path.dirname(real)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".layerscope-", dir=directory)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    try:
        # mkstemp makes the file 0600; a report is an ordinary file: honour the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, real)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk, a read-only target: not a traceback
            raise UsageError(f"cannot write {path}: {e.strerror or e}") from None
        raise


def _interactive(args: argparse.Namespace) -> bool:
    if args.format or args.output or args.ci or args.all_platforms:
        return False
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    return sys.stdout.isatty() and sys.stdin.isatty()


def run(argv: Sequence[str]) -> int:
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        module = importlib.import_module(SUBCOMMANDS[argv[0]])
        code: int = module.main(list(argv[1:]))
        return code
    if "--version" in argv:  # before the parser, which imports the budget and analysis modules
        sys.stdout.write(f"layerscope {__version__}\n")
        return EXIT_OK
    args = build_parser().parse_args(argv)
    import dataclasses

    from layerscope import budget
    from layerscope.analysis import analyze
    from layerscope.base import attribute
    from layerscope.commands import ci
    from layerscope.commands.reading import reading_options
    from layerscope.report import render, summary
    from layerscope.sources import engine_of
    from layerscope.sources.baseref import LocalImages, find_base
    from layerscope.sources.rehash import open_image_with_digests

    options = reading_options(args)
    policy = ci.load(args)
    limits = ci.overrides(args, budget.IMAGE_BUDGETS)
    engine = engine_of(args.image, args.source)
    # The engine's images, for the base match, listed while the export is prepared.
    listing = (
        LocalImages(engine, options.engine_timeout)
        if engine is not None and not args.base
        else None
    )

    def finish(image: Image) -> Analysis:
        """Everything after reading the image; the interactive view runs it too."""
        result = analyze(image, budget.analysis_options(policy))
        if args.dockerfile:
            from layerscope.commands.fix import with_dockerfile

            result = with_dockerfile(result, args.dockerfile, args.target)
        boundary = find_base(
            image,
            base=args.base,
            dockerfile=getattr(args, "dockerfile", None),
            target=getattr(args, "target", None),
            options=options,
            # Ask the engine for a matching local base only for an engine image:
            # an archive is analyzed without touching (or importing) the engine.
            local=image.source in ("docker", "podman"),
            # Made for the engine asked first: not Podman's when auto fell back to it.
            listing=listing if image.source == engine else None,
        )
        result = attribute(result, boundary)
        verdicts = budget.judge(result, policy, limits, references=(args.image,))
        return dataclasses.replace(result, budgets=verdicts)

    if _interactive(args):
        # Textual is imported here only: the headless paths never load it.
        from layerscope.tui.app import run_tui

        def read(opts: SourceOptions) -> Image:
            return open_image_with_digests(args.image, source=args.source, options=opts)

        return run_tui(args.image, source=args.source, options=options, finish=finish, read=read)
    if args.all_platforms:
        return _all_platforms(args, options, policy, finish)
    # Duplicate candidates get content digests (a second read only when sizes collide).
    result = finish(open_image_with_digests(args.image, source=args.source, options=options))
    ci.emit(args, result, policy, render, _write_output, summary.render)
    return EXIT_OK if result.passed else EXIT_BUDGET


def _all_platforms(
    args: argparse.Namespace,
    options: SourceOptions,
    policy: Policy,
    finish: Callable[[Image], Analysis],
) -> int:
    """``--all-platforms``: analyze, judge and report every platform."""
    from layerscope.commands import ci
    from layerscope.report import platforms
    from layerscope.sources.rehash import open_platform_images_with_digests

    if args.platform:
        raise UsageError("--platform and --all-platforms exclude each other")
    images = open_platform_images_with_digests(args.image, source=args.source, options=options)
    results = [finish(image) for image in images]
    ci.emit(args, results, policy, platforms.render, _write_output, platforms.summary)
    return EXIT_OK if all(r.passed for r in results) else EXIT_BUDGET


def _on_sigterm(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: one clear line on stderr for every input error."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except LayerscopeError as e:
        # Messages quote archive names: escape them (one line, no terminal escapes).
        from layerscope.names import printable

        print(f"layerscope: error: {printable(str(e))}", file=sys.stderr)
        return e.exit_code
    except (MemoryError, RecursionError) as e:
        print(
            f"layerscope: error: input too large to analyze ({type(e).__name__})", file=sys.stderr
        )
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("layerscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output closed early (e.g. piped to head): not an error of the input.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
