"""Fixes to a Dockerfile as text edits, and the unified diff that applies them.

Every fix keeps the build's meaning and never drops a user's command: a
command may move (a cleanup into the RUN that made the cache, ``apt-get
update`` into the RUN that installs, the source COPY after the dependency
install) or gain a flag, and ``chown -R`` loses only its ``-R`` when
``COPY --chown`` takes over. A fix whose preconditions do not hold is not
offered. Fixes are planned on the original text as character-range edits,
so any subset of them applies (``--verify`` measures them one by one).

Fix kinds: ``merge-cleanup``, ``merge-update``, ``no-cache``, ``no-compile``
(:mod:`layerscope.fix.bytecode`), ``reorder``
(manifest files first), ``copy-chown``, ``merge-install`` (a pip install that
installs packages again, :mod:`layerscope.fix.pip_merge`). docs/fixes.md shows each.

This module plans and applies; the fix writers are :mod:`layerscope.fix.merge`,
:mod:`layerscope.fix.cache`, :mod:`layerscope.fix.reorder` and
:mod:`layerscope.fix.chown`; the edits and evidence they use are in
:mod:`layerscope.fix.model` and :mod:`layerscope.fix.text`, and the
diff in :mod:`layerscope.fix.diff`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from layerscope.dockerfile.parser import Dockerfile, Stage, Step, parse
from layerscope.fix.bytecode import no_compile
from layerscope.fix.cache import no_cache
from layerscope.fix.chown import copy_chown
from layerscope.fix.merge import merge_cleanups, merge_updates
from layerscope.fix.model import Edit, Evidence, Fix
from layerscope.fix.pip_merge import merge_installs
from layerscope.fix.reorder import reorder
from layerscope.fix.text import DockerfileText
from layerscope.stages import BUILDER_NOTE, roles

__all__ = ["KINDS", "apply", "check", "plan"]

KINDS = (
    "merge-cleanup",
    "merge-update",
    "no-cache",
    "no-compile",
    "reorder",
    "copy-chown",
    "merge-install",
)


# -- planning and applying --------------------------------------------------------------


def plan(
    df: Dockerfile,
    evidence: Evidence | None = None,
    context: str | None = None,
    kinds: Sequence[str] = KINDS,
    target: str | None = None,
) -> list[Fix]:
    """Every fix the Dockerfile admits, in file order of their main line.

    ``evidence`` (the image built from the ``target`` stage) applies to the
    stages in that image's history. Stages the build of ``target`` does not
    run get no fix; builder stages (run, but not in the image) only the
    ``reorder`` fix, which speeds up builds and does not change the image.
    """
    t = DockerfileText(df)
    chain = {s.stage for s in df.chain(target)} | {df.target(target).index}
    stage_roles = roles(df, target)
    fixes: list[Fix] = []
    for stage in df.stages:
        if stage.index not in stage_roles.built:
            continue  # the build of the target never runs this stage
        if stage_roles.builder(stage):
            # Its bytes are not the image's: only the order fix (faster builds) helps.
            fixes.extend(
                dataclasses.replace(f, title=f"{f.title} ({BUILDER_NOTE})")
                for f in (reorder(t, stage, None, context) if "reorder" in kinds else ())
            )
            continue
        ev = evidence if stage.index in chain else None
        updates = list(merge_updates(t, stage, ev)) if "merge-update" in kinds else []
        joins = {f.line: _step_at(stage, f.edits[1].start, t) for f in updates}
        merges = list(merge_cleanups(t, stage, ev, joins)) if "merge-cleanup" in kinds else []
        merged_into = {
            f.line
            for f in merges
            if "/var/lib/apt/lists" in t.text[f.edits[1].start : f.edits[1].end]
        }
        fixes.extend(merges)
        fixes.extend(updates)
        if "no-cache" in kinds:
            fixes.extend(no_cache(t, stage, ev, merged_into, joins))
        if "no-compile" in kinds:
            fixes.extend(no_compile(t, stage, ev))
        if "reorder" in kinds:
            fixes.extend(reorder(t, stage, ev, context))
        if "copy-chown" in kinds:
            fixes.extend(copy_chown(t, stage, ev))
        if "merge-install" in kinds:
            fixes.extend(merge_installs(t, stage, ev))
    accepted: list[Fix] = []
    for fix in fixes:
        if all(not _conflict(e, other) for e in fix.edits for f in accepted for other in f.edits):
            accepted.append(fix)
    accepted.sort(key=lambda f: (f.line, KINDS.index(f.kind)))
    return accepted


def _step_at(stage: Stage, offset: int, t: DockerfileText) -> Step:
    """The step of ``stage`` whose lines start at ``offset``."""
    return next(s for s in stage.steps if t.starts[s.line - 1] == offset)


def _conflict(a: Edit, b: Edit) -> bool:
    if a.start == a.end and b.start == b.end:
        return False
    if a.start == a.end:
        return b.start < a.start < b.end
    if b.start == b.end:
        return a.start < b.start < a.end
    return a.start < b.end and b.start < a.end


def apply(text: str, fixes: Iterable[Fix]) -> str:
    """``text`` with the edits of ``fixes`` applied (they must not conflict)."""
    edits = sorted(
        ((e, n) for n, f in enumerate(fixes) for e in f.edits),
        key=lambda en: (en[0].start, en[0].end, en[1]),
    )
    out: list[str] = []
    pos = 0
    for e, _ in edits:
        out.append(text[pos : e.start])
        out.append(e.text)
        pos = max(pos, e.end)
    out.append(text[pos:])
    return "".join(out)


def check(df: Dockerfile, new_text: str) -> Dockerfile:
    """Parse the patched text: a fix must never produce a Dockerfile that does not parse."""
    return parse(new_text, df.path)
