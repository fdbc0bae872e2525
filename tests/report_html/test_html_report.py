"""The HTML report without a browser: the data it embeds, the exact sums of
the treemap tree, the aggregation of small files, escaping and purity."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from layerscope.analysis import analyze
from layerscope.cli import main
from layerscope.model import Entry, EntryType
from layerscope.report import EXTENSIONS, render
from layerscope.report.html import embed
from layerscope.report.html_data import (
    AGGREGATE,
    CACHE,
    MAX_DEPTH,
    MAX_NAME,
    SUBTREE,
    WASTED,
    build_tree,
    page_data,
)
from tests.builders import entries_image, file, image_of, wh
from tests.report_html.helpers import HOSTILE, embedded, hostile_analysis

ROOT = Path(__file__).resolve().parents[2]


def _leaves(node: list[Any], path: str = "") -> list[tuple[str, list[Any]]]:
    if len(node) == 4:
        assert node[1] == sum(k[1] for k in node[3]), f"{path}: a directory is its children's sum"
        return [leaf for k in node[3] for leaf in _leaves(k, f"{path}/{k[0]}")]
    return [(path, node)]


def test_tree_sums_are_the_summary() -> None:
    result = analyze(
        image_of(
            [file("usr/lib/a.so", 5000), file("usr/bin/b", 300), file("tmp/big", 7000)],
            [wh("tmp/big"), file("usr/lib/a.so", 6000), file("etc/conf", 10)],
        )
    )
    tree = page_data(result)["tree"]
    s = result.summary
    assert tree[1] == s.total_bytes == s.final_bytes + s.wasted_bytes
    assert tree[2] == s.wasted_bytes == 12000
    leaves = dict(_leaves(tree))
    # Hidden copies keep the layer that stored them; visible files the one that added them.
    assert leaves["/tmp/big"][2:4] == [0, WASTED]
    both = sorted(n for p, n in _leaves(tree) if p == "/usr/lib/a.so")
    assert both == [["a.so", 5000, 0, WASTED, 1], ["a.so", 6000, 1, 0, 1]]
    # Biggest first, at every level.
    assert [k[1] for k in tree[3]] == sorted((k[1] for k in tree[3]), reverse=True)


def test_small_files_are_summed_per_directory_exactly() -> None:
    files = [(f"big/f{i}", 1000 + i, 0, 0) for i in range(5)]
    files += [(f"big/small{i}", 10, 1, 0) for i in range(30)]
    files += [(f"deep/x/y/z{i}", 5, 2, 0) for i in range(40)]
    files += [("deep/x/gone", 7, 0, WASTED)]
    tree = build_tree(files, max_leaves=5)
    leaves = _leaves(tree)
    assert tree[1] == sum(f[1] for f in files)
    assert sum(n[4] for _, n in leaves) == len(files), "every file is counted once"
    kept = [n for _, n in leaves if not n[3] & AGGREGATE]
    assert sorted(n[1] for n in kept) == [1000, 1001, 1002, 1003, 1004]
    big = dict(leaves)
    assert big["/big/"] == ["", 300, 1, AGGREGATE, 30]
    # "deep" holds no big file: one rectangle each for its visible and hidden bytes.
    deep = sorted(n for p, n in leaves if p.startswith("/deep"))
    assert deep == [
        ["deep", 7, 0, WASTED | AGGREGATE | SUBTREE, 1],
        ["deep", 200, 2, AGGREGATE | SUBTREE, 40],
    ]


def test_package_caches_are_marked() -> None:
    result = analyze(image_of([file("root/.cache/pip/http/x.body", 300_000), file("app", 10)]))
    leaves = dict(_leaves(page_data(result)["tree"]))
    assert leaves["/root/.cache/pip/http/x.body"][3] == CACHE
    assert leaves["/app"][3] == 0


@pytest.mark.slow
def test_big_image_page_stays_small() -> None:
    """200,000 files in 2,000 directories: the page keeps the biggest files
    and sums the rest, well under 3 MB, with the exact total."""
    entries = [
        Entry(f"usr/lib/pkg{i % 2000}/mod{i}.py", EntryType.FILE, size=100 + (i * 7919) % 50_000)
        for i in range(200_000)
    ]
    result = analyze(entries_image(entries))
    page = render("html", result)
    assert len(page.encode()) < 3_000_000
    data: Any = embedded(page)
    assert data["tree"][1] == result.summary.total_bytes
    leaves = _leaves(data["tree"])
    assert sum(n[4] for _, n in leaves) == 200_000
    assert len([n for _, n in leaves if not n[3] & AGGREGATE]) == 20_000


def test_embed_cannot_close_the_script_block() -> None:
    text = embed({"a": "</script><!--<script>&\u2028\u2029"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert text.isascii()


def test_hostile_names_stay_data() -> None:
    result = hostile_analysis()
    page = render("html", result)
    # The only markup is ours: two script elements, one style, no image.
    assert page.count("</script>") == 2
    assert page.count("<script") == 2
    assert "<img" not in page
    assert "onerror=\\" not in page.split("layerscope-data")[0]
    data: Any = embedded(page)
    paths = {p for p, _ in _leaves(data["tree"])}
    assert "/app/</script><script>window.__pwned=1</script>" in paths
    assert '/app/<img src=x onerror="window.__pwned=2">.png' in paths
    assert "/app/new\\nline" in paths, "a newline is shown as an escape"
    assert "/app/\\x1b[31mred\\x1b[0m" in paths, "no ANSI escape gets through"
    assert "/app/evil\\u202etxt.exe" in paths, "no bidi override gets through"
    assert "/app/raw-\\xff\\xfe-bytes" in paths, "raw bytes are shown as \\xNN"
    assert data["image"]["reference"] == "evil/</script>:latest"
    assert len(HOSTILE) == 8
    assert "window.__pwned=3" in data["layers"][0]["command"]


def test_render_is_pure_and_has_a_strict_policy() -> None:
    result = hostile_analysis()
    first, second = render("html", result), render("html", result)
    assert first == second
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', first)
    assert csp is not None
    policy = csp.group(1)
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'", policy)


@pytest.mark.parametrize("name", ["report.html", "REPORT.HTM"])
def test_output_extension_picks_html(name: str, tmp_path: Path) -> None:
    assert EXTENSIONS[Path(name).suffix.lower()] == "html"
    out = tmp_path / name
    code = main([str(ROOT / "sample_images" / "removed-later.tar.gz"), "-o", str(out)])
    assert code == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    data: Any = embedded(page)
    assert data["findings"][0]["rule"] == "LS101"


def test_format_html_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(ROOT / "sample_images" / "overwritten.tar.gz"), "--format", "html"])
    assert code == 0
    assert capsys.readouterr().out.rstrip().endswith("</html>")


def test_diff_page(tmp_path: Path) -> None:
    """``layerscope diff -o x.html``: growth per layer and per directory."""
    out = tmp_path / "diff.html"
    samples = ROOT / "sample_images"
    code = main(
        [
            "diff",
            str(samples / "removed-later.tar.gz"),
            str(samples / "package-caches.tar.gz"),
            "-o",
            str(out),
        ]
    )
    assert code == 0
    data: Any = embedded(out.read_text(encoding="utf-8"))
    assert data["kind"] == "diff"
    old, new = data["old"], data["new"]
    assert new["reclaimable"] - old["reclaimable"] == 204_800
    grown = {d["path"]: d["new"] - d["old"] for d in data["directories"]}
    assert grown == {"/opt/tool": -307_200, "/root/.cache": 204_800, "/usr/lib": 102_400}
    assert [f["rule"] for f in data["new_findings"]] == ["LS201", "LS205"]
    assert [f["rule"] for f in data["gone_findings"]] == ["LS101"]
    assert [layer["status"] for layer in data["layers"]] == ["same", "changed", "changed", "added"]


def test_findings_point_into_the_dockerfile(tmp_path: Path) -> None:
    sample = ROOT / "sample_images" / "package-caches"
    out = tmp_path / "r.html"
    code = main([f"{sample}.tar.gz", "--dockerfile", str(sample / "Dockerfile"), "-o", str(out)])
    assert code == 0
    data: Any = embedded(out.read_text(encoding="utf-8"))
    assert data["dockerfile"] == str(sample / "Dockerfile")
    lines = (sample / "Dockerfile").read_text().splitlines()
    for f in data["findings"]:
        assert f["location"]["file"] == str(sample / "Dockerfile")
        assert lines[f["location"]["line"] - 1].startswith("RUN")
    assert any(line.startswith("+RUN") for line in data["findings"][0]["fix"].split("\n"))


def test_budget_failures_come_first(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    sample = ROOT / "sample_images" / "removed-later.tar.gz"
    args = ["--no-config", "--max-total", "1GiB", "--max-layers", "1", "-o", str(out)]
    assert main([str(sample), *args]) == 1
    data: Any = embedded(out.read_text(encoding="utf-8"))
    assert [(b["name"], b["verdict"]) for b in data["budgets"]] == [
        ("max_layers", "FAIL"),
        ("max_total", "ok"),
    ]
    assert data["passed"] is False


def test_deep_paths_and_long_names_are_bounded() -> None:
    """A hostile layer: 3,000 directories deep, a 20,000-character name."""
    deep = "/".join(["d"] * 3000)
    entries = [
        Entry(f"{deep}/f", EntryType.FILE, size=500),
        Entry("top/" + "n" * 20_000, EntryType.FILE, size=700),
        Entry("top/ok", EntryType.FILE, size=10),
    ]
    result = analyze(entries_image(entries))
    data: Any = embedded(render("html", result))
    tree = data["tree"]
    assert tree[1] == 1210

    def depth(node: list[Any]) -> int:
        return 1 + max((depth(k) for k in node[3]), default=0) if len(node) == 4 else 0

    assert depth(tree) <= MAX_DEPTH + 1
    leaves = _leaves(tree)
    assert sum(n[1] for _, n in leaves) == 1210
    assert max(len(n[0]) for _, n in leaves) == MAX_NAME
    deepest = [n for _, n in leaves if n[1] == 500]
    assert deepest == [["d", 500, 0, AGGREGATE | SUBTREE, 1]]


def test_diff_page_against_a_baseline_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON baseline holds no file tree: the page says so (directories null)."""
    samples = ROOT / "sample_images"
    baseline = tmp_path / "old.json"
    assert main([str(samples / "removed-later.tar.gz"), "-o", str(baseline)]) == 0
    out = tmp_path / "diff.htm"
    new = str(samples / "package-caches.tar.gz")
    assert main(["diff", "--baseline", str(baseline), new, "-o", str(out)]) == 0
    capsys.readouterr()
    data: Any = embedded(out.read_text(encoding="utf-8"))
    assert data["directories"] is None
    assert data["new"]["total"] == 2_596_746
