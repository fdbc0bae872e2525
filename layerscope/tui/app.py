"""The interactive view: `layerscope IMAGE` on a terminal.

A progress screen while the image is read, then one screen that answers
"where are my bytes going": the header with the figures, the layers, the
waste ranked by bytes with the fix of the biggest finding already shown,
and the file tree of the selected layer. Only this package imports Textual,
and only when the view runs.
"""

from __future__ import annotations

import os
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from layerscope import pipeline
from layerscope.analysis import Analysis
from layerscope.errors import EXIT_BUDGET, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from layerscope.gcpause import keep_collectable
from layerscope.model import Image
from layerscope.pipeline import Request
from layerscope.rules import Finding
from layerscope.sources.interface import SourceOptions
from layerscope.sources.size import input_size
from layerscope.tui.loader import Loaded, Loader, Phase, tree_of
from layerscope.tui.widgets.filetree import FileTree
from layerscope.tui.widgets.help import HelpScreen
from layerscope.tui.widgets.layers import LayersPane
from layerscope.tui.widgets.progress import ProgressScreen
from layerscope.tui.widgets.summary import SummaryBar
from layerscope.tui.widgets.treepane import TreePane
from layerscope.tui.widgets.waste import WastePane

DARK, LIGHT = "textual-dark", "textual-light"


def light_terminal(env: dict[str, str] | None = None) -> bool:
    """True when the terminal says its background is light (``COLORFGBG``)."""
    value = (env if env is not None else os.environ).get("COLORFGBG", "")
    background = value.rpartition(";")[2]
    return background.isdigit() and int(background) in (7, 15)


