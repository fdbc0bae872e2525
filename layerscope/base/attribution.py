"""Which layers came with the base image and which the user's Dockerfile built.

A user can only fix the layers their own build made; waste inside
``FROM python:3.12`` is the base image's, and the fix there is a slimmer
base. This module is pure: the boundary from layer digests (a base whose
diff_ids are a prefix of the image's) or from the image's history alone,
and what the boundary means for an analysis (``attribute``): the layers'
and findings' origin, base findings' fixes rewritten to name the base and a
slimmer variant, and the figures split into base and own (``split``).

Where the base ends is :mod:`layerscope.base.boundary` (and, looking images
up in an engine or an archive, :mod:`layerscope.base.resolve`); the wording of
base fixes (slimmer variants, distroless) is :mod:`layerscope.base.fixes`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from layerscope.analysis import Analysis
from layerscope.base.boundary import Boundary
from layerscope.base.fixes import base_fix
from layerscope.names import printable
from layerscope.rules.types import Finding, Kind

__all__ = [
    "BaseWaste",
    "Origin",
    "Side",
    "Split",
    "attribute",
    "finding_origin",
    "is_base_layer",
    "layer_origin",
    "ranked",
    "split",
]


class Origin(enum.Enum):
    """Who can fix a layer or finding: the base image's or the user's own."""

    BASE = "base"
    OWN = "own"


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


@dataclass(frozen=True, slots=True)
class BaseWaste:
    """The base image's findings collapsed into one: what the base carries
    (the base side's figures of :func:`split`), its findings in the analysis'
    order (by bytes, the biggest first)."""

    findings: tuple[Finding, ...]
    reclaimable_bytes: int
    wasted_bytes: int
    reference: str | None

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(sorted({f.rule for f in self.findings}))

    def sentence(self, size: Callable[[int], str] | None = None) -> str:
        """``Your base image NAME carries N bytes of waste (W hidden by later
        layers), in K findings (RULES)``; ``size`` words the byte counts."""
        name = printable(self.reference) if self.reference else "the base image"
        if size is None:
            amount, hidden = f"{self.reclaimable_bytes} bytes", str(self.wasted_bytes)
        else:
            amount, hidden = size(self.reclaimable_bytes), size(self.wasted_bytes)
        return (
            f"Your base image {name} carries {amount} of waste ({hidden} hidden by later "
            f"layers), in {len(self.findings)} findings ({', '.join(self.rules)})"
        )


def ranked(result: Analysis) -> list[tuple[int, list[Finding] | BaseWaste]]:
    """The findings in the default order, by :func:`rank`: (rank, findings) per
    rank present, lowest first; the base image's (rank 2) as one
    :class:`BaseWaste` when there are several. The table report and the
    interactive view both show this."""
    by_rank: dict[int, list[Finding]] = {}
    for f in result.findings:
        by_rank.setdefault(rank(result, f), []).append(f)
    out: list[tuple[int, list[Finding] | BaseWaste]] = []
    for n in sorted(by_rank):
        found = by_rank[n]
        if n == 2 and len(found) > 1:
            base = split(result).base
            out.append(
                (
                    n,
                    BaseWaste(
                        tuple(found),
                        base.reclaimable_bytes,
                        base.wasted_bytes,
                        result.base_reference,
                    ),
                )
            )
        else:
            out.append((n, found))
    return out


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
