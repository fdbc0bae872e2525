"""Where the base image ends in an image, from layer digests or from its history alone.

Pure: a base whose diff_ids are a prefix of the image's gives the boundary
(:func:`prefix_length`); without one, the history's signals do
(:func:`from_history`). Looking images up in an engine or an archive is
:mod:`layerscope.base.resolve`; what the boundary means for an analysis is
:mod:`layerscope.base.attribution`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from layerscope.history import BUILDKIT_COMMENT, BUILDKIT_FILLER_COMMENT
from layerscope.model import Builder, History, Image, Instruction

__all__ = ["NO_BOUNDARY", "Boundary", "Signal", "from_history", "layer_digests", "prefix_length"]

# A gap this long between two history entries is read as "a new build
# starts here", when nothing better says where the base ends.
MIN_CREATED_GAP_SECONDS = 3600


class Signal(enum.Enum):
    """What decided where the base ends (``Analysis.base_signal``), strongest first."""

    FLAG = "base-flag"  # --base IMAGE: its diff_ids are a prefix of this image's
    DOCKERFILE = "dockerfile-from"  # the final stage's FROM, found in the engine (or scratch)
    LOCAL_IMAGE = "local-image"  # the engine image sharing the longest layer prefix
    BUILDER_CHANGE = "history-builder-change"  # the last run of one builder's entries
    BASE_CMD = "history-base-cmd"  # the base's closing CMD/ENTRYPOINT before more layers
    CREATED_GAP = "history-created-gap"  # a long pause between two history entries
    IMPORTED = "history-imported"  # layer 0 is an imported rootfs (no created_by)
    NONE = "none"  # nothing said: every layer counts as the user's own


@dataclass(frozen=True, slots=True)
class Boundary:
    """Where the base ends: ``layer_count`` layers from the bottom (None: unknown).

    ``reference`` names the base when known (an image reference, an archive
    path, ``scratch``); ``from_location`` is the Dockerfile's FROM line the
    base came in by; ``warnings`` are notes for the report (a FROM image
    that is not this image's base, say).
    """

    layer_count: int | None
    signal: Signal
    reference: str = ""
    from_location: tuple[str, int] | None = None
    warnings: tuple[str, ...] = ()


NO_BOUNDARY = Boundary(None, Signal.NONE)


def prefix_length(digests: Sequence[str], base: Sequence[str]) -> int:
    """How many leading layer digests ``digests`` and ``base`` share."""
    n = 0
    for a, b in zip(digests, base, strict=False):
        if a != b or not a:
            break
        n += 1
    return n


def layer_digests(image: Image) -> list[str]:
    """The image's layer diff_ids, bottom first."""
    return [layer.digest for layer in image.layers]


# -- history ------------------------------------------------------------------


def _builder(h: History) -> Builder:
    if h.comment in (BUILDKIT_COMMENT, BUILDKIT_FILLER_COMMENT):
        return Builder.BUILDKIT
    return h.parsed.builder


def _layers_before(image: Image, cut: int) -> int:
    """Layers made by history entries before index ``cut`` (and unmatched
    layers below them: they are the lowest, history lost with the base)."""
    count = 0
    for layer in image.layers:
        if layer.history_index is not None and layer.history_index >= cut:
            break
        count += 1
    return count


def _builder_change(history: Sequence[History]) -> int | None:
    """Start of the final run of entries one builder wrote, when an entry of
    another builder (not an imported rootfs) comes right before it: one
    build cannot mix the classic builder and BuildKit."""
    entries = [
        (i, _builder(h)) for i, h in enumerate(history) if h.comment != BUILDKIT_FILLER_COMMENT
    ]
    if not entries:
        return None
    last = entries[-1][1]
    if last is Builder.UNKNOWN:
        return None
    k = len(entries) - 1
    while k > 0 and entries[k - 1][1] is last:
        k -= 1
    if k == 0:
        return None
    before = history[entries[k - 1][0]]
    if not before.created_by.strip():
        return None  # an imported rootfs: the IMPORTED signal covers it
    return entries[k][0]


def _base_cmd(history: Sequence[History]) -> int | None:
    """Just after the last CMD/ENTRYPOINT that more layers follow: a base
    image's Dockerfile ends with its CMD, the user's build then adds layers."""
    seen_layer = False
    for i in range(len(history) - 1, -1, -1):
        h = history[i]
        if not h.empty_layer:
            seen_layer = True
        elif seen_layer and h.parsed.instruction in (Instruction.CMD, Instruction.ENTRYPOINT):
            return i + 1
    return None


def _created(h: History) -> float | None:
    if not h.created:
        return None
    try:
        return datetime.fromisoformat(h.created).timestamp()
    except ValueError:
        return None


def _created_gap(history: Sequence[History]) -> int | None:
    """Where the longest pause between consecutive entries is, if it is at
    least MIN_CREATED_GAP_SECONDS: builds take minutes, bases are older."""
    best: tuple[float, int] | None = None
    prev: float | None = None
    for i, h in enumerate(history):
        t = _created(h)
        if t is None:
            continue
        if prev is not None:
            gap = t - prev
            if gap >= MIN_CREATED_GAP_SECONDS and (best is None or gap > best[0]):
                best = (gap, i)
        prev = t
    return None if best is None else best[1]


def _imported(image: Image) -> int | None:
    """1 when the first history entry is an imported rootfs (``docker import``
    leaves no created_by, only a comment such as ``Imported from -``) and
    later entries were built."""
    history = image.history
    if not history or history[0].created_by.strip() or history[0].empty_layer:
        return None
    if not any(h.created_by.strip() for h in history[1:]):
        return None
    return 1


def from_history(image: Image) -> Boundary:
    """The boundary the history alone suggests, and the signal that decided.

    A builder change and a base's closing CMD/ENTRYPOINT both mark where a
    build began; the later of the two wins (the last build is the user's).
    Without either, a long pause in the created times or an imported rootfs
    at the bottom, whichever cuts higher (the imported rootfs names a tie).
    Nothing found: NO_BOUNDARY.
    """
    history = image.history
    structural: list[tuple[int, Signal]] = []
    for found, signal in (
        (_builder_change(history), Signal.BUILDER_CHANGE),
        (_base_cmd(history), Signal.BASE_CMD),
    ):
        if found is not None and _layers_before(image, found) > 0:
            structural.append((found, signal))
    if structural:
        # The later cut wins; on a tie, the first signal listed names it.
        cut, signal = max(structural, key=lambda item: item[0])
        return Boundary(_layers_before(image, cut), signal)
    weak = [
        (_layers_before(image, found), signal)
        for found, signal in (
            (_imported(image), Signal.IMPORTED),
            (_created_gap(history), Signal.CREATED_GAP),
        )
        if found is not None and _layers_before(image, found) > 0
    ]
    if weak:
        # A gap above the imported rootfs reaches further and wins; where both
        # cut at the same layer the imported rootfs names it (a gap depends on
        # when the images happened to be built).
        count, signal = max(weak, key=lambda item: item[0])
        return Boundary(count, signal)
    return NO_BOUNDARY
