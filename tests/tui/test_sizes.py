"""Issue 17: the fix readable where it appears, at 80x24, 120x40 and 250x60.

Each test drives the real app on the sample images and reads what the
terminal would show (the compositor's lines), not the widgets' state alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from layerscope import pipeline
from layerscope.analysis import Analysis, analyze
from layerscope.errors import EXIT_OK
from layerscope.sources import open_image
from layerscope.sources.interface import SourceOptions
from layerscope.tui.app import LayerscopeApp, MainScreen
from layerscope.tui.tree_model import Status
from layerscope.tui.waste_model import Filter, Order, WasteModel
from layerscope.tui.widgets.filetree import FileTree
from layerscope.tui.widgets.table import RowTable
from layerscope.tui.widgets.treepane import TreePane
from layerscope.tui.widgets.waste import WastePane
from tests.cli import layerscope

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"
SIZES = [(80, 24), (120, 40), (250, 60)]
Scenario = Callable[[Pilot[int]], Awaitable[None]]


def sample(name: str, dockerfile: bool = False) -> Analysis:
    """The sample as `layerscope ARCHIVE [--dockerfile]` reads it (the whole pipeline)."""
    df = str(SAMPLES / name / "Dockerfile") if dockerfile else None
    return pipeline.run(pipeline.Request(target=str(SAMPLES / f"{name}.tar.gz"), dockerfile=df))


def drive(app: LayerscopeApp, scenario: Scenario, size: tuple[int, int]) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await scenario(pilot)

    asyncio.run(main())


def screen_lines(app: LayerscopeApp) -> list[str]:
    """What the terminal shows, line by line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


@pytest.mark.parametrize("size", SIZES)
def test_zoomed_tree_fits_with_its_border_and_sizes(size: tuple[int, int]) -> None:
    """D1: `2 z` keeps the tree inside the screen: closing border, size column."""
    app = LayerscopeApp.for_analysis(sample("leftovers"))

    async def scenario(pilot: Pilot[int]) -> None:
        await pilot.press("2", "z")
        await pilot.pause()
        pane = app.screen.query_one(TreePane)
        assert app.screen.maximized is pane
        assert pane.region.right <= size[0] and pane.region.width == size[0]
        lines = screen_lines(app)
        top = next(line for line in lines if "File tree" in line)
        assert top.rstrip().endswith("╮")
        assert any(line.rstrip().endswith("MiB│") for line in lines)

    drive(app, scenario, size)


@pytest.mark.parametrize("size", [(60, 20), *SIZES])
def test_every_pane_focused_is_on_screen_and_help_quit_in_footer(size: tuple[int, int]) -> None:
    """D2: 1/2/3 never focus a pane off screen; ? Help and q Quit always show."""
    app = LayerscopeApp.for_analysis(sample("removed-later"))

    async def scenario(pilot: Pilot[int]) -> None:
        for key, pane_id in (("2", "treepane"), ("1", "layers"), ("3", "waste")):
            await pilot.press(key)
            await pilot.pause()
            pane = app.screen.query_one(f"#{pane_id}")
            region = pane.region
            assert region.width >= 30 and region.right <= size[0], (key, region)
            assert region.bottom <= size[1]
        footer = screen_lines(app)[-1]
        assert "? Help" in footer and "q Quit" in footer

    drive(app, scenario, size)


@pytest.mark.parametrize("size", SIZES)
def test_fix_is_on_the_first_screen(size: tuple[int, int]) -> None:
    """D2/D8: the decisive line of the biggest fix is visible without a key."""
    app = LayerscopeApp.for_analysis(sample("leftovers"))

    async def scenario(pilot: Pilot[int]) -> None:
        text = "\n".join(screen_lines(app))
        assert "Fix: Download, extract and delete the archive in one RUN" in text
        assert "&& rm -f /tmp/tool-1.0.tar.gz" in text

    drive(app, scenario, size)


def test_columns_use_the_width() -> None:
    """D3: at 250 columns the destination of both COPY layers shows in full."""
    app = LayerscopeApp.for_analysis(sample("duplicates"))

    async def scenario(pilot: Pilot[int]) -> None:
        text = "\n".join(screen_lines(app))
        assert "/usr/local/lib/vendor/" in text and "/app/third_party/" in text
        assert "/app/third_party/lib2.so (+2)" in text

    drive(app, scenario, (250, 60))


@pytest.mark.parametrize("size", SIZES)
def test_home_and_end_in_layers_and_waste(size: tuple[int, int]) -> None:
    """D4: Home and End move the cursor in both tables."""
    app = LayerscopeApp.for_analysis(sample("leftovers"))

    async def scenario(pilot: Pilot[int]) -> None:
        for key in ("3", "1"):
            await pilot.press(key)
            table = app.focused
            assert isinstance(table, RowTable) and table.row_count > 2
            await pilot.press("end")
            assert table.cursor_row == table.row_count - 1
            await pilot.press("home")
            assert table.cursor_row == 0

    drive(app, scenario, size)


