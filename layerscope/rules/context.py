"""What a rule sees: the image, its replay, per-layer figures and the analysis options.

Defined here, below the rules, so that rules never import :mod:`layerscope.analysis`,
which runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from layerscope.model import Image, Instruction
from layerscope.rules.paths import FinalPaths
from layerscope.union import UnionFS

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LayerStats:
    """Byte and file counts of one layer (regular-file content only).

    ``wasted_bytes`` are bytes stored in this layer and hidden by a later one
    (or by a later entry of the same layer); ``removed_bytes`` /
    ``removed_files`` what this layer hid in lower layers.
    """

    index: int
    entry_count: int
    file_count: int
    content_bytes: int
    added_bytes: int
    added_files: int
    modified_bytes: int
    modified_files: int
    removed_bytes: int
    removed_files: int
    wasted_bytes: int


@dataclass(frozen=True, slots=True)
class Options:
    """Analysis settings: per-rule minimum bytes and rule selection."""

    min_bytes: Mapping[str, int] = field(default_factory=dict)
    default_min_bytes: int = 1
    disabled: frozenset[str] = frozenset()

    def threshold(self, rule_id: str, default: int = 1) -> int:
        """Minimum bytes of a finding of ``rule_id``: the configured value,
        else the larger of the rule's own ``default`` and ``default_min_bytes``."""
        return self.min_bytes.get(rule_id, max(default, self.default_min_bytes))


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What rules see: the image, its replay and the per-layer figures.

    Work several rules share (a scan of every path) is kept in the context
    by :meth:`memo`, so it lives exactly as long as one analysis.
    """

    image: Image
    union: UnionFS
    layers: tuple[LayerStats, ...]
    options: Options
    _memo: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def memo(self, key: str, compute: Callable[[RuleContext], T]) -> T:
        """``compute(self)``, computed once per context under ``key``."""
        try:
            return self._memo[key]  # type: ignore[return-value]
        except KeyError:
            value = self._memo[key] = compute(self)
            return value

    @property
    def paths(self) -> FinalPaths:
        """The final filesystem as lists, for bulk work (built on first use)."""
        return self.memo("paths", lambda ctx: FinalPaths(ctx.union.final))

    def command(self, layer: int | None) -> str:
        """The history text (parsed arguments) of the layer, or ''."""
        if layer is None or not 0 <= layer < len(self.image.layers):
            return ""
        h = self.image.layer_history(self.image.layers[layer])
        return h.parsed.args if h is not None else ""

    def instruction(self, layer: int | None) -> Instruction:
        if layer is None or not 0 <= layer < len(self.image.layers):
            return Instruction.UNKNOWN
        h = self.image.layer_history(self.image.layers[layer])
        return h.parsed.instruction if h is not None else Instruction.UNKNOWN
