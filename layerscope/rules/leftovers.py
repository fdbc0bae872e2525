"""LS3xx: build leftovers still in the final image.

Temporary files, archives kept after they were extracted, logs, ``.git``
directories and compiler toolchains. Only visible files count (a leftover
deleted later is LS101's), package caches are left to LS2xx, and each rule
has a floor so the distro's few-KB defaults are not worth a finding.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from layerscope.analysis import RuleContext
from layerscope.model import EntryType, Instruction
from layerscope.rules import rule
from layerscope.rules.base import Finding, Kind, Severity
from layerscope.rules.cachepaths import scan as cache_scan
from layerscope.rules.common import describe, is_run, memo, severity_for, top_paths
from layerscope.rules.fixes import append_command, quote_paths, rewrite
from layerscope.rules.paths import line_pattern
from layerscope.shell import SimpleCommand, commands_named

_ARCHIVE = re.compile(
    r"\.(?:tar|tar\.gz|tgz|tar\.xz|txz|tar\.bz2|tbz2?|tar\.zst|tzst|tar\.lz4|zip|7z|whl|deb|rpm|gem)\Z"
)
_EXTRACTORS = (
    "tar", "bsdtar", "unzip", "7z", "7za", "gunzip", "gzip", "xz", "unxz", "bunzip2", "zstd",
    "pip", "pip3", "uv", "dpkg", "apt-get", "apt", "rpm", "dnf", "yum", "microdnf", "zypper",
    "gem", "npm", "yarn", "pnpm", "jar", "bzip2", "lz4", "unzstd",
)  # fmt: skip
_PM_LOGS = re.compile(
    r"var/log/(?:dpkg\.log|alternatives\.log|apt/[^/]+|bootstrap\.log|yum\.log|apk\.log)\Z"
)
_LOGIN_LOGS = frozenset({"var/log/lastlog", "var/log/faillog", "var/log/wtmp", "var/log/btmp"})
_PM_LOG_FLOOR = 1 << 20
_VCS_OK = re.compile(r"(?:^|/)(?:site-packages|dist-packages|node_modules|vendor)/")
_TOOLCHAIN = re.compile(
    r"(?P<gcc>usr/lib/gcc/|usr/libexec/gcc/|usr/lib/gcc-cross/"
    r"|usr/bin/(?:[\w.]+-)?(?:gcc|g\+\+|c\+\+|cpp|gfortran|lto-dump)(?:-\d+)?\Z)"
    r"|(?P<llvm>usr/lib/llvm-\d+/)"
    r"|(?P<headers>usr/include/|usr/local/include/)"
    r"|(?P<static>usr/(?:local/)?lib/(?:[^/]+/)*lib[^/]+\.a\Z)"
    r"|(?P<go>usr/local/go/(?:pkg/tool|src|pkg/linux)/)"
    r"|(?P<rust>usr/local/rustup/toolchains/)"
)
# What PathText looks for to find _TOOLCHAIN's paths: all of them and more
# (all of /usr/bin, any .a). Each regex has a literal prefix, so each scans
# fast; _TOOLCHAIN itself as a line pattern tries every alternative on every
# line. Keep the two in step.
_TOOLCHAIN_HINTS = (
    line_pattern(
        r"usr/(?:lib/gcc/|libexec/gcc/|lib/gcc-cross/|bin/|lib/llvm-|include/|local/include/"
        r"|local/go/|local/rustup/toolchains/)"
    ),
    re.compile(r"\.a(?=\n)"),
)
_COMPILERS = frozenset(
    {"gcc", "g++", "cc", "c++", "clang", "clang++", "make", "cmake", "ninja", "go", "cargo",
     "rustc", "javac", "mvn", "gradle", "bazel", "meson", "tcc", "gfortran"}
)  # fmt: skip
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh"})
_BUILD_PACKAGE = re.compile(
    r"\A(?:build-essential|build-base|gcc(?:-\d+)?|g\+\+(?:-\d+)?|clang(?:-\d+)?|make|cmake"
    r"|musl-dev|libc6?-dev|linux-headers|[\w.+-]+-(?:dev|devel))\Z"
)


def _visible(ctx: RuleContext, *hints: re.Pattern[str]) -> list[tuple[str, int, int]]:
    """Visible regular files with content, not claimed by a cache rule, among
    the paths ``hints`` find (see PathText): (path, layer, size), in the final
    filesystem's order. A hint must find every path its rule reports."""
    claimed = cache_scan(ctx).visible
    paths = ctx.paths
    out = []
    for i in paths.text.candidates(*hints):
        layer, entry = paths.nodes[i]
        path = paths.paths[i]
        if entry.type is EntryType.FILE and entry.size > 0 and path not in claimed:
            out.append((path, layer, entry.size))
    return out


