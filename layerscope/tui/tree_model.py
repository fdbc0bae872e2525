"""Every layer's merged file tree, built in one pass and queried per layer.

Pure data, no Textual: the file tree widget asks this model what to draw.

One replay over the layers records, for every path, its *versions*: the
entry that a layer stored there and the half-open layer interval
``[start, end)`` in which that entry is the visible one. The merged tree of
layer ``k`` (the filesystem a container would see with layers ``0..k``) is
then a filter: a path is visible at ``k`` when one of its versions holds
``start <= k < end``. A version that ends because a later layer deleted it
(a whiteout, an opaque directory, a parent replaced) is shown as *removed*
in the view of the layer that deleted it.

The replay follows the same rules as :mod:`layerscope.union` (whiteouts and
opaque markers act on lower layers first; a non-directory over a directory
hides the whole subtree), and the tests check every layer's view against
``union.replay(layers[: k + 1]).final``.

Directory sizes are never summed per keypress: each directory keeps a
sparse map ``layer -> change of bytes`` (files below it appearing and
disappearing), so its size at any layer is one prefix sum, computed on
first use and cached.
"""

from __future__ import annotations

import enum
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from layerscope.gcpause import paused_gc
from layerscope.model import Entry, EntryType
from layerscope.tui.tree_replay import (
    NEVER,
    Version,
    VersionReplay,
    ancestors,
    as_list,
    parent_of,
)

_DIR = EntryType.DIR
_FILE = EntryType.FILE
_WHITEOUT = EntryType.WHITEOUT
_OPAQUE = EntryType.OPAQUE


class Status(enum.Enum):
    """What the viewed layer did to a path."""

    UNCHANGED = "unchanged"
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"


class Sort(enum.Enum):
    NAME = "name"
    SIZE = "size"


class Node(NamedTuple):
    """A path as seen from one layer."""

    path: str
    version: Version
    status: Status

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]

    @property
    def is_dir(self) -> bool:
        return self.version.entry.type is _DIR


class Row(NamedTuple):
    """One line of the flattened tree: a path and its depth (top level = 0)."""

    path: str
    depth: int
    is_dir: bool


@dataclass(frozen=True, slots=True)
class View:
    """How the tree is looked at: which layer, order and filters."""

    layer: int
    sort: Sort = Sort.NAME
    only_changes: bool = False
    only_waste: bool = False
    query: str = ""
    # Change types the view leaves out (dive's toggles); directories holding a
    # shown change stay.
    hidden: frozenset[Status] = frozenset()
    # Aggregated (dive's "all changes"): statuses against layer ``since``
    # instead of the layer below, so every change of layers since+1..layer shows.
    since: int | None = None


