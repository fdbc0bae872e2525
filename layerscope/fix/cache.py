"""The ``no-cache`` fix: keep package-manager caches out of the layer of a RUN that installs.

pip and apk get their no-cache flag; apt, npm, yarn and dnf get their cleanup
appended to the RUN. With an image, the fix is offered only when the layer
holds cache files, and says how many bytes.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from layerscope.dockerfile.parser import Stage, Step
from layerscope.fix.model import Edit, Evidence, Fix
from layerscope.fix.text import (
    DockerfileText,
    append_to_run,
    appendable,
    commands,
    is_cleanup,
    mount_targets,
    subcommand,
)
from layerscope.model import Instruction
from layerscope.shell.commands import SimpleCommand, has_flag
from layerscope.shell.ecosystems import pip_without_cache

__all__ = ["no_cache"]

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
    "npm": ("*/.npm/_cacache/*",),  # what npm cache clean --force removes
    "npm-logs": ("*/.npm/_logs/*",),  # what it leaves: the debug logs of every run
    "yarn": ("usr/local/share/.cache/yarn/*", "*/.cache/yarn/*"),
    "dnf": ("var/cache/dnf/*", "var/cache/yum/*"),
}


# -- no-cache ---------------------------------------------------------------------------


def insert_after(body: str, offset: int, pattern: str, flag: str, count: int) -> list[Edit]:
    """Edits inserting `` flag`` after each of ``count`` matches of ``pattern``, or none."""
    hits = list(re.finditer(pattern, body))
    if len(hits) != count:
        return []
    return [Edit(offset + h.end(), offset + h.end(), " " + flag) for h in hits]


def _flags(
    t: DockerfileText, step: Step, cmds: list[SimpleCommand]
) -> tuple[list[Edit], list[str]]:
    """``--no-cache-dir`` for pip, ``--no-cache`` for apk, where nothing mounts a cache."""
    mounts = mount_targets(step)
    start, end = t.span(step)
    body = t.text[start:end]
    edits: list[Edit] = []
    tools: list[str] = []
    pip = [c for c in cmds if is_pip_install(c)]
    if (
        pip
        and not any(pip_without_cache(c) for c in pip)
        and not dict(step.env).get("PIP_NO_CACHE_DIR")
        and not any(".cache" in m for m in mounts)
    ):
        found = insert_after(body, start, r"\bpip[0-9.]*\s+install\b", "--no-cache-dir", len(pip))
        edits.extend(found)
        tools.extend(["pip"] if found else [])
    apk = [c for c in cmds if c.name == "apk" and subcommand(c) == "add"]
    if (
        apk
        and not any(has_flag(c, "--no-cache") for c in apk)
        and not any("apk" in m for m in mounts)
    ):
        found = insert_after(body, start, r"\bapk\s+add\b", "--no-cache", len(apk))
        edits.extend(found)
        tools.extend(["apk"] if found else [])
    return edits, tools


def _npm_logs(step: Step, files: list[tuple[str, int]]) -> str:
    """Where npm's debug logs are: the directory the layer shows, else under $HOME."""
    for path, _ in files:
        head, sep, _rest = path.partition("/.npm/_logs/")
        if sep:
            return f"/{head}/.npm/_logs"
    return "$HOME/.npm/_logs"


