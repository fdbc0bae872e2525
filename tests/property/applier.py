"""A reference layer applier: really extracts layers into a directory.

It follows the OCI image-spec's layer semantics, the way an engine does when
it unpacks a pulled image: whiteouts (``.wh.NAME``) and opaque markers act on
the lower layers, then each member is created in order; a member replaces
whatever non-directory (or, unless both are directories, whatever) is at its
path; hard links share the inode of a file extracted earlier in the layer.

It is careful where it must be: every path is checked component by component
with ``lstat`` and nothing is ever resolved through a symlink (a path under a
symlink does not exist), so links in the generated layers cannot reach out
of the temp directory. Entries are :class:`layerscope.model.Entry`; the
content of a regular file is looked up by its ``digest``.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from layerscope.model import Entry, EntryType
from tests.property.layers import content_digest


def _real_dir(root: Path, rel: str) -> bool:
    """True when ``rel`` and each of its ancestors is a real directory."""
    cur = root
    for part in rel.split("/") if rel else []:
        cur = cur / part
        try:
            if not stat.S_ISDIR(os.lstat(cur).st_mode):
                return False
        except FileNotFoundError:
            return False
    return True


def _exists(root: Path, rel: str) -> bool:
    parent = rel.rpartition("/")[0]
    return _real_dir(root, parent) and os.path.lexists(root / rel)


def _remove(path: Path) -> None:
    if stat.S_ISDIR(os.lstat(path).st_mode):
        shutil.rmtree(path)  # rmtree never follows symlinks inside
    else:
        path.unlink()


def apply_layer(root: Path, entries: Sequence[Entry], contents: Mapping[str, bytes]) -> None:
    """Extract one layer on top of ``root``."""
    for e in entries:  # whiteouts first: they act on lower layers only
        if e.type is EntryType.WHITEOUT and e.path and _exists(root, e.path):
            _remove(root / e.path)
        elif e.type is EntryType.OPAQUE and _real_dir(root, e.path):
            for child in list((root / e.path).iterdir()) if e.path else list(root.iterdir()):
                _remove(child)
    for e in entries:
        if e.type in (EntryType.WHITEOUT, EntryType.OPAQUE) or not e.path:
            continue
        parent = e.path.rpartition("/")[0]
        if not _real_dir(root, parent):
            _make_dirs(root, parent)
        target = root / e.path
        if os.path.lexists(target):
            if e.type is EntryType.DIR and stat.S_ISDIR(os.lstat(target).st_mode):
                continue  # a directory over a directory keeps its children
            _remove(target)
        if e.type is EntryType.DIR:
            target.mkdir()
        elif e.type is EntryType.FILE:
            assert e.digest is not None
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(contents[e.digest])
        elif e.type is EntryType.SYMLINK:
            os.symlink(e.linkname, target)
        elif e.type is EntryType.HARDLINK:
            source = root / e.linkname
            assert _exists(root, e.linkname), e.linkname
            os.link(source, target, follow_symlinks=False)
        elif e.type is EntryType.FIFO:
            os.mkfifo(target)
        else:
            raise AssertionError(f"unexpected entry {e}")


def _make_dirs(root: Path, rel: str) -> None:
    """Create ``rel``'s missing directories; a non-directory in the way is
    replaced (layerscope's documented semantics for a name-only replay)."""
    cur = root
    for part in rel.split("/"):
        cur = cur / part
        if os.path.lexists(cur) and not stat.S_ISDIR(os.lstat(cur).st_mode):
            cur.unlink()
        if not os.path.lexists(cur):
            cur.mkdir()


@dataclass(frozen=True)
class Node:
    """One path of the extracted tree: kind, and its content digest or target."""

    kind: str  # dir, file, symlink, fifo
    detail: str = ""


def tree(root: Path) -> dict[str, Node]:
    """Every path under ``root`` (symlinks not followed)."""
    out: dict[str, Node] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            mode = os.lstat(full).st_mode
            if stat.S_ISDIR(mode):
                out[rel] = Node("dir")
            elif stat.S_ISLNK(mode):
                out[rel] = Node("symlink", os.readlink(full))
            elif stat.S_ISREG(mode):
                out[rel] = Node("file", content_digest(full.read_bytes()))
            elif stat.S_ISFIFO(mode):
                out[rel] = Node("fifo")
            else:
                raise AssertionError(f"unexpected file type at {rel}")
    return out
