"""LS1xx: bytes stored in a layer and hidden by a later one.

Each finding says why in its ``cause``, read from the history of the two
layers: a cleanup in a later RUN, a ``chown``/``chmod`` that copied the
files up, a package manager rewriting its own database, or a file replaced
by a new version. Package caches are left to the LS2xx rules, which report
them with their ecosystem.
"""

from __future__ import annotations

import dataclasses
import operator
import posixpath
import re
from collections import defaultdict
from collections.abc import Iterator

from layerscope.counts import agree, counted
from layerscope.model import Entry
from layerscope.rules import rule
from layerscope.rules.cachepaths import hidden_claims
from layerscope.rules.common import (
    TOP_PATHS,
    describe,
    is_copy,
    is_run,
    memo,
    severity_for,
    top_paths,
)
from layerscope.rules.context import RuleContext
from layerscope.rules.fixes import append_command, cleanup_commands, quote_paths, rewrite
from layerscope.rules.pip_installs import reinstalled_pairs
from layerscope.rules.types import Finding, Kind, Severity
from layerscope.shell.commands import commands_named, has_flag
from layerscope.shell.ecosystems import is_manifest
from layerscope.union import Cause, Hidden

__all__ = ["TOP_PATHS", "overwritten_later", "removed_later", "severity_for"]

_CHOWN = re.compile(r"(?:^|[\s;&|(])(chown|chmod|chgrp)\s+(?:-\w*R|--recursive)")
# Files a package manager (or the triggers it runs) rewrites on every run.
_PM_STATE = re.compile(
    r"(?:var/lib/dpkg/|var/lib/apt/extended_states|var/cache/debconf/|var/log/apt/"
    r"|var/log/(?:dpkg|alternatives|yum|dnf[^/]*)\.log\Z|var/lib/rpm/|usr/lib/sysimage/rpm/"
    r"|var/lib/dnf/|lib/apk/db/|etc/apk/world\Z|etc/ld\.so\.cache\Z|var/cache/ldconfig/"
    r"|var/lib/ucf/|usr/share/info/dir\Z|etc/ssl/certs/ca-certificates\.crt\Z"
    r"|usr/share/mime/|usr/share/glib-2\.0/schemas/gschemas\.compiled\Z"
    r"|usr/lib/locale/locale-archive\Z|var/lib/systemd/deb-systemd)"
)
_PACKAGE_MANAGERS = ("apt-get", "apt", "dpkg", "apk", "dnf", "dnf5", "yum", "microdnf", "rpm")
_UPGRADES = {
    "apt-get": ("upgrade", "dist-upgrade", "full-upgrade"),
    "apt": ("upgrade", "full-upgrade", "dist-upgrade"),
    "apk": ("upgrade",),
    "dnf": ("upgrade", "update", "distro-sync"),
    "yum": ("update", "upgrade"),
    "microdnf": ("update", "upgrade"),
    "zypper": ("update", "up", "dist-upgrade", "dup"),
}

CLEANUP = "cleanup-in-later-run"
REMOVED = "removed-later"
CHOWN = "chown-later"
CHMOD = "chmod-later"
PM_STATE = "package-manager-state"
NEW_VERSION = "replaced-by-new-version"


def _common_dir(paths: list[str]) -> str:
    """``posixpath.commonpath`` of the paths' directories; '' when a path has none."""
    # A dirname depends only on the head (up to the last slash), and there
    # are far fewer distinct heads than paths.
    heads = {p[: p.rfind("/") + 1] for p in paths}
    if "" in heads:
        return ""
    joined = "\n" + "\n".join(heads)
    if not heads or "//" in joined or "/./" in joined or "\n/" in joined or "\n./" in joined:
        # Absolute, or with empty or '.' components: commonpath's own rules.
        return posixpath.commonpath({posixpath.dirname(head) for head in heads})
    # Relative heads of plain components, each ending in '/': the common
    # directory is their common prefix up to its last slash.
    prefix = posixpath.commonprefix(list(heads))
    return prefix[: max(prefix.rfind("/"), 0)]


def _overwrite_groups(items: list[Hidden]) -> dict[str, list[Hidden]]:
    """Group overwritten files under their deepest common directory; when that
    is the root, under each top-level directory instead."""
    common = _common_dir([h.path for h in items])
    if common:
        return {common: items}
    by_top: dict[str, list[Hidden]] = defaultdict(list)
    for h in items:
        by_top[h.path.partition("/")[0] if "/" in h.path else h.path].append(h)
    out: dict[str, list[Hidden]] = {}
    for top, group in by_top.items():
        out[_common_dir([h.path for h in group]) or top] = group
    return out


