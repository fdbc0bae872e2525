"""Union filesystem replay and exact accounting on crafted layers."""

from __future__ import annotations

from layerscope.analysis import analyze
from layerscope.model import EntryType
from layerscope.union import Cause, Change
from tests.builders import d, file, hard, image_of, opq, sym, wh


def _final(result) -> dict[str, tuple[int, str]]:
    return {p: (layer, e.type.value) for p, (layer, e) in result.union.final.items()}


def test_whiteout_removes_file_and_counts_its_bytes() -> None:
    a = analyze(image_of([d("tmp"), file("tmp/big", 1000), file("keep", 10)], [wh("tmp/big")]))
    s = a.summary
    assert (s.total_bytes, s.final_bytes, s.wasted_bytes) == (1010, 10, 1000)
    assert s.removed_bytes == 1000 and s.overwritten_bytes == 0
    assert "tmp/big" not in a.union.final and "tmp" in a.union.final
    (h,) = a.union.hidden
    assert (h.path, h.layer, h.hidden_by, h.cause) == ("tmp/big", 0, 1, Cause.REMOVED)
    assert a.layers[1].removed_bytes == 1000 and a.layers[0].wasted_bytes == 1000


def test_whiteout_of_directory_hides_whole_subtree_as_one_finding() -> None:
    files = [file(f"src/pkg{i}/f{j}", 100 + i) for i in range(10) for j in range(100)]
    a = analyze(image_of([d("src"), *files], [wh("src")]))
    assert a.summary.wasted_bytes == sum(100 + i for i in range(10)) * 100
    ls101 = [f for f in a.findings if f.rule == "LS101"]
    assert len(ls101) == 1
    assert ls101[0].path_count == 1000 and ls101[0].bytes == a.summary.wasted_bytes
    assert ls101[0].paths[0].startswith("/src/pkg9/")  # biggest first
    assert len(ls101[0].paths) == 5


def test_opaque_directory_hides_lower_children_only() -> None:
    a = analyze(
        image_of(
            [d("app"), file("app/old", 50), file("other", 5)],
            [d("app"), opq("app"), file("app/new", 7)],
        )
    )
    assert set(a.union.final) == {"app", "app/new", "other"}
    assert a.summary.wasted_bytes == 50 and a.summary.final_bytes == 12


def test_opaque_marker_on_new_directory_hides_nothing() -> None:
    a = analyze(image_of([file("x", 5)], [d("fresh"), opq("fresh"), file("fresh/y", 3)]))
    assert a.summary.wasted_bytes == 0 and a.findings == ()


def test_opaque_marker_at_root() -> None:
    a = analyze(image_of([file("a", 5), d("etc"), file("etc/b", 6)], [opq(""), file("c", 1)]))
    assert set(a.union.final) == {"c"}
    assert a.summary.removed_bytes == 11


def test_whiteout_of_path_that_never_existed_is_harmless() -> None:
    a = analyze(image_of([file("a", 5)], [wh("ghost"), wh("deep/er/ghost")]))
    assert a.summary.wasted_bytes == 0 and set(a.union.final) == {"a"}


def test_overwrite_counts_only_the_hidden_copy() -> None:
    a = analyze(image_of([file("f", 100)], [file("f", 120)], [file("f", 130)]))
    s = a.summary
    assert (s.total_bytes, s.final_bytes, s.overwritten_bytes) == (350, 130, 220)
    causes = sorted((h.layer, h.hidden_by, h.cause) for h in a.union.hidden)
    assert causes == [(0, 1, Cause.OVERWRITTEN), (1, 2, Cause.OVERWRITTEN)]


def test_file_replaced_by_directory_and_back() -> None:
    a = analyze(
        image_of(
            [file("thing", 40)],
            [d("thing"), file("thing/inner", 9)],
            [file("thing", 3)],
        )
    )
    assert _final(a) == {"thing": (2, "file")}
    assert a.summary.final_bytes == 3
    assert a.summary.wasted_bytes == 49
    by_path = {h.path: h for h in a.union.hidden}
    assert by_path["thing"].cause is Cause.OVERWRITTEN and by_path["thing"].hidden_by == 1
    assert by_path["thing/inner"].hidden_by == 2