@dataclass(frozen=True, slots=True)
class _Archive:
    path: str
    size: int
    layer: int
    extracted_by: int
    how: str  # "command" or "directory"


def _archive_stem(name: str) -> str:
    m = _ARCHIVE.search(name)
    return name[: m.start()] if m else name


def _names_archive(word: str, base: str, path: str) -> bool:
    word = word.rstrip("/")
    if "/" in word:
        return fnmatch.fnmatchcase(path, word.lstrip("./").lstrip("/")) or word.endswith("/" + base)
    return fnmatch.fnmatchcase(base, word)


_INSTALL_WORDS = frozenset({"install", "add", "in", "localinstall", "i"})


def _short_flag(argv: tuple[str, ...], letters: str) -> bool:
    """A short-option cluster (``-xzf``; for tar also ``xzf`` first) with one of ``letters``."""
    for i, arg in enumerate(argv[1:], 1):
        cluster = arg[1:] if arg.startswith("-") and not arg.startswith("--") else ""
        if not cluster and i == 1 and arg.isalpha() and argv[0].endswith("tar"):
            cluster = arg  # old-style ``tar xzf``
        if any(letter in cluster for letter in letters):
            return True
    return False


def _extracts(c: SimpleCommand) -> bool:
    """True when ``c`` unpacks or installs archives (not when it makes one)."""
    name, argv = c.name, c.argv
    if name in ("tar", "bsdtar", "jar"):
        return "--extract" in argv or "--get" in argv or _short_flag(argv, "x")
    if name in ("gzip", "xz", "zstd", "bzip2", "lz4"):
        return "--decompress" in argv or _short_flag(argv, "d")
    if name in ("7z", "7za"):
        return len(argv) > 1 and argv[1] in ("x", "e")
    if name == "dpkg":
        return bool({"--install", "--unpack", "--extract"} & set(argv)) or _short_flag(argv, "ix")
    if name == "rpm":
        return bool({"--install", "--upgrade"} & set(argv)) or _short_flag(argv, "iU")
    if name in ("unzip", "gunzip", "unxz", "bunzip2", "unzstd"):
        return True
    return bool(_INSTALL_WORDS & set(argv[1:]))


def _extracted_by(ctx: RuleContext, path: str, layer: int) -> tuple[int, str] | None:
    """The layer that unpacked or installed the archive at ``path``, if any."""
    base = posixpath.basename(path)
    for j in range(layer, len(ctx.image.layers)):
        if not is_run(ctx, j):
            continue
        for c in commands_named(ctx.command(j), *_EXTRACTORS):
            if _extracts(c) and any(_names_archive(w, base, path) for w in c.argv[1:]):
                return j, "command"
    stem = posixpath.join(posixpath.dirname(path), _archive_stem(base))
    node = ctx.union.final.get(stem)
    if node is not None and node[1].type is EntryType.DIR and node[0] >= layer and stem != path:
        return node[0], "directory"
    return None


