"""The interactive view: `layerscope IMAGE` on a terminal.

A progress screen while the image is read, then one screen that answers
"where are my bytes going": the header with the figures, the layers, the
waste ranked by bytes with the fix of the biggest finding already shown,
and the file tree of the selected layer. Only this package imports Textual,
and only when the view runs.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from layerscope.analysis import Analysis
from layerscope.errors import EXIT_BUDGET, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from layerscope.gcpause import keep_collectable
from layerscope.rules import Finding
from layerscope.tui.fixes import FixPlan
from layerscope.tui.format import plural
from layerscope.tui.loader import Loaded, Loader, Phase, tree_of
from layerscope.tui.widgets.filetree import FileTree
from layerscope.tui.widgets.help import HelpScreen
from layerscope.tui.widgets.layers import LayersPane
from layerscope.tui.widgets.progress import ProgressScreen
from layerscope.tui.widgets.summary import SummaryBar
from layerscope.tui.widgets.treepane import TreePane
from layerscope.tui.widgets.waste import WastePane

DARK, LIGHT = "textual-dark", "textual-light"
PANES = ("layers", "waste", "treepane")


def light_terminal(env: dict[str, str] | None = None) -> bool:
    """True when the terminal says its background is light (``COLORFGBG``)."""
    value = (env if env is not None else os.environ).get("COLORFGBG", "")
    background = value.rpartition(";")[2]
    return background.isdigit() and int(background) in (7, 15)


class StableFooter(Footer):
    """A footer that rebuilds only when the keys it shows change.

    Textual's rebuilds its keys on every focus change; with a dozen keys that
    is 100 ms of a focus switch on a big image. The keys shown are the
    screen's (pane keys are in the help), so it rebuilds only on a new screen.
    """

    _shown: tuple[tuple[str, str, bool], ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        shown = tuple(
            (binding.key, binding.description, enabled)
            for (_, binding, enabled, _) in screen.active_bindings.values()
            if binding.show
        )
        if shown == self._shown and self._bindings_ready:
            return
        self._shown = shown
        super().bindings_changed(screen)


# Below this many columns or rows the screen shows one pane at a time.
SINGLE_BELOW = (100, 30)
EXPORTS = (("json", "json"), ("markdown", "md"), ("html", "html"))


class MainScreen(Screen[None]):
    """Header, layers, waste and file tree of one analysed image.

    On a small terminal (below :data:`SINGLE_BELOW`) only the focused pane is
    shown, at the full width: 1, 2 and 3 switch, so nothing is ever focused
    off screen.
    """

    # Textual repaints the whole screen when the focus moves; here the widgets
    # whose look depends on it repaint themselves (their :focus styles, the
    # pane borders of mark_focused), so a focus switch costs those only.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "app.help", "Help", key_display="?"),
        Binding("q", "app.quit_view", "Quit"),
        Binding("1", "focus_pane('layers-table')", "Layers"),
        Binding("2", "focus_pane('tree')", "Tree"),
        Binding("3", "focus_pane('waste-table')", "Waste"),
        Binding("y", "copy_fix", "Copy fix"),
        Binding("left_square_bracket", "step_layer(-1)", "Prev layer", key_display="[", show=False),
        Binding("right_square_bracket", "step_layer(1)", "Next layer", key_display="]", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort", show=False),
        Binding("c", "only_changes", "Changes", show=False),
        Binding("w", "only_waste", "Waste only", show=False),
        Binding("z", "zoom", "Zoom"),
        Binding("p", "write_patch", "Patch"),
        Binding("o", "open_editor", "Editor", show=False),
        Binding("e", "export", "Export"),
        Binding("b", "toggle_base", "Base"),
        Binding("C", "collapse_all", "Close all"),
        Binding("escape", "leave", "Back", show=False),
    ]

    def __init__(self, loaded: Loaded, loader: Loader | None = None) -> None:
        super().__init__(id="main")
        self.loaded = loaded
        self.loader = loader  # still indexing the tree when loaded.tree is None
        self.analysis = loaded.analysis
        self.fixes = FixPlan(self.analysis, loaded.stage)
        # The aggregated tree view compares with the base image's top layer.
        self.floor = max(0, (self.analysis.base_layer_count or 1) - 1)
        # (theme, accent, muted): the pane borders' colours for mark_focused.
        self._border_colours: tuple[str, Color, Color] = ("", Color(0, 0, 0), Color(0, 0, 0))
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
                yield WastePane(self.analysis, fixes=self.fixes, id="waste")
            if self.loaded.tree is not None:
                yield TreePane(
                    self.loaded.tree, layer=self.first_layer, floor=self.floor, id="treepane"
                )
            else:
                with Vertical(id="treepane"):
                    yield Static(Text("Indexing the file tree…", style="italic"), id="tree-wait")
        yield StableFooter(show_command_palette=False, compact=True)

    @property
    def layers_pane(self) -> LayersPane:
        return self.query_one(LayersPane)

    @property
    def waste_pane(self) -> WastePane:
        return self.query_one(WastePane)

    @property
    def tree_ready(self) -> bool:
        return self.loaded.tree is not None

    @property
    def tree_pane(self) -> TreePane:
        return self.query_one(TreePane)

    @property
    def file_tree(self) -> FileTree:
        return self.query_one(FileTree)

    def on_mount(self) -> None:
        self.query_one("#treepane").border_title = "File tree"
        if not self.tree_ready:
            self._waiting = self.set_interval(0.05, self._tree_done)
            if self.loader is not None:  # the index waits for this screen's first paint
                self.call_after_refresh(self.loader.release_index)
        for warning in self.analysis.warnings:  # e.g. the Dockerfile differs from the history
            self.notify(warning, severity="warning", timeout=10)
        self._fit(self.size.width, self.size.height)
        findings = self.analysis.findings
        if findings:
            self.jump(findings[0])
            self.query_one("#waste-table").focus()
        else:
            self.query_one("#layers-table").focus()

    def _tree_done(self) -> None:
        """Put the file tree in once the loader has indexed it."""
        state = self.loader.state if self.loader is not None else None
        if state is None or state.result is None or state.result.tree is None:
            return
        self._waiting.stop()
        # Awaiting the swap inside this screen's own message loop would wait on
        # itself: a worker (a task beside the loop) does it.
        self.run_worker(self._swap_tree(state.result), exclusive=True)

    async def _swap_tree(self, result: Loaded) -> None:
        assert result.tree is not None
        await self.query_one("#treepane").remove()
        pane = TreePane(result.tree, layer=self.layers_pane.index, floor=self.floor, id="treepane")
        await self.query_one("#body").mount(pane)
        self.loaded = result  # only now do the keys reach the tree
        finding = self.waste_pane.current
        if finding is not None:
            self.jump(finding)
        self._mark_active()

    # -- small terminals: one pane at a time -----------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        single = width < SINGLE_BELOW[0] or height < SINGLE_BELOW[1]
        self.set_class(single, "single")
        self._mark_active()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._mark_active()

    def _focused_pane(self) -> str | None:
        focused = self.focused
        if focused is not None:
            for node in focused.ancestors_with_self:
                if node.id in PANES:
                    return node.id
        return None

    def mark_focused(self) -> None:
        """The focused pane's border in the accent colour, the others muted.

        Only the border's colour changes, so only the two panes' frames are
        repainted: a CSS class or ``:focus-within`` would restyle every widget
        inside them, dropping the tables' render caches.
        """
        theme = self.app.theme
        if self._border_colours[0] != theme:  # the theme's variables take 20 ms to make
            colours = self.app.get_css_variables()
            self._border_colours = (
                theme,
                Color.parse(colours.get("accent", "orange")),
                Color.parse(colours.get("foreground", "white")).with_alpha(0.45),
            )
        _, accent, muted = self._border_colours
        active = self._focused_pane()
        for pid in PANES:
            styles = self.query_one(f"#{pid}").styles
            colour = accent if pid == active else muted
            if styles.border_top != ("round", colour):
                styles.border_top = styles.border_bottom = ("round", colour)
                styles.border_left = styles.border_right = ("round", colour)

    def _mark_active(self) -> None:
        self.mark_focused()
        if not self.has_class("single"):
            return  # the classes matter only there; restyling costs a focus switch
        pane = self._focused_pane() or "waste"
        for pid in PANES:
            self.query_one(f"#{pid}").set_class(pid == pane, "active")
        self.query_one("#left").set_class(pane != "treepane", "active")

    # -- jumping -----------------------------------------------------------------
    def jump(self, finding: Finding) -> None:
        """Select the finding's layer and put the tree's cursor on its paths."""
        if finding.layer is not None:
            self.layers_pane.select(finding.layer)
        if not self.tree_ready:
            return
        if finding.layer is not None:
            self.tree_pane.set_layer(finding.layer)
        marked = frozenset(p.strip("/") for p in finding.paths)
        if finding.paths:
            self.tree_pane.reveal(finding.paths[0], marked)

    @on(LayersPane.Selected)
    def _layer_selected(self, event: LayersPane.Selected) -> None:
        if self.tree_ready:
            self.tree_pane.set_layer(event.index)

    @on(WastePane.Jump)
    def _jump(self, event: WastePane.Jump) -> None:
        self.jump(event.finding)
        if self.tree_ready:
            self.file_tree.focus()

    def action_focus_pane(self, widget_id: str) -> None:
        if self.maximized is not None:
            self.minimize()
        if widget_id == "tree" and not self.tree_ready:
            self.notify("the file tree is still being indexed", timeout=3)
            return
        self.query_one(f"#{widget_id}").focus()

    def action_step_layer(self, delta: int) -> None:
        index = self.layers_pane.index + delta
        if 0 <= index < len(self.analysis.image.layers):
            self.layers_pane.select(index)

    def action_filter(self) -> None:
        if self.tree_ready:
            self.query_one("#tree-filter", Input).focus()

    def action_leave(self) -> None:
        """Esc: out of a filter box (clearing it), else out of the zoom."""
        focused = self.focused
        if isinstance(focused, Input) and focused.id == "tree-filter":
            focused.value = ""
            self.tree_pane.apply_filter("")
            self.file_tree.focus()
        elif isinstance(focused, Input) and focused.id == "waste-filter":
            self.waste_pane.clear_filter()
        elif self.maximized is not None:
            self.minimize()

    def action_toggle_base(self) -> None:
        self.layers_pane.action_toggle_base()

    def action_collapse_all(self) -> None:
        if self.tree_ready:
            self.file_tree.action_collapse_all()

    def action_sort(self) -> None:
        if self.tree_ready:
            self.tree_pane.toggle_sort()

    def action_only_changes(self) -> None:
        if self.tree_ready:
            self.tree_pane.toggle_changes()

    def action_only_waste(self) -> None:
        if self.tree_ready:
            self.tree_pane.toggle_waste()

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)

    # -- the fix, out of the view ---------------------------------------------------
    def _fix_of_current(self) -> tuple[str, str | None, int | None]:
        """(text to copy, Dockerfile path, line) of the highlighted finding."""
        finding = self.waste_pane.current
        if finding is None:
            return "", None, None
        planned = self.fixes.for_finding(finding)
        if planned is not None:
            return planned.diff, self.analysis.dockerfile, planned.line
        where = finding.location
        return finding.fix, where[0] if where else None, where[1] if where else None

    def action_copy_fix(self) -> None:
        text, _, _ = self._fix_of_current()
        if not text:
            self.notify("no finding selected", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.notify(
            f"copied the fix ({plural(len(text.splitlines()), 'line')}) with OSC 52. "
            "If your terminal ignores OSC 52 (tmux: set -g set-clipboard on), "
            "press p to write the patch to a file.",
            timeout=8,
        )

    def action_write_patch(self) -> None:
        patch = self.fixes.patch()
        if not patch:
            why = self.fixes.error or (
                "no fix to write"
                if self.fixes.known
                else "no Dockerfile: run with --dockerfile PATH"
            )
            self.notify(why, severity="warning", timeout=8)
            return
        path = _free_name("layerscope-fix", "patch")
        try:
            with open(path, "x", encoding="utf-8") as f:
                f.write(patch)
        except OSError as e:
            self.notify(f"cannot write {path}: {e.strerror}", severity="error")
            return
        self.notify(f"wrote {path}: apply with  patch -p0 < {path}", timeout=10)

    def action_open_editor(self) -> None:
        _, path, line = self._fix_of_current()
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if path is None or line is None:
            self.notify("this finding has no Dockerfile line (run with --dockerfile PATH)")
            return
        if not editor:
            self.notify(f"set $EDITOR to open {path}:{line}", severity="warning")
            return
        try:
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), f"+{line}", path], check=False)
        except SuspendNotSupported:
            self.notify(f"this terminal cannot hand over to an editor: open {path}:{line}")
        except (OSError, ValueError) as e:
            self.notify(f"cannot run {editor}: {e}", severity="error")

    def action_export(self) -> None:
        from layerscope.report import FORMATS, render

        written = []
        for fmt, ext in EXPORTS:
            if fmt not in FORMATS:
                continue
            path = _free_name("layerscope-report", ext)
            try:
                with open(path, "x", encoding="utf-8") as f:
                    f.write(render(fmt, self.analysis))
            except OSError as e:
                self.notify(f"cannot write {path}: {e.strerror}", severity="error")
                return
            written.append(path)
        self.notify("wrote " + ", ".join(written), timeout=8)


def _free_name(stem: str, ext: str) -> str:
    """``stem.ext`` in the working directory, or ``stem-2.ext`` ... when taken."""
    path = f"{stem}.{ext}"
    n = 1
    while os.path.exists(path):
        n += 1
        path = f"{stem}-{n}.{ext}"
    return path


class LayerscopeApp(App[int]):
    """The whole interactive view: progress first, then the main screen."""

    CSS_PATH = "app.tcss"
    TITLE = "layerscope"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("q", "quit_view", "Quit"),
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
        Binding("t", "toggle_theme", "Theme"),
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
            if isinstance(screen, MainScreen) and screen.is_mounted:
                screen.mark_focused()

    @on(ProgressScreen.Finished)
    def _finished(self, event: ProgressScreen.Finished) -> None:
        state = event.state
        if state.phase is Phase.DONE and state.result is not None:
            self.loaded = state.result
            self.switch_screen(MainScreen(state.result))
        elif state.early is not None:  # the analysis is done, the tree follows
            self.loaded = state.early
            self.switch_screen(MainScreen(state.early, self.loader))
        else:
            self.error = state.error
            self.exit(EXIT_ERROR, return_code=EXIT_ERROR)

    def _stop_loading(self) -> None:
        if self.loader is not None:
            self.loader.cancel()

    def action_quit_view(self) -> None:
        if self.loaded is None:  # quitting before the result: interrupted, as Ctrl+C
            self.action_interrupt()
            return
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


def show(loader: Loader, target: str) -> tuple[int, Analysis | None]:
    """Run the view on ``loader`` (started or not); the exit status and the
    analysis shown (None when the view closed before it was ready). A
    source's error is raised again here."""
    app = LayerscopeApp(loader=loader, target=target)
    code = app.run()
    loader.cancel()
    if app.error is not None:
        raise app.error
    shown = app.loaded.analysis if app.loaded is not None else None
    return (EXIT_OK if code is None else code), shown
