"""Pausing the cyclic garbage collector while building large acyclic structures;
one malloc arena for the threads that build them.

An image is a few hundred thousand small tuples (entries, paths, the replay):
collecting while they are made only rescans the heap built so far, again and
again. Refcounting frees them; none holds a reference cycle.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_freeze = True


def keep_collectable() -> None:
    """Stop :func:`paused_gc` from freezing what it built, for the rest of the process.

    Freezing is process-wide: frozen objects are never collected even if they
    later end up in a reference cycle. A one-shot command does not care; a
    long-running interactive app would leak its discarded widgets, so the
    interactive view calls this before it loads an image.
    """
    global _freeze
    _freeze = False


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Build large acyclic structures without the cyclic GC, then freeze them.

    ``gc.freeze`` moves what was built out of the GC's sight, so the rules'
    own allocations do not walk it again (14% of a run). After
    :func:`keep_collectable` the GC is only paused. A caller that had the GC
    off keeps it off.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            if _freeze:
                gc.freeze()
            gc.enable()


def one_malloc_arena() -> None:
    """Have every thread allocate from malloc's one arena, from now on.

    glibc's malloc gives each thread that allocates its own arena; a layer
    scanned on a worker thread leaves memory in that thread's arena after the
    scan (its lists and tuples grow there): 1.4 MB more peak RSS for the
    bench image's two scan threads. The threads hold the GIL while they
    allocate, so sharing one arena costs no waiting. A no-op without glibc
    or without the C helpers (layerscope/_union.c).
    """
    try:
        from layerscope import _union
    except ImportError:  # pragma: no cover - built without a compiler
        return
    single = getattr(_union, "single_arena", None)
    if single is not None:
        single()
