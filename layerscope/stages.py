"""Which stages of a Dockerfile a build of a target needs, and which reach its image.

A build of ``--target T`` (BuildKit; the classic builder also runs the stages
written before T, but their results go nowhere) needs T, the stages T is
``FROM``, and every stage a needed stage copies from (``COPY --from=NAME``,
``RUN --mount=...,from=NAME``). Only T and the stages it is ``FROM`` put
layers into the image: a builder stage's bytes reach it only through what a
``COPY --from`` picks. A fix to a stage outside the build changes nothing; a
fix to a builder stage does not change the final image but can speed up builds.
"""

from __future__ import annotations

import re

from layerscope.dockerfile.parser import Dockerfile, Stage

__all__ = ["BUILDER_NOTE", "StageRoles", "roles"]

BUILDER_NOTE = "a builder stage: the fix does not change the final image; it speeds up builds"

_MOUNT_FROM = re.compile(r"(?:^|,)from=([^,]+)")


class StageRoles:
    """``final``: stage indexes whose layers are the image's; ``built``: every
    stage the build runs (``final`` included)."""

    __slots__ = ("built", "final")

    def __init__(self, final: frozenset[int], built: frozenset[int]) -> None:
        self.final = final
        self.built = built

    def builder(self, stage: Stage) -> bool:
        """Built for the target, but its layers are not in the image."""
        return stage.index in self.built and stage.index not in self.final


def _chain(df: Dockerfile, stage: Stage) -> list[Stage]:
    out: list[Stage] = []
    current: Stage | None = stage
    while current is not None and current not in out:
        out.append(current)
        current = None if current.parent is None else df.stages[current.parent]
    return out


def _sources(df: Dockerfile, stage: Stage) -> list[Stage]:
    """The stages ``stage`` copies or mounts from."""
    found: list[Stage] = []
    for step in stage.steps:
        names = []
        value = step.flag("from")
        if value:
            names.append(value)
        for flag in step.flags:
            if flag.startswith("--mount="):
                names.extend(_MOUNT_FROM.findall(flag[len("--mount=") :]))
        for name in names:
            other = df.stage_named(name)
            if other is not None and other.index < stage.index:
                found.append(other)
    return found


def roles(df: Dockerfile, target: str | None = None) -> StageRoles:
    """The stages a build of ``target`` (default: the last stage) runs and keeps."""
    top = df.target(target)
    final = frozenset(s.index for s in _chain(df, top))
    built: set[int] = set()
    todo = [top]
    while todo:
        stage = todo.pop()
        for s in _chain(df, stage):
            if s.index in built:
                continue
            built.add(s.index)
            todo.extend(_sources(df, s))
    return StageRoles(final, frozenset(built))
