"""Which layers came with the base image and which the user's Dockerfile built.

A user can only fix the layers their own build made; waste inside
``FROM python:3.12`` is the base image's, and the fix there is a slimmer
base. This module is pure: the boundary from layer digests (a base whose
diff_ids are a prefix of the image's) or from the image's history alone,
and what the boundary means for an analysis (``attribute``): the layers'
and findings' origin, base findings' fixes rewritten to name the base and a
slimmer variant, and the figures split into base and own (``split``).

Looking images up in an engine or an archive is ``sources/baseref.py``; the
wording of base fixes (slimmer variants, distroless) is ``base_fixes.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from layerscope.analysis import Analysis
from layerscope.base_fixes import base_fix
from layerscope.history import BUILDKIT_COMMENT, BUILDKIT_FILLER_COMMENT
from layerscope.model import Builder, History, Image, Instruction
from layerscope.rules.base import Finding, Kind

__all__ = [
    "Boundary",
    "Origin",
    "Side",
    "Signal",
    "Split",
    "attribute",
    "finding_origin",
    "from_history",
    "is_base_layer",
    "layer_origin",
    "prefix_length",
    "split",
]

# A gap this long between two history entries is read as "a new build
# starts here", when nothing better says where the base ends.
MIN_CREATED_GAP_SECONDS = 3600


class Origin(enum.Enum):
    """Who can fix a layer or finding: the base image's or the user's own."""

    BASE = "base"
    OWN = "own"


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


# -- origin -------------------------------------------------------------------


def is_base_layer(result: Analysis, index: int | None) -> bool:
    """True when layer ``index`` came with the base image."""
    count = result.base_layer_count
    return count is not None and index is not None and 0 <= index < count


def layer_origin(result: Analysis, index: int) -> Origin:
    """``base`` for the base image's layers, ``own`` for the rest (all own
    when the boundary is unknown)."""
    return Origin.BASE if is_base_layer(result, index) else Origin.OWN


def finding_origin(result: Analysis, f: Finding) -> Origin:
    """The origin of the layer that stored the finding's bytes. A finding
    with no layer is the base's only when every path it claims is visible
    from a base layer."""
    if f.layer is not None:
        return layer_origin(result, f.layer)
    final = result.union.final
    layers = [final[p][0] for p in f.claims if p in final]
    if layers and all(is_base_layer(result, i) for i in layers):
        return Origin.BASE
    return Origin.OWN


# -- figures split into base and own ------------------------------------------


@dataclass(frozen=True, slots=True)
class Side:
    """The summary figures of one side (base or own); sums of both sides are
    the whole image's figures."""

    layer_count: int
    total_bytes: int
    final_bytes: int
    wasted_bytes: int
    reclaimable_bytes: int
    finding_count: int

    @property
    def efficiency(self) -> float:
        return self.final_bytes / self.total_bytes if self.total_bytes else 1.0

    @property
    def wasted_fraction(self) -> float:
        return self.wasted_bytes / self.total_bytes if self.total_bytes else 0.0


@dataclass(frozen=True, slots=True)
class Split:
    base: Side
    own: Side


_SPLIT_MEMO: list[tuple[Analysis, Split]] = []


def split(result: Analysis) -> Split:
    """Total, final, wasted and reclaimable bytes of the base and own layers.

    Wasted bytes belong to the side of the layer that stored them.
    Reclaimable bytes: a side's wasted bytes, plus each visible path that a
    reclaimable finding claims on the side of the layer it is visible from
    (each path once, as in the summary), plus the bytes of reclaimable
    findings without claims on their own side.
    """
    if _SPLIT_MEMO and _SPLIT_MEMO[0][0] is result:
        return _SPLIT_MEMO[0][1]
    stats = {Origin.BASE: [0, 0, 0, 0, 0], Origin.OWN: [0, 0, 0, 0, 0]}
    for s in result.layers:
        side = stats[layer_origin(result, s.index)]
        side[0] += 1
        side[1] += s.content_bytes
        side[2] += s.wasted_bytes
    claimed: dict[str, int] = {}
    for f in result.findings:
        origin = finding_origin(result, f)
        stats[origin][4] += 1
        if not f.reclaimable:
            continue
        if f.claims:
            for p in f.claims:
                claimed.setdefault(p, 0)
        else:
            stats[origin][3] += f.bytes
    final = result.union.final
    for p in claimed:
        if p in final:
            layer, entry = final[p]
            stats[layer_origin(result, layer)][3] += entry.size
    sides = {
        origin: Side(
            layer_count=v[0],
            total_bytes=v[1],
            final_bytes=v[1] - v[2],
            wasted_bytes=v[2],
            reclaimable_bytes=v[2] + v[3],
            finding_count=v[4],
        )
        for origin, v in stats.items()
    }
    out = Split(sides[Origin.BASE], sides[Origin.OWN])
    _SPLIT_MEMO[:] = [(result, out)]
    return out


def rank(result: Analysis, f: Finding) -> int:
    """Where a finding goes in the default order: 0 bytes in your own layers,
    1 rebuild costs (LS5xx, no bytes in the image), 2 the base image's."""
    if finding_origin(result, f) is Origin.BASE:
        return 2
    return 1 if f.kind is Kind.CACHE_BUST else 0


def attribute(result: Analysis, boundary: Boundary, local: Sequence[str] = ()) -> Analysis:
    """``result`` with the boundary set (``base_layer_count``, ``base_signal``,
    ``base_reference``) and the findings in base layers given a base fix:
    they name the base, the bytes at stake and a slimmer variant when one is
    among the ``local`` image references, and point at the FROM line when
    the Dockerfile is known. Findings are ordered by :func:`rank`, then by
    bytes: your own waste first, then rebuild costs, then the base's."""
    count = boundary.layer_count
    if count is not None:
        count = max(0, min(count, len(result.image.layers)))
    image = result.image
    if boundary.warnings:
        image = replace(image, warnings=(*image.warnings, *boundary.warnings))
    out = replace(
        result,
        image=image,
        base_layer_count=count,
        base_signal=boundary.signal.value,
        base_reference=boundary.reference,
    )
    if not count:
        return replace(out, findings=tuple(sorted(out.findings, key=lambda f: rank(out, f))))
    base_side = split(out).base
    findings = []
    for f in out.findings:
        if finding_origin(out, f) is Origin.BASE:
            own_hider = f.hidden_by is not None and not is_base_layer(out, f.hidden_by)
            hider = ""
            if own_hider and f.hidden_by is not None:
                h = image.layer_history(image.layers[f.hidden_by])
                hider = h.parsed.args if h is not None else ""
            f = replace(
                f,
                fix=base_fix(
                    f,
                    boundary.reference,
                    own_hider,
                    base_side.wasted_bytes,
                    base_side.reclaimable_bytes,
                    local,
                    hider,
                ),
                location=boundary.from_location or f.location,
            )
        findings.append(f)
    findings.sort(key=lambda f: rank(out, f))  # stable: by bytes within a rank
    return replace(out, findings=tuple(findings))
