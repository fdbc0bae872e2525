"""The waste pane: findings ranked by bytes, and the fix of the highlighted one."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from layerscope.analysis import Analysis
from layerscope.names import printable
from layerscope.rules import Finding, all_rules
from layerscope.rules.types import Severity
from layerscope.tui.format import (
    WRAP_AT,
    dockerfile,
    fix_blocks,
    printable_lines,
    rule_example,
    short,
    size,
)

PATH_WIDTH = 40
SEVERITY_STYLE = {
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "bold yellow",
    Severity.LOW: "",
    Severity.INFO: "dim",
}


def code_block(code: str, dark: bool) -> Syntax:
    """Dockerfile text highlighted for the current theme."""
    return Syntax(
        code,
        "docker",
        theme="monokai" if dark else "friendly",
        word_wrap=True,
        background_color="default",
    )


class WastePane(Vertical):
    """Findings and their fixes; Enter on one shows its layer and paths."""

    ALLOW_MAXIMIZE = True

    class Jump(Message):
        def __init__(self, finding: Finding) -> None:
            super().__init__()
            self.finding = finding

    def __init__(self, analysis: Analysis, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.analysis = analysis
        self.findings = analysis.findings
        self.docs = {r.id: (r.title, rule_example(r.doc)) for r in all_rules()}
        self.dark = True

    def compose(self) -> ComposeResult:
        yield DataTable(id="waste-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="fix-scroll"):
            yield Static(id="fix")

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#waste-table", DataTable)

    def on_mount(self) -> None:
        self.dark = self.app.current_theme.dark
        total = sum(f.bytes for f in self.findings)
        self.border_title = "Waste"
        self.border_subtitle = (
            f"{len(self.findings)} findings, {size(total)}  ·  Enter: show in tree"
            if self.findings
            else "no waste found"
        )
        table = self.table
        table.add_column(Text("Bytes", justify="right"), key="bytes")
        table.add_column(Text("Sev"), key="severity")
        table.add_column(Text("Rule"), key="rule")
        table.add_column(Text("Kind"), key="kind")
        table.add_column(Text("Layer", justify="right"), key="layer")
        table.add_column(Text("Path"), key="path")
        for i, f in enumerate(self.findings):
            first = f.paths[0] if f.paths else ""
            more = f" (+{f.path_count - 1})" if f.path_count > 1 else ""
            table.add_row(
                Text(size(f.bytes), justify="right"),
                Text(f.severity.label, style=SEVERITY_STYLE[f.severity]),
                Text(f.rule),
                Text(f.kind.value),
                Text("-" if f.layer is None else str(f.layer), justify="right"),
                Text(short(first, PATH_WIDTH) + more),
                key=str(i),
            )
        self.show(0 if self.findings else None)

    @property
    def current(self) -> Finding | None:
        row = self.table.cursor_row
        return self.findings[row] if 0 <= row < len(self.findings) else None

    def set_dark(self, dark: bool) -> None:
        self.dark = dark
        self.show(self.table.cursor_row if self.findings else None)

    @on(DataTable.RowHighlighted, "#waste-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.show(event.cursor_row)

    @on(DataTable.RowSelected, "#waste-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self.findings):
            self.post_message(self.Jump(self.findings[event.cursor_row]))

    def show(self, index: int | None) -> None:
        fix = self.query_one("#fix", Static)
        if index is None or not 0 <= index < len(self.findings):
            fix.update(
                Text(
                    "No waste found: every stored byte is visible in the final image.",
                    style="italic",
                )
            )
            return
        fix.update(self.render_finding(self.findings[index]))

    def render_finding(self, f: Finding) -> RenderableType:
        title, example = self.docs.get(f.rule, ("", ""))
        parts: list[RenderableType] = []
        head = Text()
        head.append(f"{size(f.bytes)}  ", style="bold")
        head.append(f"{f.rule} {title}", style="bold")
        head.append(f"  ({f.kind.value}, {f.severity.label})")
        if f.location is not None:
            head.append(f"  {printable(f.location[0])}:{f.location[1]}", style="underline")
        parts.append(head)
        parts.append(Text(printable(f.message)))
        paths = Text(style="dim")
        for p in f.paths:
            paths.append(f"  {printable(p)}\n")
        if f.path_count > len(f.paths):
            paths.append(f"  … {f.path_count - len(f.paths)} more\n")
        parts.append(paths)
        colours = self.app.get_css_variables()
        signs = {
            "-": ("- ", f"bold {colours.get('text-error', 'red')}"),
            "+": ("+ ", f"bold {colours.get('text-success', 'green')}"),
        }
        blocks = fix_blocks(f.fix)
        # Both sides of a rewrite break their && the same way, so they line up.
        diff_width = WRAP_AT
        if any(kind in "-+" and len(body) > WRAP_AT for kind, body in blocks):
            diff_width = 0
        first = True
        for kind, body in blocks:
            if kind == "prose":
                text = Text("Fix: " if first else "", style="bold")
                text.append(printable_lines(body))
                parts.append(text)
            elif kind == "code":
                parts.append(code_block(dockerfile(printable_lines(body)), self.dark))
            else:
                sign, style = signs[kind]
                grid = Table.grid()
                grid.add_column(width=2, no_wrap=True)
                grid.add_column(ratio=1)
                code = code_block(dockerfile(printable_lines(body), diff_width), self.dark)
                grid.add_row(Text(sign, style=style), code)
                parts.append(grid)
            first = False
        if example:
            parts.append(Text(f"\nHow {f.rule} is fixed in general:", style="bold"))
            parts.append(code_block(example, self.dark))
        return Group(*parts)