_ARCHIVE_ENDINGS = (
    ".tar", ".gz", ".tgz", ".xz", ".txz", ".bz2", ".tbz", ".tbz2", ".zst", ".tzst", ".lz4",
    ".zip", ".7z", ".whl", ".deb", ".rpm", ".gem",
)  # fmt: skip


_ARCHIVE_HINT = re.compile("(?:" + "|".join(map(re.escape, _ARCHIVE_ENDINGS)) + ")(?=\n)")


def _archives(ctx: RuleContext) -> list[_Archive]:
    out = []
    for path, layer, size in _visible(ctx, _ARCHIVE_HINT):
        if not path.endswith(_ARCHIVE_ENDINGS) or _ARCHIVE.search(path) is None:
            continue
        if path.startswith(("usr/share/", "usr/lib/python")):
            continue
        hit = _extracted_by(ctx, path, layer)
        if hit is not None:
            out.append(_Archive(path, size, layer, hit[0], hit[1]))
    return out


def archives(ctx: RuleContext) -> list[_Archive]:
    """Archives kept after extraction (computed once per analysis)."""
    return memo(ctx, "archives", _archives)


def _by_layer(items: list[tuple[str, int, int]]) -> dict[int, list[tuple[str, int]]]:
    groups: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for path, layer, size in items:
        groups[layer].append((path, size))
    return groups


def _finding(
    rule_id: str,
    layer: int,
    files: list[tuple[str, int]],
    message: str,
    fix: str,
    cause: str,
) -> Finding:
    size = sum(s for _, s in files)
    return Finding(
        rule=rule_id,
        kind=Kind.LEFTOVER,
        severity=severity_for(size),
        bytes=size,
        layer=layer,
        paths=top_paths(files),
        message=message,
        fix=fix,
        path_count=len(files),
        reclaimable=True,
        extra=(("cause", cause),),
        claims=frozenset(p for p, _ in files),
    )


def _remove_fix(ctx: RuleContext, layer: int, targets: list[str], what: str) -> str:
    if is_run(ctx, layer):
        cmd = ctx.command(layer)
        return f"Remove {what} in the RUN that makes it (layer {layer}):\n" + rewrite(
            cmd, append_command(cmd, f"rm -rf {quote_paths(sorted(targets))}")
        )
    if ctx.instruction(layer) in (Instruction.COPY, Instruction.ADD):
        return (
            f"Layer {layer} copies {what} from the build context: exclude it in "
            f".dockerignore, or copy only what the image needs"
        )
    return f"Layer {layer} has no build history (a base image?): remove {what} where it is made"


_TMP_HINTS = (re.compile(r"\ntmp/"), re.compile(r"\nvar/tmp/"))


def _tmp_root(path: str) -> str:
    parts = path.split("/")
    depth = 2 if parts[0] == "tmp" else 3
    return "/".join(parts[:depth])


@rule(
    "LS301",
    kind=Kind.LEFTOVER,
    severity=Severity.LOW,
    title="Temporary files left in /tmp or /var/tmp",
    min_bytes=16 << 10,
)
def temp_files(ctx: RuleContext) -> Iterator[Finding]:
    """Files under ``/tmp`` or ``/var/tmp`` still in the final image.

    Downloads, build trees and scratch files written during a build are
    stored in the layer and shipped. Delete them in the ``RUN`` that makes
    them, or work in a build stage. Archives that were extracted are
    reported by LS302, caches (composer's ``/tmp/cache``) by LS2xx.

    Bad::

        RUN curl -fsSLo /tmp/tool.tgz https://example.com/tool.tgz \\
            && tar -C /usr/local -xzf /tmp/tool.tgz
        RUN cd /tmp && git clone https://example.com/lib && make -C lib install

    Good::

        RUN curl -fsSL https://example.com/tool.tgz | tar -C /usr/local -xz
        RUN cd /tmp && git clone https://example.com/lib && make -C lib install \\
            && rm -rf /tmp/lib
    """
    skip = {a.path for a in archives(ctx)}
    items = [
        (path, layer, size)
        for path, layer, size in _visible(ctx, *_TMP_HINTS)
        if path.startswith(("tmp/", "var/tmp/")) and path not in skip
    ]
    for layer, files in sorted(_by_layer(items).items()):
        roots = sorted({_tmp_root(p) for p, _ in files})
        yield _finding(
            "LS301",
            layer,
            files,
            f"{len(files)} temporary file(s) under {', '.join('/' + r for r in roots[:3])} "
            f"left by {describe(ctx, layer)}",
            _remove_fix(ctx, layer, roots, "the temporary files"),
            "temporary-files",
        )