class _Entries:
    """Entries of a layer by path (the last one of a path), indexed on first use."""

    def __init__(self, ctx: RuleContext) -> None:
        self.ctx = ctx
        self.index: dict[int, dict[str, Entry]] = {}

    def layer(self, layer: int) -> dict[str, Entry]:
        idx = self.index.get(layer)
        if idx is None:
            entries = self.ctx.image.layers[layer].entries
            idx = self.index[layer] = dict(zip(map(_PATH, entries), entries, strict=True))
        return idx

    def get(self, layer: int, path: str) -> Entry | None:
        return self.layer(layer).get(path)


_PATH = operator.itemgetter(0)  # Entry.path
_SIZE = operator.attrgetter("size")
_PATH_SIZE = operator.attrgetter("path", "size")


def _overwrite_cause(
    path: str, old: Entry | None, new: Entry | None, chown: re.Match[str] | None
) -> str:
    """Why ``path`` was stored again: ``old`` and ``new`` are its entries in
    the two layers, ``chown`` the recursive chown/chmod of the later RUN."""
    if _PM_STATE.match(path):
        return PM_STATE
    if new is not None and old is not None and new.size == old.size:
        if (new.uid, new.gid) != (old.uid, old.gid):
            return CHOWN
        if new.mode != old.mode:
            return CHMOD
        if chown is not None:
            return CHMOD if chown.group(1) == "chmod" else CHOWN
    return NEW_VERSION


def _removed(ctx: RuleContext) -> dict[tuple[int, int, str], list[Hidden]]:
    """Removed files not claimed by a cache rule, by (layer, hidden_by, cause),
    each list in the replay's order. Proportional to the hidden files: no
    search of the visible paths, no layer indexed."""
    claimed = hidden_claims(ctx)
    run = [is_run(ctx, i) for i in range(len(ctx.image.layers))]
    out: dict[tuple[int, int, str], list[Hidden]] = defaultdict(list)
    removal = Cause.REMOVED  # an enum member lookup is slow: not once per file
    for h in ctx.union.hidden:
        if h.cause is removal and h.size > 0 and not (claimed and (h.layer, h.path) in claimed):
            out[(h.layer, h.hidden_by, CLEANUP if run[h.hidden_by] else REMOVED)].append(h)
    return out


def _overwritten(ctx: RuleContext) -> dict[tuple[int, int, str], list[Hidden]]:
    """Overwritten files not claimed by a cache rule, by (layer, hidden_by,
    cause), each list in the replay's order."""
    claimed = hidden_claims(ctx)
    run = [is_run(ctx, i) for i in range(len(ctx.image.layers))]
    out: dict[tuple[int, int, str], list[Hidden]] = defaultdict(list)
    overwritten: dict[tuple[int, int], list[Hidden]] = defaultdict(list)
    removal = Cause.REMOVED
    for h in ctx.union.hidden:
        if h.cause is not removal and h.size > 0 and not (claimed and (h.layer, h.path) in claimed):
            overwritten[(h.layer, h.hidden_by)].append(h)
    # Overwrites pair by pair of layers: what the cause needs of the two
    # layers (their entries by path, the later RUN's chown) is looked up once.
    entries = _Entries(ctx)
    final = ctx.union.final
    for (layer, by), items in overwritten.items():
        chown = _CHOWN.search(ctx.command(by)) if run[by] else None
        for h in items:
            # The entries of the path in both layers (the last of each), from
            # the replay when it has them: a layer indexed by path (a dict of
            # every entry of it) only for the rest.
            old = h.entry if layer < by and h.entry is not None else entries.get(layer, h.path)
            node = final.get(h.path)
            new = node[1] if node is not None and node[0] == by else entries.get(by, h.path)
            cause = _overwrite_cause(h.path, old, new, chown)
            if cause in (CHOWN, CHMOD) and not run[by]:
                cause = NEW_VERSION  # a COPY brought the file again: not a chown

            out[(layer, by, cause)].append(h)
    return out


def _grouped(ctx: RuleContext, removed: bool) -> Iterator[tuple[int, int, str, str, list[Hidden]]]:
    if removed:
        classified = memo(ctx, "hidden.removed", _removed)
    else:
        classified = memo(ctx, "hidden.overwritten", _overwritten)
    reinstalled = reinstalled_pairs(ctx)  # LS309 reports these, with the right fix
    for (layer, by, cause), items in sorted(classified.items()):
        if (layer, by) in reinstalled:
            continue
        if removed:
            groups: dict[str, list[Hidden]] = defaultdict(list)
            for h in items:
                groups[h.group].append(h)
        else:
            groups = _overwrite_groups(items)
        for key, group in sorted(groups.items()):
            yield layer, by, cause, key, group


