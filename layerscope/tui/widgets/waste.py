"""The waste pane: findings ranked by bytes (grouped, filtered, sorted), and
the fix of the highlighted one with its decisive lines first."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group as RichGroup
from rich.console import RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from layerscope.analysis import Analysis
from layerscope.base.attribution import rank
from layerscope.errors import UsageError
from layerscope.names import printable
from layerscope.rules import Finding, all_rules
from layerscope.rules.types import Kind, Severity
from layerscope.tui.fixes import FixPlan, PlannedFix
from layerscope.tui.format import (
    dockerfile,
    fix_blocks,
    plural,
    printable_lines,
    rewrite_lines,
    rule_example,
    short_middle,
    size,
)
from layerscope.tui.waste_model import Filter, Order, Row, WasteModel
from layerscope.tui.widgets.table import RowTable

SEVERITY_STYLE = {
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "bold yellow",
    Severity.LOW: "",
    Severity.INFO: "dim",
}
# Fixed columns: bytes, severity, rule, kind, layer; the path takes the rest.
LABELS = {"b": "Bytes", "s": "Sev", "r": "Rule", "k": "Kind", "l": "Layer"}
WIDTHS = {"b": 9, "s": 6, "r": 5, "k": max(len(k.value) for k in Kind), "l": 5}
MIN_PATH = 12
# What a row of each rank is, before its path (own waste needs no label).
RANK_LABELS = {1: "rebuild · ", 2: "base · "}
RANK_NOTES = {
    1: "Rebuild cost (LS5xx): no bytes in the image; what every rebuild redoes.",
    2: "Base image: bytes you pull with FROM, not made by your Dockerfile.",
}
NARROW = 96  # below this many cells the kind column goes (the detail still says it)


def code_block(code: str, dark: bool) -> Syntax:
    """Dockerfile text highlighted for the current theme, wrapped, never cut."""
    return Syntax(
        code,
        "docker",
        theme="monokai" if dark else "friendly",
        word_wrap=True,
        background_color="default",
    )


def diff_lines(lines: list[tuple[str, str]], colours: dict[str, str]) -> Table:
    """Signed lines in a grid: the sign column stays put while the code wraps."""
    styles = {
        "-": f"bold {colours.get('text-error', 'red')}",
        "+": f"bold {colours.get('text-success', 'green')}",
        " ": "",
        "@": "dim",
    }
    grid = Table.grid()
    grid.add_column(width=2, no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    for sign, line in lines:
        style = styles.get(sign, "")
        code_style = "dim" if sign in " @" else style.replace("bold ", "")
        grid.add_row(Text(sign if sign != "@" else "", style=style), Text(line, style=code_style))
    return grid


def planned_lines(planned: PlannedFix) -> list[tuple[str, str]]:
    """A fix's unified diff as signed lines, without the file header."""
    out: list[tuple[str, str]] = []
    for line in planned.short_diff.splitlines():
        if line.startswith(("--- ", "+++ ")):
            continue
        if line.startswith("@@"):
            out.append(("@", printable(line)))
        elif line.startswith("\\"):
            continue
        else:
            out.append((line[:1] or " ", printable(line[1:])))
    return out