@rule(
    "LS302",
    kind=Kind.LEFTOVER,
    severity=Severity.MEDIUM,
    title="Archive kept after it was extracted or installed",
    min_bytes=16 << 10,
)
def kept_archives(ctx: RuleContext) -> Iterator[Finding]:
    """A downloaded or copied archive (``.tar.gz``, ``.tgz``, ``.tar.xz``,
    ``.zip``, ``.whl``, ``.deb``, ``.rpm`` ...) still in the image after a
    layer unpacked or installed it.

    The image then holds the contents twice: packed and unpacked. The
    archive's layer is matched with the layer that extracted it: a RUN that
    names the archive in ``tar``, ``unzip``, ``pip install``, ``dpkg -i``
    ..., or a directory named after it added next to it. Stream the
    download into the extractor, delete the archive in the same RUN, or
    (BuildKit) bind-mount a local archive instead of copying it.

    Bad::

        COPY vendor/app.whl /tmp/
        RUN pip install /tmp/app.whl

    Good::

        RUN --mount=type=bind,source=vendor/app.whl,target=/tmp/app.whl \\
            pip install --no-cache-dir /tmp/app.whl
    """
    groups: dict[tuple[int, int], list[_Archive]] = defaultdict(list)
    for a in archives(ctx):
        groups[(a.layer, a.extracted_by)].append(a)
    for (layer, by), items in sorted(groups.items()):
        files = [(a.path, a.size) for a in items]
        targets = sorted(a.path for a in items)
        if items[0].how == "command":
            later = "the same layer" if by == layer else describe(ctx, by)
            message = (
                f"{len(items)} archive(s) stored by {describe(ctx, layer)} were kept after "
                f"{later} unpacked or installed them"
            )
        else:
            message = (
                f"{len(items)} archive(s) stored by {describe(ctx, layer)} were kept next to "
                f"the directory they unpacked into, added by {describe(ctx, by)}"
            )
        if is_run(ctx, layer) and is_run(ctx, by) and by != layer:
            first, second = ctx.command(layer), ctx.command(by)
            rm = f"rm -f {quote_paths(targets)}"
            fix = (
                "Download, extract and delete the archive in one RUN:\n"
                f"-RUN {first}\n-RUN {second}\n"
                f"+RUN {append_command(append_command(first, second), rm)}"
            )
        elif ctx.instruction(layer) in (Instruction.COPY, Instruction.ADD) and is_run(ctx, by):
            src = posixpath.basename(targets[0])
            fix = (
                f"Do not copy the archive into a layer: bind-mount it for the RUN that "
                f"unpacks it (BuildKit):\n+RUN --mount=type=bind,source={src},"
                f"target=/{targets[0]} {ctx.command(by)}"
            )
        else:
            fix = _remove_fix(ctx, layer, targets, "the archive")
        yield _finding("LS302", layer, files, message, fix, "archive-kept")


_LOG_HINTS = (re.compile(r"\nvar/log/"), re.compile(r"\.log(?=\n)"))  # _LOGIN_LOGS included


def _is_log(path: str, size: int) -> bool:
    if path in _LOGIN_LOGS:
        return True
    if not (path.startswith("var/log/") or path.endswith(".log")):
        return False
    return not (_PM_LOGS.match(path) and size < _PM_LOG_FLOOR)


