"""The help screen: every key, and what the tree's colours and symbols mean."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("1 / 2 / 3", "focus the Layers / File tree / Waste pane (small terminals: show it)"),
    ("Tab / Shift+Tab", "next / previous widget"),
    ("[ / ]", "previous / next layer, from any pane"),
    ("b (Layers)", "hide or show the base image's layers, when the base is known"),
    ("↑ ↓ j k PgUp PgDn", "move in the focused list"),
    ("Home End g G", "first / last row"),
    ("Enter (Waste)", "show the finding in the tree; on a group or the base row, open/close it"),
    ("f (Waste)", "filter: rule:LS101 kind:leftover sev:low layer:3 origin:own words"),
    ("s (Waste)", "sort by bytes (own waste, rebuild costs, then the base image), layer, path"),
    ("y", "copy the fix of the selected finding (OSC 52 clipboard)"),
    ("p", "write the whole Dockerfile patch to layerscope-fix.patch"),
    ("o", "open $EDITOR at the finding's Dockerfile line"),
    ("e", "export the report: layerscope-report.json and .md"),
    ("Enter / Space (tree)", "open or close a directory"),
    ("→ l / ← h", "open a directory / close it or go to its parent"),
    ("C / E", "close / open every directory"),
    ("a m x u (tree)", "hide or show added / modified / removed / unchanged entries"),
    ("A (tree)", "all changes since the base image, or this layer's only"),
    ("/", "filter the tree by path, re:PATTERN for a regex (Enter keeps, Esc clears)"),
    ("s (tree)", "sort the tree by name or by size"),
    ("c", "only what the selected layer changed"),
    ("w", "only waste"),
    ("z", "zoom the focused pane (again to restore)"),
    ("t", "dark / light colours"),
    ("?", "this help"),
    ("q / Ctrl+C", "quit"),
)
LEGEND: tuple[tuple[str, str, str], ...] = (
    ("+", "added by the selected layer", "text-success"),
    ("~", "modified by the selected layer (replaced, or its mode changed)", "text-warning"),
    ("-", "removed by the selected layer (struck through)", "text-error"),
    ("!", "waste: hidden by a later layer, or reported by a finding", "text-error"),
)


class HelpScreen(ModalScreen[None]):
    """Keys and legend; any of Esc, q, ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close")
    ]

    def compose(self) -> ComposeResult:
        keys = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        for key, what in KEYS:
            keys.add_row(key, what)
        legend = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
        legend.add_column(style="bold", no_wrap=True)
        legend.add_column()
        colours = self.app.get_css_variables()
        for symbol, what, variable in LEGEND:
            legend.add_row(Text(symbol, style=f"bold {colours.get(variable, '')}"), what)
        with VerticalScroll(id="help-box"):
            yield Static(Text("layerscope: keys", style="bold"))
            yield Static(keys)
            yield Static(Text("\nFile tree marks (colour and symbol)", style="bold"))
            yield Static(legend)
            yield Static(
                Text(
                    "\nSizes are bytes of regular files. A directory's size is what is visible "
                    "under it in the selected layer; a removed entry shows what it held. "
                    "The mouse works too: click a row, click a directory's arrow to open it, "
                    "scroll with the wheel.",
                )
            )

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = "Help"
