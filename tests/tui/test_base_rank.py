"""The waste list in the table report's order: own waste, then rebuild costs
(LS5xx), then the base image's findings collapsed into one row that opens
(issue 21 item 12), at 80x24, 120x40 and 250x60."""

from __future__ import annotations

import asyncio
import io

import pytest
from rich.console import Console, RenderableType
from textual.widgets import DataTable, Static

from layerscope.analysis import Analysis, analyze
from layerscope.base.attribution import (
    BaseWaste,
    Origin,
    attribute,
    finding_origin,
    ranked,
    split,
)
from layerscope.base.boundary import Boundary, Signal
from layerscope.report import render
from layerscope.tui.app import LayerscopeApp, MainScreen
from layerscope.tui.waste_model import BASE_KEY, Filter, WasteModel
from layerscope.tui.widgets.layers import base_rule
from layerscope.tui.widgets.waste import WastePane
from tests.builders import docker_archive, file, layer_tar, read_archive, wh

KIB = 1024
# Base (layers 0-2): dpkg/debconf state rewritten, apt lists kept, a file
# deleted by its own layer. Own (3-5): the sources copied before the install
# (LS501, 500 KiB rebuilt), a download deleted a layer later (200 KiB).
LAYERS = [
    [
        file("bin/sh", 10 * KIB),
        file("var/lib/dpkg/status", 4 * KIB),
        file("var/cache/debconf/config.dat", 3 * KIB),
    ],
    [
        file("var/lib/apt/lists/deb_Packages", 40 * KIB),
        file("var/tmp/junk", 8 * KIB),
        file("var/lib/dpkg/status", 5 * KIB),
        file("var/cache/debconf/config.dat", 3 * KIB),
    ],
    [wh("var/tmp/junk")],
    [file("app/requirements.txt", 20), file("app/main.py", 300)],
    [
        file("usr/lib/python3/site-packages/big.so", 300 * KIB),
        file("tmp/build.tgz", 200 * KIB),
    ],
    [wh("tmp/build.tgz")],
]
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:0a1b2c3d4e5f60718293a4b5c6d7e8f9 in / "},
    {"created_by": "/bin/sh -c apt-get update && apt-get install -y curl && dd of=/var/tmp/junk"},
    {"created_by": "/bin/sh -c rm /var/tmp/junk"},
    {"created_by": "/bin/sh -c #(nop) COPY dir:3f1e0c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f in /app "},
    {"created_by": "/bin/sh -c pip install -r /app/requirements.txt && wget -O /tmp/build.tgz x"},
    {"created_by": "/bin/sh -c rm /tmp/build.tgz"},
]
SIZES = [(80, 24), (120, 40), (250, 60)]


def base_result() -> Analysis:
    """The image above, its first three layers known as example/base:1."""
    image = read_archive(docker_archive([layer_tar(m) for m in LAYERS], HISTORY))
    return attribute(analyze(image), Boundary(3, Signal.FLAG, "example/base:1"))


@pytest.fixture(scope="module")
def result() -> Analysis:
    return base_result()


def text_of(renderable: RenderableType, width: int = 200) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_model_orders_by_rank_and_collapses_the_base(result: Analysis) -> None:
    base = [f for f in result.findings if finding_origin(result, f) is Origin.BASE]
    assert len(base) == 3
    rebuild = [f for f in result.findings if f.rule == "LS501"]
    own = [f for f in result.findings if f.rule == "LS101" and f.layer == 4]
    # The rebuild cost is bigger than the own waste, and still comes after it.
    assert rebuild and own and rebuild[0].bytes > own[0].bytes
    rows = WasteModel(result).rows()
    assert [r.rank for r in rows] == [0, 1, 2]
    assert rows[0].finding is own[0] and rows[1].finding is rebuild[0]
    group = rows[2].group
    assert group is not None and group.base is not None and group.key == BASE_KEY
    # The same collapse as the table report's: one function.
    (collapsed,) = [x for n, x in ranked(result) if isinstance(x, BaseWaste)]
    assert group.base == collapsed
    assert set(group.findings) == set(base)
    assert rows[2].bytes == split(result).base.reclaimable_bytes
    table = render("table", result)
    assert group.base.sentence() in table
    # Opened, each base finding is a member row under it.
    opened = WasteModel(result).rows(opened=frozenset({BASE_KEY}))
    assert len(opened) == 6 and {r.finding for r in opened[3:]} == set(base)
    assert all(r.member and r.rank == 2 for r in opened[3:])
    # A filter keeps the collapse and counts what it kept.
    only = WasteModel(result).rows(Filter.parse("rule:LS201"))
    assert len(only) == 1 and only[0].group is not None and only[0].group.base is not None
    assert only[0].bytes == next(f.bytes for f in base if f.rule == "LS201")


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_view_shows_the_base_as_one_labelled_row(
    result: Analysis, size: tuple[int, int]
) -> None:
    app = LayerscopeApp.for_analysis(result)

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, MainScreen)
            pane = app.screen.query_one(WastePane)
            table = pane.table
            assert table.row_count == 3

            def line(row: int) -> str:
                return "".join(str(c) for c in table.get_row_at(row))

            def fix() -> str:
                return text_of(app.screen.query_one("#fix", Static).content)  # type: ignore[arg-type]

            def screen() -> str:
                lines = [table.render_line(y).text for y in range(table.size.height)]
                return "\n".join(lines)

            assert "LS101" in line(0) and "rebuild · " in line(1) and "LS501" in line(1)
            assert "▸ 3 in the base image" in line(2)
            # On screen at every size: the labels and the collapsed row.
            shown = screen()
            assert "rebuild ·" in shown and "▸ 3 in the base image" in shown
            await pilot.press("down")
            assert "Rebuild cost (LS5xx)" in fix()
            await pilot.press("down")
            assert table.cursor_row == 2
            got = " ".join(fix().split())
            assert "Your base image example/base:1 carries" in got
            assert "Base image: bytes you pull with FROM" in got
            await pilot.press("enter")
            await pilot.pause()
            assert table.row_count == 6
            assert {pane.rows[i].finding.rule for i in range(3, 6)} == {"LS101", "LS102", "LS201"}
            await pilot.press("down")
            assert "Base image: bytes you pull with FROM" in " ".join(fix().split())
            await pilot.press("up", "enter")
            await pilot.pause()
            assert table.row_count == 3
            # The rule row between the base's layers and yours names the base, whole.
            await pilot.press("1")
            await pilot.pause()
            layers = app.screen.query_one("#layers-table", DataTable)
            rows = [layers.render_line(y).text for y in range(layers.size.height)]
            assert any("── example/base:1 above" in r for r in rows), rows
            await pilot.press("q")

    asyncio.run(main())


def test_the_base_rule_row_fits_its_column() -> None:
    name = "registry.example.com/team/python:3.12-slim-bookworm"
    for width in range(1, 120):
        got = base_rule(name, width)
        assert len(got) <= width, width
    assert base_rule(name, 90) == f"── {name} above, your layers below"
    assert base_rule(name, 60) == f"── {name} above"
    assert base_rule("the base image", 20) == "── the base image"
    assert base_rule(name, 30).endswith("… above")
