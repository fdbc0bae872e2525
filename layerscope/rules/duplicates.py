"""LS4xx: the same content stored at several visible paths.

Candidates are visible regular files of at least ``MIN_FILE_BYTES`` with a
content digest (``layerscope.sources.rehash`` makes sure every visible file
whose size another visible file shares has one). Files of one size and digest are copies; the
copy in the lowest layer (then the shortest path) is kept, the others are
the waste. Copies are grouped by the directories they sit in, so a tree
copied twice is one finding, not one per file.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from layerscope.counts import agree, counted
from layerscope.model import EntryType, Instruction
from layerscope.rules import rule
from layerscope.rules.cachepaths import scan as cache_scan
from layerscope.rules.common import describe, is_run, memo, severity_for, top_paths
from layerscope.rules.context import RuleContext
from layerscope.rules.types import Finding, Kind, Severity
from layerscope.shell.commands import commands_named
from layerscope.tallies import shared_digests

MIN_FILE_BYTES = 4096
# Per-package documentation and licence texts: dpkg installs one copy per
# package by design; not something a Dockerfile can fix.
_EXEMPT_DIRS = (
    "usr/share/doc/",
    "usr/share/licenses/",
    "usr/share/common-licenses/",
    "usr/share/man/",
    "usr/share/info/",
)
_EXEMPT_NAME = re.compile(r"(?:LICEN[CS]E|COPYING|NOTICE|AUTHORS|copyright)(?:[.-].*)?\Z")


def _exempt(path: str) -> bool:
    return path.startswith(_EXEMPT_DIRS) or bool(_EXEMPT_NAME.match(path.rpartition("/")[2]))


_SYSTEM = ("usr/", "lib/", "lib64/", "bin/", "sbin/", "etc/")
_OS_PACKAGE_MANAGERS = ("apt-get", "apt", "dpkg", "apk", "dnf", "dnf5", "yum", "microdnf", "rpm")


@dataclass(frozen=True, slots=True)
class _Copy:
    path: str
    layer: int
    size: int


def _roots(kept: str, extra: str) -> tuple[str, str]:
    """The directories that differ between two copies: ``opt/a/x/y`` and
    ``srv/b/x/y`` give ``(opt/a, srv/b)``; different names, their directories."""
    k, e = kept.split("/"), extra.split("/")
    if k[-1] != e[-1]:
        return posixpath.dirname(kept), posixpath.dirname(extra)
    while len(k) > 1 and len(e) > 1 and k[-1] == e[-1]:
        k.pop()
        e.pop()
    return "/".join(k), "/".join(e)


def _copies(ctx: RuleContext) -> dict[tuple[int, str], list[_Copy]]:
    by_content: dict[tuple[int, str], list[str]] = defaultdict(list)
    file_t = EntryType.FILE
    final = ctx.union.final
    visible = ctx.paths
    # Only entries whose digest another visible entry shares get a Python
    # step, picked out in C (most hashed files are unique).
    nodes = visible.nodes
    for i in shared_digests(nodes):
        entry = nodes[i][1]
        digest = entry.digest
        if entry.type is file_t and digest is not None and entry.size >= MIN_FILE_BYTES:
            by_content[(entry.size, digest)].append(visible.paths[i])
    claimed = cache_scan(ctx).visible
    out: dict[tuple[int, str], list[_Copy]] = {}
    for key, paths in by_content.items():
        if len(paths) < 2:
            continue
        kept = [p for p in paths if p not in claimed and not _exempt(p)]
        if len(kept) > 1:
            out[key] = [_Copy(p, final[p][0], key[0]) for p in kept]
    return out


# Trees a package manager lays out for a runtime that finds modules by path:
# two copies there are two installs, and a link between them changes what
# the app loads (Node resolves a linked package from its real path).
_PACKAGE_TREE = re.compile(
    r"(?:\A|/)(?:node_modules|site-packages|dist-packages|gems|\.m2|pkg/mod"
    r"|bower_components)(?:/|\Z)"
)


def _tree(ctx: RuleContext, root: str) -> dict[str, tuple[object, ...]] | None:
    """What is visible at ``root``: relative path -> (type, size, digest, owner,
    mode) for it and everything under it; None when a file's content is not
    known (no digest) or something is a link (it may point anywhere). One
    search of all paths per root, remembered for the analysis."""
    trees: dict[str, dict[str, tuple[object, ...]] | None] = memo(
        ctx, "duplicates.trees", lambda _ctx: {}
    )
    if root not in trees:
        trees[root] = _read_tree(ctx, root)
    return trees[root]


def _read_tree(ctx: RuleContext, root: str) -> dict[str, tuple[object, ...]] | None:
    final = ctx.union.final
    fp = ctx.paths
    out: dict[str, tuple[object, ...]] = {}
    prefix = root + "/"
    found = [(root, final[root])] if root in final else []
    found += [
        (fp.paths[i], fp.nodes[i])
        for i in fp.text.candidates(re.compile("\n" + re.escape(prefix)))
        if fp.paths[i].startswith(prefix)
    ]
    for path, (_, e) in found:
        if e.type in (EntryType.SYMLINK, EntryType.HARDLINK):
            return None
        if e.type is EntryType.FILE and e.digest is None:
            return None
        out[path[len(root) :]] = (e.type, e.size, e.digest, e.uid, e.gid, e.mode)
    return out


def _no_link(k: str, e: str) -> str:
    """Why no link is proposed between /k and /e, or '' when one may be."""
    if _PACKAGE_TREE.search(k) or _PACKAGE_TREE.search(e):
        return (
            f"No fix is proposed: {e} and {k} are inside installed package trees "
            "(node_modules, site-packages...), where the runtime finds modules by path; "
            "linking one to the other changes what the app loads. If both copies are not "
            "needed, install the packages once (one install location, npm dedupe)"
        )
    if k.startswith(e + "/") or e.startswith(k + "/"):
        return (
            f"No fix is proposed: one of {e} and {k} is inside the other, so a link "
            "would point into itself"
        )
    return ""


def _fix(
    ctx: RuleContext, kept: tuple[str, int], extra: tuple[str, int], sample: tuple[str, str]
) -> str:
    """``sample``: one file of the group and its original (package trees may
    start below the roots: /usr/local/lib/python3.11 vs /usr/lib/python3)."""
    (kroot, klayer), (eroot, elayer) = kept, extra
    k, e = "/" + kroot, "/" + eroot
    reason = _no_link(k, e)
    if not reason and any(_PACKAGE_TREE.search(p) for p in sample):
        reason = _no_link("/" + sample[0], "/" + sample[1])
    if reason:
        return reason
    a, b = _tree(ctx, kroot), _tree(ctx, eroot)
    if a is None or b is None or a != b:
        return (
            f"No fix is proposed: {e} and {k} hold these identical files, but they are not "
            "identical trees (other files, owners, modes or links differ), so a link from "
            f"one to the other would change what the app sees. Remove the copy at {e} in "
            "the step that makes it if nothing needs it there"
        )
    copy = (Instruction.COPY, Instruction.ADD)
    if ctx.instruction(elayer) in copy and ctx.instruction(klayer) in copy:
        return (
            f"The same files are copied twice (layers {klayer} and {elayer}): copy them once "
            f"and point the other path at them (a symlink, or a setting), or drop one COPY"
        )
    if is_run(ctx, elayer):
        cps = commands_named(ctx.command(elayer), "cp", "install", "rsync")
        how = f" (layer {elayer} runs {' '.join(cps[0].argv[:3])} ...)" if cps else ""
        if elayer == klayer:
            return (
                f"Link instead of copying{how}: ln -s {k} {e}, or cp -al (a hard link in the "
                f"same layer stores the data once)"
            )
        return (
            f"Layer {elayer} stores again what layer {klayer} already has{how}: symlink "
            f"{e} to {k}, or remove one copy in the RUN that makes it"
        )
    return f"Keep one copy: symlink {e} to {k}, or drop the copy in layer {elayer}"


@rule(
    "LS401",
    kind=Kind.DUPLICATE_CONTENT,
    severity=Severity.LOW,
    title="Identical files stored at several paths",
    min_bytes=64 << 10,
)
def duplicate_files(ctx: RuleContext) -> Iterator[Finding]:
    """Regular files with identical content (same size, then same content hash)
    visible at several paths, in one layer or across layers.

    Every copy is stored and shipped; only one is needed. ``bytes`` counts
    the extra copies (all but the one in the lowest layer). Common causes:
    the same artifact copied twice, a directory duplicated with ``cp -r``,
    vendored libraries. Link instead of copying (in one layer a hard link
    stores the data once), or copy once. A link is proposed only when the
    two paths are identical trees (same files, owners and modes, no links)
    outside installed package trees (``node_modules``, ``site-packages``)
    and not one inside the other; otherwise the finding says why none is. Files under 4 KiB, package
    documentation and licence texts, files inside package caches, and
    copies that an OS package manager installed under ``/usr``, ``/lib`` or
    ``/etc`` (the packager's choice) are not compared.

    Bad::

        COPY dist/ /srv/app/static/
        COPY dist/ /usr/share/nginx/html/

    Good::

        COPY dist/ /usr/share/nginx/html/
        RUN ln -s /usr/share/nginx/html /srv/app/static
    """
    groups: dict[tuple[str, int, str, int], list[_Copy]] = defaultdict(list)
    originals: dict[str, str] = {}
    packaged: dict[int, bool] = {}

    def from_package(c: _Copy) -> bool:
        """Installed by the OS package manager: the packager's duplicate, not the
        Dockerfile's (Debian's nodejs ships some files twice)."""
        if not c.path.startswith(_SYSTEM):
            return False
        if c.layer not in packaged:
            packaged[c.layer] = is_run(ctx, c.layer) and bool(
                commands_named(ctx.command(c.layer), *_OS_PACKAGE_MANAGERS)
            )
        return packaged[c.layer]

    for copies in _copies(ctx).values():
        ordered = sorted(copies, key=lambda c: (c.layer, len(c.path), c.path))
        kept = ordered[0]
        for extra in ordered[1:]:
            if from_package(kept) and from_package(extra):
                continue
            kroot, eroot = _roots(kept.path, extra.path)
            groups[(kroot, kept.layer, eroot, extra.layer)].append(extra)
            originals[extra.path] = kept.path
    for (kroot, klayer, eroot, elayer), extras in sorted(groups.items()):
        if len(extras) == 1:  # one file: name the files, not their directories
            kroot, eroot = originals[extras[0].path], extras[0].path
        size = sum(c.size for c in extras)
        files = [(c.path, c.size) for c in extras]
        where = "the same layer" if klayer == elayer else describe(ctx, klayer)
        yield Finding(
            rule="LS401",
            kind=Kind.DUPLICATE_CONTENT,
            severity=severity_for(size),
            bytes=size,
            layer=elayer,
            paths=top_paths(files),
            message=(
                f"{counted(len(extras), 'file')} under /{eroot} stored by "
                f"{describe(ctx, elayer)} {agree(len(extras), 'is', 'are')} "
                f"identical to {agree(len(extras), 'a file', 'files')} under /{kroot} in {where}"
            ),
            fix=_fix(
                ctx,
                (kroot, klayer),
                (eroot, elayer),
                (originals[extras[0].path], extras[0].path),
            ),
            path_count=len(extras),
            reclaimable=True,
            extra=(("copy_of", "/" + kroot), ("cause", "identical-content")),
            claims=frozenset(c.path for c in extras),
        )
