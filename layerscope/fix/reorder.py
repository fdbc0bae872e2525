"""The ``reorder`` fix: copy the source after the dependency install, manifests first (LS501).

The COPY that brings in the project source moves past the RUNs that only
install dependencies, and a COPY of the manifest files they need takes its
place; where the install needs the source, a dependency download step from
the manifests is added instead.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from collections.abc import Iterable, Sequence

from layerscope.dockerfile.parser import Stage, Step
from layerscope.fix.model import Edit, Evidence, Fix
from layerscope.fix.text import DockerfileText, is_cleanup, subcommand, workdirs
from layerscope.model import Instruction
from layerscope.rules.order_units import busting_copy, stage_units
from layerscope.shell.commands import SimpleCommand, split_commands, unwrap
from layerscope.shell.ecosystems import DEPENDENCY_STEP, Install, install_of, installs

__all__ = ["reorder"]

# Between the source COPY and the install: steps a COPY may move past.
_PASSABLE = frozenset(
    {Instruction.ENV, Instruction.ARG, Instruction.LABEL, Instruction.EXPOSE, Instruction.USER}
)
_NEUTRAL = frozenset({"set", "true", ":", "rm", "echo", "mkdir", "export", "ln", "printf"})


def _movable_install(step: Step) -> list[Install] | None:
    """The installs of a RUN that runs nothing but installs and cleanups, or None.

    Such a RUN needs no project source (unless an install builds the project
    itself), so the source COPY may move after it.
    """
    if step.kind is not Instruction.RUN:
        return None
    found: list[Install] = []
    for c in split_commands(step.script):
        inner = unwrap(c)
        inst = install_of(inner)
        if inst is not None:
            found.append(inst)
        elif not (inner.name in _NEUTRAL or is_cleanup(inner) or _is_index_update(inner)):
            return None
    if any(i.needs_source for i in found):
        return None
    return found


def _is_index_update(c: SimpleCommand) -> bool:
    return c.name in ("apt-get", "apt", "apk", "dnf", "yum") and subcommand(c) in (
        "update",
        "makecache",
    )


def reorder(
    t: DockerfileText, stage: Stage, ev: Evidence | None, context: str | None
) -> Iterable[Fix]:
    """The source COPY of the stage moved after its dependency installs, if it can be.

    ``context`` (the build context directory, if known) says which manifest
    files exist.
    """
    units = stage_units(stage.steps)
    src = busting_copy(units)
    if src is None:
        return
    copy = stage.steps[src]
    ops = copy.operands()
    if len(ops) != 2 or copy.heredocs or copy.json is not None:
        return
    source, dest = ops
    wds = workdirs(stage)
    dest_abs = posixpath.normpath(posixpath.join(wds[src], dest))
    installed: set[str] = {
        i.ecosystem for s in stage.steps[:src] if s.kind is Instruction.RUN
        for i in installs(s.script)
    }  # fmt: skip
    window: list[tuple[int, list[Install]]] = []
    defined: set[str] = set()
    needs_dep_step: list[tuple[int, Install]] = []
    for j in range(src + 1, len(stage.steps)):
        step = stage.steps[j]
        if step.kind in _PASSABLE:
            if step.kind in (Instruction.ENV, Instruction.ARG):
                defined.update(w.partition("=")[0] for w in step.expanded.split())
            continue
        found = _movable_install(step)
        if found is None:
            # Only a RUN installs: a COPY's operands (mvnw pom.xml ./) are no command.
            script = step.script if step.kind is Instruction.RUN else ""
            dep = [i for i in installs(script) if i.needs_source]
            if dep and dep[0].ecosystem in _DEP_STEP_OK and dep[0].ecosystem not in installed:
                needs_dep_step.append((j, dep[0]))
            break
        if not found:
            break
        if any(i.system or i.ecosystem not in installed for i in found):
            window.append((j, found))
    if any(re.search(r"\$\{?" + re.escape(v) + r"\b", copy.args) for v in defined if v):
        return
    deps = [i for _, found in window for i in found if not i.system]
    if needs_dep_step and not window:
        deps = [needs_dep_step[0][1]]
    if not window and not needs_dep_step:
        return
    files = _manifests(deps, source, dest_abs, wds, stage, window, copy, ev, context)
    if deps and files is None:
        return
    if needs_dep_step and not window and not files:
        return  # a download step needs its manifests copied before it
    flags = [f for f in copy.flags if f.startswith(("--chown", "--chmod", "--link"))]
    head = " ".join([copy.keyword, *flags])
    eol = t.eol
    new_lines = ""
    if files:
        target = dest if dest.endswith("/") else dest + "/"
        new_lines = f"{head} {' '.join(files)} {target}{eol}"
    start, end = t.span(copy)
    moved = t.text[start:end]
    if not moved.endswith(("\n", "\r")):
        moved += eol
    edits = [Edit(start, end, new_lines)]
    rebuild = 0
    if window:
        last = stage.steps[window[-1][0]]
        pos = t.line_end(last.end_line)
        if pos == len(t.text) and not t.text.endswith(("\n", "\r")):
            moved = eol + moved.rstrip("\r\n")  # the file ends without a newline
        edits.append(Edit(pos, pos, moved))
        if ev is not None:
            rebuild = sum(sum(s for _, s in ev.files(stage.steps[j])) for j, _ in window)
        what = ", ".join(dict.fromkeys(i.ecosystem for _, f in window for i in f))
        title = f"copy the source (line {copy.line}) after the {what} install, manifests first"
    else:
        j, dep_install = needs_dep_step[0]
        flags_run = " ".join(f for f in stage.steps[j].flags if f.startswith("--mount"))
        command = DEPENDENCY_STEP[dep_install.ecosystem]
        run = " ".join(x for x in ("RUN", flags_run, command) if x)
        edits[0] = Edit(start, end, new_lines + run + eol + moved)
        title = (
            f"download the {dep_install.ecosystem} dependencies from the manifests before "
            f"the source is copied (line {copy.line})"
        )
    yield Fix("reorder", "LS501", copy.line, title, tuple(edits), rebuild_bytes=rebuild)


_DEP_STEP_OK = frozenset({"go", "poetry", "uv", "composer", "dotnet", "maven"})


def _manifests(
    deps: Sequence[Install],
    source: str,
    dest_abs: str,
    wds: Sequence[str],
    stage: Stage,
    window: Sequence[tuple[int, list[Install]]],
    copy: Step,
    ev: Evidence | None,
    context: str | None,
) -> list[str] | None:
    """Source paths of the manifest files to copy first, or None when unsure."""
    src_dir = "" if source in (".", "./") else source.rstrip("/")
    wanted: list[str] = []
    for inst in deps:
        names = list(inst.manifests)
        wd = next((wds[j] for j, f in window if inst in f), dest_abs)
        for name in names:
            absolute = posixpath.normpath(posixpath.join(wd, name))
            if not (absolute == dest_abs or absolute.startswith(dest_abs.rstrip("/") + "/")):
                return None
            rel = posixpath.relpath(absolute, dest_abs)
            if rel not in wanted:
                wanted.append(rel)
    if not wanted:
        return []
    present: list[str] | None = None
    if context is not None:
        base = os.path.join(context, src_dir)
        present = [
            rel for rel in wanted
            if any(fnmatch.fnmatchcase(n, posixpath.basename(rel))
                   for n in _listdir(os.path.join(base, posixpath.dirname(rel))))
        ]  # fmt: skip
    elif ev is not None and ev.layer(copy) is not None:
        stored = {p for p, _ in ev.files(copy)}
        root = dest_abs.strip("/")
        present = [
            rel for rel in wanted
            if any(fnmatch.fnmatchcase(p, posixpath.join(root, rel).strip("/")) for p in stored)
        ]  # fmt: skip
    if present is None:
        # Nothing to look at: the file the install cannot do without, by name,
        # and the optional ones as globs (a glob that matches nothing is fine
        # next to a source that matches, with both builders).
        required = {i.manifests[0] if i.manifests else "" for i in deps if i.ecosystem != "pip"}
        required |= {m for i in deps if i.ecosystem == "pip" for m in i.manifests}
        present = [rel if rel in required or "*" in rel else rel + "*" for rel in wanted]
    if any("/" in rel for rel in present):
        return None  # files in subdirectories would need one COPY each
    return [posixpath.join(src_dir, rel) if src_dir else rel for rel in present]


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
