"""The loader thread and the text helpers (no Textual involved)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from layerscope.analysis import analyze
from layerscope.errors import SourceError
from layerscope.model import Image
from layerscope.rules import all_rules
from layerscope.sources import open_image
from layerscope.sources.interface import Progress, SourceOptions
from layerscope.sources.size import input_size
from layerscope.tui.format import (
    dockerfile,
    fix_blocks,
    printable_lines,
    rule_example,
    short,
    size,
)
from layerscope.tui.loader import Loader, Phase, tree_of


def _wait(loader: Loader) -> None:
    loader.join(timeout=30)
    assert loader.state.finished is not None


def test_loader_reads_analyzes_and_indexes(archive: Path) -> None:
    def read(opts: SourceOptions) -> Image:
        assert opts.progress is not None  # the loader listens to the source
        return open_image(str(archive), options=opts)

    loader = Loader(read, analyze, SourceOptions(), bytes_total=input_size(str(archive)))
    loader.start()
    _wait(loader)
    s = loader.state
    assert s.phase is Phase.DONE and s.error is None and s.result is not None
    assert s.layers_done == s.layers_total == 5
    assert s.bytes_read > 0 and s.bytes_total == archive.stat().st_size
    tree = s.result.tree
    assert tree.layer_count == 5
    # The hidden archive and the apt lists still in the image are both marked.
    src = tree.node("tmp/src.tgz", 2)
    assert src is not None and tree.is_waste(src)
    lists = tree.node("var/lib/apt/lists/deb.debian.org_Packages", 4)
    assert lists is not None and tree.is_waste(lists)
    curl = tree.node("usr/bin/curl", 4)
    assert curl is not None and not tree.is_waste(curl)
    assert s.elapsed() == s.elapsed(now=time.monotonic() + 100)  # frozen once finished


def test_loader_cancel_stops_at_the_next_progress_report() -> None:
    reports = 0

    def endless(opts: SourceOptions) -> Image:
        nonlocal reports
        assert opts.progress is not None
        while True:
            reports += 1
            opts.progress(Progress(reports, reports, None))
            time.sleep(0.005)

    loader = Loader(endless, analyze, SourceOptions())
    loader.start()
    while reports < 3:
        time.sleep(0.01)
    loader.cancel()
    _wait(loader)
    assert loader.state.phase is Phase.CANCELLED and loader.state.error is None
    assert loader.state.layers_done >= 3


def test_loader_keeps_the_source_error(tmp_path: Path) -> None:
    loader = Loader(
        lambda opts: open_image(str(tmp_path / "nope.tar"), options=opts),
        analyze,
        SourceOptions(),
    )
    loader.start()
    _wait(loader)
    assert loader.state.phase is Phase.FAILED
    assert isinstance(loader.state.error, SourceError)


def test_input_size(archive: Path, tmp_path: Path) -> None:
    assert input_size(str(archive)) == archive.stat().st_size
    assert input_size(f"{archive}:latest") == archive.stat().st_size
    assert input_size("registry.example/app:1.0") is None
    layout = tmp_path / "layout" / "blobs" / "sha256"
    layout.mkdir(parents=True)
    (layout / "a").write_bytes(b"x" * 10)
    (layout / "b").write_bytes(b"y" * 5)
    assert input_size(str(tmp_path / "layout")) == 15


def test_tree_of_marks_visible_waste_only_from_findings(archive: Path) -> None:
    result = analyze(open_image(str(archive), options=SourceOptions()))
    tree = tree_of(result)
    assert "var/lib/apt/lists/deb.debian.org_Packages" in tree.waste_roots
    assert "tmp/src.tgz" not in tree.waste_roots  # hidden bytes come from union.hidden
    assert (2, "tmp/src.tgz") in tree.hidden


def test_sizes_and_shortening() -> None:
    assert size(0) == "0 B" and size(1023) == "1023 B"
    assert size(1536) == "1.5 KiB" and size(5 << 30) == "5.0 GiB"
    assert short("a\x1b[2Jb   c\n", 20) == "a\\x1b[2Jb c"
    assert short("x" * 30, 10) == "x" * 9 + "…"
    # A heredoc keeps its lines; controls inside them are still escaped.
    assert printable_lines("RUN <<EOF\necho \x1b[31m\rhi\nEOF") == (
        "RUN <<EOF\necho \\x1b[31m\\rhi\nEOF"
    )


def test_fix_blocks_split_prose_code_and_rewrites() -> None:
    fix = (
        "Clean the apt cache in the same RUN that fills it (layer 1):\n"
        "-RUN apt-get update && apt-get install -y curl\n"
        "+RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n"
        "Or, with BuildKit, keep the cache out of the layers:\n"
        "RUN --mount=type=cache,target=/var/lib/apt apt-get update \\\n"
        "    && apt-get install -y curl\n"
        "Then rebuild."
    )
    assert [k for k, _ in fix_blocks(fix)] == ["prose", "-", "+", "prose", "code", "prose"]
    blocks = dict(fix_blocks(fix)[1:3])
    assert blocks["+"].endswith("rm -rf /var/lib/apt/lists/*")
    code = fix_blocks(fix)[4][1]
    assert code.endswith("&& apt-get install -y curl")  # the continuation line stays
    assert fix_blocks("Delete it (layer 1): RUN a && rm -rf /x") == [
        ("prose", "Delete it (layer 1):"),
        ("code", "RUN a && rm -rf /x"),
    ]
    heredoc = "Do this:\n-RUN <<EOF\napt-get update\nEOF\n+RUN <<EOF\napt-get update\nrm -rf x\nEOF"
    assert fix_blocks(heredoc) == [
        ("prose", "Do this:"),
        ("-", "RUN <<EOF\napt-get update\nEOF"),
        ("+", "RUN <<EOF\napt-get update\nrm -rf x\nEOF"),
    ]
    assert fix_blocks("Use COPY --chown instead.") == [("prose", "Use COPY --chown instead.")]


def test_dockerfile_breaks_long_runs_at_and() -> None:
    assert dockerfile("RUN a && b") == "RUN a && b"
    assert dockerfile("RUN a && b", width=0) == "RUN a \\\n    && b"
    long = "RUN " + " && ".join(f"step{i} --with-a-long-flag" for i in range(4))
    lines = dockerfile(long).splitlines()
    assert len(lines) == 4 and all(line.endswith("\\") for line in lines[:-1])


@pytest.mark.parametrize("rule_id", ["LS101", "LS102"])
def test_rule_example_is_the_good_block(rule_id: str) -> None:
    rule = next(r for r in all_rules() if r.id == rule_id)
    example = rule_example(rule.doc)
    assert example and "Bad" not in example
    assert example.splitlines()[0].split()[0] in ("RUN", "COPY", "ADD")
    assert rule_example("No example here.") == ""


def test_a_second_read_is_counted_as_a_second_pass(archive: Path) -> None:
    def twice(opts: SourceOptions) -> Image:
        open_image(str(archive), options=opts)
        return open_image(str(archive), options=opts)

    loader = Loader(twice, analyze, SourceOptions())
    loader.start()
    _wait(loader)
    assert loader.state.phase is Phase.DONE
    assert loader.state.passes == 2
    from layerscope.tui.widgets.progress import status_line

    assert "(pass 2: hashing duplicate candidates)" in status_line(loader.state)