@rule(
    "LS303",
    kind=Kind.LEFTOVER,
    severity=Severity.LOW,
    title="Log files left in the image",
    min_bytes=64 << 10,
)
def log_files(ctx: RuleContext) -> Iterator[Finding]:
    """Log files (under ``/var/log`` or named ``*.log``) written during the
    build and shipped.

    Install and build logs are of no use at run time. The package
    managers' own small logs (``dpkg.log``, ``apt/*.log`` under 1 MiB) are
    not reported. ``/var/log/lastlog`` and ``faillog`` grow with the largest
    user ID: ``useradd`` with a high UID writes a huge sparse file that the
    layer stores in full; use ``useradd --no-log-init``.

    Bad::

        RUN ./configure && make > /var/log/build.log 2>&1 && make install
        RUN useradd -u 1000000 app

    Good::

        RUN ./configure && make && make install
        RUN useradd --no-log-init -u 1000000 app
    """
    skip = {a.path for a in archives(ctx)}
    items = [
        (path, layer, size)
        for path, layer, size in _visible(ctx, *_LOG_HINTS)
        if _is_log(path, size) and path not in skip
    ]
    for layer, files in sorted(_by_layer(items).items()):
        logins = [p for p, _ in files if p in _LOGIN_LOGS]
        fix = _remove_fix(ctx, layer, [p for p, _ in files], "the logs")
        if logins:
            fix = (
                "Create users with useradd --no-log-init (or -l): lastlog and faillog grow "
                "with the largest UID and are stored in full.\n" + fix
            )
        yield _finding(
            "LS303",
            layer,
            files,
            f"{len(files)} log file(s) left by {describe(ctx, layer)}",
            fix,
            "log-files",
        )


_GIT_HINT = re.compile(r"\.git/")


def _git_root(path: str) -> str | None:
    if path.startswith(".git/"):
        return ".git"
    i = path.find("/.git/")
    if i < 0:
        return None
    return path[: i + 5]


@rule(
    "LS304",
    kind=Kind.LEFTOVER,
    severity=Severity.LOW,
    title="Git repository metadata in the image",
    min_bytes=16 << 10,
)
def git_dirs(ctx: RuleContext) -> Iterator[Finding]:
    """A ``.git`` directory copied from the build context or left by
    ``git clone``.

    The whole history of the repository ships with the image (and may leak
    what it holds). Add ``.git`` to ``.dockerignore``; after a clone in a
    RUN, use ``--depth 1`` and delete ``.git`` in the same RUN. A ``.git``
    inside ``site-packages``, ``node_modules`` or ``vendor`` (a VCS install)
    is not reported.

    Bad::

        COPY . /app

    Good::

        # .dockerignore
        .git
    """
    groups: dict[tuple[int, str], list[tuple[str, int]]] = defaultdict(list)
    for path, layer, size in _visible(ctx, _GIT_HINT):
        root = _git_root(path)
        if root is None or _VCS_OK.search(root):
            continue
        groups[(layer, root)].append((path, size))
    for (layer, root), files in sorted(groups.items()):
        if ctx.instruction(layer) in (Instruction.COPY, Instruction.ADD):
            fix = (
                f"Add .git to .dockerignore: layer {layer} "
                f"({ctx.instruction(layer).value}) copies /{root} from the build context"
            )
        else:
            fix = _remove_fix(ctx, layer, [root], f"/{root}")
            if is_run(ctx, layer) and "git clone" in ctx.command(layer):
                fix += "\n(and clone with --depth 1)"
        yield _finding(
            "LS304",
            layer,
            files,
            f"/{root} ({len(files)} file(s)) left by {describe(ctx, layer)}",
            fix,
            "git-metadata",
        )


