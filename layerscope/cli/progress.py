"""What the command line says while it works: live progress, phase times, warnings.

Live progress is drawn with ``rich.progress`` on stderr, and only when stderr is a
terminal, the run is not in CI mode (``--ci``, ``CI=true``), ``--quiet`` is not
given and ``TERM`` is not ``dumb``; it is cleared before a report is written, so
stdout carries the same bytes with and without a terminal. ``rich`` is imported
only then. ``--verbose`` adds one line per phase with its wall time, in any mode (and, for
an engine image, one saying whether its storage or its export is read, and why);
``--quiet`` silences progress, warnings and notes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from layerscope.sources.interface import Progress

if TYPE_CHECKING:
    from layerscope.analysis import Analysis
    from layerscope.pipeline import Request

# A path source smaller than this reads in well under a second: no display.
LIVE_MIN_BYTES = 64 << 20
# Phases of one run, in order (the figures benchmarks/phases.py measures).
PHASES = ("source", "scan", "replay", "rules", "finish", "report")


def add_verbosity_arguments(p: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--verbose`` (they exclude each other)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "-q", "--quiet", action="store_true", help="no progress, warnings or notes on stderr"
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="one line on stderr per phase (source, scan, replay, rules, finish, report) "
        "with its time",
    )


def _live_allowed(args: argparse.Namespace) -> bool:
    from layerscope.cli.ci import ci_mode

    if getattr(args, "quiet", False) or ci_mode(args):
        return False
    if os.environ.get("TERM", "") == "dumb":
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced stderr
        return False


class Status:
    """Progress, phase times and warnings for one command run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.quiet = bool(getattr(args, "quiet", False))
        self.verbose = bool(getattr(args, "verbose", False))
        self.live = _live_allowed(args)
        self._mark = time.monotonic()
        self._display: Any = None  # the rich Progress while one is shown
        self._task: Any = None

    # -- messages -----------------------------------------------------------
    def warn(self, message: str) -> None:
        """A warning on stderr, unless ``--quiet``."""
        if not self.quiet:
            self._print(f"layerscope: warning: {message}")

    def say(self, message: str, *, live_only: bool = False) -> None:
        """A progress message: on the live display, else a line (not under ``--quiet``,
        nor when ``live_only``: a detail that would only flood a log)."""
        if self._display is not None:
            self._display.update(self._task, description=message)
        elif not self.quiet and not live_only:
            self._print(f"layerscope: {message}")

    def phase(self, name: str) -> None:
        """Close phase ``name`` (started at the previous mark); its time at ``--verbose``."""
        now = time.monotonic()
        if self.verbose:
            self._print(f"layerscope: {name} {now - self._mark:.3f} s")
        self._mark = now

    def _print(self, line: str) -> None:
        if self._display is not None:
            self._display.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, file=sys.stderr, flush=True)

    # -- the read -------------------------------------------------------------
    def read_and_finish(self, request: Request, what: str) -> Analysis:
        """``pipeline.run`` with the read of ``what`` shown (progress, phase times)."""
        import dataclasses

        from layerscope import pipeline
        from layerscope.sources.size import input_size

        source = request.engine  # may ask the engines (auto, a registry-like name): once
        size = None if source is not None else input_size(request.target)
        engine = source in ("docker", "podman")
        export = request.options.engine_read == "export"
        with pipeline.overlapping(request, source) as listing:
            with self.reading(what, engine=engine, size=size, export=export) as progress:
                options = dataclasses.replace(request.options, progress=progress)
                image = pipeline.read(request, options)
            return pipeline.finish(image, request, listing)

    # -- live display -------------------------------------------------------
    @contextlib.contextmanager
    def reading(
        self, what: str, *, engine: bool, size: int | None, export: bool = True
    ) -> Iterator[Callable[[Progress], None] | None]:
        """Show the read of ``what`` while the block runs; yields the callback for
        ``SourceOptions.progress`` (None when nothing is shown). ``export``: an
        engine image is read from the engine's export (else maybe its storage). Phases ``source``
        (until the first layer is scanned: for an engine, the export's
        preparation) and ``scan`` are marked from its events."""
        first: list[float] = []

        def mark(p: Progress) -> None:
            if p.note and self.verbose:
                self._print(f"layerscope: {p.note}")
            if not first and p.layers_done:
                first.append(time.monotonic())
                self.phase("source")

        live = self.live and (engine or size is None or size >= LIVE_MIN_BYTES)
        if not live:
            yield mark if self.verbose else None
            self._close_read(first)
            return
        if not engine:
            first_words = f"reading {what}"
        elif export:
            first_words = f"waiting for the engine's export of {what}"
        else:
            first_words = f"reading {what} from the engine"
        with self._live(first_words) as update:

            def callback(p: Progress) -> None:
                mark(p)
                layers = f"{p.layers_done}" + (f" of {p.layers_total}" if p.layers_total else "")
                entries = f", {p.entries_read:,} entries" if p.entries_read else ""
                via = f" ({p.via})" if p.via else ""
                update(f"reading {what}{via}: layer {layers}{entries}", p.bytes_read, size)

            yield callback
        self._close_read(first)

    def _close_read(self, first: list[float]) -> None:
        if not first:  # no event came (an empty image, or a source that reports none)
            self.phase("source")
        self.phase("scan")

    @contextlib.contextmanager
    def working(self, message: str) -> Iterator[None]:
        """A spinner with elapsed time while the block runs; nothing when not live
        (what ``say`` is told inside still goes out as lines)."""
        if not self.live:
            yield
            return
        with self._live(message):
            yield

    @contextlib.contextmanager
    def _live(self, message: str) -> Iterator[Callable[[str, int, int | None], None]]:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        console = Console(stderr=True)
        display = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,  # gone before the report is written
        )
        task = display.add_task(message, total=None)

        def update(description: str, done: int, total: int | None) -> None:
            display.update(task, description=description, completed=done, total=total)

        outer, self._display, self._task = self._display, display, task
        try:
            with display:
                yield update
        finally:
            self._display = outer