def test_implicit_parent_replaces_a_file() -> None:
    # The layer has a/b but no entry for a itself, while a is a file below.
    a = analyze(image_of([file("a", 11)], [file("a/b", 2)]))
    assert _final(a)["a"][1] == "dir" and a.summary.wasted_bytes == 11


def test_hardlink_keeps_content_alive_after_original_is_removed() -> None:
    a = analyze(
        image_of([d("bin"), file("bin/tool", 500), hard("bin/alias", "bin/tool")], [wh("bin/tool")])
    )
    assert a.summary.wasted_bytes == 0
    assert a.summary.final_bytes == 500
    assert _final(a)["bin/alias"] == (0, "hardlink")


def test_hardlink_counts_bytes_once() -> None:
    a = analyze(image_of([file("x", 300), hard("y", "x"), hard("z", "x")]))
    assert a.summary.total_bytes == 300 and a.summary.final_bytes == 300


def test_content_hidden_when_file_and_all_links_are_gone() -> None:
    a = analyze(image_of([file("x", 300), hard("y", "x")], [wh("x"), wh("y")]))
    assert a.summary.wasted_bytes == 300


def test_symlinks_are_names_not_followed() -> None:
    # lib -> usr/lib; a later layer writes lib/x: that is a path named lib/x,
    # replacing the symlink, never usr/lib/x.
    a = analyze(
        image_of(
            [d("usr"), d("usr/lib"), file("usr/lib/x", 5), sym("lib", "usr/lib")],
            [d("lib"), file("lib/x", 6)],
        )
    )
    final = _final(a)
    assert final["usr/lib/x"] == (0, "file")
    assert final["lib"] == (1, "dir") and final["lib/x"] == (1, "file")
    assert a.summary.wasted_bytes == 0


def test_dotdot_names_stay_inside_the_model() -> None:
    a = analyze(image_of([file("../../etc/evil", 4), file("/abs/path", 2)]))
    assert set(a.union.final) >= {"../../etc/evil", "abs/path"}


def test_directory_replaced_by_file_hides_subtree() -> None:
    a = analyze(image_of([d("cfg"), file("cfg/a", 10), file("cfg/b", 20)], [file("cfg", 1)]))
    assert _final(a) == {"cfg": (1, "file")}
    assert a.summary.wasted_bytes == 30


def test_change_log_per_layer() -> None:
    a = analyze(image_of([d("a"), file("a/x", 1)], [file("a/x", 2), file("a/y", 3), wh("a/z")]))
    changes = {(c.path, c.change) for c in a.union.changes[1]}
    assert ("a/x", Change.MODIFIED) in changes and ("a/y", Change.ADDED) in changes
    assert a.layers[1].added_bytes == 3 and a.layers[1].modified_bytes == 2


def test_same_path_twice_in_one_layer_counts_the_hidden_copy() -> None:
    a = analyze(image_of([file("dup", 10), file("dup", 4)]))
    assert a.summary.total_bytes == 14 and a.summary.final_bytes == 4


def test_empty_image_efficiency_is_one() -> None:
    a = analyze(image_of([]))
    assert a.summary.efficiency == 1.0 and a.summary.total_bytes == 0


def test_entries_have_types() -> None:
    img = image_of(
        [d("a"), file("a/f", 1), sym("a/s", "f"), hard("a/h", "a/f"), wh("a/w"), opq("a")]
    )
    types = [e.type for e in img.layers[0].entries]
    assert types == [
        EntryType.DIR,
        EntryType.FILE,
        EntryType.SYMLINK,
        EntryType.HARDLINK,
        EntryType.WHITEOUT,
        EntryType.OPAQUE,
    ]