def _finding(
    rule_id: str,
    kind: Kind,
    layer: int,
    by: int,
    cause: str,
    key: str,
    group: list[Hidden],
    msg: str,
    fix: str,
) -> Finding:
    size = sum(map(_SIZE, group))
    return Finding(
        rule=rule_id,
        kind=kind,
        severity=severity_for(size),
        bytes=size,
        layer=layer,
        paths=top_paths(map(_PATH_SIZE, group)),
        message=msg,
        fix=fix,
        hidden_by=by,
        path_count=len(group),
        extra=(("group", "/" + key), ("cause", cause)),
    )


def _not_run_fix(ctx: RuleContext, layer: int, where: str) -> str:
    if is_copy(ctx, layer):
        return (
            f"Do not add {where} at all (layer {layer}): exclude it in .dockerignore, "
            f"or build in another stage and COPY --from only what the image needs"
        )
    return (
        f"Layer {layer} has no build history (a base image?): use a base image without "
        f"{where} instead of deleting it afterwards"
    )


@rule("LS101", kind=Kind.REMOVED_LATER, severity=Severity.MEDIUM, title="Deleted by a later layer")
def removed_later(ctx: RuleContext) -> Iterator[Finding]:
    """Files stored in one layer and deleted by a later one.

    A layer is an immutable tarball: ``RUN rm`` in a later instruction only
    adds a whiteout that hides the files, and every byte is still pulled and
    stored. Delete temporary files in the same ``RUN`` that created them, or
    build in a separate stage and ``COPY --from`` only the result. The cause
    is ``cleanup-in-later-run`` when a later RUN deleted them, else
    ``removed-later`` (a later COPY replaced a directory, say).

    Bad::

        RUN wget -O /tmp/src.tgz https://example.com/src.tgz && tar -xzf /tmp/src.tgz
        RUN rm -rf /tmp/src.tgz

    Good::

        RUN wget -O /tmp/src.tgz https://example.com/src.tgz && tar -xzf /tmp/src.tgz \\
            && rm -rf /tmp/src.tgz
    """
    for layer, by, cause, key, group in _grouped(ctx, removed=True):
        where = "/" + key
        msg = (
            f"{counted(len(group), 'file')} under {where} stored in {describe(ctx, layer)} "
            f"{agree(len(group), 'was', 'were')} deleted by {describe(ctx, by)}"
        )
        if not is_run(ctx, layer):
            fix = _not_run_fix(ctx, layer, where)
        else:
            cmd = ctx.command(layer)
            cleanup: list[str] = []
            if cause == CLEANUP:
                cleanup = cleanup_commands(ctx.command(by), [key, *(h.path for h in group)])
            if cleanup:
                fix = (
                    f"Move the cleanup of layer {by} into the RUN that creates the files "
                    f"(layer {layer}):\n" + rewrite(cmd, append_command(cmd, " && ".join(cleanup)))
                )
            else:
                fix = f"Delete {where} in the same RUN that creates it (layer {layer}):\n" + (
                    rewrite(cmd, append_command(cmd, f"rm -rf {quote_paths([key])}"))
                )
        yield _finding("LS101", Kind.REMOVED_LATER, layer, by, cause, key, group, msg, fix)


_HASH_SOURCE = re.compile(r"(?:dir|file|multi):[0-9a-fA-F]+\Z|[0-9a-fA-F]{32,}\Z")


def _copy_line(ctx: RuleContext, layer: int, flag: str = "") -> str:
    """The COPY/ADD of ``layer`` as a Dockerfile line, with ``flag`` set."""
    h = ctx.image.layer_history(ctx.image.layers[layer])
    instr = ctx.instruction(layer).value
    if h is None:
        return f"{instr} {flag} <src> <dest>".replace("  ", " ")
    parsed = h.parsed
    if not parsed.dest:
        return f"{instr} {flag} {parsed.args}".replace("  ", " ")
    name = flag.partition("=")[0]
    flags = [f for f in parsed.flags if not name or f.partition("=")[0] != name]
    source = "<src>" if _HASH_SOURCE.match(parsed.source) else parsed.source
    return " ".join([instr, *flags, *([flag] if flag else []), source, parsed.dest])


