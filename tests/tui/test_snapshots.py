"""SVG snapshots of the main screens (reviewed by eye; update with --snapshot-update)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from layerscope.analysis import Analysis, analyze
from layerscope.sources import open_image
from layerscope.sources.interface import SourceOptions
from layerscope.tui.app import LayerscopeApp
from layerscope.tui.loader import Loader
from tests.tui.conftest import EVIL

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"
SIZE = (140, 40)
SnapCompare = Callable[..., bool]


def sample(name: str) -> Analysis:
    return analyze(open_image(str(SAMPLES / f"{name}.tar.gz"), options=SourceOptions()))


def test_main_screen_removed_later(snap_compare: SnapCompare) -> None:
    assert snap_compare(LayerscopeApp.for_analysis(sample("removed-later")), terminal_size=SIZE)


def test_main_screen_light_theme_chown(snap_compare: SnapCompare) -> None:
    app = LayerscopeApp.for_analysis(sample("chown-copy"), light=True)
    assert snap_compare(app, terminal_size=SIZE)


def test_main_screen_opens_on_the_biggest_finding(
    snap_compare: SnapCompare, analysis: Analysis
) -> None:
    assert snap_compare(LayerscopeApp.for_analysis(analysis), terminal_size=SIZE)


def test_jump_to_the_apt_cache_finding(snap_compare: SnapCompare, analysis: Analysis) -> None:
    apt = next(i for i, f in enumerate(analysis.findings) if f.rule == "LS201")
    keys = ["down"] * apt + ["enter"]
    assert snap_compare(LayerscopeApp.for_analysis(analysis), press=keys, terminal_size=SIZE)


def test_filtered_tree_shows_escaped_names(snap_compare: SnapCompare, analysis: Analysis) -> None:
    assert "\x1b" in EVIL
    keys = ["slash", *"evil", "enter", "_"]
    assert snap_compare(LayerscopeApp.for_analysis(analysis), press=keys, terminal_size=SIZE)


def test_only_waste_sorted_by_size(snap_compare: SnapCompare, analysis: Analysis) -> None:
    keys = ["2", "C", "w", "s", "home", "enter", "down", "enter"]
    assert snap_compare(LayerscopeApp.for_analysis(analysis), press=keys, terminal_size=SIZE)


def test_help_screen(snap_compare: SnapCompare, analysis: Analysis) -> None:
    keys = ["question_mark"]
    assert snap_compare(LayerscopeApp.for_analysis(analysis), press=keys, terminal_size=SIZE)


def test_narrow_terminal(snap_compare: SnapCompare) -> None:
    app = LayerscopeApp.for_analysis(sample("overwritten"))
    assert snap_compare(app, terminal_size=(100, 30))


def test_progress_screen(snap_compare: SnapCompare) -> None:
    def never(opts: SourceOptions) -> object:
        raise AssertionError("the snapshot does not start the loader")

    loader = Loader(never, analyze, SourceOptions(), bytes_total=48 << 20)  # type: ignore[arg-type]
    state = loader.state
    state.bytes_read, state.layers_done, state.layers_total = 18 << 20, 3, 7
    state.started, state.finished = 100.0, 172.5
    app = LayerscopeApp(loader=loader, target="example/app:1.0", autostart=False)

    async def settle(pilot: Pilot[int]) -> None:
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 24), run_before=settle)


@pytest.mark.parametrize("light", [False, True])
def test_no_waste(snap_compare: SnapCompare, tmp_path: Path, light: bool) -> None:
    from tests.builders import d, file
    from tests.tui.conftest import write_archive

    path = write_archive(tmp_path / "clean.tar", [[d("app"), file("app/a", 10)], [file("b", 5)]])
    result = analyze(open_image(str(path), options=SourceOptions()))
    assert snap_compare(LayerscopeApp.for_analysis(result, light=light), terminal_size=(120, 30))


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (250, 60)])
def test_fix_first_at_every_size(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """Issue 17: the biggest fix with its decisive line, at each size."""
    assert snap_compare(LayerscopeApp.for_analysis(sample("leftovers")), terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (250, 60)])
def test_zoomed_tree(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    app = LayerscopeApp.for_analysis(sample("leftovers"))
    assert snap_compare(app, press=["2", "z"], terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (250, 60)])
def test_planned_fix_with_dockerfile(
    snap_compare: SnapCompare, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from layerscope.pipeline import with_dockerfile

    # A relative path: the picture must not depend on where the checkout lies.
    monkeypatch.chdir(SAMPLES)
    result = with_dockerfile(sample("chown-copy"), "chown-copy/Dockerfile")
    assert snap_compare(LayerscopeApp.for_analysis(result), terminal_size=size)


def test_small_terminal_tree(snap_compare: SnapCompare) -> None:
    app = LayerscopeApp.for_analysis(sample("removed-later"))
    assert snap_compare(app, press=["2"], terminal_size=(60, 20))


def test_base_image_findings_collapsed(snap_compare: SnapCompare) -> None:
    """Issue 21 item 12: own waste, a rebuild cost, then the base image's
    findings as one row, opened."""
    from tests.tui.test_base_rank import base_result

    app = LayerscopeApp.for_analysis(base_result())
    assert snap_compare(app, press=["down", "down", "enter"], terminal_size=SIZE)