@pytest.mark.parametrize("size", SIZES)
def test_tree_row_count_follows_open_and_close(size: tuple[int, int]) -> None:
    """D5: the tree's subtitle counts rows after Enter opens or closes a directory."""
    app = LayerscopeApp.for_analysis(sample("chown-copy"))

    async def scenario(pilot: Pilot[int]) -> None:
        await pilot.press("2", "C")
        pane = app.screen.query_one(TreePane)
        tree = app.screen.query_one(FileTree)
        before = len(tree.rows)
        assert f"{before} rows" in str(pane.border_subtitle)
        await pilot.press("home", "enter")  # open app/
        await pilot.pause()
        assert len(tree.rows) > before
        assert f"{len(tree.rows)} rows" in str(pane.border_subtitle)

    drive(app, scenario, size)


@pytest.mark.parametrize("size", [(80, 24), (120, 30)])
def test_next_finding_opens_at_its_title(size: tuple[int, int]) -> None:
    """D6: the detail scrolls back to the top when the cursor moves on."""
    app = LayerscopeApp.for_analysis(sample("leftovers"))

    async def scenario(pilot: Pilot[int]) -> None:
        scroll = app.screen.query_one("#fix-scroll")
        scroll.scroll_end(animate=False)
        await pilot.pause()
        assert scroll.scroll_y > 0
        await pilot.press("down")
        await pilot.pause()
        assert scroll.scroll_y == 0

    drive(app, scenario, size)


@pytest.mark.parametrize("size", SIZES)
def test_fix_is_the_planned_dockerfile_edit(size: tuple[int, int]) -> None:
    """D7: with --dockerfile the fix shows the real lines `layerscope fix` prints."""
    app = LayerscopeApp.for_analysis(sample("chown-copy", dockerfile=True))

    async def scenario(pilot: Pilot[int]) -> None:
        text = "\n".join(screen_lines(app))
        assert "+ COPY --chown=1000:1000 app/ /app/" in text
        assert "- RUN chown -R 1000:1000 /app" in text
        assert "+ RUN chown 1000:1000 /app" in text
        assert "<src>" not in text

    drive(app, scenario, size)


