"""The build steps the LS5xx rules read, as one sequence of :class:`Unit`.

A stage's steps come from the image history (:func:`image_units`, with each
step's layer, files and bytes) or from a Dockerfile (:func:`stage_units`, text
only). Here too: which COPY brings in the source and busts the cache
(:func:`busting_copy`), and what the steps after a point cost to rebuild.
The Dockerfile patcher and ``verify`` read the same sequence.
"""

from __future__ import annotations

import operator
import posixpath
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from typing import overload

from layerscope.counts import counted
from layerscope.dockerfile.parser import Step
from layerscope.model import Builder, Entry, EntryType, Instruction
from layerscope.rules.common import short
from layerscope.rules.context import RuleContext
from layerscope.shell.ecosystems import (
    any_manifest,
    installs,
    is_manifest_file,
    is_manifest_source,
)

_LAYER_KINDS = (Instruction.RUN, Instruction.COPY, Instruction.ADD)
URL = re.compile(r"(?i)\A(?:https?|ftp)://")


# -- the sequence the rules read ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """One build step as the rules see it, from history or from a Dockerfile.

    ``sources`` are COPY/ADD source operands (``dir:``/``file:``/``multi:``
    for the classic builder); ``files`` the regular files the step's layer
    holds (image only); ``bytes`` its content bytes; ``from_stage`` true for
    ``COPY --from`` (None when history cannot tell).
    """

    kind: Instruction
    text: str
    layer: int | None = None
    history: int | None = None
    step: Step | None = None
    sources: tuple[str, ...] = ()
    dest: str = ""
    files: Sequence[str] | None = None
    bytes: int = 0
    from_stage: bool | None = False
    builder: Builder = Builder.UNKNOWN

    def where(self) -> str:
        if self.step is not None:
            return f"line {self.step.line} ({self.kind.value} {short(self.text, 60)})"
        if self.layer is not None:
            return f"layer {self.layer} ({self.kind.value} {short(self.text, 60)})"
        return f"{self.kind.value} {short(self.text, 60)}"


def is_source_copy(u: Unit) -> bool:
    """A COPY/ADD of the build context or a source tree (not just manifests)."""
    if u.kind not in (Instruction.COPY, Instruction.ADD) or not u.sources:
        return False
    if any(URL.match(s) for s in u.sources) or u.from_stage:
        return False
    if u.files is not None:
        if not u.files or all(is_manifest_file(f) for f in u.files):
            return False
    elif all(is_manifest_source(s) for s in u.sources):
        return False
    for s in u.sources:
        if s.startswith(("dir:", "multi:")):
            return True
        if s.startswith("file:"):
            continue  # the classic builder's single file
        base = posixpath.basename(s.rstrip("/"))
        if s.endswith("/") or s in (".", "./") or "*" in s or "." not in base:
            return True
    return False


def _requirements_copy(units: Sequence[Unit], i: int) -> bool:
    """A COPY whose layer holds requirement files only, one of them read by a later
    ``pip install -r``: ``COPY ./requirements .`` (cookiecutter-django), seen in a
    classic builder's history as ``COPY dir:<hash> in /app``."""
    files = units[i].files
    if not files or not all(f.endswith((".txt", ".in")) for f in files):
        return False
    names = {posixpath.basename(f) for f in files}
    read = {
        posixpath.basename(m)
        for u in units[i + 1 :]
        if u.kind is Instruction.RUN
        for inst in installs(u.text)
        if inst.ecosystem == "pip"
        for m in inst.manifests
    }
    return bool(names & read)


def _makes_layer(u: Unit) -> bool:
    return u.layer is not None or (u.step is not None and u.kind in _LAYER_KINDS)


def busting_copy(units: Sequence[Unit]) -> int | None:
    """Index of the source COPY that busts the cache most often: the first copy of
    the whole context (``COPY . .``); in a classic builder's history, which hides
    the sources, the first copy whose layer holds a manifest file (the project's
    root); else the first copy of a source tree."""
    candidates = [
        i for i, u in enumerate(units) if is_source_copy(u) and not _requirements_copy(units, i)
    ]
    whole = [i for i in candidates if any(s in (".", "./") for s in units[i].sources)]
    rooted = [i for i in candidates if any_manifest(units[i].files or ())]
    picks = whole or rooted or candidates
    return picks[0] if picks else None