def _permission_fix(
    ctx: RuleContext, layer: int, by: int, cause: str, key: str, group: list[Hidden]
) -> str:
    entries = _Entries(ctx)
    sample = entries.get(by, group[0].path)
    verb = "chmod" if cause == CHMOD else "chown"
    if is_copy(ctx, layer):
        if verb == "chown":
            owner = f"{sample.uid}:{sample.gid}" if sample is not None else "<user>:<group>"
            flag = f"--chown={owner}"
        else:
            mode = f"{sample.mode:o}" if sample is not None else "<mode>"
            flag = f"--chmod={mode}"
        others = _not_from(entries, by, layer, key)
        what = "owner" if verb == "chown" else "mode"
        if others:
            n = len(others)
            shown = ", ".join("/" + p for p in others[:3]) + (", ..." if n > 3 else "")
            return (
                f"Set the {what} while copying:\n-{_copy_line(ctx, layer)}\n"
                f"+{_copy_line(ctx, layer, flag)}\n"
                f"But keep a {verb} in layer {by} for the {counted(n, 'path')} it changes that "
                f"this COPY did not add ({shown}): {agree(n, 'it was', 'they were')} made by "
                f"other steps and would keep {agree(n, 'its', 'their')} old {what} without it "
                f"(name {agree(n, 'it', 'them')}, without -R over the copied files)"
                + ("\n(--chmod needs BuildKit)" if verb == "chmod" else "")
            )
        return (
            f"Set the {what} while copying and drop the "
            f"recursive {verb} of layer {by}:\n-{_copy_line(ctx, layer)}\n"
            f"+{_copy_line(ctx, layer, flag)}"
            + ("\n(--chmod needs BuildKit)" if verb == "chmod" else "")
        )
    if is_run(ctx, layer):
        cmd = ctx.command(layer)
        later = [c for c in commands_named(ctx.command(by), verb, "chgrp") if has_flag(c, "-R")]
        later = later or commands_named(ctx.command(by), verb)
        step = " ".join(later[0].argv) if later else f"{verb} ..."
        return f"Run the {verb} inside the RUN of layer {layer}, not in a later RUN:\n" + rewrite(
            cmd, append_command(cmd, step)
        )
    return (
        f"No fix is proposed: the files under /{key} come from layer {layer}, which has no "
        f"build history (the base image?), so they cannot get their owner or mode where they "
        f"are made; the {verb} of layer {by} stores them again: limit it to the paths that need it"
    )


def _not_from(entries: _Entries, by: int, layer: int, key: str) -> list[str]:
    """Paths under ``key`` that layer ``by`` stores and layer ``layer`` did not
    (directories made by a mkdir, files of other COPYs): a recursive chown of
    ``key`` changes them too."""
    added = entries.layer(layer)
    inside = key.rstrip("/") + "/"
    return sorted(
        p
        for p in entries.layer(by)
        if p.startswith(inside) and p not in added and p.rstrip("/") not in added
    )


def _merge_fix(ctx: RuleContext, layer: int, by: int, what: str) -> str:
    if is_run(ctx, layer) and is_run(ctx, by):
        a, b = ctx.command(layer), ctx.command(by)
        return f"{what}:\n-RUN {a}\n-RUN {b}\n+RUN {append_command(a, b)}"
    return f"{what} (layers {layer} and {by})"


_LOCKS = ("package-lock.json", "npm-shrinkwrap.json")


def _npm_install_rewrote_lock(ctx: RuleContext, layer: int, by: int, group: list[Hidden]) -> str:
    """The lock file ``npm install`` (not ``npm ci``) rewrote between a COPY and
    the RUN, or the RUN and a later COPY of the source; '' otherwise."""
    locks = [h.path for h in group if posixpath.basename(h.path) in _LOCKS]
    if not locks:
        return ""
    run = by if is_run(ctx, by) and is_copy(ctx, layer) else None
    if run is None and is_run(ctx, layer) and is_copy(ctx, by):
        run = layer
    if run is None:
        return ""
    if not any(
        (len(c.argv) > 1 and c.argv[1] in ("install", "i") and len(c.argv) == 2)
        or (len(c.argv) > 2 and c.argv[1] in ("install", "i")
            and all(a.startswith("-") for a in c.argv[2:]))
        for c in commands_named(ctx.command(run), "npm")
    ):  # fmt: skip
        return ""
    return "/" + locks[0]


def _upgrades(cmd: str) -> bool:
    for c in commands_named(cmd, *_UPGRADES, "pip", "pip3"):
        if c.name in ("pip", "pip3"):
            if "install" in c.argv and has_flag(c, "-U", "--upgrade"):
                return True
        elif any(arg in _UPGRADES[c.name] for arg in c.argv[1:]):
            return True
    return False


