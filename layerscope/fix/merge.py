"""The ``merge-cleanup`` and ``merge-update`` fixes: move a command into the RUN it belongs to.

merge-cleanup moves a RUN of cleanups into the RUN before it that made the
files (LS101); merge-update moves a lone ``apt-get update`` into the RUN that
installs (LS502).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from layerscope.dockerfile.parser import Stage, Step
from layerscope.fix.model import Edit, Evidence, Fix
from layerscope.fix.text import (
    DockerfileText,
    and_only,
    append_to_run,
    appendable,
    commands,
    is_cleanup,
    mount_targets,
    subcommand,
    unquoted,
)
from layerscope.model import Instruction

__all__ = ["merge_cleanups", "merge_updates"]


# -- merge-cleanup ----------------------------------------------------------------------


def _previous_run(stage: Stage, index: int) -> Step | None:
    """The RUN before ``stage.steps[index]``, with only ENV/ARG/LABEL between."""
    for step in reversed(stage.steps[:index]):
        if step.kind is Instruction.RUN:
            return step
        if step.kind not in (Instruction.ENV, Instruction.ARG, Instruction.LABEL):
            return None
    return None


def merge_cleanups(
    t: DockerfileText, stage: Stage, ev: Evidence | None, joins: dict[int, Step]
) -> Iterable[Fix]:
    """A RUN of cleanups alone, moved into the RUN before it.

    ``joins`` maps the line of a RUN to the update RUN merge-update moves into it.
    """
    for i, b in enumerate(stage.steps):
        if b.kind is not Instruction.RUN or b.flags or b.json is not None or b.heredocs:
            continue
        cmds = commands(b)
        if not cmds or not all(is_cleanup(c) for c in cmds) or not and_only(b.args):
            continue
        a = _previous_run(stage, i)
        if a is None or not appendable(a) or mount_targets(a):
            continue
        relative = [
            op for c in cmds if c.name == "rm" for op in c.argv[1:]
            if not op.startswith(("-", "/", "~", "$HOME", "${HOME}"))
        ]  # fmt: skip
        if relative and any(c.name in ("cd", "pushd") for c in commands(a)):
            continue
        saved = 0
        if ev is not None:
            saved = ev.hidden(a, b) + (ev.hidden(joins[a.line], b) if a.line in joins else 0)
            if saved == 0 and ev.layer(b) is not None:
                continue
        start, end = t.span(b)
        moved = t.text[t.args_start(b) : t.instruction_end(b)]
        yield Fix(
            "merge-cleanup",
            "LS101",
            a.line,
            f"move the cleanup of line {b.line} into the RUN of line {a.line} that made the files",
            (append_to_run(t, a, moved), Edit(start, end, "")),
            bytes=saved,
        )


# -- merge-update -----------------------------------------------------------------------


def merge_updates(t: DockerfileText, stage: Stage, ev: Evidence | None) -> Iterable[Fix]:
    """A RUN of ``apt-get update`` alone, moved into the next RUN that installs."""
    for i, u in enumerate(stage.steps):
        if u.kind is not Instruction.RUN or u.flags or u.json is not None or u.heredocs:
            continue
        cmds = commands(u)
        updates = [c for c in cmds if c.name in ("apt-get", "apt") and subcommand(c) == "update"]
        if not updates or not all(c in updates or c.name in ("set", "true") for c in cmds):
            continue
        if not and_only(u.args):
            continue
        target = None
        for later in stage.steps[i + 1 :]:
            if later.kind is not Instruction.RUN:
                continue
            lc = commands(later)
            if any(c.name in ("apt-get", "apt") and subcommand(c) == "update" for c in lc):
                break
            if any(
                c.name in ("apt-get", "apt") and subcommand(c) in ("install", "upgrade") for c in lc
            ):
                target = later
                break
        if target is None or target.json is not None or target.heredocs:
            continue
        if not and_only(target.args) or re.search(r"(?:^|\s)#", unquoted(target.args)):
            continue
        pos = t.args_start(target)
        start, end = t.span(u)
        moved = t.text[t.args_start(u) : t.instruction_end(u)]
        saved = 0
        rm_ops = " ".join(a for c in commands(target) if c.name == "rm" for a in c.argv)
        if ev is not None and "/var/lib/apt/lists" in rm_ops:
            saved = sum(size for _, size in ev.files(u))
        yield Fix(
            "merge-update",
            "LS502",
            target.line,
            f"run the package index update of line {u.line} in the RUN of line {target.line} "
            "that installs, so the lists are never stale",
            (Edit(pos, pos, f"{moved} && "), Edit(start, end, "")),
            bytes=saved,
        )
