"""LS3xx: build leftovers still in the final image.

Temporary files, archives kept after they were extracted, logs, ``.git``
directories and compiler toolchains. Only visible files count (a leftover
deleted later is LS101's), package caches are left to LS2xx, and each rule
has a floor so the distro's few-KB defaults are not worth a finding.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterator

from layerscope.counts import agree, counted
from layerscope.rules import rule
from layerscope.rules.common import describe, is_copy, is_run
from layerscope.rules.context import RuleContext
from layerscope.rules.fixes import append_command, quote_paths
from layerscope.rules.leftover_archives import Archive, archives
from layerscope.rules.leftover_files import by_layer, leftover_finding, remove_fix, visible_files
from layerscope.rules.leftover_toolchains import (
    TOOLCHAIN,
    TOOLCHAIN_HINTS,
    runs_compiler,
    toolchain_fix,
)
from layerscope.rules.types import Finding, Kind, Severity

_PM_LOGS = re.compile(
    r"var/log/(?:dpkg\.log|alternatives\.log|apt/[^/]+|bootstrap\.log|yum\.log|apk\.log)\Z"
)
_LOGIN_LOGS = frozenset({"var/log/lastlog", "var/log/faillog", "var/log/wtmp", "var/log/btmp"})
_PM_LOG_FLOOR = 1 << 20
_VCS_OK = re.compile(r"(?:^|/)(?:site-packages|dist-packages|node_modules|vendor)/")


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
        for path, layer, size in visible_files(ctx, *_TMP_HINTS)
        if path.startswith(("tmp/", "var/tmp/")) and path not in skip
    ]
    for layer, files in sorted(by_layer(items).items()):
        roots = sorted({_tmp_root(p) for p, _ in files})
        yield leftover_finding(
            "LS301",
            layer,
            files,
            f"{counted(len(files), 'temporary file')} under "
            f"{', '.join('/' + r for r in roots[:3])} left by {describe(ctx, layer)}",
            remove_fix(ctx, layer, roots, "the temporary files"),
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
    groups: dict[tuple[int, int], list[Archive]] = defaultdict(list)
    for a in archives(ctx):
        groups[(a.layer, a.extracted_by)].append(a)
    for (layer, by), items in sorted(groups.items()):
        files = [(a.path, a.size) for a in items]
        targets = sorted(a.path for a in items)
        n = len(items)
        if items[0].how == "command":
            later = "the same layer" if by == layer else describe(ctx, by)
            message = (
                f"{counted(n, 'archive')} stored by {describe(ctx, layer)} "
                f"{agree(n, 'was', 'were')} kept after "
                f"{later} unpacked or installed {agree(n, 'it', 'them')}"
            )
        else:
            message = (
                f"{counted(n, 'archive')} stored by {describe(ctx, layer)} "
                f"{agree(n, 'was', 'were')} kept next to the directory "
                f"{agree(n, 'it', 'they')} unpacked into, added by {describe(ctx, by)}"
            )
        if is_run(ctx, layer) and is_run(ctx, by) and by != layer:
            first, second = ctx.command(layer), ctx.command(by)
            rm = f"rm -f {quote_paths(targets)}"
            fix = (
                "Download, extract and delete the archive in one RUN:\n"
                f"-RUN {first}\n-RUN {second}\n"
                f"+RUN {append_command(append_command(first, second), rm)}"
            )
        elif is_copy(ctx, layer) and is_run(ctx, by):
            fix = _bind_fix(ctx, layer, by, targets)
        else:
            fix = remove_fix(ctx, layer, targets, "the archive")
        yield leftover_finding("LS302", layer, files, message, fix, "archive-kept")


_HASHED_SOURCE = re.compile(r"(?:dir|file|multi):[0-9a-fA-F]+\Z")


def _bind_fix(ctx: RuleContext, layer: int, by: int, targets: list[str]) -> str:
    """Bind-mount what the COPY of ``layer`` brought in, for the RUN of ``by``.

    A COPY of a directory (``COPY --from=builder /usr/src/app/wheels /wheels``)
    is mounted whole at its destination, so every archive in it is covered; a
    source path that is absolute comes from another stage (``from=<stage>``).
    Unknown parts are left as ``<src>``/``<stage>`` (the Dockerfile fills them in
    when it is given).
    """
    h = ctx.image.layer_history(ctx.image.layers[layer])
    dest = h.parsed.dest.rstrip("/") if h is not None and h.parsed.dest else ""
    sources = h.parsed.source.split() if h is not None else []
    one = sources[0] if len(sources) == 1 else ""
    src = one if one and not _HASHED_SOURCE.match(one) else "<src>"
    tree = bool(dest) and all(("/" + t).startswith(dest + "/") for t in targets)
    if tree and (src == "<src>" or not posixpath.splitext(src)[1]):
        target = dest  # a directory: mount it whole
    else:
        target = "/" + targets[0]
        if src == "<src>" or posixpath.basename(src) != posixpath.basename(targets[0]):
            src = posixpath.basename(targets[0]) if src == "<src>" else src
    stage = "from=<stage>," if src.startswith("/") else ""
    return (
        f"Do not copy the archive into a layer: bind-mount it for the RUN that unpacks it "
        f"(BuildKit), and drop the COPY of layer {layer}:\n"
        f"+RUN --mount=type=bind,{stage}source={src},target={target} {ctx.command(by)}"
    )


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
        for path, layer, size in visible_files(ctx, *_LOG_HINTS)
        if _is_log(path, size) and path not in skip
    ]
    for layer, files in sorted(by_layer(items).items()):
        logins = [p for p, _ in files if p in _LOGIN_LOGS]
        fix = remove_fix(ctx, layer, [p for p, _ in files], "the logs")
        if logins:
            fix = (
                "Create users with useradd --no-log-init (or -l): lastlog and faillog grow "
                "with the largest UID and are stored in full.\n" + fix
            )
        yield leftover_finding(
            "LS303",
            layer,
            files,
            f"{counted(len(files), 'log file')} left by {describe(ctx, layer)}",
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
    for path, layer, size in visible_files(ctx, _GIT_HINT):
        root = _git_root(path)
        if root is None or _VCS_OK.search(root):
            continue
        groups[(layer, root)].append((path, size))
    for (layer, root), files in sorted(groups.items()):
        if is_copy(ctx, layer):
            fix = (
                f"Add .git to .dockerignore: layer {layer} "
                f"({ctx.instruction(layer).value}) copies /{root} from the build context"
            )
        else:
            fix = remove_fix(ctx, layer, [root], f"/{root}")
            if is_run(ctx, layer) and "git clone" in ctx.command(layer):
                fix += "\n(and clone with --depth 1)"
        yield leftover_finding(
            "LS304",
            layer,
            files,
            f"/{root} ({counted(len(files), 'file')}) left by {describe(ctx, layer)}",
            fix,
            "git-metadata",
        )


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
    if runs_compiler(ctx) is not False:
        return
    groups: dict[int, list[tuple[str, int]]] = defaultdict(list)
    kinds: dict[int, set[str]] = defaultdict(set)
    for path, layer, size in visible_files(ctx, *TOOLCHAIN_HINTS):
        m = TOOLCHAIN.match(path)
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
        yield leftover_finding(
            "LS305",
            layer,
            files,
            f"{what} ({counted(len(files), 'file')}) added by {describe(ctx, layer)}, in an image "
            f"whose command runs no compiler",
            toolchain_fix(ctx, layer),
            "build-toolchain",
        )
