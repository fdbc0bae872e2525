"""Archives kept after they were extracted or installed (for LS302).

An archive in the final image counts when a later (or the same) RUN names it
in an extracting or installing command (``tar -x``, ``unzip``, ``pip
install``, ``dpkg -i`` ...), or when a directory named after it was added next
to it. Computed once per analysis (:func:`archives`); LS301 and LS303 skip
these paths.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass

from layerscope.model import EntryType
from layerscope.rules.common import is_run, memo
from layerscope.rules.context import RuleContext
from layerscope.rules.leftover_files import visible_files
from layerscope.rules.paths import alternation
from layerscope.shell.commands import SimpleCommand, commands_named

_ARCHIVE = re.compile(
    r"\.(?:tar|tar\.gz|tgz|tar\.xz|txz|tar\.bz2|tbz2?|tar\.zst|tzst|tar\.lz4|zip|7z|whl|deb|rpm|gem)\Z"
)
_EXTRACTORS = (
    "tar", "bsdtar", "unzip", "7z", "7za", "gunzip", "gzip", "xz", "unxz", "bunzip2", "zstd",
    "pip", "pip3", "uv", "dpkg", "apt-get", "apt", "rpm", "dnf", "yum", "microdnf", "zypper",
    "gem", "npm", "yarn", "pnpm", "jar", "bzip2", "lz4", "unzstd",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Archive:
    """An archive kept in ``layer``, unpacked by layer ``extracted_by``."""

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


# One search for the shared '.', then the endings (factored: see alternation).
_ARCHIVE_HINT = re.compile(alternation(list(map(re.escape, _ARCHIVE_ENDINGS))) + "(?=\n)")


def _archives(ctx: RuleContext) -> list[Archive]:
    out = []
    for path, layer, size in visible_files(ctx, _ARCHIVE_HINT):
        if not path.endswith(_ARCHIVE_ENDINGS) or _ARCHIVE.search(path) is None:
            continue
        if path.startswith(("usr/share/", "usr/lib/python")):
            continue
        hit = _extracted_by(ctx, path, layer)
        if hit is not None:
            out.append(Archive(path, size, layer, hit[0], hit[1]))
    return out


def archives(ctx: RuleContext) -> list[Archive]:
    """Archives kept after extraction (computed once per analysis)."""
    return memo(ctx, "archives", _archives)
