"""The tree index waits for the main screen's first paint (run_tui's loader),
so the screen does not share the GIL with it; the screen lets it go."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from layerscope import pipeline
from layerscope.analysis import analyze
from layerscope.model import Image
from layerscope.sources import open_image
from layerscope.sources.interface import SourceOptions
from layerscope.tui import start_loading
from layerscope.tui.app import LayerscopeApp, MainScreen
from layerscope.tui.loader import Loader, Phase
from layerscope.tui.widgets.filetree import FileTree


def _read(path: Path) -> Callable[[SourceOptions], Image]:
    def read(opts: SourceOptions) -> Image:
        return open_image(str(path), options=opts)

    return read


def _wait(done: Callable[[], bool], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_a_held_index_waits_for_release(archive: Path) -> None:
    loader = Loader(_read(archive), analyze, SourceOptions(), hold_index=True)
    loader.start()
    _wait(lambda: loader.state.early is not None)
    time.sleep(0.3)
    assert loader.state.result is None and loader.state.phase is Phase.ANALYZING
    loader.release_index()
    _wait(lambda: loader.state.phase is Phase.DONE)
    assert loader.state.result is not None and loader.state.result.tree is not None
    loader.join(5)


def test_cancel_ends_a_held_loader(archive: Path) -> None:
    loader = Loader(_read(archive), analyze, SourceOptions(), hold_index=True)
    loader.start()
    _wait(lambda: loader.state.early is not None)
    loader.cancel()
    loader.join(5)
    assert not loader._thread.is_alive()
    assert loader.state.phase is Phase.CANCELLED and loader.state.result is None


def test_the_main_screen_releases_the_index(archive: Path) -> None:
    """As the command runs it: reading starts, the main screen comes with the
    analysis, then the tree (well within the hold's 5 s limit)."""
    request = pipeline.Request(target=str(archive))
    loader = start_loading(request, None)
    app = LayerscopeApp(loader=loader, target=str(archive))

    async def main() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            end = time.monotonic() + 20
            while not isinstance(app.screen, MainScreen):
                assert time.monotonic() < end
                await pilot.pause(0.02)
            main_at = time.monotonic()
            while loader.state.phase is not Phase.DONE or not app.screen.tree_ready:
                assert time.monotonic() < end
                await pilot.pause(0.02)
            assert time.monotonic() - main_at < 3.0
            assert app.screen.query(FileTree)
            await pilot.press("q")

    asyncio.run(main())
    loader.join(5)