@rule(
    "LS102",
    kind=Kind.OVERWRITTEN_LATER,
    severity=Severity.MEDIUM,
    title="Overwritten by a later layer",
)
def overwritten_later(ctx: RuleContext) -> Iterator[Finding]:
    """Files stored in one layer and stored again, at the same path, by a later one.

    Every copy stays in the image. The cause (``extra`` ``cause``) comes from
    the two layers: ``chown-later``/``chmod-later`` (a recursive ``chown`` or
    ``chmod`` after a ``COPY`` copies every file into a new layer: set
    ownership while copying), ``package-manager-state`` (each ``apt-get``,
    ``apk`` or ``dnf`` run rewrites the package database: install in one
    RUN), ``replaced-by-new-version`` (an upgrade or a second copy: install
    the final version once, or use a newer base image).

    Bad::

        COPY app /app
        RUN chown -R app:app /app

    Good::

        COPY --chown=app:app app /app
    """
    for layer, by, cause, key, group in _grouped(ctx, removed=False):
        where = "/" + key
        msg = (
            f"{counted(len(group), 'file')} under {where} stored in {describe(ctx, layer)} "
            f"{agree(len(group), 'was', 'were')} stored again by {describe(ctx, by)}"
        )
        manifests = all(is_manifest(h.path) for h in group)
        if manifests and is_copy(ctx, layer) and is_copy(ctx, by):
            # Manifests copied first for a cached install, then again with the
            # source: the pattern LS501 asks for, a few bytes well spent.
            continue
        lock_rewrite = manifests and _npm_install_rewrote_lock(ctx, layer, by, group)
        if lock_rewrite:
            fix = (
                f"npm install rewrote the lock file ({lock_rewrite}) that the build copied in: "
                "use npm ci, which installs exactly what the lock file says and leaves it as it "
                "is (and fails when it does not match package.json)"
            )
        elif cause in (CHOWN, CHMOD):
            fix = _permission_fix(ctx, layer, by, cause, key, group)
        elif cause == PM_STATE:
            pm = commands_named(ctx.command(by), *_PACKAGE_MANAGERS)
            tool = pm[0].name if pm else "the package manager"
            fix = _merge_fix(
                ctx,
                layer,
                by,
                f"Each {tool} run rewrites its database ({where}); install all packages in one RUN",
            )
            if not is_run(ctx, layer):
                # The first install on top of a base always rewrites the base's
                # database: real bytes, but paid once whatever the Dockerfile does.
                fix = (
                    f"Any install on top of layer {layer} rewrites its package database "
                    f"({where}); it is paid once if all packages are installed in one RUN"
                )
                finding = _finding(
                    "LS102", Kind.OVERWRITTEN_LATER, layer, by, cause, key, group, msg, fix
                )
                yield dataclasses.replace(finding, severity=Severity.INFO)
                continue
        elif not is_run(ctx, layer) and is_run(ctx, by) and _upgrades(ctx.command(by)):
            fix = (
                f"Layer {by} upgrades files of layer {layer}, which has no build history "
                f"(the base image): use a newer base image tag instead of upgrading in the image"
            )
        elif is_run(ctx, layer) and is_run(ctx, by):
            fix = _merge_fix(
                ctx,
                layer,
                by,
                f"Store only the final version of {where}: make both changes in one RUN",
            )
        elif is_copy(ctx, layer) and is_run(ctx, by):
            fix = (
                f"Layer {by} changes {where} right after layer {layer} copied it in: make the "
                "change in the build context (commit the file as the image needs it) so the "
                "COPY brings the final version and the RUN is not needed"
            )
        elif is_copy(ctx, by):
            # .dockerignore is no fix when an earlier COPY of the context needs the file
            # (django-on-docker: COPY entrypoint.sh, sed and chmod it, then COPY . .).
            fix = (
                f"The COPY of layer {by} replaces {where} again, undoing what layer {layer} "
                "made or changed there (the image ships the copied version): copy it once and "
                "make the change after that COPY, or keep it out of the later COPY with "
                ".dockerignore only if no other COPY of the build context needs it "
                "(.dockerignore applies to every COPY)"
            )
        elif not is_run(ctx, layer) and not is_copy(ctx, layer):
            fix = (
                f"No fix is proposed: layer {layer} has no build history (the base image?), so "
                f"no step of yours stored the first copy of {where}; a base image that has it "
                f"as layer {by} leaves it would store it once"
            )
        else:
            fix = f"Store {where} once: drop the earlier copy in layer {layer} or merge the steps"
        yield _finding("LS102", Kind.OVERWRITTEN_LATER, layer, by, cause, key, group, msg, fix)
