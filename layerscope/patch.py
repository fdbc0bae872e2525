"""Fixes to a Dockerfile as text edits, and the unified diff that applies them.

Every fix keeps the build's meaning and never drops a user's command: a
command may move (a cleanup into the RUN that made the cache, ``apt-get
update`` into the RUN that installs, the source COPY after the dependency
install) or gain a flag, and ``chown -R`` loses only its ``-R`` when
``COPY --chown`` takes over. A fix whose preconditions do not hold is not
offered. Fixes are planned on the original text as character-range edits,
so any subset of them applies (``--verify`` measures them one by one).

Fix kinds: ``merge-cleanup``, ``merge-update``, ``no-cache``, ``reorder``
(manifest files first), ``copy-chown``. docs/fixes.md shows each.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from layerscope.analysis import Analysis
from layerscope.dockerfile import Dockerfile, LayerMap, Stage, Step, expand, parse
from layerscope.model import EntryType, Instruction
from layerscope.rules.ecosystems import (
    DEPENDENCY_STEP,
    Install,
    install_of,
    installs,
    is_clean_subcommand,
)
from layerscope.rules.order_units import busting_copy, stage_units
from layerscope.shell import SimpleCommand, has_flag, split_commands, unwrap

__all__ = ["Edit", "Evidence", "Fix", "apply", "plan", "unified_diff"]

KINDS = ("merge-cleanup", "merge-update", "no-cache", "reorder", "copy-chown")
_INDENT = "    "
# Between the source COPY and the install: steps a COPY may move past.
_PASSABLE = frozenset(
    {Instruction.ENV, Instruction.ARG, Instruction.LABEL, Instruction.EXPOSE, Instruction.USER}
)
_NEUTRAL = frozenset({"set", "true", ":", "rm", "echo", "mkdir", "export", "ln", "printf"})
# Cache directories per tool, as normalised path globs (evidence in a layer).
# The package-cache rule (rules/caches.py) each no-cache fix answers.
_CACHE_RULES = {"apt": "LS201", "apk": "LS202", "dnf": "LS203", "pip": "LS205", "npm": "LS210",
                "yarn": "LS211"}  # fmt: skip
_CACHE_PATHS = {
    "pip": ("*/.cache/pip/*",),
    "uv": ("*/.cache/uv/*",),
    "apk": ("var/cache/apk/*", "etc/apk/cache/*"),
    "apt": ("var/cache/apt/*",),  # what apt-get clean removes
    "apt-lists": ("var/lib/apt/lists/*",),
    "npm": ("*/.npm/*",),
    "yarn": ("usr/local/share/.cache/yarn/*", "*/.cache/yarn/*"),
    "dnf": ("var/cache/dnf/*", "var/cache/yum/*"),
}


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


class _Text:
    """The Dockerfile text with line offsets."""

    def __init__(self, df: Dockerfile) -> None:
        self.df = df
        self.text = df.text
        self.starts = [0]
        for line in df.text.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        self.eol = "\r\n" if "\r\n" in df.text.split("\n", 1)[0] + "\n" else "\n"

    def span(self, step: Step) -> tuple[int, int]:
        """The whole lines of ``step`` (heredoc bodies included), newline included."""
        return self.starts[step.line - 1], self.starts[min(step.end_line, len(self.starts) - 1)]

    def instruction_end(self, step: Step) -> int:
        """Offset just after the last character of the instruction line(s)."""
        line = (step.heredocs[0].line - 1) if step.heredocs else step.end_line
        end = self.starts[line]
        while end > self.starts[line - 1] and self.text[end - 1] in "\r\n":
            end -= 1
        while end > self.starts[line - 1] and self.text[end - 1] in " \t":
            end -= 1
        return end

    def args_start(self, step: Step) -> int:
        """Offset of the first argument after the keyword and flags."""
        start = self.starts[step.line - 1]
        first = self.text[start : self.starts[step.line]]
        m = re.match(r"\s*\S+\s+", first)
        pos = start + (m.end() if m else len(first))
        for flag in step.flags:
            m2 = re.compile(r"\S+\s+").match(self.text, pos)
            if m2 is None or not self.text[pos:].startswith(flag[:2]):
                break
            pos = m2.end()
        return pos

    def keyword_end(self, step: Step) -> int:
        """Offset just after the instruction keyword."""
        start = self.starts[step.line - 1]
        m = re.compile(r"\s*\S+").match(self.text, start)
        return m.end() if m else start

    def line_end(self, line: int) -> int:
        return self.starts[min(line, len(self.starts) - 1)]


# -- shell text checks ----------------------------------------------------------------


def _unquoted(script: str) -> str:
    """``script`` with quoted strings blanked (for operator and comment checks)."""
    return re.sub(r"'[^']*'|\"(?:\\.|[^\"\\])*\"", "''", script)


def _heredoc_script(step: Step) -> bool:
    """A ``RUN <<EOF`` whose body is the script and starts with ``set -e``: a
    command added as its last line runs after everything, and stops nothing."""
    if len(step.heredocs) != 1 or not re.fullmatch(r"\d*<<-?\S+", step.args.strip()):
        return False
    if step.heredocs[0].content.startswith("#!"):
        return False
    first = next(iter(split_commands(step.script)), None)
    return (
        first is not None
        and first.name == "set"
        and any(a.startswith("-") and "e" in a for a in first.argv[1:])
    )


def _appendable(step: Step) -> bool:
    """True when ``&& cmd`` appended to the RUN's text runs after everything."""
    if step.kind is not Instruction.RUN or step.json is not None:
        return False
    if step.heredocs:
        return _heredoc_script(step)
    bare = _unquoted(step.args).rstrip()
    if re.search(r"(?:^|\s)#", bare) or bare.endswith(("&", "|", ";", "\\")):
        return False
    return bool(bare)


