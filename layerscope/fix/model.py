"""What a Dockerfile fix is: character-range edits, the fix that groups them,
and the evidence the built image gives about the Dockerfile's steps."""

from __future__ import annotations

from dataclasses import dataclass

from layerscope.analysis import Analysis
from layerscope.dockerfile.layer_map import LayerMap
from layerscope.dockerfile.parser import Step
from layerscope.model import EntryType

__all__ = ["Edit", "Evidence", "Fix"]


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``text[start:end]`` with ``text`` (an insertion when start == end)."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Fix:
    """One change to the Dockerfile.

    ``line`` is the line of the main step; ``bytes`` the image bytes the
    image says it saves (0 when unknown), ``rebuild_bytes`` for ``reorder``
    the bytes no longer rebuilt on a source change.
    """

    kind: str
    rule: str
    line: int
    title: str
    edits: tuple[Edit, ...]
    bytes: int = 0
    rebuild_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the built image says about the Dockerfile's steps."""

    analysis: Analysis
    mapping: LayerMap

    def layer(self, step: Step) -> int | None:
        return self.mapping.layer_for_step(self.analysis.image, step)

    def files(self, step: Step) -> list[tuple[str, int]]:
        """(path, size) of the regular files the step's layer stores."""
        layer = self.layer(step)
        if layer is None:
            return []
        entries = self.analysis.image.layers[layer].entries
        return [(e.path, e.size) for e in entries if e.type is EntryType.FILE]

    def hidden(self, made: Step, by: Step) -> int:
        """Bytes stored by ``made``'s layer that ``by``'s layer hides."""
        a, b = self.layer(made), self.layer(by)
        if a is None or b is None:
            return 0
        return sum(h.size for h in self.analysis.union.hidden if h.layer == a and h.hidden_by == b)