class TreeModel:
    """Versions of every path across the layers, and per-layer queries.

    ``hidden`` are ``(layer, path)`` pairs of stored files whose bytes are
    hidden in the final image (``union.hidden``); ``waste_roots`` paths (and
    everything under them) that findings report as waste still present;
    ``final`` the union's final map, whose ``(layer, entry)`` pairs the
    model shares instead of making its own (8 MiB on 200,000 files).
    Paths have no leading ``/``; the root is ``""``.
    """

    def __init__(
        self,
        layers: Sequence[Sequence[Entry]],
        *,
        hidden: Iterable[tuple[int, str]] = (),
        waste_roots: Iterable[str] = (),
        final: Mapping[str, tuple[int, Entry]] | None = None,
    ) -> None:
        self.layer_count = len(layers)
        self._delta: dict[str, dict[int, int]] = {}
        self._cum: dict[str, tuple[list[int], list[int]]] = {}
        self._changed: dict[int, frozenset[str]] = {}
        self._waste: dict[int, frozenset[str]] = {}
        self._search: dict[tuple[str, int], tuple[frozenset[str], frozenset[str]]] = {}
        self._lower: list[tuple[str, str]] | None = None
        self._listing: dict[tuple[str, View], list[Node]] = {}
        # Hundreds of thousands of small acyclic objects (see gcpause).
        with paused_gc():
            replay = VersionReplay(len(layers), final)
            for index, entries in enumerate(layers):
                replay.apply(index, entries)
            self.versions = replay.versions
            self.children = replay.children
            self.touched = replay.touched
            self.hidden = frozenset(hidden)
            self.waste_roots = tuple(sorted({r.strip("/") for r in waste_roots if r.strip("/")}))
            self._sum_sizes()

    # -- sizes ---------------------------------------------------------------
    def _sum_sizes(self) -> None:
        delta = self._delta
        for path, versions in self.versions.items():
            if isinstance(versions, tuple):  # stored once, never ended
                start, entry = versions
                if entry.type is _FILE and entry.size:
                    d = delta.setdefault(parent_of(path), {})
                    d[start] = d.get(start, 0) + entry.size
                continue
            for v in versions:
                size = v.entry.size
                if v.entry.type is not _FILE or not size or v.start >= v.end:
                    continue
                d = delta.setdefault(parent_of(path), {})
                d[v.start] = d.get(v.start, 0) + size
                if v.end != NEVER:
                    d[v.end] = d.get(v.end, 0) - size
        dirs = sorted((p for p in self.children if p), key=lambda p: p.count("/"), reverse=True)
        for path in dirs:
            below = delta.get(path)
            if not below:
                continue
            up = delta.setdefault(parent_of(path), {})
            for layer, n in below.items():
                up[layer] = up.get(layer, 0) + n

    def dir_size(self, path: str, layer: int) -> int:
        """Bytes of regular files visible under directory ``path`` at ``layer``."""
        cum = self._cum.get(path)
        if cum is None:
            d = self._delta.get(path, {})
            keys = sorted(d)
            sums, total = [], 0
            for k in keys:
                total += d[k]
                sums.append(total)
            cum = self._cum[path] = (keys, sums)
        keys, sums = cum
        i = bisect_right(keys, layer) - 1
        return sums[i] if i >= 0 else 0

    def size(self, node: Node, layer: int) -> int:
        """A node's bytes as the view shows them (a removed node: before removal)."""
        at = node.version.end - 1 if node.status is Status.REMOVED else layer
        if node.version.entry.type is _DIR:
            return self.dir_size(node.path, at)
        return node.version.entry.size if node.version.entry.type is _FILE else 0

    # -- nodes ---------------------------------------------------------------
    def node(self, path: str, layer: int, since: int | None = None) -> Node | None:
        """``path`` as layer ``layer`` shows it: visible, removed there, or None.

        With ``since`` (below ``layer``) the status is against layer ``since``:
        added, modified or removed by any layer after it, up to ``layer``.
        """
        if path == "":
            return Node("", Version(-1, Entry("", _DIR, mode=0o755)), Status.UNCHANGED)
        got = self.versions.get(path)
        if got is None:
            return None
        if isinstance(got, tuple):  # stored once, never ended: the common case
            start, entry = got
            if since is not None and since < layer:
                if start > layer:
                    return None
                status = Status.UNCHANGED if start <= since else Status.ADDED
            elif start > layer:
                return None
            else:
                status = Status.ADDED if start == layer else Status.UNCHANGED
            return Node(path, Version(start, entry), status)
        versions = got
        if since is not None and since < layer:
            return self._node_since(path, versions, layer, since)
        gone: Version | None = None
        for v in versions:
            if v.start <= layer < v.end:
                if v.start != layer:
                    return Node(path, v, Status.UNCHANGED)
                return Node(path, v, Status.MODIFIED if v.replaced else Status.ADDED)
            if v.end == layer and v.removed and v.start < layer:
                gone = v
        return None if gone is None else Node(path, gone, Status.REMOVED)

    @staticmethod
    def _node_since(path: str, versions: list[Version], layer: int, since: int) -> Node | None:
        now = then = None
        for v in versions:
            if v.start <= layer < v.end:
                now = v
            if v.start <= since < v.end:
                then = v
        if now is not None:
            if now is then:
                return Node(path, now, Status.UNCHANGED)
            return Node(path, now, Status.MODIFIED if then is not None else Status.ADDED)
        if then is not None and then.removed:
            return Node(path, then, Status.REMOVED)
        return None

    def visible(self, layer: int) -> dict[str, Entry]:
        """Every path visible at ``layer`` with its entry (the merged filesystem)."""
        out = {}
        for path, versions in self.versions.items():
            for v in as_list(versions):
                if v.start <= layer < v.end:
                    out[path] = v.entry
                    break
        return out

    def is_waste(self, node: Node) -> bool:
        """True when the node's stored bytes are hidden later or a finding calls them waste."""
        if (node.version.start, node.path) in self.hidden:
            return True
        return self._under_waste_root(node.path)

    def _under_waste_root(self, path: str) -> bool:
        return any(path == r or path.startswith(r + "/") for r in self.waste_roots)

    # -- per-layer path sets (computed on first use) --------------------------
    def changed_dirs(self, layer: int, since: int | None = None) -> frozenset[str]:
        """Directories holding something that ``layer`` (or, with ``since``, any
        layer after ``since`` up to ``layer``) added, modified or removed."""
        first = layer if since is None or since >= layer else since + 1
        key = layer if first == layer else -1 - (first * self.layer_count + layer)
        got = self._changed.get(key)
        if got is None:
            out: set[str] = set()
            touched = (p for k in range(first, layer + 1) for p in self.touched[k])
            for path in touched:
                for a in ancestors(path):
                    if a in out:
                        break
                    out.add(a)
            got = self._changed[key] = frozenset(out)
        return got

    def waste_dirs(self, layer: int) -> frozenset[str]:
        """Directories holding waste that ``layer``'s view shows."""
        got = self._waste.get(layer)
        if got is None:
            out: set[str] = set()
            paths = [p for stored, p in self.hidden if stored <= layer]
            paths.extend(self.waste_roots)
            for path in paths:
                node = self.node(path, layer)
                if node is None or (
                    path not in self.waste_roots and (node.version.start, path) not in self.hidden
                ):
                    continue
                for a in ancestors(path):
                    if a in out:
                        break
                    out.add(a)
            got = self._waste[layer] = frozenset(out)
        return got

    def search(self, query: str, layer: int) -> tuple[frozenset[str], frozenset[str]]:
        """Paths shown at ``layer`` whose path contains ``query`` (any case), and
        the directories above them. ``re:PATTERN`` searches with a regular
        expression (any case); a bad pattern matches nothing."""
        q = query.lower()
        key = (q, layer)
        pattern = None
        if query.startswith("re:"):
            try:
                pattern = re.compile(query[3:], re.IGNORECASE)
            except re.error:
                return frozenset(), frozenset()
        got = self._search.get(key)
        if got is not None:
            return got
        if self._lower is None:
            self._lower = [(p.lower(), p) for p in self.versions]
        matches: set[str] = set()
        above: set[str] = set()
        for low, path in self._lower:
            hit = pattern.search(path) is not None if pattern is not None else q in low
            if hit and self.node(path, layer) is not None:
                matches.add(path)
                for a in ancestors(path):
                    if a in above:
                        break
                    above.add(a)
        if len(self._search) > 32:
            self._search.clear()
        got = self._search[key] = (frozenset(matches), frozenset(above))
        return got

    # -- listing and flattening ----------------------------------------------
    def _shown(self, node: Node, view: View) -> bool:
        path = node.path
        layer = view.layer
        if (
            view.only_changes
            and node.status is Status.UNCHANGED
            and path not in self.changed_dirs(layer, view.since)
        ):
            return False
        if view.only_waste and not self.is_waste(node) and path not in self.waste_dirs(layer):
            return False
        if node.status in view.hidden and not (
            node.is_dir
            and node.status is Status.UNCHANGED
            and path in self.changed_dirs(layer, view.since)
        ):
            return False
        if view.query:
            matches, above = self.search(view.query, view.layer)
            if path not in matches and path not in above:
                return False
        return True

    def children_at(self, path: str, view: View) -> list[Node]:
        """The children of directory ``path`` the view shows, in the view's order."""
        key = (path, view)
        got = self._listing.get(key)
        if got is not None:
            return got
        nodes = []
        for child in self.children.get(path, ()):
            node = self.node(child, view.layer, view.since)
            if node is not None and self._shown(node, view):
                nodes.append(node)
        if view.sort is Sort.SIZE:
            nodes.sort(key=lambda n: (-self.size(n, view.layer), n.path))
        else:
            nodes.sort(key=lambda n: (not n.is_dir, n.path))
        if len(self._listing) > 512:
            self._listing.clear()
        self._listing[key] = nodes
        return nodes

    def rows(self, view: View, expanded: set[str] | frozenset[str], under: str = "") -> list[Row]:
        """The flattened tree below ``under``: the children of every expanded
        directory, depth first in display order."""
        depth = under.count("/") + 1 if under else 0
        out: list[Row] = []
        frames = [iter(self.children_at(under, view))]
        while frames:
            node = next(frames[-1], None)
            if node is None:
                frames.pop()
                continue
            is_dir = node.is_dir
            out.append(Row(node.path, depth + len(frames) - 1, is_dir))
            if is_dir and node.path in expanded:
                frames.append(iter(self.children_at(node.path, view)))
        return out


def build(
    layers: Sequence[Sequence[Entry]],
    *,
    hidden: Iterable[tuple[int, str]] = (),
    waste_roots: Iterable[str] = (),
) -> TreeModel:
    """The tree model of an image's layers (entry lists, lowest first)."""
    return TreeModel(layers, hidden=hidden, waste_roots=waste_roots)
