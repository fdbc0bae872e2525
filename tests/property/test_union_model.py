"""layerscope.union.replay against a real extraction of the same layers.

Random layer stacks (whiteouts, opaque directories, hard links, symlinks,
type changes in every direction) are extracted into a temp directory by a
reference applier (tests/property/applier.py); the replay must agree on the
final tree (every path, its type, its content digest or link target) and on
the hidden bytes: exactly the stored files whose content shows nowhere in
the extracted tree.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerscope.model import EntryType
from layerscope.union import UnionFS, replay
from tests.property.applier import Node, apply_layer, tree
from tests.property.layers import Stack, stacks

_KIND = {
    EntryType.DIR: "dir",
    EntryType.FILE: "file",
    EntryType.HARDLINK: "file",
    EntryType.SYMLINK: "symlink",
    EntryType.FIFO: "fifo",
}


def union_tree(union: UnionFS) -> dict[str, Node]:
    out = {}
    for path, (_, e) in union.final.items():
        kind = _KIND[e.type]
        detail = e.linkname if kind == "symlink" else (e.digest or "") if kind == "file" else ""
        out[path] = Node(kind, detail)
    return out


def extract(stack: Stack) -> dict[str, Node]:
    with tempfile.TemporaryDirectory(prefix="layerscope-applier-") as tmp:
        root = Path(tmp) / "rootfs"
        root.mkdir()
        for layer in stack.layers:
            apply_layer(root, layer, stack.contents)
        return tree(root)


def expected_hidden(stack: Stack, final: dict[str, Node]) -> Counter[tuple[int, str, int]]:
    visible = {n.detail for n in final.values() if n.kind == "file"}
    return Counter(
        (i, e.path, e.size)
        for i, layer in enumerate(stack.layers)
        for e in layer
        if e.type is EntryType.FILE and e.digest not in visible
    )


def check(stack: Stack) -> None:
    final = extract(stack)
    union = replay(stack.layers)
    story = stack.describe()
    assert union_tree(union) == final, story
    got = Counter((h.layer, h.path, h.size) for h in union.hidden)
    assert got == expected_hidden(stack, final), story


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_replay_matches_a_real_extraction(stack: Stack) -> None:
    check(stack)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks(max_layers=8, max_ops=20))
def test_replay_matches_on_taller_stacks(stack: Stack) -> None:
    check(stack)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks(implicit_parents=True))
def test_replay_matches_with_implicit_parents(stack: Stack) -> None:
    """Members without their parents' directory entries: the replay's
    documented rule (a non-directory in the way becomes a directory) applied
    for real by the reference."""
    check(stack)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(stacks(), stacks(implicit_parents=True), stacks(max_layers=8, max_ops=20)))
def test_exactly_the_directories_have_children_sets(stack: Stack) -> None:
    """The replay finds a new path's directory through its children set
    (issue 15): after every layer, the paths with one are exactly the
    directories of the state, and each set holds exactly their children."""
    from layerscope.union import _Replay

    r = _Replay()
    for index, layer in enumerate(stack.layers):
        r.apply(index, layer)
        dirs = {p for p, (_, e) in r.state.items() if e.type is EntryType.DIR}
        assert set(r.children) == dirs | {""}
        for d, kids in r.children.items():
            assert kids == {p for p in r.state if p and p.rpartition("/")[0] == d}


def _replayed(layers: list[list[object]], fast: bool) -> tuple[object, ...]:
    from layerscope import union

    saved = union._add_new
    if not fast:
        union._add_new = None
    try:
        r = union._Replay()
        for index, layer in enumerate(layers):
            r.apply(index, layer)  # type: ignore[arg-type]
    finally:
        union._add_new = saved
    return (
        list(r.state.items()),
        r.hidden,
        [[(type(x).__name__, tuple(x)) for x in log] for log in r.log],
        {k: sorted(v) for k, v in r.children.items()},
        r.links,
        r.saw_links,
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(stacks(), stacks(implicit_parents=True), stacks(max_layers=8, max_ops=20)))
def test_the_c_common_case_replays_as_python_does(stack: Stack) -> None:
    """layerscope/_union.c (issue 15) changes the state, the hidden files, the
    change log (order and types) and the children sets exactly as the Python
    loop does, on every kind of stack."""
    from layerscope import union

    if union._add_new is None:
        pytest.skip("the C replay was not built")
    layers = [list(layer) for layer in stack.layers]
    assert _replayed(layers, fast=True) == _replayed(layers, fast=False)


def _tallied(union: UnionFS, image_layers: list[list[object]], fast: bool) -> tuple[object, ...]:
    from layerscope import tallies as module

    saved = module._tally
    if not fast:
        module._tally = None
    try:
        return (
            [module.file_totals(layer) for layer in image_layers],  # type: ignore[arg-type]
            [module.file_changes(log) for log in union.log],
            module.final_columns(union.final),
            module.shared_digests(list(union.final.values())),
        )
    finally:
        module._tally = saved


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(stacks(), stacks(implicit_parents=True), stacks(max_layers=8, max_ops=20)))
def test_the_c_tallies_count_as_python_does(stack: Stack) -> None:
    """layerscope/_union.c's tallies (file counts and bytes of the layers and
    of their change logs, the final filesystem's columns, the nodes whose
    digest another has) are the Python loops' results; the joined text is
    the paths' (PathText builds it itself when the C side leaves it out)."""
    from layerscope import tallies as module
    from layerscope.rules.paths import PathText

    if module._tally is None:
        pytest.skip("the C tallies were not built")
    layers = [list(layer) for layer in stack.layers]
    result = replay(stack.layers)
    fast = _tallied(result, layers, fast=True)
    slow = _tallied(result, layers, fast=False)
    assert fast[:2] == slow[:2]
    assert fast[3] == slow[3]
    paths, nodes, types, text = fast[2]  # type: ignore[misc]
    assert (paths, nodes, types) == slow[2][:3]  # type: ignore[index]
    assert text == PathText(paths)._text


def test_the_c_text_is_left_to_python_for_newlines_and_wide_characters() -> None:
    from layerscope import tallies as module
    from layerscope.model import Entry
    from layerscope.rules.paths import FinalPaths

    if module._tally is None:
        pytest.skip("the C tallies were not built")
    for odd, made in (("a\nb", None), ("\u0100x", None), ("é", "\né\nz\n"), ("a", "\na\nz\n")):
        final = {odd: (0, Entry(odd, EntryType.FILE, 3)), "z": (0, Entry("z", EntryType.DIR))}
        assert module.final_columns(final)[3] == made
        paths = FinalPaths(final)
        assert paths.text._text == (None if "\n" in odd else f"\n{odd}\nz\n")
        assert paths.types == [EntryType.FILE, EntryType.DIR]


def test_shared_digests_picks_every_copy_and_only_copies() -> None:
    from layerscope import tallies as module
    from layerscope.model import Entry

    def node(digest: str | None) -> tuple[int, Entry]:
        return (0, Entry("p", EntryType.FILE, 5000, digest=digest))

    nodes = [node("a"), node(None), node("b"), node("a"), node(None), node("c"), node("a")]
    nodes += [node("b")]
    saved = module._tally
    try:
        for tally in (saved, None):
            module._tally = tally
            assert module.shared_digests(nodes) == [0, 2, 3, 6, 7]
    finally:
        module._tally = saved