class MainScreen(Screen[None]):
    """Header, layers, waste and file tree of one analysed image."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "focus_pane('layers-table')", "Layers"),
        Binding("2", "focus_pane('tree')", "Tree"),
        Binding("3", "focus_pane('waste-table')", "Waste"),
        Binding("left_square_bracket", "step_layer(-1)", "Prev layer", key_display="["),
        Binding("right_square_bracket", "step_layer(1)", "Next layer", key_display="]"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("c", "only_changes", "Changes"),
        Binding("w", "only_waste", "Waste only"),
        Binding("z", "zoom", "Zoom"),
        Binding("escape", "leave", "Back", show=False),
    ]

    def __init__(self, loaded: Loaded) -> None:
        super().__init__(id="main")
        self.loaded = loaded
        self.analysis = loaded.analysis
        findings = self.analysis.findings
        # The first screen answers "where are my bytes going": the biggest
        # finding is selected, its fix shown, its layer and paths in the tree.
        first = findings[0].layer if findings else None
        self.first_layer = len(self.analysis.image.layers) - 1 if first is None else first

    def compose(self) -> ComposeResult:
        yield SummaryBar(self.analysis, id="summary")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield LayersPane(self.analysis, layer=self.first_layer, id="layers")
                yield WastePane(self.analysis, id="waste")
            yield TreePane(self.loaded.tree, layer=self.first_layer, id="treepane")
        yield Footer()

    @property
    def layers_pane(self) -> LayersPane:
        return self.query_one(LayersPane)

    @property
    def tree_pane(self) -> TreePane:
        return self.query_one(TreePane)

    @property
    def file_tree(self) -> FileTree:
        return self.query_one(FileTree)

    def on_mount(self) -> None:
        for warning in self.analysis.warnings:  # e.g. the Dockerfile differs from the history
            self.notify(warning, severity="warning", timeout=10)
        findings = self.analysis.findings
        if findings:
            self.jump(findings[0])
            self.query_one("#waste-table", DataTable).focus()
        else:
            self.query_one("#layers-table", DataTable).focus()

    def jump(self, finding: Finding) -> None:
        """Select the finding's layer and put the tree's cursor on its paths."""
        if finding.layer is not None:
            self.layers_pane.select(finding.layer)
            self.tree_pane.set_layer(finding.layer)
        marked = frozenset(p.strip("/") for p in finding.paths)
        if finding.paths:
            self.tree_pane.reveal(finding.paths[0], marked)

    @on(LayersPane.Selected)
    def _layer_selected(self, event: LayersPane.Selected) -> None:
        self.tree_pane.set_layer(event.index)

    @on(WastePane.Jump)
    def _jump(self, event: WastePane.Jump) -> None:
        self.jump(event.finding)
        self.file_tree.focus()

    def action_focus_pane(self, widget_id: str) -> None:
        if self.maximized is not None:
            self.minimize()
        self.query_one(f"#{widget_id}").focus()

    def action_step_layer(self, delta: int) -> None:
        index = self.layers_pane.index + delta
        if 0 <= index < len(self.analysis.image.layers):
            self.layers_pane.select(index)

    def action_filter(self) -> None:
        self.query_one("#tree-filter", Input).focus()

    def action_leave(self) -> None:
        if isinstance(self.focused, Input):
            self.tree_pane.apply_filter(self.focused.value)
            self.file_tree.focus()
        elif self.maximized is not None:
            self.minimize()

    def action_sort(self) -> None:
        self.tree_pane.toggle_sort()

    def action_only_changes(self) -> None:
        self.tree_pane.toggle_changes()

    def action_only_waste(self) -> None:
        self.tree_pane.toggle_waste()

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)


class LayerscopeApp(App[int]):
    """The whole interactive view: progress first, then the main screen."""

    CSS_PATH = "app.tcss"
    TITLE = "layerscope"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_view", "Quit"),
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("t", "toggle_theme", "Light/dark", show=False),
    ]

    def __init__(
        self,
        *,
        loader: Loader | None = None,
        loaded: Loaded | None = None,
        target: str = "",
        light: bool | None = None,
        autostart: bool = True,
    ) -> None:
        super().__init__()
        keep_collectable()  # a long-running app: never freeze what a load builds
        if (loader is None) == (loaded is None):
            raise ValueError("give a loader or a loaded result")
        self.loader = loader
        self.loaded = loaded
        self.target = target
        self.error: BaseException | None = None
        self._light = light_terminal() if light is None else light
        self._autostart = autostart

    @classmethod
    def for_analysis(cls, analysis: Analysis, *, light: bool = False) -> LayerscopeApp:
        """The main screen straight away, for a result already computed."""
        return cls(loaded=Loaded(analysis, tree_of(analysis)), light=light)

    def on_mount(self) -> None:
        self.theme = LIGHT if self._light else DARK
        if self.loaded is not None:
            self.push_screen(MainScreen(self.loaded))
            return
        assert self.loader is not None
        self.push_screen(ProgressScreen(self.loader, self.target, poll=self._autostart))
        if self._autostart and not self.loader.started:
            self.loader.start()

    def watch_theme(self, theme: str) -> None:
        dark = self.current_theme.dark
        for screen in self.screen_stack:
            for pane in screen.query(WastePane):
                pane.set_dark(dark)

    @on(ProgressScreen.Finished)
    def _finished(self, event: ProgressScreen.Finished) -> None:
        state = event.state
        if state.phase is Phase.DONE and state.result is not None:
            self.loaded = state.result
            self.switch_screen(MainScreen(state.result))
        else:
            self.error = state.error
            self.exit(EXIT_ERROR, return_code=EXIT_ERROR)

    def _stop_loading(self) -> None:
        if self.loader is not None:
            self.loader.cancel()

    def action_quit_view(self) -> None:
        self._stop_loading()
        passed = self.loaded is None or self.loaded.analysis.passed
        code = EXIT_OK if passed else EXIT_BUDGET
        self.exit(code, return_code=code)

    def action_interrupt(self) -> None:
        self._stop_loading()
        self.exit(EXIT_INTERRUPTED, return_code=EXIT_INTERRUPTED)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.current_theme.dark else DARK


def run_tui(request: Request) -> int:
    """Read the requested image with a progress screen, then show it; the exit status.

    The image is read and finished by :mod:`layerscope.pipeline`, exactly as the
    headless path does; the engine's images for the base match are listed while
    the engine prepares its export.
    """
    source = request.engine
    listing = pipeline.start(request, source)

    def read(opts: SourceOptions) -> Image:
        return pipeline.read(request, opts)

    def finish(image: Image) -> Analysis:
        return pipeline.finish(image, request, listing)

    total = None if source is not None else input_size(request.target)
    loader = Loader(read, finish, request.options, bytes_total=total)
    app = LayerscopeApp(loader=loader, target=request.target)
    code = app.run()
    loader.cancel()
    loader.join(timeout=2.0)  # let an engine export close its connection
    if app.error is not None:
        raise app.error
    return EXIT_OK if code is None else code
