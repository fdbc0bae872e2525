"""Read, analyze and index an image on a background thread, with progress.

No Textual here: the progress screen polls :class:`LoadState` on a timer.
A plain daemon thread rather than a Textual thread worker: Textual runs
those on asyncio's default executor, and ``asyncio.run`` waits for that
executor at exit, so quitting in the middle of a long export would hang
until the export finished. A daemon thread is abandoned at exit; cancelling
also makes the next progress report raise, so an engine export stops and
its connection is closed by the source's own cleanup.
"""

from __future__ import annotations

import ctypes
import enum
import gc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from layerscope.analysis import Analysis
from layerscope.model import Image
from layerscope.sources.interface import Progress, SourceOptions
from layerscope.tui.tree_model import TreeModel

# The longest the tree index waits for the main screen's first paint (seconds).
HOLD_LIMIT = 5.0


class Phase(enum.Enum):
    READING = "reading"
    ANALYZING = "analyzing"
    INDEXING = "indexing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CancelledError(Exception):
    """Raised inside the loading thread once the user has quit."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything the main screen shows."""

    analysis: Analysis
    tree: TreeModel | None  # None while the file tree is still being indexed
    stage: str | None = None  # the Dockerfile's --target, for the planned fixes


@dataclass(slots=True)
class LoadState:
    """What the progress screen shows; written by the loading thread only."""

    phase: Phase = Phase.READING
    bytes_read: int = 0
    bytes_total: int | None = None
    layers_done: int = 0
    layers_total: int | None = None
    passes: int = 1  # a source may read twice (content digests of duplicate candidates)
    via: str = ""  # an engine image: read from its storage or its export
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    result: Loaded | None = None
    # The analysis as soon as it is done: the main screen shows it while the
    # file tree is indexed.
    early: Loaded | None = None
    error: BaseException | None = None
    # When each phase began (time.monotonic), for the benchmark and the curious.
    marks: dict[Phase, float] = field(default_factory=dict)

    def enter(self, phase: Phase) -> None:
        self.marks[phase] = time.monotonic()
        self.phase = phase

    def elapsed(self, now: float | None = None) -> float:
        end = self.finished if self.finished is not None else now or time.monotonic()
        return max(0.0, end - self.started)


def tree_of(analysis: Analysis) -> TreeModel:
    """The tree model of an analysis: hidden bytes and findings' visible waste marked."""
    roots: set[str] = set()
    for f in analysis.findings:
        if f.hidden_by is None:
            roots.update(p.strip("/") for p in f.paths)
            roots.update(f.claims)
    return TreeModel(
        [layer.entries for layer in analysis.image.layers],
        hidden=((h.layer, h.path) for h in analysis.union.hidden),
        waste_roots=roots,
        final=analysis.union.final,
    )


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``;
    elsewhere nothing). Reading and indexing free tens of MiB of short-lived
    tables (the replay's per-directory sets, the readers' buffers); glibc keeps
    them mapped, so without this the view's RSS stays at the load's peak."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


class Loader:
    """Runs ``open`` then ``finish`` then indexing on a daemon thread."""

    def __init__(
        self,
        open_image: Callable[[SourceOptions], Image],
        finish: Callable[[Image], Analysis],
        options: SourceOptions,
        *,
        bytes_total: int | None = None,
        stage: str | None = None,
        hold_index: bool = False,
    ) -> None:
        self._stage = stage
        # With hold_index, the tree index waits (up to HOLD_LIMIT seconds) for
        # release_index(): the main screen's first paint would otherwise share
        # the GIL with it and come a second later on a big image.
        self._hold = hold_index
        self._go_index = threading.Event()
        self._open = open_image
        self._finish = finish
        self._options = options
        self._cancel = threading.Event()
        self.state = LoadState(bytes_total=bytes_total)
        self._thread = threading.Thread(target=self._run, name="layerscope-load", daemon=True)

    def start(self) -> None:
        self.state.started = time.monotonic()
        self.state.marks[Phase.READING] = self.state.started
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    def cancel(self) -> None:
        self._cancel.set()
        self._go_index.set()

    def release_index(self) -> None:
        """Let the tree index start (the main screen is on screen)."""
        self._go_index.set()

    def join(self, timeout: float | None = None) -> None:
        if self.started:
            self._thread.join(timeout)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _progress(self, p: Progress) -> None:
        if self._cancel.is_set():
            raise CancelledError
        s = self.state
        if p.layers_done < s.layers_done:  # the source reads the image again
            s.passes += 1
        s.bytes_read = p.bytes_read
        s.via = p.via or s.via
        s.layers_done = p.layers_done
        s.layers_total = p.layers_total

    def _run(self) -> None:
        # The cyclic GC stays off for the whole load, and what the load built is
        # frozen once done: the app keeps it to the end, and otherwise every
        # collection (the UI's included) walks its hundreds of thousands of
        # tuples again; see gcpause. This costs the view's one-off garbage of
        # the moment (the progress screen), never the analysis.
        was = gc.isenabled()
        gc.disable()
        try:
            self._load()
        finally:
            if was:
                if self.state.result is not None:
                    gc.freeze()
                gc.enable()

    def _load(self) -> None:
        s = self.state
        try:
            image = self._open(replace(self._options, progress=self._progress))
            s.layers_total = s.layers_done = len(image.layers)
            self._check()
            s.enter(Phase.ANALYZING)
            analysis = self._finish(image)
            self._check()
            s.early = Loaded(analysis, None, self._stage)
            if self._hold:
                self._go_index.wait(HOLD_LIMIT)
                self._check()
            s.enter(Phase.INDEXING)
            s.result = Loaded(analysis, tree_of(analysis), self._stage)
            release_free_memory()
            s.enter(Phase.DONE)
        except CancelledError:
            s.phase = Phase.CANCELLED
        except BaseException as e:  # handed to the UI thread, re-raised there
            s.error = e
            s.phase = Phase.CANCELLED if self._cancel.is_set() else Phase.FAILED
        finally:
            s.finished = time.monotonic()

    def _check(self) -> None:
        if self._cancel.is_set():
            raise CancelledError