def _and_only(script: str) -> bool:
    """True when the commands of ``script`` are joined by ``&&`` only."""
    bare = _unquoted(script)
    return not re.search(r";|\|\||(?<![&|])[&|](?![&|])|\n|(?:^|\s)#", bare)


def _commands(step: Step) -> list[SimpleCommand]:
    return [unwrap(c) for c in split_commands(step.script)]


def _sub(c: SimpleCommand) -> str:
    return c.argv[1] if len(c.argv) > 1 else ""


def _is_cleanup(c: SimpleCommand) -> bool:
    if c.name in ("rm", "true", "set"):
        return True
    if c.name == "find" and "-delete" in c.argv:
        return True
    return is_clean_subcommand(c.name, _sub(c), movable_only=True)


def _mount_targets(step: Step) -> list[str]:
    targets = []
    for f in step.flags:
        if f.startswith("--mount="):
            m = re.search(r"(?:target|dst|destination)=([^,]+)", f)
            if m:
                targets.append(m.group(1))
    return targets


def _append(t: _Text, step: Step, command: str) -> Edit:
    """Append ``&& command`` to a RUN on a continuation line of its own (a
    heredoc script gets it as its last line)."""
    if step.heredocs:
        pos = t.starts[step.heredocs[0].end_line - 1]
        return Edit(pos, pos, command + t.eol)
    pos = t.instruction_end(step)
    return Edit(pos, pos, f" {t.df.escape}{t.eol}{_INDENT}&& {command}")


# -- merge-cleanup ----------------------------------------------------------------------


def _previous_run(stage: Stage, index: int) -> Step | None:
    """The RUN before ``stage.steps[index]``, with only ENV/ARG/LABEL between."""
    for step in reversed(stage.steps[:index]):
        if step.kind is Instruction.RUN:
            return step
        if step.kind not in (Instruction.ENV, Instruction.ARG, Instruction.LABEL):
            return None
    return None


