"""The ``copy-chown`` fix: ``COPY --chown`` instead of a recursive chown (LS102).

A ``chown -R`` of copied files stores every file again; the COPYs gain
``--chown`` and the chown loses only its ``-R``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from layerscope.dockerfile.parser import Stage, Step
from layerscope.dockerfile.words import expand
from layerscope.fix.model import Edit, Evidence, Fix
from layerscope.fix.text import DockerfileText, commands, workdirs
from layerscope.model import Instruction
from layerscope.shell.commands import has_flag

__all__ = ["copy_chown"]


_CHOWN_R = re.compile(r"\bchown\s+(?:-[a-zA-Z]*R[a-zA-Z]*|--recursive)\s+")


def copy_chown(t: DockerfileText, stage: Stage, ev: Evidence | None) -> Iterable[Fix]:
    """A ``chown -R`` over copied files only, replaced by ``--chown`` on those COPYs."""
    wds = workdirs(stage)
    for i, run in enumerate(stage.steps):
        if run.kind is not Instruction.RUN or run.json is not None or run.heredocs:
            continue
        chowns = [
            c for c in commands(run)
            if c.name == "chown" and (has_flag(c, "-R", "--recursive"))
        ]  # fmt: skip
        if len(chowns) != 1:
            continue
        words = [a for a in chowns[0].argv[1:] if not a.startswith("-")]
        if len(words) < 2 or ":" not in words[0] or not words[0].partition(":")[2]:
            continue
        owner = expand(words[0], dict(run.env))
        targets = [
            posixpath.normpath(posixpath.join(wds[i], expand(w, dict(run.env)))) for w in words[1:]
        ]
        if "$" in owner or any("$" in p or "*" in p for p in targets):
            continue
        copies: list[Step] = []
        ok = True
        for j in range(i):
            step = stage.steps[j]
            if step.kind not in (Instruction.COPY, Instruction.ADD):
                continue
            ops = step.operands()
            dest = posixpath.normpath(posixpath.join(wds[j], ops[-1] if ops else ""))
            under = [p for p in targets if dest == p or dest.startswith(p.rstrip("/") + "/")]
            above = [p for p in targets if p.startswith(dest.rstrip("/") + "/")]
            if above:
                ok = False
            if under:
                if step.flag("chown") is not None or step.json is not None:
                    ok = False
                copies.append(step)
        if not ok or not copies:
            continue
        first = stage.steps.index(copies[0])
        if any(s.kind is Instruction.RUN for s in stage.steps[first + 1 : i]):
            continue  # a RUN could have made files there that the chown also covers
        saved = 0
        if ev is not None and ev.layer(run) is not None:
            copied = {p for c in copies for p, _ in ev.files(c)}
            rewritten = ev.files(run)
            roots = [p.strip("/") for p in targets]
            inside = [(p, s) for p, s in rewritten if any(p.startswith(r + "/") for r in roots)]
            if any(p not in copied for p, _ in inside):
                continue
            saved = sum(s for _, s in inside)
        start, end = t.span(run)
        hits = list(_CHOWN_R.finditer(t.text, start, end))
        if len(hits) != 1:
            continue
        m = hits[0]
        flag_text = re.search(r"-[a-zA-Z]*R[a-zA-Z]*|--recursive", m.group())
        if flag_text is None:
            continue
        f0, f1 = m.start() + flag_text.start(), m.start() + flag_text.end()
        letters = (
            flag_text.group()[1:].replace("R", "") if flag_text.group() != "--recursive" else ""
        )
        replacement = f"-{letters}" if letters else ""
        edits = [Edit(f0, f1 + (0 if replacement else _spaces(t.text, f1)), replacement)]
        for c in copies:
            pos = t.keyword_end(c)
            edits.append(Edit(pos, pos, f" --chown={owner}"))
        yield Fix(
            "copy-chown",
            "LS102",
            run.line,
            f"set the owner while copying (COPY --chown={owner}) instead of the recursive "
            f"chown of line {run.line}, which stores every file again",
            tuple(edits),
            bytes=saved,
        )


def _spaces(text: str, pos: int) -> int:
    n = 0
    while pos + n < len(text) and text[pos + n] in " \t":
        n += 1
    return n
