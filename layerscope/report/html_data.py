"""The data the HTML report embeds: a pure mapping of the analysis to plain
JSON-ready values (the page's script draws everything from it).

Every text that comes from the image (paths, commands, messages) goes
through :func:`layerscope.names.printable`, so control characters, raw
bytes and bidi overrides arrive as visible escapes; the page only ever sets
it as text, never as markup.

The treemap tree holds the final filesystem plus the hidden copies (bytes
stored by a layer and hidden by a later one), by directory. A big image
keeps its ``MAX_LEAVES`` biggest files as their own rectangles; every other
file is summed into one rectangle per directory (or per subdirectory that
holds no big file), so the page stays small while every figure stays exact:
a directory's bytes are the exact sum of everything under it.

Tree nodes are compact arrays: a directory is ``[name, bytes, wasted bytes,
children]``, a leaf ``[name, bytes, layer, flags, files]`` (see the flags
below; a leaf is either wholly visible or wholly hidden).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from layerscope import __version__
from layerscope.analysis import Analysis
from layerscope.base.attribution import Side, finding_origin, layer_origin, split
from layerscope.model import EntryType
from layerscope.names import printable
from layerscope.report.layer_command import layer_command
from layerscope.report.summary import relation, verdict
from layerscope.rules.types import Kind

DATA_VERSION = 1
MAX_LEAVES = 20_000
MAX_FINDINGS = 500
MAX_FINDING_PATHS = 20
# A hostile layer may nest directories thousands deep and name a file with
# 64 KiB: files deeper than MAX_DEPTH are summed at that depth, and a name
# longer than MAX_NAME characters is cut (the bytes stay exact).
MAX_DEPTH = 48
MAX_NAME = 255

WASTED = 1  # a hidden copy: stored by ``layer``, hidden by a later layer
CACHE = 2  # a package cache still in the final filesystem
AGGREGATE = 4  # several files summed (``files`` says how many)
SUBTREE = 8  # an aggregate of a whole subdirectory (``name`` is its name)


def text(value: str) -> str:
    """One line of image text, safe to show: escapes for controls and raw bytes."""
    return printable(value)


def name(value: str) -> str:
    """A file or directory name for the treemap: printable, cut to MAX_NAME."""
    shown = printable(value)
    return shown if len(shown) <= MAX_NAME else shown[: MAX_NAME - 1] + "…"


def lines(value: str) -> str:
    """Multi-line image text (a fix): each line made printable, newlines kept."""
    return "\n".join(printable(line) for line in value.split("\n"))


class _Dir:
    __slots__ = ("dirs", "leaves", "rest")

    def __init__(self) -> None:
        self.dirs: dict[str, _Dir] = {}
        self.leaves: list[list[Any]] = []
        # (name of a subdirectory, or "" for the direct files, flags) ->
        # [bytes, files, bytes per layer]
        self.rest: dict[tuple[str, int], list[Any]] = {}


def _files(result: Analysis) -> list[tuple[str, int, int, int]]:
    """(path, bytes, layer, flags) of every visible file and hidden copy."""
    cache: set[str] = set()
    for f in result.findings:
        if f.kind is Kind.PACKAGE_CACHE:
            cache.update(f.claims)
    file = EntryType.FILE
    out = [
        (path, entry.size, layer, CACHE if path in cache else 0)
        for path, (layer, entry) in result.union.final.items()
        if entry.type is file
    ]
    out.extend((h.path, h.size, h.layer, WASTED) for h in result.union.hidden)
    return out


File = tuple[str, int, int, int]  # (path, bytes, layer, flags)


def _split(files: list[File], max_leaves: int) -> tuple[list[File], list[File]]:
    """The ``max_leaves`` biggest non-empty files (ties by path) and the rest.

    Only the sizes are sorted in full: a sort of 200,000 keyed tuples costs
    a second, of their ints a tenth of that.
    """
    deep = [f for f in files if f[0].count("/") >= MAX_DEPTH]
    if deep:
        files = [f for f in files if f[0].count("/") < MAX_DEPTH]
    kept, small = _biggest(files, max_leaves)
    return kept, small + deep


def _biggest(files: list[File], max_leaves: int) -> tuple[list[File], list[File]]:
    if len(files) <= max_leaves:
        return [f for f in files if f[1] > 0], [f for f in files if f[1] <= 0]
    cut = sorted((f[1] for f in files), reverse=True)[max_leaves - 1]
    kept = [f for f in files if f[1] > cut]
    ties = sorted((f for f in files if f[1] == cut), key=lambda f: (f[0], f[3], f[2]))
    room = max_leaves - len(kept) if cut > 0 else 0
    kept += ties[:room]
    return kept, [f for f in files if f[1] < cut] + ties[room:]


def _spot(root: _Dir, parent: str) -> tuple[_Dir, str]:
    """Where files of directory ``parent`` are summed: the deepest directory
    the tree holds on the way, and the name of its child they fall under
    (``""`` when ``parent`` itself is in the tree)."""
    node = root
    if not parent:
        return node, ""
    for part in parent.split("/", MAX_DEPTH)[:MAX_DEPTH]:
        child = node.dirs.get(part)
        if child is None:
            return node, part
        node = child
    return node, ""


def build_tree(files: Iterable[File], max_leaves: int = MAX_LEAVES) -> list[Any]:
    """The treemap tree of ``files`` ((path, bytes, layer, flags)): the
    ``max_leaves`` biggest files on their own, the rest summed per directory."""
    kept, small = _split(list(files), max_leaves)
    root = _Dir()
    for path, size, layer, flags in kept:
        *parents, base = path.split("/")
        node = root
        for part in parents:
            child = node.dirs.get(part)
            if child is None:
                child = node.dirs[part] = _Dir()
            node = child
        node.leaves.append([name(base), size, layer, flags, 1])
    # Sum the small files per (directory, flags, layer) first, then place each sum.
    sums: dict[tuple[str, int, int], list[int]] = {}
    for path, size, layer, flags in small:
        key = (path.rpartition("/")[0], flags, layer)
        slot = sums.get(key)
        if slot is None:
            sums[key] = [size, 1]
        else:
            slot[0] += size
            slot[1] += 1
    spots: dict[str, tuple[_Dir, str]] = {}
    for (parent, flags, layer), (size, count) in sums.items():
        spot = spots.get(parent)
        if spot is None:
            spot = spots[parent] = _spot(root, parent)
        node, sub = spot
        rest = node.rest.get((sub, flags))
        if rest is None:
            rest = node.rest[(sub, flags)] = [0, 0, {}]
        rest[0] += size
        rest[1] += count
        rest[2][layer] = rest[2].get(layer, 0) + size
    return _emit("/", root)


def _emit(label: str, node: _Dir) -> list[Any]:
    kids: list[list[Any]] = [_emit(name(n), d) for n, d in node.dirs.items()]
    kids.extend(node.leaves)
    for (sub, flags), (size, files, per_layer) in node.rest.items():
        layer = min(per_layer, key=lambda i: (-per_layer[i], i))
        kind = AGGREGATE | (SUBTREE if sub else 0)
        kids.append([name(sub), size, layer, flags | kind, files])
    kids.sort(key=_order)
    size = sum(k[1] for k in kids)
    wasted = sum(_wasted(k) for k in kids)
    return [label, size, wasted, kids]


def _wasted(node: list[Any]) -> int:
    if len(node) == 4:
        return int(node[2])
    return int(node[1]) if node[3] & WASTED else 0


def _order(node: list[Any]) -> tuple[int, str, int, int]:
    # Biggest first; a directory before a leaf of the same name and size;
    # then by flags and layer, so that equal names never tie.
    if len(node) == 4:
        return (-node[1], node[0], 0, 0)
    return (-node[1], node[0], node[3] + 1, node[2])


def _side(side: Side) -> dict[str, Any]:
    return {
        "layers": side.layer_count,
        "total": side.total_bytes,
        "final": side.final_bytes,
        "wasted": side.wasted_bytes,
        "reclaimable": side.reclaimable_bytes,
        "findings": side.finding_count,
    }


def _download(result: Analysis) -> int | None:
    """The stored layer blobs' bytes, when every layer's is known."""
    layers = result.image.layers
    if not layers or any(layer.compressed_bytes <= 0 for layer in layers):
        return None
    return sum(layer.compressed_bytes for layer in layers)


def _layers(result: Analysis) -> list[dict[str, Any]]:
    image = result.image
    out = []
    for layer, stats in zip(image.layers, result.layers, strict=True):
        instruction, command = layer_command(result, layer.index, compact=False)
        out.append(
            {
                "index": layer.index,
                "bytes": stats.content_bytes,
                "wasted": stats.wasted_bytes,
                "added": stats.added_bytes,
                "modified": stats.modified_bytes,
                "removed": stats.removed_bytes,
                "files": stats.file_count,
                "origin": layer_origin(result, layer.index).value,
                "instruction": instruction.value if instruction is not None else "",
                "command": text(" ".join(command.split())),
            }
        )
    return out


def _findings(result: Analysis) -> list[dict[str, Any]]:
    return [
        {
            "rule": f.rule,
            "kind": f.kind.value,
            "severity": f.severity.label,
            "bytes": f.bytes,
            "layer": f.layer,
            "hidden_by": f.hidden_by,
            "reclaimable": f.reclaimable,
            "origin": finding_origin(result, f).value,
            "paths": [text(p) for p in f.paths[:MAX_FINDING_PATHS]],
            "path_count": max(f.path_count, len(f.paths)),
            "message": text(" ".join(f.message.split())),
            "fix": lines(f.fix),
            "location": None
            if f.location is None
            else {"file": text(f.location[0]), "line": f.location[1]},
        }
        for f in result.findings[:MAX_FINDINGS]
    ]


def page_data(result: Analysis) -> dict[str, Any]:
    """Everything the HTML page shows, as plain data (sizes exact in bytes)."""
    image = result.image
    s = result.summary
    parts = split(result)
    budgets = sorted(
        result.budgets, key=lambda b: (b.passed, b.severity != "fail")
    )  # failures first, then warnings, then passes (stable within)
    return {
        "version": DATA_VERSION,
        "tool": f"layerscope {__version__}",
        "kind": "image",
        "image": {
            "reference": text(image.reference),
            "id": image.id,
            "platform": "/".join(p for p in (image.os, image.architecture, image.variant) if p),
        },
        "summary": {
            "total": s.total_bytes,
            "final": s.final_bytes,
            "wasted": s.wasted_bytes,
            "removed": s.removed_bytes,
            "overwritten": s.overwritten_bytes,
            "reclaimable": s.reclaimable_bytes,
            "efficiency": round(s.efficiency, 6),
            "layers": s.layer_count,
            "files": s.file_count,
            "download": _download(result),
            "base": _side(parts.base),
            "own": _side(parts.own),
            "base_reference": text(result.base_reference) if result.base_reference else None,
            "base_layers": result.base_layer_count,
        },
        "budgets": [
            {
                "name": b.name,
                "verdict": verdict(b),
                "relation": text(relation(b)),
                "limit": b.limit,
                "actual": b.actual,
            }
            for b in budgets
        ],
        "passed": result.passed,
        "dockerfile": text(result.dockerfile) if result.dockerfile else None,
        "layers": _layers(result),
        "tree": build_tree(_files(result)),
        "findings": _findings(result),
        "finding_count": len(result.findings),
        "warnings": [text(w) for w in (*image.warnings, *result.warnings)],
    }