def _merge_cleanups(
    t: _Text, stage: Stage, ev: Evidence | None, joins: dict[int, Step]
) -> Iterable[Fix]:
    """``joins`` maps the line of a RUN to the update RUN merge-update moves into it."""
    for i, b in enumerate(stage.steps):
        if b.kind is not Instruction.RUN or b.flags or b.json is not None or b.heredocs:
            continue
        cmds = _commands(b)
        if not cmds or not all(_is_cleanup(c) for c in cmds) or not _and_only(b.args):
            continue
        a = _previous_run(stage, i)
        if a is None or not _appendable(a) or _mount_targets(a):
            continue
        relative = [
            op for c in cmds if c.name == "rm" for op in c.argv[1:]
            if not op.startswith(("-", "/", "~", "$HOME", "${HOME}"))
        ]  # fmt: skip
        if relative and any(c.name in ("cd", "pushd") for c in _commands(a)):
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
            (_append(t, a, moved), Edit(start, end, "")),
            bytes=saved,
        )


# -- merge-update -----------------------------------------------------------------------


def _merge_updates(t: _Text, stage: Stage, ev: Evidence | None) -> Iterable[Fix]:
    for i, u in enumerate(stage.steps):
        if u.kind is not Instruction.RUN or u.flags or u.json is not None or u.heredocs:
            continue
        cmds = _commands(u)
        updates = [c for c in cmds if c.name in ("apt-get", "apt") and _sub(c) == "update"]
        if not updates or not all(c in updates or c.name in ("set", "true") for c in cmds):
            continue
        if not _and_only(u.args):
            continue
        target = None
        for later in stage.steps[i + 1 :]:
            if later.kind is not Instruction.RUN:
                continue
            lc = _commands(later)
            if any(c.name in ("apt-get", "apt") and _sub(c) == "update" for c in lc):
                break
            if any(c.name in ("apt-get", "apt") and _sub(c) in ("install", "upgrade") for c in lc):
                target = later
                break
        if target is None or target.json is not None or target.heredocs:
            continue
        if not _and_only(target.args) or re.search(r"(?:^|\s)#", _unquoted(target.args)):
            continue
        pos = t.args_start(target)
        start, end = t.span(u)
        moved = t.text[t.args_start(u) : t.instruction_end(u)]
        saved = 0
        rm_ops = " ".join(a for c in _commands(target) if c.name == "rm" for a in c.argv)
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


# -- no-cache ---------------------------------------------------------------------------


def _insert_after(body: str, offset: int, pattern: str, flag: str, count: int) -> list[Edit]:
    """Edits inserting `` flag`` after each of ``count`` matches of ``pattern``, or none."""
    hits = list(re.finditer(pattern, body))
    if len(hits) != count:
        return []
    return [Edit(offset + h.end(), offset + h.end(), " " + flag) for h in hits]


def _flags(t: _Text, step: Step, cmds: list[SimpleCommand]) -> tuple[list[Edit], list[str]]:
    """``--no-cache-dir`` for pip, ``--no-cache`` for apk, where nothing mounts a cache."""
    mounts = _mount_targets(step)
    start, end = t.span(step)
    body = t.text[start:end]
    edits: list[Edit] = []
    tools: list[str] = []
    pip = [c for c in cmds if _is_pip_install(c)]
    if (
        pip
        and not any(has_flag(c, "--no-cache-dir") for c in pip)
        and not dict(step.env).get("PIP_NO_CACHE_DIR")
        and not any(".cache" in m for m in mounts)
    ):
        found = _insert_after(body, start, r"\bpip[0-9.]*\s+install\b", "--no-cache-dir", len(pip))
        edits.extend(found)
        tools.extend(["pip"] if found else [])
    apk = [c for c in cmds if c.name == "apk" and _sub(c) == "add"]
    if (
        apk
        and not any(has_flag(c, "--no-cache") for c in apk)
        and not any("apk" in m for m in mounts)
    ):
        found = _insert_after(body, start, r"\bapk\s+add\b", "--no-cache", len(apk))
        edits.extend(found)
        tools.extend(["apk"] if found else [])
    return edits, tools