def _tail(
    step: Step,
    cmds: list[SimpleCommand],
    merged: set[int],
    apt_cache: bool,
    files: list[tuple[str, int]] | None = None,
) -> tuple[list[str], list[str]]:
    """Cleanup commands to append to a RUN that installs, and the tools they clean.

    ``merged``: lines whose RUN gets the apt lists cleanup from a merge;
    ``apt_cache``: the image shows /var/cache/apt files in this step's layer
    (a base without the official images' docker-clean hook).
    """
    mounts = " ".join(mount_targets(step))
    cleaned = {c.name for c in cmds if is_cleanup(c) and c.name != "rm"}
    rm_ops = " ".join(op for c in cmds if c.name == "rm" for op in c.argv[1:])
    tail: list[str] = []
    tools: list[str] = []
    apt_install = any(c.name in ("apt-get", "apt") and subcommand(c) == "install" for c in cmds)
    if apt_install and "/var/lib/apt" not in mounts and "/var/cache/apt" not in mounts:
        lists = "/var/lib/apt/lists" in rm_ops or step.line in merged
        apt = [] if "apt-get" in cleaned or (lists and not apt_cache) else ["apt-get clean"]
        apt += [] if lists else [_APT_LISTS]
        if apt:
            tail.append(" && ".join(apt))
            tools.extend(["apt"] if "apt-get clean" in apt else [])
            tools.extend([] if lists else ["apt-lists"])
    if (
        any(c.name == "npm" and subcommand(c) in ("ci", "install", "i") for c in cmds)
        and ".npm" not in mounts
    ):
        # The cache clean leaves npm's debug logs: remove them too, so the
        # patch removes what the finding counts.
        if "npm" not in cleaned:
            tail.append("npm cache clean --force")
            tools.append("npm")
        if "_logs" not in rm_ops and not re.search(r"\.npm(?:/|\s|$)", rm_ops):
            tail.append(f"rm -rf {_npm_logs(step, files or [])}")
            tools.append("npm-logs")
    if (
        any(c.name == "yarn" and subcommand(c) in ("", "install") for c in cmds)
        and "yarn" not in cleaned
        and "yarn" not in mounts
    ):
        tail.append("yarn cache clean")
        tools.append("yarn")
    if (
        any(c.name == "apk" and subcommand(c) == "update" for c in cmds)
        and any(c.name == "apk" and subcommand(c) == "add" for c in cmds)
        and "/var/cache/apk" not in rm_ops
        and "apk" not in mounts
    ):
        # apk add --no-cache stores no index, but the index apk update stored stays.
        tail.append("rm -rf /var/cache/apk/*")
        tools.append("apk")
    for tool in ("dnf", "yum"):
        installs_here = any(c.name == tool and subcommand(c) == "install" for c in cmds)
        if installs_here and tool not in cleaned and f"/var/cache/{tool}" not in mounts:
            tail.append(f"{tool} clean all")
            tools.append("dnf")
    return tail, tools


def no_cache(
    t: DockerfileText, stage: Stage, ev: Evidence | None, merged: set[int], joins: dict[int, Step]
) -> Iterable[Fix]:
    """Cache flags and cleanups for each RUN of the stage that installs.

    ``merged`` and ``joins`` say what the merge fixes move into a RUN (see
    :func:`layerscope.fix.planner.plan`).
    """
    for step in stage.steps:
        if step.kind is not Instruction.RUN or step.json is not None:
            continue
        cmds = commands(step)
        edits, tools = _flags(t, step, cmds)
        # what the step's layer will hold: its own files, and those of an update moved into it
        files: list[tuple[str, int]] = []
        if ev is not None:
            files = ev.files(step) + (ev.files(joins[step.line]) if step.line in joins else [])
        apt_cache = any(p.startswith("var/cache/apt/") for p, _ in files)
        tail, more = _tail(step, cmds, merged, apt_cache, files)
        if tail and appendable(step):
            edits.append(append_to_run(t, step, " && ".join(tail)))
            tools.extend(more)
        elif "apk" in more and "apk" in tools:
            edits, tools = [], []  # --no-cache alone would leave apk update's index
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


def is_pip_install(c: SimpleCommand) -> bool:
    argv = c.argv
    if re.fullmatch(r"python[0-9.]*", c.name) and argv[1:3] == ("-m", "pip"):
        argv = argv[2:]
    elif not re.fullmatch(r"pip[0-9.]*", c.name):
        return False
    return len(argv) > 1 and argv[1] == "install"
