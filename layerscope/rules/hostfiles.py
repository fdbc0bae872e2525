"""LS306: dependencies installed on another machine, copied into the image.

A build context often holds the developer's own ``.venv`` or
``node_modules``, and ``COPY . .`` without a ``.dockerignore`` ships them.
Two signals tell such a tree apart from one installed in the build, from
headers alone:

* a virtualenv (``pyvenv.cfg``) whose ``bin/python`` points at an interpreter
  the image does not have (``/opt/homebrew/...``, a home directory, a pyenv
  or a builder stage's Python): it cannot run here;
* ``node_modules`` holding packages that npm installs only on macOS or
  Windows (``fsevents``, ``@esbuild/darwin-arm64``, ``*-win32-*``): the tree
  was installed on another OS, and its native parts will not load.

Only trees that a COPY or ADD layer brought in are reported.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping

from layerscope.model import Entry, EntryType
from layerscope.rules import rule
from layerscope.rules.common import describe, is_copy, top_paths
from layerscope.rules.context import RuleContext
from layerscope.rules.types import Finding, Kind, Severity

_VENV_HINT = re.compile(r"/pyvenv\.cfg(?=\n)")
_PYTHONS = ("python", "python3")
# A package directory npm only installs on macOS or Windows: fsevents, and
# the per-platform builds of native packages (@esbuild/darwin-arm64,
# @rollup/rollup-win32-x64-msvc, esbuild-windows-64, @img/sharp-darwin-x64).
_PLATFORM_BUILD = (
    r"(?:fsevents|(?:[^/\n]*[-_.])?(?:darwin|win32|windows)"
    r"-(?:x64|arm64|ia32|x86|arm|universal|amd64|386|32|64)(?:[-_.][^/\n]*)?)/"
)
_FOREIGN_PACKAGE = re.compile(r"(?:\A|/)node_modules/(?:@[^/\n]+/)?" + _PLATFORM_BUILD)
# What PathText looks for (a literal prefix scans fast; see rules/paths.py).
_FOREIGN_HINT = re.compile(r"node_modules/(?:@[^/\n]+/)?" + _PLATFORM_BUILD)
_MAX_HOPS = 40


def _resolve(final: Mapping[str, tuple[int, Entry]], path: str) -> str | None:
    """``path`` with every symlink on it followed (relative or absolute), or
    None when some component is missing or the links loop."""
    parts = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        here = "/".join([*done, part])
        node = final.get(here)
        if node is None:
            return None
        entry = node[1]
        if entry.type is EntryType.SYMLINK:
            hops += 1
            if hops > _MAX_HOPS:
                return None
            target = [p for p in entry.linkname.split("/") if p]
            if entry.linkname.startswith("/"):
                done = []
            parts = target + parts
            continue
        done.append(part)
    return "/".join(done)


def _foreign_venvs(ctx: RuleContext) -> Iterator[tuple[str, int, str]]:
    """(root, layer, interpreter) of each copied virtualenv whose Python the
    image does not have."""
    final = ctx.union.final
    paths = ctx.paths
    for i in paths.text.candidates(_VENV_HINT):
        layer, entry = paths.nodes[i]
        if entry.type is not EntryType.FILE or not is_copy(ctx, layer):
            continue
        root = paths.paths[i][: -len("/pyvenv.cfg")]
        for name in _PYTHONS:
            node = final.get(f"{root}/bin/{name}")
            if node is None or node[1].type is not EntryType.SYMLINK:
                continue
            link = node[1].linkname
            target = link if link.startswith("/") else posixpath.join(f"/{root}/bin", link)
            resolved = _resolve(final, target)
            if resolved is None or final[resolved][1].type is not EntryType.FILE:
                yield root, layer, link
            break


def _foreign_node_modules(ctx: RuleContext) -> Iterator[tuple[str, int, str]]:
    """(node_modules root, layer, package) of each copied tree with a package
    for another OS."""
    paths = ctx.paths
    seen: set[str] = set()
    for i in paths.text.candidates(_FOREIGN_HINT):
        path = paths.paths[i]
        m = _FOREIGN_PACKAGE.search(path)
        layer = paths.nodes[i][0]
        if m is None or not is_copy(ctx, layer):
            continue
        root = path[: path.index("node_modules", m.start()) + len("node_modules")]
        if root in seen:
            continue
        seen.add(root)
        package = path[m.start() : m.end()].rstrip("/").split("node_modules/", 1)[1]
        yield root, layer, package


def _files_under(ctx: RuleContext, root: str, layer: int) -> list[tuple[str, int]]:
    paths = ctx.paths
    hint = re.compile("\n" + re.escape(root) + "/")
    out = []
    for i in paths.text.candidates(hint):
        node_layer, entry = paths.nodes[i]
        if node_layer == layer and entry.type is EntryType.FILE and entry.size:
            out.append((paths.paths[i], entry.size))
    return out


@rule(
    "LS306",
    kind=Kind.LEFTOVER,
    severity=Severity.MEDIUM,
    title="Dependencies installed on another machine, copied from the build context",
)
def host_dependencies(ctx: RuleContext) -> Iterator[Finding]:
    """A ``.venv`` or ``node_modules`` from the developer's machine, shipped
    by a COPY or ADD.

    A virtualenv whose ``bin/python`` points at an interpreter the image does
    not have cannot run; ``node_modules`` with macOS or Windows packages was
    installed for another OS, and its native modules will not load. Either
    way the image carries a tree it cannot use, and every change to it busts
    the layer cache of the COPY. Exclude it in ``.dockerignore`` and install
    the dependencies in the build, from the lock file.

    Bad::

        COPY . /app
        # the context holds .venv (made on a Mac) and node_modules

    Good::

        # .dockerignore
        .venv
        node_modules

        COPY package.json package-lock.json /app/
        RUN npm ci
        COPY . /app
    """
    found: dict[tuple[int, str], str] = {}
    for root, layer, python in _foreign_venvs(ctx):
        found[(layer, root)] = f"a virtualenv whose python points to {python}, not in the image"
    for root, layer, package in _foreign_node_modules(ctx):
        found.setdefault(
            (layer, root), f"node_modules installed for another OS (it holds {package})"
        )
    for (layer, root), why in sorted(found.items()):
        files = _files_under(ctx, root, layer)
        size = sum(s for _, s in files)
        name = posixpath.basename(root)
        install = (
            "RUN npm ci" if name == "node_modules" else "RUN uv sync --frozen (or pip install)"
        )
        yield Finding(
            rule="LS306",
            kind=Kind.LEFTOVER,
            severity=Severity.MEDIUM,
            bytes=size,
            layer=layer,
            paths=top_paths(files),
            message=f"/{root}: {why}, copied by {describe(ctx, layer)}",
            fix=(
                f"Add {name} to .dockerignore, and install the dependencies in the build "
                f"instead ({install}, after copying only the lock files)"
            ),
            path_count=len(files),
            reclaimable=False,
            extra=(("cause", "host-dependencies"),),
            claims=frozenset(),
        )