def _tail(
    step: Step, cmds: list[SimpleCommand], merged: set[int], apt_cache: bool
) -> tuple[list[str], list[str]]:
    """Cleanup commands to append to a RUN that installs, and the tools they clean.

    ``merged``: lines whose RUN gets the apt lists cleanup from a merge;
    ``apt_cache``: the image shows /var/cache/apt files in this step's layer
    (a base without the official images' docker-clean hook).
    """
    mounts = " ".join(_mount_targets(step))
    cleaned = {c.name for c in cmds if _is_cleanup(c) and c.name != "rm"}
    rm_ops = " ".join(op for c in cmds if c.name == "rm" for op in c.argv[1:])
    tail: list[str] = []
    tools: list[str] = []
    apt_install = any(c.name in ("apt-get", "apt") and _sub(c) == "install" for c in cmds)
    if apt_install and "/var/lib/apt" not in mounts and "/var/cache/apt" not in mounts:
        lists = "/var/lib/apt/lists" in rm_ops or step.line in merged
        apt = [] if "apt-get" in cleaned or (lists and not apt_cache) else ["apt-get clean"]
        apt += [] if lists else [_APT_LISTS]
        if apt:
            tail.append(" && ".join(apt))
            tools.extend(["apt"] if "apt-get clean" in apt else [])
            tools.extend([] if lists else ["apt-lists"])
    if (
        any(c.name == "npm" and _sub(c) in ("ci", "install", "i") for c in cmds)
        and "npm" not in cleaned
        and ".npm" not in mounts
    ):
        tail.append("npm cache clean --force")
        tools.append("npm")
    if (
        any(c.name == "yarn" and _sub(c) in ("", "install") for c in cmds)
        and "yarn" not in cleaned
        and "yarn" not in mounts
    ):
        tail.append("yarn cache clean")
        tools.append("yarn")
    for tool in ("dnf", "yum"):
        installs_here = any(c.name == tool and _sub(c) == "install" for c in cmds)
        if installs_here and tool not in cleaned and f"/var/cache/{tool}" not in mounts:
            tail.append(f"{tool} clean all")
            tools.append("dnf")
    return tail, tools


def _no_cache(
    t: _Text, stage: Stage, ev: Evidence | None, merged: set[int], joins: dict[int, Step]
) -> Iterable[Fix]:
    for step in stage.steps:
        if step.kind is not Instruction.RUN or step.json is not None:
            continue
        cmds = _commands(step)
        edits, tools = _flags(t, step, cmds)
        # what the step's layer will hold: its own files, and those of an update moved into it
        files: list[tuple[str, int]] = []
        if ev is not None:
            files = ev.files(step) + (ev.files(joins[step.line]) if step.line in joins else [])
        apt_cache = any(p.startswith("var/cache/apt/") for p, _ in files)
        tail, more = _tail(step, cmds, merged, apt_cache)
        if tail and _appendable(step):
            edits.append(_append(t, step, " && ".join(tail)))
            tools.extend(more)
        if not tools:
            continue
        saved = 0
        if ev is not None and ev.layer(step) is not None:
            patterns = [p for tool in tools for p in _CACHE_PATHS.get(tool, ())]
            saved = sum(
                size for path, size in files if any(fnmatch.fnmatchcase(path, p) for p in patterns)
            )
            if saved == 0:
                continue
        yield Fix(
            "no-cache",
            _CACHE_RULES.get(tools[0].split("-")[0], "LS201"),
            step.line,
            f"keep the {', '.join(dict.fromkeys(t.split('-')[0] for t in tools))} cache out of "
            "the layer of line "
            f"{step.line}",
            tuple(edits),
            bytes=saved,
        )


_APT_LISTS = "rm -rf /var/lib/apt/lists/*"


def _is_pip_install(c: SimpleCommand) -> bool:
    argv = c.argv
    if re.fullmatch(r"python[0-9.]*", c.name) and argv[1:3] == ("-m", "pip"):
        argv = argv[2:]
    elif not re.fullmatch(r"pip[0-9.]*", c.name):
        return False
    return len(argv) > 1 and argv[1] == "install"


