"""Pausing the cyclic garbage collector while building large acyclic structures.

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