class WastePane(Vertical):
    """Findings and their fixes; Enter on one shows its layer and paths."""

    ALLOW_MAXIMIZE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "filter_findings", "Filter waste", show=False),
        Binding("s", "order", "Sort waste", show=False),
    ]

    class Jump(Message):
        def __init__(self, finding: Finding) -> None:
            super().__init__()
            self.finding = finding

    def __init__(
        self,
        analysis: Analysis,
        *,
        fixes: FixPlan | None = None,
        id: str | None = None,  # noqa: A002
    ) -> None:
        super().__init__(id=id)
        self.analysis = analysis
        self.model = WasteModel(analysis)
        self.fixes = fixes if fixes is not None else FixPlan(analysis)
        self.findings = analysis.findings
        self.docs = {r.id: (r.title, rule_example(r.doc)) for r in all_rules()}
        self.dark = True
        self.filter = Filter()
        self.order = Order.BYTES
        self.opened: frozenset[tuple[str, int | None, int | None]] = frozenset()
        self.rows: list[Row] = []
        self._path_width = 0
        self._keys: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="rule:LS101 kind:leftover sev:low layer:3 origin:own words",
            id="waste-filter",
        )
        yield RowTable(id="waste-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="fix-scroll"):
            yield Static(id="fix")

    @property
    def table(self) -> RowTable:
        return self.query_one("#waste-table", RowTable)

    def on_mount(self) -> None:
        self.dark = self.app.current_theme.dark
        self.border_title = "Waste"
        self.refill()

    def _columns(self) -> tuple[str, ...]:
        """Column keys for the table's width: the kind goes first when room is short."""
        table = self.table
        width = table.scrollable_content_region.width or table.size.width
        return ("b", "s", "r", "k", "l") if width >= NARROW else ("b", "s", "r", "l")

    def _set_columns(self, keys: tuple[str, ...]) -> None:
        table = self.table
        table.clear(columns=True)
        for key in keys:
            label = LABELS[key]
            justify = "right" if key in "bl" else "left"
            table.add_column(Text(label, justify=justify), key=key, width=WIDTHS[key])  # type: ignore[arg-type]
        table.add_column(Text("Path"), key="path", width=MIN_PATH)
        self._keys = keys

    # -- the rows ------------------------------------------------------------
    def subtitle(self) -> None:
        if not self.findings:
            self.border_subtitle = "no waste found"
            return
        shown = [r for r in self.rows if not r.member]
        total = sum(r.bytes for r in shown if r.rank != 1)  # LS5xx: no bytes in the image
        what = plural(len(self.findings), "finding")
        if self.filter or len(shown) != len(self.findings):
            count = sum(len(r.group.findings) if r.group else 1 for r in shown)
            what = f"{plural(count, 'finding')} in {plural(len(shown), 'row')}"
        keys = "Enter: tree/open · f filter · s sort"
        self.border_subtitle = f"{what}, {size(total)} · by {self.order.value} · {keys}"

    def path_width(self) -> int:
        table = self.table
        width = table.scrollable_content_region.width or table.size.width
        keys = self._columns()
        fixed = sum(WIDTHS[k] for k in keys) + 2 * table.cell_padding * (len(keys) + 1)
        return max(MIN_PATH, width - fixed - 1)

    def refill(self) -> None:
        """Rebuild the table for the current filter, order, open groups and width."""
        table = self.table
        keep = self.current_row
        self.rows = self.model.rows(self.filter, self.order, self.opened)
        self._path_width = width = self.path_width()
        if self._columns() != self._keys:
            self._set_columns(self._columns())
        table.clear()
        table.columns["path"].width = width  # type: ignore[index]
        for i, row in enumerate(self.rows):
            f = row.finding
            group = row.group
            # Rebuild costs and the base image's findings say what they are.
            label = RANK_LABELS.get(row.rank, "") if not row.member else ""
            room = width - len(label)
            if group is not None and not row.member:
                n = len(group.findings)
                if group.base is not None:
                    label = ""
                    text = f"▸ {n:,} in the base image"
                    rules = f" ({', '.join(group.base.rules)})"
                    if len(text) + len(rules) <= width:
                        text += rules
                else:
                    text = f"▸ {n:,} under {group.directory}"
                if group.key in self.opened:
                    text = "▾" + text[1:]
                path = short_middle(text, width - len(label))
            else:
                first = f.paths[0] if f.paths else ""
                more = f" (+{f.path_count - 1:,})" if f.path_count > 1 else ""
                indent = "  " if row.member else ""
                path = indent + short_middle(first, room - len(more) - len(indent)) + more
            is_base = group is not None and group.base is not None
            cells = {
                "b": Text(size(row.bytes), justify="right"),
                "s": Text(f.severity.label, style=SEVERITY_STYLE[f.severity]),
                "r": Text("base" if is_base and not row.member else f.rule),
                "k": Text("base image" if is_base and not row.member else f.kind.value),
                "l": Text(
                    "-" if f.layer is None or (is_base and not row.member) else str(f.layer),
                    justify="right",
                ),
            }
            cell = Text.assemble((label, "dim italic"), path)
            table.add_row(*(cells[k] for k in self._keys), cell, key=str(i))
        self.subtitle()
        if keep is not None and keep in self.rows:
            table.move_cursor(row=self.rows.index(keep), animate=False)
        self.show(table.cursor_row if self.rows else None)

    def on_resize(self, event: events.Resize) -> None:
        if self.is_mounted and (
            self.path_width() != self._path_width or self._columns() != self._keys
        ):
            self.refill()

    @property
    def current_row(self) -> Row | None:
        row = self.table.cursor_row if self.rows else -1
        return self.rows[row] if 0 <= row < len(self.rows) else None

    @property
    def current(self) -> Finding | None:
        row = self.current_row
        return row.finding if row is not None else None

    def set_dark(self, dark: bool) -> None:
        self.dark = dark
        self.show(self.table.cursor_row if self.rows else None)

    # -- keys ----------------------------------------------------------------
    def action_filter_findings(self) -> None:
        box = self.query_one("#waste-filter", Input)
        box.add_class("shown")
        box.focus()

    @on(Input.Submitted, "#waste-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply_filter(event.value)

    def apply_filter(self, text: str) -> bool:
        """Filter the list; a bad term is said in a notification and changes nothing."""
        box = self.query_one("#waste-filter", Input)
        try:
            flt = Filter.parse(text)
        except UsageError as e:
            self.notify(str(e), severity="error", timeout=6)
            return False
        self.filter = flt
        box.value = text
        box.set_class(bool(text.strip()), "shown")
        self.refill()
        self.table.focus()
        return True

    def clear_filter(self) -> None:
        self.apply_filter("")

    def action_order(self) -> None:
        self.order = self.order.next()
        self.refill()

    @on(RowTable.RowHighlighted, "#waste-table")
    def _highlighted(self, event: RowTable.RowHighlighted) -> None:
        event.stop()
        self.show(event.cursor_row)

    @on(RowTable.RowSelected, "#waste-table")
    def _selected(self, event: RowTable.RowSelected) -> None:
        event.stop()
        if not 0 <= event.cursor_row < len(self.rows):
            return
        row = self.rows[event.cursor_row]
        if row.group is not None and not row.member:
            key = (row.group.rule, row.group.layer, row.group.hidden_by)
            self.opened = self.opened - {key} if key in self.opened else self.opened | {key}
            self.refill()
            return
        self.post_message(self.Jump(row.finding))

    # -- the detail ----------------------------------------------------------
    def show(self, index: int | None) -> None:
        fix = self.query_one("#fix", Static)
        # A new finding opens at its top: its title and decisive lines first.
        self.query_one("#fix-scroll", VerticalScroll).scroll_home(animate=False)
        if index is None or not 0 <= index < len(self.rows):
            text = (
                "No waste found: every stored byte is visible in the final image."
                if not self.findings
                else "No finding matches the filter (f, then Esc or an empty filter)."
            )
            fix.update(Text(text, style="italic"))
            return
        fix.update(self.render_row(self.rows[index]))

    def render_row(self, row: Row) -> RenderableType:
        if row.group is None or row.member:
            return self.render_finding(row.finding)
        group = row.group
        head = Text()
        head.append(f"{size(group.bytes)}  ", style="bold")
        if group.base is not None:
            opened = "close" if group.key in self.opened else "open"
            head.append(group.base.sentence(size), style="bold")
            note = Text(RANK_NOTES[2], style="italic")
            note.append(f" Enter: {opened} the list to see each finding. The biggest:", style="dim")
            return RichGroup(head, note, self.render_finding(group.first, labelled=False))
        head.append(
            f"{plural(len(group.findings), 'finding')} of {group.rule} under {group.directory}",
            style="bold",
        )
        head.append("  Enter: open the group", style="dim")
        return RichGroup(head, self.render_finding(group.first, paths_of=group.findings))

    def render_finding(
        self, f: Finding, paths_of: tuple[Finding, ...] | None = None, *, labelled: bool = True
    ) -> RenderableType:
        """Title, then the fix (its changed lines first), then why, then the paths."""
        title, example = self.docs.get(f.rule, ("", ""))
        colours = self.app.get_css_variables()
        parts: list[RenderableType] = []
        head = Text()
        head.append(f"{size(f.bytes)}  ", style="bold")
        head.append(f"{f.rule} {title}", style="bold")
        head.append(f"  ({f.kind.value}, {f.severity.label})")
        if f.location is not None:
            head.append(f"  {printable(f.location[0])}:{f.location[1]}", style="underline")
        parts.append(head)
        note = RANK_NOTES.get(rank(self.analysis, f)) if labelled else None
        if note is not None:
            parts.append(Text(note, style="italic"))
        planned = self.fixes.for_finding(f)
        concrete = planned is not None
        if planned is not None:
            text = Text("Fix: ", style="bold")
            text.append(printable(planned.fix.title))
            text.append("  (as layerscope fix: y copies, p writes the patch)", style="dim")
            parts.append(text)
            parts.append(diff_lines(planned_lines(planned), colours))
        else:
            concrete = self._fix_text(f, parts, colours)
        parts.append(Text.assemble(("Why: ", "bold"), printable(f.message)))
        paths = Text(style="dim")
        sources = paths_of if paths_of is not None else (f,)
        listed = total = 0
        for source in sources:
            for p in source.paths:
                if listed < 8:
                    paths.append(f"  {printable(p)}\n")
                    listed += 1
            total += max(source.path_count, len(source.paths))
        if total > listed:
            paths.append(f"  … {total - listed:,} more\n")
        parts.append(paths)
        if example and not concrete:
            parts.append(Text(f"How {f.rule} is fixed in general:", style="bold"))
            parts.append(code_block(example, self.dark))
        return RichGroup(*parts)

    def _fix_text(self, f: Finding, parts: list[RenderableType], colours: dict[str, str]) -> bool:
        """The finding's own fix text; True when it carries Dockerfile code."""
        blocks = fix_blocks(f.fix)
        concrete = False
        first = True
        i = 0
        while i < len(blocks):
            kind, body = blocks[i]
            if kind == "prose":
                # The first line is the fix's heading; later prose is plain.
                text = Text("Fix: " if first else "", style="bold" if first else "")
                text.append(printable_lines(body))
                parts.append(text)
            elif kind == "code":
                concrete = True
                parts.append(code_block(dockerfile(printable_lines(body)), self.dark))
            else:
                concrete = True
                j = i
                while j < len(blocks) and blocks[j][0] in "-+":
                    j += 1
                old = [b for k, b in blocks[i:j] if k == "-"]
                new = [b for k, b in blocks[i:j] if k == "+"]
                lines = rewrite_lines(
                    printable_lines("\n".join(old)), printable_lines("\n".join(new))
                )
                parts.append(diff_lines(lines, colours))
                i = j
                first = False
                continue
            first = False
            i += 1
        return concrete
