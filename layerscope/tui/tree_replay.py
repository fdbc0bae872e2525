"""The replay behind :mod:`layerscope.tui.tree_model`: every path's versions and the
layer interval in which each is visible, by the same rules as :mod:`layerscope.union`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from layerscope.model import Entry, EntryType

NEVER = 1 << 62
_DIR = EntryType.DIR
_WHITEOUT = EntryType.WHITEOUT
_OPAQUE = EntryType.OPAQUE


@dataclass(slots=True)
class Version:
    """One entry stored at a path, visible in layers ``start <= k < end``.

    ``removed``: the version ended because a layer deleted it (not because a
    newer version replaced it). ``replaced``: at ``start`` it replaced a
    version that was visible in the layer below.
    """

    start: int
    entry: Entry
    end: int = NEVER
    removed: bool = False
    replaced: bool = False


def parent_of(path: str) -> str:
    """The parent directory of ``path`` (``""`` is the root)."""
    return path.rpartition("/")[0]


def ancestors(path: str) -> Iterable[str]:
    """Proper ancestors of ``path``, nearest first, ending with the root ``""``."""
    while path:
        path = path.rpartition("/")[0]
        yield path


def _same_dir_meta(a: Entry, b: Entry) -> bool:
    return a.mode == b.mode and a.uid == b.uid and a.gid == b.gid


class VersionReplay:
    """The union rules, recording version intervals instead of one final state.

    ``versions`` holds every path's versions in layer order, ``children`` every
    directory's children in first-seen order, ``touched`` the paths each layer
    added, changed or removed.
    """

    def __init__(self, layer_count: int) -> None:
        self.versions: dict[str, list[Version]] = {}
        self.children: dict[str, list[str]] = {"": []}
        self.touched: list[list[str]] = [[] for _ in range(layer_count)]
        self.cur: dict[str, Version] = {}
        self.kids: dict[str, set[str]] = {"": set()}

    def new(self, path: str, layer: int, entry: Entry) -> None:
        m = self
        versions = m.versions.get(path)
        replaced = False
        v = Version(layer, entry)
        if versions is None:
            m.versions[path] = [v]
            m.children.setdefault(parent_of(path), []).append(path)
        else:
            for old in reversed(versions):
                if old.start < layer:
                    replaced = old.end >= layer
                    break
            versions.append(v)
        v.replaced = replaced
        self.cur[path] = v
        m.touched[layer].append(path)

    def end(self, path: str, layer: int, removed: bool) -> None:
        """End ``path`` and its visible subtree at ``layer``."""
        v = self.cur.pop(path, None)
        if v is None:
            return
        siblings = self.kids.get(parent_of(path))
        if siblings is not None:
            siblings.discard(path)
        self._bury(path, v, layer, removed)

    def _bury(self, path: str, v: Version, layer: int, removed: bool) -> None:
        # Iterative: a hostile layer may nest directories thousands deep.
        todo = [(path, v, removed)]
        touched = self.touched[layer]
        while todo:
            path, v, removed = todo.pop()
            v.end = layer
            v.removed = removed
            if removed and v.start < layer:
                touched.append(path)
            for kid in self.kids.pop(path, ()):
                child = self.cur.pop(kid, None)
                if child is not None:
                    todo.append((kid, child, True))

    def ensure_parent(self, path: str, layer: int) -> None:
        """Make every missing ancestor of ``path`` a directory, top down."""
        chain: list[str] = []  # ancestors to create, deepest first
        child = path
        while True:
            parent = parent_of(child)
            v = self.cur.get(parent) if parent else None
            if parent == "" or (v is not None and v.entry.type is _DIR):
                self.kids[parent].add(child)
                break
            chain.append(parent)
            if v is not None:
                break  # a file or link where a directory must be
            child = parent
        for i in range(len(chain) - 1, -1, -1):
            q = chain[i]
            if q in self.cur:
                self.end(q, layer, removed=False)
                self.kids[parent_of(q)].add(q)
            self.new(q, layer, Entry(q, _DIR, mode=0o755))
            self.kids[q] = {chain[i - 1] if i else path}

    def apply(self, layer: int, entries: Sequence[Entry]) -> None:
        cur = self.cur
        for e in entries:
            if e.type is _WHITEOUT:
                v = cur.get(e.path)
                if v is not None and v.start < layer:
                    self.end(e.path, layer, removed=True)
            elif e.type is _OPAQUE:
                for kid in list(self.kids.get(e.path, ())):
                    self.end(kid, layer, removed=True)
        kids = self.kids
        versions = self.versions
        children = self.children
        touched = self.touched[layer]
        for e in entries:
            typ = e.type
            path = e.path
            if typ is _WHITEOUT or typ is _OPAQUE or path == "":
                continue
            old = cur.get(path)
            if old is None:
                parent = path.rpartition("/")[0]
                up = cur.get(parent) if parent else None
                if path not in versions and (
                    not parent or (up is not None and up.entry.type is _DIR)
                ):
                    # The common case, inlined: a new path in an existing directory.
                    kids[parent].add(path)
                    v = Version(layer, e)
                    versions[path] = [v]
                    sibling_list = children.get(parent)
                    if sibling_list is None:
                        children[parent] = [path]
                    else:
                        sibling_list.append(path)
                    cur[path] = v
                    touched.append(path)
                else:
                    self.ensure_parent(path, layer)
                    self.new(path, layer, e)
                if typ is _DIR:
                    kids.setdefault(path, set())
                continue
            if typ is _DIR and old.entry.type is _DIR:
                if _same_dir_meta(old.entry, e):
                    continue  # restated by the tar writer, not a change
                old.end = layer
                self.new(path, layer, e)
                continue
            self.end(path, layer, removed=False)
            self.kids[parent_of(path)].add(path)
            self.new(path, layer, e)
            if typ is _DIR:
                self.kids[path] = set()
