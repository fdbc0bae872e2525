"""The tree model: every layer's view equals a replay of the layers up to it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from layerscope.model import Entry, EntryType
from layerscope.tui.tree_model import Sort, Status, TreeModel, View
from layerscope.union import replay

D, F, L, W, OPQ = (
    EntryType.DIR,
    EntryType.FILE,
    EntryType.SYMLINK,
    EntryType.WHITEOUT,
    EntryType.OPAQUE,
)


def f(path: str, size: int = 10) -> Entry:
    return Entry(path, F, size)


def d(path: str, mode: int = 0o755) -> Entry:
    return Entry(path, D, mode=mode)


def wh(path: str) -> Entry:
    return Entry(path, W)


def opq(path: str) -> Entry:
    return Entry(path, OPQ)


def assert_matches_replay(layers: list[list[Entry]]) -> TreeModel:
    model = TreeModel(layers)
    # Sharing the union's (layer, entry) pairs changes nothing but memory.
    shared = TreeModel(layers, final=replay(layers).final)
    for k in range(len(layers)):
        assert shared.visible(k) == model.visible(k), k
        assert shared.dir_size("", k) == model.dir_size("", k), k
        expected = replay(layers[: k + 1]).final
        got = model.visible(k)
        assert set(got) == set(expected), k
        for path, (_, entry) in expected.items():
            if entry.type is not D:
                assert got[path] == entry, (k, path)
            else:
                assert got[path].type is D
        files = sum(e.size for _, e in expected.values() if e.type is F)
        assert model.dir_size("", k) == files, k
    return model


LAYERS = [
    [d("etc"), f("etc/passwd", 100), d("tmp"), d("tmp/dl"), f("tmp/dl/a.tar", 3000)],
    [d("opt"), f("opt/tool", 500), f("etc/passwd", 120)],
    [wh("tmp/dl"), d("etc", mode=0o700)],
    [opq("etc"), d("etc"), f("etc/hosts", 7)],
]


def test_views_follow_the_union_rules() -> None:
    model = assert_matches_replay(LAYERS)
    view = View(layer=2)
    names = [n.path for n in model.children_at("", view)]
    assert names == ["etc", "opt", "tmp"]
    tmp = [n.path for n in model.children_at("tmp", view)]
    assert tmp == ["tmp/dl"]
    node = model.node("tmp/dl", 2)
    assert node is not None and node.status is Status.REMOVED
    # The removed directory shows what it held before the removal.
    assert model.size(node, 2) == 3000
    gone = model.node("tmp/dl/a.tar", 2)
    assert gone is not None and gone.status is Status.REMOVED
    assert model.node("tmp/dl", 3) is None
    assert model.node("tmp/dl/a.tar", 3) is None


def test_status_added_modified_unchanged() -> None:
    model = TreeModel(LAYERS)
    passwd = model.node("etc/passwd", 0)
    assert passwd is not None and passwd.status is Status.ADDED
    passwd = model.node("etc/passwd", 1)
    assert passwd is not None and passwd.status is Status.MODIFIED
    passwd = model.node("etc/passwd", 2)
    assert passwd is not None and passwd.status is Status.UNCHANGED
    etc = model.node("etc", 2)  # the mode changed
    assert etc is not None and etc.status is Status.MODIFIED
    assert model.node("etc/passwd", 3) is not None
    assert model.node("etc/passwd", 3).status is Status.REMOVED  # type: ignore[union-attr]


def test_restated_directory_is_not_a_change() -> None:
    model = TreeModel([[d("usr"), f("usr/a")], [d("usr"), f("usr/b")]])
    usr = model.node("usr", 1)
    assert usr is not None and usr.status is Status.UNCHANGED
    assert model.changed_dirs(1) == {"", "usr"}
    assert model.touched[1] == ["usr/b"]


def test_dir_sizes_per_layer() -> None:
    model = TreeModel(LAYERS)
    assert [model.dir_size("tmp", k) for k in range(4)] == [3000, 3000, 0, 0]
    assert [model.dir_size("etc", k) for k in range(4)] == [100, 120, 120, 7]
    assert [model.dir_size("", k) for k in range(4)] == [3100, 3620, 620, 507]


def test_non_directory_over_directory_and_back() -> None:
    assert_matches_replay(
        [
            [d("a"), d("a/b"), f("a/b/c", 5)],
            [f("a", 9)],
            [f("a/x", 4)],  # an implicit parent replaces the file
            [wh("a")],
        ]
    )


def test_same_layer_rewrite_and_readd() -> None:
    model = assert_matches_replay(
        [[f("x", 1), f("x", 2)], [wh("x"), f("x", 3)], [f("y", 1), wh("y")]]
    )
    x = model.node("x", 0)
    assert x is not None and x.status is Status.ADDED
    x = model.node("x", 1)
    assert x is not None and x.status is Status.MODIFIED and x.version.entry.size == 3


def test_filters_only_changes_only_waste_and_search() -> None:
    model = TreeModel(LAYERS, hidden=[(0, "tmp/dl/a.tar"), (1, "etc/passwd")])
    changes = View(layer=1, only_changes=True)
    assert [n.path for n in model.children_at("", changes)] == ["etc", "opt"]
    assert [n.path for n in model.children_at("etc", changes)] == ["etc/passwd"]
    waste = View(layer=0, only_waste=True)
    assert [n.path for n in model.children_at("", waste)] == ["tmp"]
    assert model.rows(waste, {"tmp", "tmp/dl"}) == [
        ("tmp", 0, True),
        ("tmp/dl", 1, True),
        ("tmp/dl/a.tar", 2, False),
    ]
    found = View(layer=1, query="PASS")
    assert [r.path for r in model.rows(found, {"etc"})] == ["etc", "etc/passwd"]
    assert model.rows(View(layer=1, query="nothing-like-this"), set()) == []


def test_waste_roots_mark_a_subtree() -> None:
    model = TreeModel(
        [[d("var"), d("var/cache"), f("var/cache/a.deb", 50), f("var/log", 2)]],
        waste_roots=["/var/cache"],
    )
    node = model.node("var/cache/a.deb", 0)
    assert node is not None and model.is_waste(node)
    log = model.node("var/log", 0)
    assert log is not None and not model.is_waste(log)
    rows = model.rows(View(layer=0, only_waste=True), {"var", "var/cache"})
    assert [r.path for r in rows] == ["var", "var/cache", "var/cache/a.deb"]


def test_sort_by_size_and_expand() -> None:
    model = TreeModel([[d("big"), f("big/x", 900), f("small", 10), f("mid", 100), d("empty")]])
    by_name = model.rows(View(layer=0), set())
    assert [r.path for r in by_name] == ["big", "empty", "mid", "small"]
    by_size = model.rows(View(layer=0, sort=Sort.SIZE), {"big"})
    assert [(r.path, r.depth) for r in by_size] == [
        ("big", 0),
        ("big/x", 1),
        ("mid", 0),
        ("small", 0),
        ("empty", 0),
    ]
    assert [r.path for r in model.rows(View(layer=0), set(), under="big")] == ["big/x"]


_names = st.sampled_from(["a", "b", "c"])
_paths = st.lists(_names, min_size=1, max_size=3).map("/".join)
_entries = st.one_of(
    st.builds(lambda p, n: Entry(p, F, n), _paths, st.integers(0, 50)),
    st.builds(lambda p, m: Entry(p, D, mode=m), _paths, st.sampled_from([0o755, 0o700])),
    st.builds(lambda p: Entry(p, L, linkname="x"), _paths),
    st.builds(lambda p: Entry(p, W), _paths),
    st.builds(lambda p: Entry(p, OPQ), _paths),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_entries, max_size=6), min_size=1, max_size=5))
def test_every_layer_view_matches_replay(layers: list[list[Entry]]) -> None:
    assert_matches_replay(layers)


def test_deep_paths_do_not_recurse() -> None:
    deep = "/".join(["d"] * 5000)
    model = assert_matches_replay([[f(deep + "/x", 3)], [wh("d")]])
    assert model.dir_size("", 0) == 3
    gone = model.node(deep, 1)
    assert gone is not None and gone.status is Status.REMOVED


def test_aggregated_view_shows_every_change_since_a_layer() -> None:
    """dive's aggregated view: statuses against an earlier layer, not the one below."""
    layers = [
        [d("etc"), f("etc/os", 5), d("usr")],
        [f("usr/curl", 50)],
        [d("tmp"), f("tmp/src.tgz", 900), f("usr/main", 7)],
        [wh("tmp/src.tgz")],
        [f("usr/main", 8), f("etc/os", 6)],
    ]
    model = TreeModel(layers)

    def status(path: str, layer: int, since: int | None) -> Status | None:
        node = model.node(path, layer, since)
        return None if node is None else node.status

    # Against layer 0: everything later layers made is added, what they
    # changed of layer 0 modified; a file added and removed in between is gone.
    assert status("usr/curl", 4, 0) is Status.ADDED
    assert status("usr/main", 4, 0) is Status.ADDED
    assert status("etc/os", 4, 0) is Status.MODIFIED
    assert status("usr", 4, 0) is Status.UNCHANGED
    assert status("tmp/src.tgz", 4, 0) is None
    # Against layer 2: the archive's removal and the rewrite both show.
    assert status("tmp/src.tgz", 4, 2) is Status.REMOVED
    assert status("usr/main", 4, 2) is Status.MODIFIED
    assert status("usr/curl", 4, 2) is Status.UNCHANGED
    # The per-layer view is unchanged, and "only changes" follows `since`.
    assert status("usr/curl", 4, None) is Status.UNCHANGED
    rows = {r.path for r in model.rows(View(4, only_changes=True, since=0), {"usr", "etc"})}
    assert {"usr/curl", "usr/main", "etc/os"} <= rows
    rows = {r.path for r in model.rows(View(4, only_changes=True), {"usr", "etc"})}
    assert "usr/curl" not in rows and "usr/main" in rows
    removed = model.node("tmp/src.tgz", 4, 2)
    assert removed is not None and model.size(removed, 4) == 900


def test_a_path_stored_once_is_kept_compact() -> None:
    """Most of a big image's paths are stored once and never touched again:
    they stay a ``(start, entry)`` tuple, not a list of Versions (a third of
    the tree's memory), and read back exactly as the others."""
    model = assert_matches_replay(LAYERS)
    assert isinstance(model.versions["opt/tool"], tuple)
    assert model.versions["opt/tool"][0] == 1
    assert isinstance(model.versions["etc/passwd"], list)  # rewritten in layer 1
    assert isinstance(model.versions["tmp/dl/a.tar"], list)  # removed in layer 2
    node = model.node("opt/tool", 1)
    assert node is not None and node.status is Status.ADDED
    node = model.node("opt/tool", 3, since=0)
    assert node is not None and node.status is Status.ADDED
    node = model.node("opt/tool", 3, since=1)
    assert node is not None and node.status is Status.UNCHANGED
    assert model.node("opt/tool", 0) is None
    assert model.node("opt/tool", 0, since=0) is None
    # Given the union's final map, the model keeps its pairs, not copies.
    final = replay(LAYERS).final
    shared = TreeModel(LAYERS, final=final)
    assert shared.versions["opt/tool"] is final["opt/tool"]
