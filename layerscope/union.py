"""Replay layers the way the union filesystem stacks them.

OCI rules: ``.wh.NAME`` deletes NAME (and everything below it) from lower
layers; ``.wh..wh..opq`` hides every lower child of its directory; both apply
to lower layers only, so a layer's whiteouts are applied before its own
entries. A non-directory over a directory hides the whole lower subtree; a
directory over a non-directory replaces it. Symlinks are never followed: a
path is a name, nothing more.

The replay records, for every stored regular file that ends up hidden, which
layer hid it and why, and for every layer what it added, modified and
removed. Hard links keep content alive: a file is hidden only when neither
its path nor any hard link to it in the same layer is visible at the end.
"""

from __future__ import annotations

import contextlib
import enum
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from layerscope.gcpause import paused_gc
from layerscope.model import Entry, EntryType

_add_new: Callable[..., int] | None
try:  # the common case of the replay in C (optional: see layerscope/_union.c)
    from layerscope import _union

    # A build from before its last arguments came would refuse them: keep to Python.
    _add_new = _union.add_new if getattr(_union, "api", 1) >= 2 else None
except ImportError:  # pragma: no cover - built without a compiler
    _add_new = None

_DIR = EntryType.DIR
_FILE = EntryType.FILE
_HARDLINK = EntryType.HARDLINK
_WHITEOUT = EntryType.WHITEOUT
_OPAQUE = EntryType.OPAQUE


class Cause(enum.Enum):
    """Why stored bytes are not visible in the final filesystem."""

    REMOVED = "removed"  # a whiteout, an opaque directory, or a parent replaced
    OVERWRITTEN = "overwritten"  # the same path stored again by a later entry


class Change(enum.Enum):
    """What a layer did to a path."""

    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"


class Hidden(NamedTuple):
    """A stored regular file whose bytes no longer show.

    ``group`` is the path that caused the hiding: the whiteout or opaque
    directory for removals, the file's own path for overwrites. ``entry`` is
    the hidden file's entry.
    """

    path: str
    size: int
    layer: int
    hidden_by: int
    cause: Cause
    group: str
    entry: Entry | None = None


class PathChange(NamedTuple):
    """One change a layer made; ``size`` is the content bytes involved.

    A NamedTuple (as Entry): there is one per entry of every layer, and a
    tuple is the cheapest object to build and hold. The replay does not even
    build those of new paths: its log keeps their entries (see ChangeLog).
    """

    path: str
    change: Change
    type: EntryType
    size: int


_new = tuple.__new__  # builds a NamedTuple without a Python-level __new__ call
# Enum members as module constants: Cause.REMOVED is a class attribute
# lookup of ~140 ns, paid per entry in the loops below.
_ADDED = Change.ADDED
_MODIFIED = Change.MODIFIED
_REMOVED = Cause.REMOVED
_OVERWRITTEN = Cause.OVERWRITTEN

# What a layer did, as the replay records it: an Entry stands for the change
# PathChange(entry.path, ADDED, entry.type, entry.size) (most entries add a
# new path, and keeping the entry costs nothing), a PathChange for itself.
ChangeLog = list[Entry | PathChange]


def _as_change(item: Entry | PathChange) -> PathChange:
    if type(item) is PathChange:
        return item
    return _new(PathChange, (item.path, _ADDED, item.type, item.size))


