"""Helpers every rule family shares: severity by bytes, biggest paths, home
directories, layer descriptions and a per-analysis memo."""

from __future__ import annotations

import heapq
import operator
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from layerscope.model import Entry, EntryType, Instruction
from layerscope.rules.context import RuleContext
from layerscope.rules.types import Severity

TOP_PATHS = 5
T = TypeVar("T")
_SIZE = operator.itemgetter(1)  # of a (path, size) item


def severity_for(size: int) -> Severity:
    """Severity grows with the bytes at stake."""
    if size >= 50 << 20:
        return Severity.HIGH
    if size >= 5 << 20:
        return Severity.MEDIUM
    if size >= 100 << 10:
        return Severity.LOW
    return Severity.INFO


def memo(ctx: RuleContext, key: str, compute: Callable[[RuleContext], T]) -> T:
    """``compute(ctx)``, computed once per analysis and shared between rules
    (kept in the context: it goes with the analysis)."""
    return ctx.memo(key, compute)


def top_paths(items: Iterable[tuple[str, int]], n: int = TOP_PATHS) -> tuple[str, ...]:
    """The ``n`` biggest ``(path, size)`` items as absolute paths, biggest first
    (ties by path)."""
    pool = list(items)
    if len(pool) > 8 * n > 0:
        # Only items at least as big as the n-th biggest size can make it:
        # find that size with a heap of n, and sort only the items reaching it.
        cut = heapq.nlargest(n, map(_SIZE, pool))[-1]
        pool = [item for item in pool if item[1] >= cut]
    biggest = sorted(pool, key=lambda item: (-item[1], item[0]))[:n]
    return tuple("/" + p for p, _ in biggest)


def short(text: str, width: int = 80) -> str:
    """One line of at most ``width`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def describe(ctx: RuleContext, layer: int | None) -> str:
    """``layer 3 (RUN apt-get install ...)`` for messages."""
    if layer is None:
        return "an unknown layer"
    cmd = ctx.command(layer)
    kind = ctx.instruction(layer)
    if not cmd:
        return f"layer {layer}"
    return f"layer {layer} ({kind.value} {short(cmd)})"


def is_run(ctx: RuleContext, layer: int | None) -> bool:
    """True when a RUN instruction with a known command made ``layer``."""
    return ctx.instruction(layer) is Instruction.RUN and bool(ctx.command(layer))


def is_copy(ctx: RuleContext, layer: int | None) -> bool:
    """True when a COPY or ADD instruction made ``layer``."""
    return ctx.instruction(layer) in (Instruction.COPY, Instruction.ADD)


def kept_files(ctx: RuleContext, layer: int) -> Iterator[Entry]:
    """The regular files ``layer`` stores that the final filesystem still
    shows from it (not replaced or removed by a later layer)."""
    final = ctx.union.final
    for e in ctx.image.layers[layer].entries:
        if e.type is EntryType.FILE and final.get(e.path, (None,))[0] == layer:
            yield e