# -- reorder ----------------------------------------------------------------------------


def _workdirs(stage: Stage) -> list[str]:
    """The working directory in effect at each step of the stage."""
    wd = "/"
    out = []
    for step in stage.steps:
        out.append(wd)
        if step.kind is Instruction.WORKDIR:
            wd = posixpath.normpath(posixpath.join(wd, step.expanded.strip().strip("\"'")))
    return out


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
        elif not (inner.name in _NEUTRAL or _is_cleanup(inner) or _is_index_update(inner)):
            return None
    if any(i.needs_source for i in found):
        return None
    return found


def _is_index_update(c: SimpleCommand) -> bool:
    return c.name in ("apt-get", "apt", "apk", "dnf", "yum") and _sub(c) in ("update", "makecache")


def _reorder(t: _Text, stage: Stage, ev: Evidence | None, context: str | None) -> Iterable[Fix]:
    units = stage_units(stage.steps)
    src = busting_copy(units)
    if src is None:
        return
    copy = stage.steps[src]
    ops = copy.operands()
    if len(ops) != 2 or copy.heredocs or copy.json is not None:
        return
    source, dest = ops
    wds = _workdirs(stage)
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
            dep = [i for i in installs(step.script) if i.needs_source]
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


# -- copy-chown -------------------------------------------------------------------------


_CHOWN_R = re.compile(r"\bchown\s+(?:-[a-zA-Z]*R[a-zA-Z]*|--recursive)\s+")


def _copy_chown(t: _Text, stage: Stage, ev: Evidence | None) -> Iterable[Fix]:
    wds = _workdirs(stage)
    for i, run in enumerate(stage.steps):
        if run.kind is not Instruction.RUN or run.json is not None or run.heredocs:
            continue
        chowns = [
            c for c in _commands(run)
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
    stages in that image's history; the others are fixed on their text alone.
    """
    t = _Text(df)
    chain = {s.stage for s in df.chain(target)} | {df.target(target).index}
    fixes: list[Fix] = []
    for stage in df.stages:
        ev = evidence if stage.index in chain else None
        updates = list(_merge_updates(t, stage, ev)) if "merge-update" in kinds else []
        joins = {f.line: _step_at(stage, f.edits[1].start, t) for f in updates}
        merges = list(_merge_cleanups(t, stage, ev, joins)) if "merge-cleanup" in kinds else []
        merged_into = {
            f.line
            for f in merges
            if "/var/lib/apt/lists" in t.text[f.edits[1].start : f.edits[1].end]
        }
        fixes.extend(merges)
        fixes.extend(updates)
        if "no-cache" in kinds:
            fixes.extend(_no_cache(t, stage, ev, merged_into, joins))
        if "reorder" in kinds:
            fixes.extend(_reorder(t, stage, ev, context))
        if "copy-chown" in kinds:
            fixes.extend(_copy_chown(t, stage, ev))
    accepted: list[Fix] = []
    for fix in fixes:
        if all(not _conflict(e, other) for e in fix.edits for f in accepted for other in f.edits):
            accepted.append(fix)
    accepted.sort(key=lambda f: (f.line, KINDS.index(f.kind)))
    return accepted


def _step_at(stage: Stage, offset: int, t: _Text) -> Step:
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


def unified_diff(old: str, new: str, path: str, context: int = 3) -> str:
    """A unified diff of ``old`` -> ``new`` for ``patch -p0`` / ``git apply -p0``."""
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    if a == b:
        return ""
    out = [f"--- {path}\n", f"+++ {path}\n"]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out.extend(_diff_line(" ", line) for line in a[a1:a2])
                continue
            out.extend(_diff_line("-", line) for line in a[a1:a2])
            out.extend(_diff_line("+", line) for line in b[b1:b2])
    return "".join(out)


def _range(start: int, end: int) -> str:
    length = end - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _diff_line(mark: str, line: str) -> str:
    if line.endswith("\n"):
        return mark + line
    return f"{mark}{line}\n\\ No newline at end of file\n"