@dataclass(slots=True)
class UnionFS:
    """The result of a replay.

    ``final`` maps every visible path to ``(layer index, entry)``;
    ``changes[i]`` lists what layer ``i`` did (made on first use from
    ``log[i]``, see ``ChangeLog``); ``hidden`` every stored file whose bytes
    no longer show.
    """

    final: dict[str, tuple[int, Entry]]
    log: list[ChangeLog]
    hidden: list[Hidden]
    _changes: list[list[PathChange]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def changes(self) -> list[list[PathChange]]:
        """What each layer did, one PathChange per change, in order."""
        if self._changes is None:
            self._changes = [list(map(_as_change, items)) for items in self.log]
        return self._changes


class _Replay:
    def __init__(self) -> None:
        self.state: dict[str, tuple[int, Entry]] = {"": (-1, Entry("", _DIR, mode=0o755))}
        self.children: dict[str, set[str]] = {"": set()}
        self.hidden: list[tuple[int, Entry, int, Cause, str]] = []
        self.log: list[ChangeLog] = []
        # (layer, hard link path) -> the file entry it links to, as the tar
        # resolves it: the member named so at that point of the same layer.
        self.links: dict[tuple[int, str], Entry] = {}
        self.saw_links = False  # only then can a hard link be visible at the end

    # -- removal -------------------------------------------------------------
    def _drop(self, path: str, by: int, cause: Cause, group: str) -> int:
        """Remove ``path`` and its subtree from the state; returns bytes hidden."""
        node = self.state.pop(path, None)
        if node is None:
            return 0
        parent = path.rpartition("/")[0]
        siblings = self.children.get(parent)
        if siblings is not None:
            siblings.discard(path)
        return self._bury(path, node, by, cause, group)

    def _bury(self, path: str, node: tuple[int, Entry], by: int, cause: Cause, group: str) -> int:
        # Iterative: a hostile layer may nest directories thousands deep.
        total = 0
        stack = [(path, node, cause)]
        while stack:
            path, (layer, entry), cause = stack.pop()
            if entry.type is _FILE:
                self.hidden.append((layer, entry, by, cause, group))
                total += entry.size
            kids = self.children.pop(path, None)
            if kids:
                for kid in kids:
                    child = self.state.pop(kid, None)
                    if child is not None:
                        stack.append((kid, child, _REMOVED))
        return total

    def _drop_children(self, path: str, by: int, group: str) -> int:
        kids = self.children.get(path)
        if not kids:
            return 0
        total = 0
        for kid in list(kids):
            total += self._drop(kid, by, Cause.REMOVED, group)
        return total

    # -- addition ------------------------------------------------------------
    def _ensure_parent(self, path: str, index: int, log: ChangeLog) -> None:
        """Make every missing ancestor of ``path`` a directory, top down.

        Iterative: a hostile layer may nest directories thousands deep.
        """
        state = self.state
        chain: list[str] = []  # ancestors to create, deepest first
        child = path
        while True:
            parent = child.rpartition("/")[0]
            node = state.get(parent)
            if node is not None and node[1].type is _DIR:
                self.children[parent].add(child)
                break
            chain.append(parent)
            if node is not None or parent == "":
                break  # a file or link where a directory must be (its parent exists)
            child = parent
        for i in range(len(chain) - 1, -1, -1):
            q = chain[i]
            if q in state:
                self._drop(q, index, _OVERWRITTEN, q)
                if q:
                    self.children[q.rpartition("/")[0]].add(q)
                log.append(_new(PathChange, (q, _MODIFIED, _DIR, 0)))
            else:
                log.append(_new(PathChange, (q, _ADDED, _DIR, 0)))
            # Entry(q, _DIR, mode=0o755), without the keyword call.
            state[q] = (index, _new(Entry, (q, _DIR, 0, 0o755, 0, 0, 0, "", None)))
            self.children[q] = {chain[i - 1] if i else path}

    def _link(self, index: int, e: Entry) -> None:
        target = self.state.get(e.linkname)
        if target is not None and target[0] == index:
            entry = target[1]
            if entry.type is _HARDLINK:  # a link to a link: to the same file
                entry = self.links.get((index, e.linkname), entry)
            self.links[(index, e.path)] = entry

    def _left(self, index: int, entries: Sequence[Entry], log: ChangeLog) -> Iterator[Entry]:
        """The entries the C common case (``layerscope/_union.c``) leaves to
        the loop of :meth:`apply`, each when that loop asks for it: before
        it, the C function handles what that loop would do with new paths in
        existing directories, directories stored again over directories and
        leaves over leaves."""
        assert _add_new is not None
        state, children = self.state, self.children
        pos, n = 0, len(entries)
        while True:
            pos = _add_new(
                entries,
                pos,
                index,
                state,
                children,
                log,
                self.hidden,
                _WHITEOUT,
                _OPAQUE,
                _HARDLINK,
                _DIR,
                _FILE,
                PathChange,
                _MODIFIED,
                _OVERWRITTEN,
                Entry,
                _ADDED,
            )
            if pos >= n:
                return
            yield entries[pos]
            pos += 1

    def apply(self, index: int, entries: Sequence[Entry]) -> None:
        log: ChangeLog = []
        state = self.state
        # Whiteouts and opaque markers act on lower layers only: apply first.
        for e in _markers(entries):
            if e.type is _WHITEOUT:
                if not e.path:
                    continue  # the root cannot be deleted
                node = state.get(e.path)
                if node is not None and node[0] < index:
                    size = self._drop(e.path, index, Cause.REMOVED, e.path)
                    log.append(PathChange(e.path, Change.REMOVED, node[1].type, size))
            elif e.type is _OPAQUE:
                size = self._drop_children(e.path, index, e.path)
                if size:
                    log.append(PathChange(e.path, Change.REMOVED, _DIR, size))
        children = self.children
        hidden = self.hidden
        add = log.append
        setdefault = state.setdefault
        whiteout, opaque, hardlink, directory = _WHITEOUT, _OPAQUE, _HARDLINK, _DIR
        # The directory the previous new entry went into: entries come grouped
        # by directory, so most parents need no lookup. Reset whenever anything
        # is replaced (that could turn it into a non-directory).
        last_parent: str | None = None
        last_kids: set[str] = set()
        for e in entries if _add_new is None else self._left(index, entries, log):
            typ = e[1]  # e.type: a tuple index is cheaper than the attribute
            if typ is whiteout or typ is opaque:
                continue
            path = e[0]
            if typ is hardlink:
                self.saw_links = True
                self._link(index, e)
            if path == "":
                if typ is directory:  # the root stays a directory whatever a layer says
                    state[""] = (index, e)
                continue
            node = (index, e)
            # One lookup for the common case, a new path: it goes in now.
            old = setdefault(path, node)
            if old is node:
                parent = path.rpartition("/")[0]
                if parent == last_parent:
                    last_kids.add(path)
                else:
                    # Exactly the directories in the state have children sets.
                    kids = children.get(parent)
                    if kids is not None:
                        last_parent = parent
                        last_kids = kids
                        kids.add(path)
                    else:
                        # Missing directories go in first (the final
                        # filesystem lists a directory before its content).
                        del state[path]
                        self._ensure_parent(path, index, log)
                        state[path] = node
                        last_parent = None
                if typ is directory and path not in children:
                    children[path] = set()
                add(e)  # stands for its ADDED change (see ChangeLog)
                continue
            last_parent = None
            old_type = old[1].type
            if typ is _DIR and old_type is _DIR:
                state[path] = (index, e)  # metadata change; children stay
                add(_new(PathChange, (path, _MODIFIED, typ, 0)))
                continue
            if old_type is not _DIR and path not in children:
                # A leaf replaced: nothing below it to bury.
                if old_type is _FILE:
                    hidden.append((old[0], old[1], index, _OVERWRITTEN, path))
                children[path.rpartition("/")[0]].add(path)
                state[path] = (index, e)
                if typ is _DIR:
                    children[path] = set()
                add(_new(PathChange, (path, _MODIFIED, typ, e.size)))
                continue
            # Replaced: the old node (and its subtree, if any) is hidden.
            parent = path.rpartition("/")[0]
            self._drop(path, index, Cause.OVERWRITTEN, path)
            self.children[parent].add(path)
            state[path] = (index, e)
            if typ is _DIR:
                self.children[path] = set()
            log.append(PathChange(path, Change.MODIFIED, typ, e.size))
        self.log.append(log)


def _markers(entries: Sequence[Entry]) -> list[Entry]:
    """The whiteouts and opaque markers of ``entries``, in order. Found by
    ``list.index`` over their types, in C: a layer has few or none, and a
    Python step per entry to find them took a tenth of the replay."""
    types = list(map(_TYPE_OF, entries))
    at: list[int] = []
    for kind in (_WHITEOUT, _OPAQUE):
        i = -1
        with contextlib.suppress(ValueError):
            while True:
                i = types.index(kind, i + 1)
                at.append(i)
    return [entries[i] for i in sorted(at)]


_TYPE_OF = operator.itemgetter(1)  # Entry.type


# The last replay of immutable layers (tuples), with those very tuples: the
# duplicate-candidate check of a read (sources/rehash.py) and the analysis of
# the same image replay the same layers, and the second asks for the first's
# result instead of replaying again. One slot: a different image replaces it.
_last: tuple[tuple[Sequence[Entry], ...], UnionFS] | None = None


def replay(layers: Iterable[Sequence[Entry]]) -> UnionFS:
    """Stack the entry lists of the layers, lowest first.

    Replaying the very same tuples of entries again returns the same result
    (consumers only read it).
    """
    global _last
    seq = tuple(layers)
    last = _last
    if (
        last is not None
        and len(last[0]) == len(seq)
        and all(a is b for a, b in zip(last[0], seq, strict=True))
    ):
        return last[1]
    with paused_gc():
        union = _replay(seq)
    if all(type(entries) is tuple for entries in seq):
        _last = (seq, union)
    return union


def _replay(layers: Iterable[Sequence[Entry]]) -> UnionFS:
    r = _Replay()
    for index, entries in enumerate(layers):
        r.apply(index, entries)
    r.state.pop("", None)
    # A hard link that is still visible keeps its target's content alive:
    # the very entry it linked to when the tar named one, else any stored
    # under its target path in its layer.
    alive: set[tuple[int, str]] = set()
    alive_entries: set[int] = set()
    for layer, entry in r.state.values() if r.saw_links else ():
        if entry.type is _HARDLINK:
            target = r.links.get((layer, entry.path))
            if target is not None:
                alive_entries.add(id(target))
            else:
                alive.add((layer, entry.linkname))
    kept = alive or alive_entries
    hidden = [
        _new(Hidden, (entry.path, entry.size, layer, by, cause, group, entry))
        for layer, entry, by, cause, group in r.hidden
        if not kept or ((layer, entry.path) not in alive and id(entry) not in alive_entries)
    ]
    return UnionFS(r.state, r.log, hidden)
