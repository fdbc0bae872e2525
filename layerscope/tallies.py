"""Counts over entries and a replay's results: the per-entry loops of the
analysis, in C (``layerscope/_union.c``, api 3) when it is built, else the
same loops in Python (the property tests compare the two)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from layerscope.model import Entry, EntryType
from layerscope.union import Change, ChangeLog, PathChange

_tally: Any = None  # the tallies in C, when built
try:
    from layerscope import _union

    _tally = _union if getattr(_union, "api", 1) >= 3 else None
except ImportError:  # pragma: no cover - built without a compiler
    pass

_FILE = EntryType.FILE
_ADDED = Change.ADDED
_MODIFIED = Change.MODIFIED


def file_totals(entries: Sequence[Entry]) -> tuple[int, int]:
    """``(count, bytes)`` of the regular files among ``entries``."""
    if _tally is not None:
        totals: tuple[int, int] = _tally.tally_files(entries, _FILE)
        return totals
    files = content = 0
    for e in entries:
        if e.type is _FILE:
            files += 1
            content += e.size
    return files, content


def final_columns(
    final: dict[str, tuple[int, Entry]],
) -> tuple[list[str], list[tuple[int, Entry]], list[EntryType], str | None]:
    """The final filesystem as lists in its order, ``(paths, nodes, types,
    text)``: ``text`` is the paths as ``"\\npath0\\n...\\npathN\\n"``, or None
    when it was not made here (no C tallies, a path with a newline or a
    character past U+00FF: the caller makes and checks it)."""
    if _tally is not None:
        columns: tuple[list[str], list[tuple[int, Entry]], list[EntryType], str | None]
        columns = _tally.final_columns(final)
        return columns
    nodes = list(final.values())
    return list(final), nodes, [entry.type for _, entry in nodes], None


def shared_digests(nodes: list[tuple[int, Entry]]) -> list[int]:
    """Indices, ascending, of the ``(layer, entry)`` nodes whose entry's
    content digest another node's entry has too."""
    if _tally is not None:
        hits: list[int] = _tally.shared_digests(nodes)
        return hits
    seen = Counter(entry.digest for _, entry in nodes)
    seen.pop(None, None)
    return [i for i, (_, entry) in enumerate(nodes) if seen.get(entry.digest, 0) > 1]


def file_changes(log: ChangeLog) -> tuple[int, int, int, int]:
    """The regular files a layer added and modified, read off its log without
    making its PathChanges: ``(added, added bytes, modified, modified bytes)``."""
    if _tally is not None:
        changes: tuple[int, int, int, int] = _tally.tally_changes(
            log, PathChange, _FILE, _ADDED, _MODIFIED
        )
        return changes
    added = added_bytes = modified = modified_bytes = 0
    for item in log:
        if item.type is _FILE:
            if type(item) is not PathChange or item.change is _ADDED:
                added += 1
                added_bytes += item.size
            elif item.change is _MODIFIED:
                modified += 1
                modified_bytes += item.size
    return added, added_bytes, modified, modified_bytes
