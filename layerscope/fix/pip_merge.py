"""The ``merge-install`` fix: a ``pip install`` that installs packages again, moved
into the ``RUN`` of the install before it (LS309).

Only when the built image shows it: the later RUN's layer hides files the
earlier RUN's pip install stored (another version of a package), and the two
RUNs are next to each other, so the commands run as before, in the same order,
with nothing in between; only the first version of the packages never reaches
a layer. Without an image there is no telling, and no fix.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from layerscope.dockerfile.parser import Stage, Step
from layerscope.fix.model import Edit, Evidence, Fix
from layerscope.fix.text import DockerfileText, and_only, append_to_run, appendable
from layerscope.model import Instruction
from layerscope.rules.pip_installs import pip_installs

__all__ = ["merge_installs"]


def _plain_run(step: Step) -> bool:
    return (
        step.kind is Instruction.RUN
        and not step.flags
        and step.json is None
        and not step.heredocs
        and bool(pip_installs(step.script))
    )


def merge_installs(t: DockerfileText, stage: Stage, ev: Evidence | None) -> Iterable[Fix]:
    """Each RUN of pip install whose layer hides packages the RUN just before it
    installed, appended to that RUN (``&&``) and removed."""
    if ev is None:
        return
    steps = stage.steps
    merged: set[int] = set()
    for a, b in itertools.pairwise(steps):
        if a.line in merged or not (_plain_run(a) and _plain_run(b)):
            continue
        if not appendable(a) or not and_only(b.args):
            continue
        saved = ev.hidden(a, b)
        if saved == 0:
            continue
        start, end = t.span(b)
        moved = t.text[t.args_start(b) : t.instruction_end(b)]
        merged.add(b.line)
        yield Fix(
            "merge-install",
            "LS309",
            a.line,
            f"run the pip install of line {b.line} in the RUN of line {a.line}: it installs "
            "again packages that line installed",
            (append_to_run(t, a, moved), Edit(start, end, "")),
            bytes=saved,
        )
