"""The replay's change log: entries stand for their ADDED change, and
UnionFS.changes spells every change out as a PathChange, in order."""

from __future__ import annotations

from layerscope.model import Entry, EntryType
from layerscope.tallies import file_changes
from layerscope.union import Change, PathChange, replay

F, D = EntryType.FILE, EntryType.DIR


def test_changes_spell_out_the_log_in_order() -> None:
    lower = [Entry("a", D), Entry("a/x", F, 10), Entry("b", F, 3)]
    upper = [
        Entry("b", EntryType.WHITEOUT),
        Entry("a/x", F, 12),  # modified
        Entry("n/m/new", F, 5),  # added, with two parent directories made up
        Entry("a", D),  # directory metadata
        Entry("l", EntryType.SYMLINK, linkname="a"),
    ]
    union = replay([lower, upper])
    assert union.changes[0] == [
        PathChange("a", Change.ADDED, D, 0),
        PathChange("a/x", Change.ADDED, F, 10),
        PathChange("b", Change.ADDED, F, 3),
    ]
    assert union.changes[1] == [
        PathChange("b", Change.REMOVED, F, 3),
        PathChange("a/x", Change.MODIFIED, F, 12),
        PathChange("n", Change.ADDED, D, 0),
        PathChange("n/m", Change.ADDED, D, 0),
        PathChange("n/m/new", Change.ADDED, F, 5),
        PathChange("a", Change.MODIFIED, D, 0),
        PathChange("l", Change.ADDED, EntryType.SYMLINK, 0),
    ]
    assert all(type(c) is PathChange for layer in union.changes for c in layer)
    assert union.changes is union.changes  # made once
    # The log keeps the entries of plain additions as they are.
    assert union.log[0][1] is lower[1] and union.log[1][4] is upper[2]


def test_file_changes_count_what_changes_hold() -> None:
    lower = [Entry("f", F, 7), Entry("g", F, 1), Entry("d", D)]
    upper = [Entry("f", F, 9), Entry("h", F, 4), Entry("d/i", F, 2), Entry("g", EntryType.DIR)]
    union = replay([lower, upper])
    for log, changes in zip(union.log, union.changes, strict=True):
        added = [c.size for c in changes if c.change is Change.ADDED and c.type is F]
        modified = [c.size for c in changes if c.change is Change.MODIFIED and c.type is F]
        assert file_changes(log) == (len(added), sum(added), len(modified), sum(modified))
    assert file_changes(union.log[1]) == (2, 6, 1, 9)
