"""The layers pane shows the base boundary: a rule row, dim base layers, `b` hides them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.pilot import Pilot
from textual.widgets import DataTable

from layerscope.analysis import Analysis, analyze
from layerscope.base.attribution import attribute
from layerscope.base.boundary import Boundary, Signal
from layerscope.tui.app import LayerscopeApp
from layerscope.tui.widgets.layers import LayersPane
from tests.builders import docker_archive, file, layer_tar, read_archive, wh

BASE_NAME = "team/base:1"


def analysis(base: int | None) -> Analysis:
    layers = [
        [file("bin/sh", 5000)],
        [file("var/tmp/junk", 4000)],
        [wh("var/tmp/junk")],
        [file("app/main", 3000), file("tmp/build", 2000)],
        [wh("tmp/build")],
    ]
    image = read_archive(docker_archive([layer_tar(m) for m in layers]))
    return attribute(analyze(image), Boundary(base, Signal.FLAG, BASE_NAME))


def drive(result: Analysis, scenario: Callable[[Pilot[int], LayersPane], Awaitable[None]]) -> None:
    async def main() -> None:
        app = LayerscopeApp.for_analysis(result)
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause()
            pane = app.screen.query_one(LayersPane)
            pane.table.focus()
            await pilot.pause()
            await scenario(pilot, pane)

    asyncio.run(main())


def keys(table: DataTable[object]) -> list[str | None]:
    return [table.coordinate_to_cell_key((r, 0)).row_key.value for r in range(table.row_count)]


def test_rule_between_base_and_own_layers_and_dim_base() -> None:
    async def scenario(pilot: Pilot[int], pane: LayersPane) -> None:
        table = pane.table
        assert keys(table) == ["0", "1", "2", "base-rule", "3", "4"]
        assert BASE_NAME in str(table.get_row_at(3)[-1])
        assert all(table.get_row_at(r)[0].style == "dim" for r in range(3))
        assert table.get_row_at(4)[0].style == ""
        assert "3 from the base image (dim, b: hide)" in str(pane.border_subtitle)
        # The cursor steps over the rule both ways; the index is a layer index.
        pane.select(2)
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        assert (table.cursor_row, pane.index) == (4, 3)
        await pilot.press("up")
        await pilot.pause()
        assert (table.cursor_row, pane.index) == (2, 2)

    drive(analysis(3), scenario)


def test_b_hides_and_shows_the_base_layers() -> None:
    async def scenario(pilot: Pilot[int], pane: LayersPane) -> None:
        pane.select(4)
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        assert keys(pane.table) == ["3", "4"]
        assert pane.index == 4
        assert "hidden, b: show" in str(pane.border_subtitle)
        # Selecting a base layer (a jump to a base finding) shows the base again.
        pane.select(1)
        await pilot.pause()
        assert keys(pane.table) == ["0", "1", "2", "base-rule", "3", "4"]
        assert pane.index == 1
        # Hiding the base moves the cursor to the first own layer, and it stays there.
        await pilot.press("b", "b")
        await pilot.pause()
        assert pane.index == 3 and not pane.hide_base

    drive(analysis(3), scenario)


def test_without_a_base_nothing_changes() -> None:
    async def scenario(pilot: Pilot[int], pane: LayersPane) -> None:
        assert keys(pane.table) == ["0", "1", "2", "3", "4"]
        await pilot.press("b")
        await pilot.pause()
        assert keys(pane.table) == ["0", "1", "2", "3", "4"]
        assert pane.border_subtitle == "5 layers"

    drive(analysis(None), scenario)
