"""Pilot tests: drive the app with keys and the mouse, assert on its state."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console, RenderableType
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from layerscope.analysis import Analysis, BudgetResult, analyze
from layerscope.errors import EXIT_INTERRUPTED, SourceError
from layerscope.model import Image
from layerscope.sources import open_image
from layerscope.sources.interface import Progress, SourceOptions
from layerscope.tui.app import LayerscopeApp, MainScreen, light_terminal
from layerscope.tui.loader import Loader, Phase
from layerscope.tui.tree_model import Sort, Status
from layerscope.tui.widgets.filetree import FileTree
from layerscope.tui.widgets.help import HelpScreen
from layerscope.tui.widgets.waste import WastePane
from tests.builders import d, file
from tests.tui.conftest import EVIL, write_archive

SIZE = (140, 40)
Scenario = Callable[[Pilot[int]], Awaitable[None]]


def drive(app: LayerscopeApp, scenario: Scenario, size: tuple[int, int] = SIZE) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await scenario(pilot)

    asyncio.run(main())


def text_of(renderable: RenderableType) -> str:
    console = Console(width=100, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def tree_text(tree: FileTree) -> list[str]:
    return [tree.render_line(y).text for y in range(tree.scrollable_content_region.height)]


def table(app: LayerscopeApp, widget_id: str) -> DataTable[object]:
    return app.screen.query_one(f"#{widget_id}", DataTable)


def test_opens_on_the_biggest_finding_with_its_fix(analysis: Analysis) -> None:
    app = LayerscopeApp.for_analysis(analysis)
    biggest = analysis.findings[0]
    assert biggest.rule == "LS101" and biggest.layer == 2

    async def scenario(pilot: Pilot[int]) -> None:
        assert isinstance(app.screen, MainScreen)
        waste = table(app, "waste-table")
        assert app.focused is waste and waste.cursor_row == 0
        fix = text_of(app.screen.query_one("#fix", Static).content)  # type: ignore[arg-type]
        assert "Fix: Move the cleanup of layer 3" in fix
        assert "&& rm -f /tmp/src.tgz" in fix
        assert table(app, "layers-table").cursor_row == 2
        tree = app.screen.query_one(FileTree)
        assert tree.view.layer == 2
        node = tree.current
        assert node is not None and node.path == "tmp/src.tgz"
        assert node.status is Status.ADDED and tree.model.is_waste(node)
        assert "tmp/src.tgz" in tree.marked

    drive(app, scenario)


def test_enter_on_a_finding_shows_its_layer_and_paths(analysis: Analysis) -> None:
    app = LayerscopeApp.for_analysis(analysis)
    apt = next(i for i, f in enumerate(analysis.findings) if f.rule == "LS201")

    async def scenario(pilot: Pilot[int]) -> None:
        for _ in range(apt):
            await pilot.press("down")
        fix = text_of(app.screen.query_one("#fix", Static).content)  # type: ignore[arg-type]
        assert "rm -rf /var/lib/apt/lists/*" in fix
        await pilot.press("enter")
        await pilot.pause()
        tree = app.screen.query_one(FileTree)
        assert app.focused is tree
        assert table(app, "layers-table").cursor_row == 1
        assert tree.view.layer == 1
        assert tree.current is not None
        assert tree.current.path == "var/lib/apt/lists/deb.debian.org_Packages"
        # The directories above it were opened, nothing else.
        assert {"var", "var/lib", "var/lib/apt", "var/lib/apt/lists"} <= tree.expanded

    drive(app, scenario)


def test_layer_keys_move_the_tree_through_the_layers(analysis: Analysis) -> None:
    app = LayerscopeApp.for_analysis(analysis)

    async def scenario(pilot: Pilot[int]) -> None:
        tree = app.screen.query_one(FileTree)
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert table(app, "layers-table").cursor_row == 3
        assert tree.view.layer == 3
        # Layer 3 deleted the archive: shown as removed, still under the cursor.
        assert tree.current is not None and tree.current.path == "tmp/src.tgz"
        assert tree.current.status is Status.REMOVED
        lines = tree_text(tree)
        assert any(line.startswith(" - ") and "src.tgz" in line for line in lines)
        for _ in range(3):
            await pilot.press("left_square_bracket")
        await pilot.pause()
        assert tree.view.layer == 0
        # Nothing of tmp/ exists yet: the cursor falls back to the first row.
        assert tree.model.node("tmp", 0) is None
        assert tree.current is not None and tree.current.path == "etc"

    drive(app, scenario)


def test_tree_sort_filters_and_collapse(analysis: Analysis) -> None:
    app = LayerscopeApp.for_analysis(analysis)

    async def scenario(pilot: Pilot[int]) -> None:
        tree = app.screen.query_one(FileTree)
        await pilot.press("2")
        assert app.focused is tree
        await pilot.press("C")
        assert all(r.depth == 0 for r in tree.rows)
        assert [r.path for r in tree.rows] == ["etc", "opt", "tmp", "usr", "var"]
        await pilot.press("s")
        assert tree.view.sort is Sort.SIZE
        assert tree.rows[0].path == "tmp"  # 195 KiB at layer 2
        await pilot.press("s", "w")
        assert tree.view.only_waste and tree.view.sort is Sort.NAME
        # opt/app/main is stored again by layer 4: waste too.
        assert [r.path for r in tree.rows] == ["opt", "tmp", "var"]
        await pilot.press("w", "c")
        assert tree.view.only_changes
        assert [r.path for r in tree.rows] == ["opt", "tmp"]
        # Open a directory with the keyboard, close it again.
        await pilot.press("home", "enter")
        assert tree.rows[1].path == "opt/app" and tree.rows[1].depth == 1
        await pilot.press("left")
        assert len(tree.rows) == 2
        await pilot.press("right", "right")
        assert tree.current is not None and tree.current.path == "opt/app"

    drive(app, scenario)


def test_filter_box_filters_after_typing_stops(analysis: Analysis) -> None:
    app = LayerscopeApp.for_analysis(analysis)

    async def scenario(pilot: Pilot[int]) -> None:
        tree = app.screen.query_one(FileTree)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"mod0")
        assert tree.view.query == ""  # not yet: typing is debounced
        await pilot.pause(0.4)
        assert tree.view.query == "mod0"
        shown = [r.path for r in tree.rows]
        assert shown[:2] == ["opt", "opt/app"]
        assert [p for p in shown if p.endswith(".py")] == [
            f"opt/app/lib/mod{i:02d}.py" for i in range(10)
        ]
        await pilot.press("escape")
        assert app.focused is tree
        await pilot.press("q")  # q in the tree quits; typed in the box it would not
        assert app.return_code == 0

    drive(app, scenario)


def test_q_in_the_filter_box_is_a_letter(analysis: Analysis) -> None:
    app = LayerscopeApp.for_analysis(analysis)

    async def scenario(pilot: Pilot[int]) -> None:
        await pilot.press("slash", "q")
        assert app.return_code is None
        assert app.screen.query_one("#tree-filter", Input).value == "q"

    drive(app, scenario)


def test_control_characters_in_names_are_escaped(analysis: Analysis) -> None:
    app = LayerscopeApp.for_analysis(analysis)

    async def scenario(pilot: Pilot[int]) -> None:
        tree = app.screen.query_one(FileTree)
        assert tree.reveal(EVIL)
        await pilot.pause()
        lines = "\n".join(tree_text(tree))
        assert "evil\\x1b]0;pwned\\x07" in lines
        assert "\x1b" not in lines and "\x07" not in lines
        info = text_of(app.screen.query_one("#tree-info", Static).content)  # type: ignore[arg-type]
        assert "\\x1b[2J\\nname.txt" in info

    # Wide enough for the whole name: a narrower tree cuts it in the middle.
    drive(app, scenario, size=(250, 60))


def test_help_screen_opens_and_closes(analysis: Analysis) -> None:
    app = LayerscopeApp.for_analysis(analysis)

    async def scenario(pilot: Pilot[int]) -> None:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)

    drive(app, scenario)


def test_quit_status_follows_the_budgets(analysis: Analysis) -> None:
    app = LayerscopeApp.for_analysis(analysis)
    drive(app, lambda pilot: pilot.press("q"))
    assert app.return_code == 0
    broken = BudgetResult("max_wasted", 100_000, 209_000, False, "fail", "wasted 204 KiB > 98 KiB")
    failing = dataclasses.replace(analysis, budgets=(broken,))
    app = LayerscopeApp.for_analysis(failing)

    async def scenario(pilot: Pilot[int]) -> None:
        summary = text_of(app.screen.query_one("#summary", Static).content)  # type: ignore[arg-type]
        assert "FAIL" in summary and "wasted 204 KiB > 98 KiB" in summary
        await pilot.press("q")

    drive(app, scenario)
    assert app.return_code == 1
    app = LayerscopeApp.for_analysis(analysis)
    drive(app, lambda pilot: pilot.press("ctrl+c"))
    assert app.return_code == EXIT_INTERRUPTED


def test_mouse_selects_rows_and_opens_directories(analysis: Analysis) -> None:
    app = LayerscopeApp.for_analysis(analysis)

    async def scenario(pilot: Pilot[int]) -> None:
        tree = app.screen.query_one(FileTree)
        tree.action_collapse_all()
        await pilot.pause()
        opt = [r.path for r in tree.rows].index("opt")
        await pilot.click(FileTree, offset=(20, opt))
        assert tree.current is not None and tree.current.path == "opt"
        assert "opt" not in tree.expanded
        await pilot.click(FileTree, offset=(20, opt))  # a second click opens it
        assert "opt" in tree.expanded and tree.rows[opt + 1].path == "opt/app"
        # Clicking a finding selects it; clicking it again jumps.
        await pilot.click("#waste-table", offset=(10, 3))
        await pilot.click("#waste-table", offset=(10, 3))
        await pilot.pause()
        assert table(app, "waste-table").cursor_row == 2
        assert tree.view.layer == analysis.findings[2].layer

    drive(app, scenario)


def test_theme_toggle_and_zoom(analysis: Analysis) -> None:
    app = LayerscopeApp.for_analysis(analysis)

    async def scenario(pilot: Pilot[int]) -> None:
        assert app.theme == "textual-dark"
        await pilot.press("t")
        assert app.theme == "textual-light"
        assert not app.screen.query_one(WastePane).dark
        await pilot.press("z")
        assert app.screen.maximized is app.screen.query_one(WastePane)
        await pilot.press("z")
        assert app.screen.maximized is None

    drive(app, scenario)
    assert light_terminal({"COLORFGBG": "0;15"})
    assert not light_terminal({"COLORFGBG": "15;0"})
    assert not light_terminal({})


def test_no_waste_opens_on_the_last_layer(tmp_path: Path) -> None:
    path = write_archive(tmp_path / "clean.tar", [[d("app"), file("app/a", 10)], [file("b", 5)]])
    result = analyze(open_image(str(path), options=SourceOptions()))
    assert not result.findings
    app = LayerscopeApp.for_analysis(result)

    async def scenario(pilot: Pilot[int]) -> None:
        assert app.focused is table(app, "layers-table")
        assert table(app, "layers-table").cursor_row == 1
        assert app.screen.query_one(FileTree).view.layer == 1
        fix = text_of(app.screen.query_one("#fix", Static).content)  # type: ignore[arg-type]
        assert "No waste found" in fix

    drive(app, scenario)


def _read(archive: Path) -> Callable[[SourceOptions], Image]:
    return lambda opts: open_image(str(archive), options=opts)


async def _until(pilot: Pilot[int], done: Callable[[], bool], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < end, "timed out"
        await pilot.pause(0.05)


def test_progress_screen_then_main_screen(archive: Path) -> None:
    loader = Loader(_read(archive), analyze, SourceOptions(), bytes_total=archive.stat().st_size)
    app = LayerscopeApp(loader=loader, target=str(archive))

    async def scenario(pilot: Pilot[int]) -> None:
        await _until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert loader.state.phase is Phase.DONE
        assert loader.state.layers_done == 5
        assert app.screen.query_one(FileTree).view.layer == 2

    drive(app, scenario)


def test_quit_while_loading_stops_the_loader() -> None:
    reached = threading.Event()

    def endless(opts: SourceOptions) -> Image:
        # Reports progress like a long export that never ends on its own.
        n = 0
        while True:
            n += 1
            assert opts.progress is not None
            opts.progress(Progress(n << 20, n, None))
            reached.set()
            time.sleep(0.01)

    loader = Loader(endless, analyze, SourceOptions())
    app = LayerscopeApp(loader=loader, target="example/endless:latest")

    async def scenario(pilot: Pilot[int]) -> None:
        await _until(pilot, reached.is_set)
        await pilot.pause(0.2)
        status = text_of(app.screen.query_one("#progress-status", Static).content)  # type: ignore[arg-type]
        assert "MiB read" in status and "layers scanned" in status
        await pilot.press("q")

    drive(app, scenario)
    assert app.return_code == EXIT_INTERRUPTED  # no result: interrupted, as Ctrl+C
    loader.join(timeout=2)
    assert loader.state.phase is Phase.CANCELLED
    assert loader.state.result is None


def test_a_source_error_ends_the_app_and_is_kept(tmp_path: Path) -> None:
    missing = tmp_path / "missing.tar"
    loader = Loader(_read(missing), analyze, SourceOptions())
    app = LayerscopeApp(loader=loader, target=str(missing))

    async def scenario(pilot: Pilot[int]) -> None:
        await _until(pilot, lambda: app.return_code is not None)

    drive(app, scenario)
    assert isinstance(app.error, SourceError)
    assert app.return_code == 2