def cost(units: Sequence[Unit], after: int) -> tuple[int, int]:
    """Bytes and count of the layers made from ``units[after]`` on."""
    rebuilt = [u for u in units[after:] if _makes_layer(u)]
    return sum(u.bytes for u in rebuilt), len(rebuilt)


def rebuilt(units: Sequence[Unit], size: int, count: int) -> str:
    """``3 layers (12345 bytes)``, or ``3 steps`` when nothing was measured."""
    if any(u.layer is not None for u in units):
        return f"{counted(count, 'layer')} ({size} bytes)"
    return counted(count, "step")


def needless(
    units: Sequence[Unit], start: int, used: Callable[[Unit], bool]
) -> tuple[int, int, int | None]:
    """Bytes and layers of RUN-made layers rebuilt before the first step using a value.

    Scans from ``start``; ``used(unit)`` says whether a step needs the value.
    Returns (bytes, layers, index of the first use or None).
    """
    size = count = 0
    first_run = None
    for j in range(start, len(units)):
        v = units[j]
        if used(v):
            return size, count, j
        if v.kind is Instruction.RUN:
            first_run = j if first_run is None else first_run
        if first_run is not None and _makes_layer(v):
            size += v.bytes
            count += 1
    return size, count, None


# -- units from an image or a Dockerfile ---------------------------------------------


class LayerFiles(Sequence[str]):
    """The paths of the regular files of a layer, read off its entries at
    each use (picked out in C), never copied: a COPY layer can hold most of
    an image's paths, and the units are kept for the whole analysis."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Sequence[Entry]) -> None:
        self._entries = entries

    def __iter__(self) -> Iterator[str]:
        entries = self._entries
        files = map(operator.is_, map(_TYPE, entries), repeat(EntryType.FILE))
        return compress(map(_PATH, entries), files)

    def __len__(self) -> int:
        return list(map(_TYPE, self._entries)).count(EntryType.FILE)

    def __bool__(self) -> bool:
        return next(iter(self), None) is not None

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        return tuple(self)[i]


_PATH = operator.itemgetter(0)  # Entry.path
_TYPE = operator.itemgetter(1)  # Entry.type


def image_units(ctx: RuleContext) -> list[Unit]:
    """Every history entry of the image as a Unit, oldest first."""
    from layerscope.history import hides_heredoc

    image = ctx.image
    layer_of = {layer.history_index: layer.index for layer in image.layers}
    units: list[Unit] = []
    for i, h in enumerate(image.history):
        p = h.parsed
        layer = layer_of.get(i)
        files: Sequence[str] | None = None
        sources: tuple[str, ...] = ()
        from_stage: bool | None = False
        if p.instruction in (Instruction.COPY, Instruction.ADD):
            sources = tuple(p.source.split())
            if layer is not None:
                files = LayerFiles(image.layers[layer].entries)
            from_stage = (
                None
                if p.builder is Builder.CLASSIC or any(s.startswith("/") for s in sources)
                else False
            )
        text = "" if hides_heredoc(p) else p.args
        units.append(
            Unit(
                kind=p.instruction,
                text=text,
                layer=layer,
                history=i,
                sources=sources,
                dest=p.dest,
                files=files,
                bytes=0 if layer is None else ctx.layers[layer].content_bytes,
                from_stage=from_stage,
                builder=p.builder,
            )
        )
    return units


def stage_units(steps: Sequence[Step]) -> list[Unit]:
    """A Dockerfile stage's steps as Units (no layers, no bytes)."""
    units: list[Unit] = []
    for s in steps:
        ops = s.operands() if s.kind in (Instruction.COPY, Instruction.ADD) else []
        units.append(
            Unit(
                kind=s.kind,
                text=s.script if s.kind is Instruction.RUN else s.expanded,
                step=s,
                sources=tuple(ops[:-1]),
                dest=ops[-1] if ops else "",
                from_stage=s.flag("from") is not None,
            )
        )
    return units