def test_patch_written_to_a_file_is_the_fix_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The patch key writes what `layerscope fix` prints; copy goes through OSC 52."""

    monkeypatch.chdir(tmp_path)
    analysis = sample("chown-copy", dockerfile=True)
    app = LayerscopeApp.for_analysis(analysis)
    copied: list[str] = []

    async def scenario(pilot: Pilot[int]) -> None:
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
        await pilot.press("p", "y")
        await pilot.pause()

    drive(app, scenario, (120, 40))
    patch = (tmp_path / "layerscope-fix.patch").read_text()
    cli = layerscope("fix", "--dockerfile", analysis.dockerfile or "")
    cli.check_returncode()
    assert patch == cli.stdout and "+COPY --chown=1000:1000 app/ /app/" in patch
    assert copied and "+COPY --chown=1000:1000 app/ /app/" in copied[0]


def test_export_writes_the_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = LayerscopeApp.for_analysis(sample("removed-later"))

    async def scenario(pilot: Pilot[int]) -> None:
        await pilot.press("e")
        await pilot.pause()

    drive(app, scenario, (120, 40))
    assert '"schema_version"' in (tmp_path / "layerscope-report.json").read_text()
    assert "LS101" in (tmp_path / "layerscope-report.md").read_text()


@pytest.mark.parametrize("size", SIZES)
def test_tree_cursor_line_keeps_size_and_layers(size: tuple[int, int]) -> None:
    """D10: the info under the tree starts with size, mode, owner and layers;
    a long name is cut in the middle, never its size column."""
    app = LayerscopeApp.for_analysis(sample("package-caches"))

    async def scenario(pilot: Pilot[int]) -> None:
        await pilot.press("2")
        tree = app.screen.query_one(FileTree)
        tree.reveal("var/lib/apt/lists")
        await pilot.pause()
        lines = screen_lines(app)
        info = [line for line in lines if "dir 0755 0:0  stored by layer" in line]
        assert len(info) == 1 and "KiB  dir" in info[0]
        assert any("/var/lib/apt/lists" in line for line in lines[lines.index(info[0]) :])

    drive(app, scenario, size)


def test_minor_items_plurals_escape_and_quit_code() -> None:
    app = LayerscopeApp.for_analysis(sample("removed-later"))

    async def scenario(pilot: Pilot[int]) -> None:
        text = "\n".join(screen_lines(app))
        assert "1 finding," in text and "1 findings" not in text
        assert "UNKNOWN" not in text and "base image layer" in text
        # Esc in the filter box drops the filter.
        await pilot.press("slash", *"tool", "enter")
        tree = app.screen.query_one(FileTree)
        assert tree.view.query == "tool"
        await pilot.press("slash", "escape")
        assert tree.view.query == ""
        assert app.screen.query_one("#tree-filter", Input).value == ""
        await pilot.press("q")

    drive(app, scenario, (120, 40))
    assert app.return_code == EXIT_OK


def test_grouped_waste_list_filters_and_orders() -> None:
    """D9: many findings of one rule and layer pair are one row; filters and order."""
    from tests.builders import d, docker_archive, file, layer_tar, wh

    many = [d("srv"), d("srv/mods")] + [file(f"srv/mods/m{i:03d}.py", 9000 + i) for i in range(40)]
    layers = [many, [wh(f"srv/mods/m{i:03d}.py") for i in range(40)], [file("big", 100)]]
    raw = docker_archive([layer_tar(m) for m in layers], None, repo_tag="x/many:1")
    model = None
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".tar") as f:
        f.write(raw)
        f.flush()
        result = analyze(open_image(f.name, options=SourceOptions()))
    model = WasteModel(result)
    rows = model.rows()
    group = rows[0].group
    if len(result.findings) >= 3:
        assert group is not None and group.directory == "/srv/mods"
        assert rows[0].bytes == sum(f.bytes for f in result.findings if f.rule == group.rule)
        opened = model.rows(opened=frozenset({(group.rule, group.layer, group.hidden_by)}))
        assert len(opened) == len(rows) + len(group.findings)
    assert model.rows(Filter.parse("rule:LS999")) == []
    assert model.rows(Filter.parse("layer:0 origin:own"))
    assert [r.path for r in model.rows(order=Order.PATH)] == sorted(r.path for r in rows)
    with pytest.raises(Exception, match="severity"):
        Filter.parse("sev:urgent")


def test_tree_toggles_regex_and_expand_all() -> None:
    app = LayerscopeApp.for_analysis(sample("removed-later"))

    async def scenario(pilot: Pilot[int]) -> None:
        await pilot.press("2")
        tree = app.screen.query_one(FileTree)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("E")
        paths = {r.path for r in tree.rows}
        assert "tmp/dl/tool-1.0.tar" in paths and "opt/tool/payload.bin" in paths
        await pilot.press("a")  # hide what layer 1 added
        assert Status.ADDED in tree.view.hidden
        assert not {r.path for r in tree.rows} & {"tmp/dl/tool-1.0.tar", "opt/tool/payload.bin"}
        await pilot.press("a", "slash", *r"re:tool-\d\.\d\.tar$", "enter")
        await pilot.pause()
        matches, _ = tree.model.search(tree.view.query, tree.view.layer)
        assert matches == {"tmp/dl/tool-1.0.tar"}
        await pilot.press("escape", "2", "right_square_bracket", "A")
        await pilot.pause()
        # Layer 2 with every change since the base (layer 0): layer 1's files show as added.
        assert tree.view.layer == 2 and tree.view.since == 0
        node = tree.model.node("opt/tool/payload.bin", 2, tree.view.since)
        assert node is not None and node.status is Status.ADDED
        mode = "\n".join(screen_lines(app))
        assert "all changes since layer 0" in mode

    drive(app, scenario, (120, 40))


def test_waste_pane_groups_on_screen() -> None:
    app = LayerscopeApp.for_analysis(sample("leftovers"))

    async def scenario(pilot: Pilot[int]) -> None:
        pane = app.screen.query_one(WastePane)
        await pilot.press("f", *"rule:LS303", "enter")
        await pilot.pause()
        assert [r.finding.rule for r in pane.rows] == ["LS303"]
        assert "1 finding in 1 row" in str(pane.border_subtitle)
        await pilot.press("f", "escape")
        assert len(pane.rows) == 4

    drive(app, scenario, (120, 40))


def test_main_screen_comes_before_the_tree_index(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Speed: the findings and fix show while the file tree is still indexed;
    the tree then comes in on the biggest finding's path."""
    import threading

    from layerscope.tui import loader as loader_module
    from layerscope.tui.loader import Loader, Phase

    release = threading.Event()
    real = loader_module.tree_of

    def slow_tree(result: Analysis) -> object:
        release.wait(30)
        return real(result)

    monkeypatch.setattr(loader_module, "tree_of", slow_tree)
    loader = Loader(lambda opts: open_image(str(archive), options=opts), analyze, SourceOptions())
    app = LayerscopeApp(loader=loader, target=str(archive))

    async def scenario(pilot: Pilot[int]) -> None:
        for _ in range(600):
            if isinstance(app.screen, MainScreen):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, MainScreen)
        await pilot.pause(0.2)
        assert loader.state.phase is Phase.INDEXING
        text = "\n".join(screen_lines(app))
        assert "Indexing the file tree" in text and "Fix:" in text
        await pilot.press("2", "s")  # no tree yet: nothing breaks
        release.set()
        for _ in range(600):
            if app.screen.query(FileTree):
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        tree = app.screen.query_one(FileTree)
        node = tree.current
        assert tree.view.layer == 2 and node is not None and node.path == "tmp/src.tgz"
        await pilot.press("2")
        assert app.focused is tree

    drive(app, scenario, (120, 40))
    release.set()


def test_more_paths_counts_what_is_not_listed() -> None:
    app = LayerscopeApp.for_analysis(sample("chown-copy"))

    async def scenario(pilot: Pilot[int]) -> None:
        text = "\n".join(screen_lines(app))
        finding = app.screen.query_one(WastePane).current
        assert finding is not None and finding.path_count == 21
        listed = len(finding.paths)
        assert f"… {21 - listed} more" in text

    drive(app, scenario, (120, 40))