def _runs_compiler(ctx: RuleContext) -> bool | None:
    """True when the image's command is a build tool; None when it is only a
    shell (an interactive or builder image: no verdict)."""
    cfg = ctx.image.config
    argv = [*(cfg.entrypoint or ()), *(cfg.cmd or ())]
    if not argv:
        return None
    names = {posixpath.basename(w) for w in argv}
    if names & _COMPILERS:
        return True
    if len(argv) == 1 and names <= _SHELLS:
        return None
    return False


def _build_packages(cmd: str) -> list[str]:
    found: list[str] = []
    for c in commands_named(cmd, "apt-get", "apt", "apk", "dnf", "yum", "microdnf"):
        for word in c.argv[2:]:
            if _BUILD_PACKAGE.match(word) and word not in found:
                found.append(word)
    return found


def _toolchain_fix(ctx: RuleContext, layer: int) -> str:
    lines = [
        "Build in a separate stage that has the compilers, and COPY --from=<build stage> "
        "only the results into a final stage without them."
    ]
    if is_run(ctx, layer):
        cmd = ctx.command(layer)
        pkgs = _build_packages(cmd)
        if pkgs and commands_named(cmd, "apk"):
            lines.append(
                "Or, in the same RUN: apk add --no-cache --virtual .build-deps "
                f"{' '.join(pkgs)} && ... && apk del .build-deps"
            )
        elif pkgs:
            purge = f"apt-get purge -y --auto-remove {' '.join(pkgs)}"
            lines.append(
                "Or remove them in the same RUN once the build is done:\n"
                + rewrite(cmd, append_command(cmd, purge))
            )
    return "\n".join(lines)


@rule(
    "LS305",
    kind=Kind.LEFTOVER,
    severity=Severity.MEDIUM,
    title="Compiler toolchain or headers in an image that runs no compiler",
    min_bytes=1 << 20,
)
def toolchains(ctx: RuleContext) -> Iterator[Finding]:
    """Compilers (gcc, LLVM, the Go and Rust toolchains), C headers and static
    libraries in a final image whose command is not a build tool.

    They are needed to build native extensions, not to run them:
    ``build-essential`` alone is over 200 MB. Build in one stage and copy
    the results into a final stage without compilers, or purge them in the
    RUN that used them. Images whose command is a bare shell (builder or
    interactive images) or a build tool are not reported.

    Bad::

        FROM python:3.12-slim
        RUN apt-get update && apt-get install -y build-essential libpq-dev \\
            && pip install --no-cache-dir psycopg2
        CMD ["python", "app.py"]

    Good::

        FROM python:3.12-slim AS build
        RUN apt-get update && apt-get install -y build-essential libpq-dev \\
            && pip wheel --no-cache-dir -w /wheels psycopg2
        FROM python:3.12-slim
        RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \\
            pip install --no-cache-dir /wheels/*
        CMD ["python", "app.py"]
    """
    if _runs_compiler(ctx) is not False:
        return
    groups: dict[int, list[tuple[str, int]]] = defaultdict(list)
    kinds: dict[int, set[str]] = defaultdict(set)
    for path, layer, size in _visible(ctx, *_TOOLCHAIN_HINTS):
        m = _TOOLCHAIN.match(path)
        if m is None:
            continue
        groups[layer].append((path, size))
        kinds[layer].add(m.lastgroup or "")
    names = {
        "gcc": "gcc",
        "llvm": "LLVM",
        "headers": "C headers",
        "static": "static libraries",
        "go": "the Go toolchain",
        "rust": "the Rust toolchain",
    }
    for layer, files in sorted(groups.items()):
        what = ", ".join(names[k] for k in sorted(kinds[layer]))
        yield _finding(
            "LS305",
            layer,
            files,
            f"{what} ({len(files)} file(s)) added by {describe(ctx, layer)}, in an image "
            f"whose command runs no compiler",
            _toolchain_fix(ctx, layer),
            "build-toolchain",
        )
