"""The layers pane: one row per layer, the full command of the highlighted one."""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from layerscope.analysis import Analysis
from layerscope.names import printable
from layerscope.report.layer_command import NO_HISTORY, layer_command
from layerscope.tui.format import plural, printable_lines, short, size
from layerscope.tui.widgets.table import RowTable

COMMAND_WIDTH = 40
# Fixed columns: index, size, wasted, instruction, line; the command takes the rest.
WIDTHS = (3, 9, 9, 7, 4)


def command_of(analysis: Analysis, index: int) -> tuple[str, str]:
    """(instruction, command) of a layer: ``?`` without a history entry, ``·``
    where the history names no instruction (the command then says what it is)."""
    instr, command = layer_command(analysis, index)
    if instr is not None:
        return instr.value, command
    return ("?" if command == NO_HISTORY else "·"), command


def layer_lines(analysis: Analysis) -> dict[int, tuple[str, int]]:
    """Dockerfile (path, line) of each layer, where a finding located it."""
    out: dict[int, tuple[str, int]] = {}
    for f in analysis.findings:
        if f.layer is not None and f.location is not None:
            out.setdefault(f.layer, f.location)
    return out


def base_rule(name: str, width: int) -> str:
    """The rule row's words between the base's layers and the user's, the
    longest that fits ``width`` cells: the whole name first, cut only when
    nothing else fits."""
    for tail in (" above, your layers below", " above", ""):
        if 3 + len(name) + len(tail) <= width:
            return f"── {name}{tail}"
    if width - 9 >= 8:
        return f"── {short(name, width - 9)} above"
    if width - 3 >= 4:
        return f"── {short(name, width - 3)}"
    return "─" * width


class LayersPane(Vertical):
    """Layers in image order with size, waste, instruction and command.

    With a known base image its layers are dimmed and a rule row separates
    them from the user's own; ``b`` hides and shows them. Table rows map to
    layer indices through ``_rows`` (None for the rule row).
    """

    ALLOW_MAXIMIZE = True

    class Selected(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, analysis: Analysis, *, layer: int = -1, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.analysis = analysis
        self.initial = layer if layer >= 0 else len(analysis.image.layers) - 1
        self.lines = layer_lines(analysis)
        self._fixed = 5 if self.lines else 4  # the Line column only with a Dockerfile
        self.hide_base = False
        self._rows: list[int | None] = []
        self._last_row = 0
        self._width = 0

    def compose(self) -> ComposeResult:
        yield RowTable(id="layers-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="layer-detail-scroll"):
            yield Static(id="layer-detail")

    @property
    def table(self) -> RowTable:
        return self.query_one("#layers-table", RowTable)

    def on_mount(self) -> None:
        self.border_title = "Layers"
        table = self.table
        labels = ("#", "Size", "Wasted", "Instr", "Line")[: self._fixed]
        keys = ("index", "size", "wasted", "instr", "line")[: self._fixed]
        for label, key, width in zip(labels, keys, WIDTHS, strict=False):
            justify = "left" if key == "instr" else "right"
            table.add_column(Text(label, justify=justify), key=key, width=width)  # type: ignore[arg-type]
        table.add_column(Text("Command"), key="command", width=COMMAND_WIDTH)
        self._fill()
        if self.initial > 0:
            table.move_cursor(row=self._row_of(self.initial))
        self.subtitle()

    def _fill(self) -> None:
        """(Re)build the rows: base layers dimmed (or hidden), then the rule, then own."""
        a = self.analysis
        table = self.table
        table.clear()
        self._rows = []
        self._width = width = self.command_width()
        table.columns["command"].width = width  # type: ignore[index]
        base = a.base_layer_count or 0
        for layer, stats in zip(a.image.layers, a.layers, strict=True):
            if self.hide_base and layer.index < base:
                continue
            if base and layer.index == base and not self.hide_base:
                rule = Text(base_rule(printable(a.base_reference) or "the base image", width))
                rule.stylize("dim")
                rules = (Text("─" * w, style="dim") for w in WIDTHS[: self._fixed])
                table.add_row(*rules, rule, key="base-rule")
                self._rows.append(None)
            self._rows.append(layer.index)
            instr, command = command_of(a, layer.index)
            style = "dim" if layer.index < base else ""
            where = self.lines.get(layer.index)
            line = Text(str(where[1]) if where else "", justify="right", style=style)
            table.add_row(
                Text(str(layer.index), justify="right", style=style),
                Text(size(stats.content_bytes), justify="right", style=style),
                Text(
                    size(stats.wasted_bytes) if stats.wasted_bytes else "-",
                    justify="right",
                    style="bold" if stats.wasted_bytes else style,
                ),
                Text(instr, style=style),
                *([line] if self.lines else []),
                Text(short(command, width), style=style),
                key=str(layer.index),
            )

    def command_width(self) -> int:
        """Cells left for the command once the fixed columns are drawn."""
        table = self.table
        width = table.scrollable_content_region.width or table.size.width
        widths = WIDTHS[: self._fixed]
        fixed = sum(widths) + 2 * table.cell_padding * (len(widths) + 1)
        return max(COMMAND_WIDTH // 2, width - fixed - 1)

    def on_resize(self, event: events.Resize) -> None:
        if self.is_mounted and self.command_width() != self._width:
            current = self.index
            self._fill()
            self.table.move_cursor(row=self._row_of(current), animate=False)

    def subtitle(self) -> None:
        base = self.analysis.base_layer_count
        shown = "hidden, b: show" if self.hide_base else "dim, b: hide"
        self.border_subtitle = plural(len(self.analysis.image.layers), "layer") + (
            f", {base} from the base image ({shown})" if base else ""
        )

    def _row_of(self, index: int) -> int:
        """The table row of layer ``index`` (the nearest shown one if hidden)."""
        if index in self._rows:
            return self._rows.index(index)
        return next((r for r, i in enumerate(self._rows) if i is not None and i > index), 0)

    @property
    def index(self) -> int:
        """The layer index under the cursor."""
        row = self.table.cursor_row
        if not 0 <= row < len(self._rows):
            return row
        layer = self._rows[row]
        return layer if layer is not None else (self.analysis.base_layer_count or 0)

    def select(self, index: int) -> None:
        """Put the cursor on layer ``index``; a hidden base layer shows the base again."""
        if not 0 <= index < len(self.analysis.image.layers):
            return
        if index not in self._rows and self.hide_base:
            self.action_toggle_base()
        row = self._row_of(index)
        if row != self.table.cursor_row:
            self.table.move_cursor(row=row)

    def action_toggle_base(self) -> None:
        """Hide or show the base image's layers."""
        if not self.analysis.base_layer_count:
            return
        current = self.index
        self.hide_base = not self.hide_base
        self._fill()
        self.table.move_cursor(row=self._row_of(current))
        self.subtitle()

    @on(RowTable.RowHighlighted, "#layers-table")
    def _highlighted(self, event: RowTable.RowHighlighted) -> None:
        event.stop()
        row = event.cursor_row
        if row != self.table.cursor_row:
            return  # stale: the cursor moved on before this event arrived
        layer = self._rows[row] if 0 <= row < len(self._rows) else row
        if layer is None:
            # The rule row is not a layer: step over it the way the cursor moved.
            step = 1 if row >= self._last_row else -1
            self._last_row = row
            self.table.move_cursor(row=max(0, min(row + step, len(self._rows) - 1)))
            return
        self._last_row = row
        self.query_one("#layer-detail", Static).update(self.describe(layer))
        self.post_message(self.Selected(layer))

    def describe(self, index: int) -> Text:
        a = self.analysis
        if not 0 <= index < len(a.image.layers):
            return Text()
        layer = a.image.layers[index]
        stats = a.layers[index]
        h = a.image.layer_history(layer)
        text = Text()
        text.append(f"Layer {index}", style="bold")
        instr, command = command_of(a, index)
        if h is not None and instr != "·":
            text.append(f"  {instr}", style="bold")
            text.append(f" ({h.parsed.builder.value} builder)")
        where = self.lines.get(index)
        if where is not None:
            text.append(f"  {printable(where[0])}:{where[1]}")
        text.append("\n")
        text.append(printable_lines(h.parsed.args) if instr != "·" and h else command)
        text.append("\n")
        text.append(
            f"{plural(stats.file_count, 'file')}, {size(stats.content_bytes)}; "
            f"added {stats.added_files:,} ({size(stats.added_bytes)}), "
            f"modified {stats.modified_files:,} ({size(stats.modified_bytes)}), "
            f"removed {stats.removed_files:,} ({size(stats.removed_bytes)})",
            style="dim",
        )
        if stats.wasted_bytes:
            text.append(f"\n{size(stats.wasted_bytes)} stored here are hidden later", style="bold")
        text.append(f"\n{layer.digest}", style="dim")
        return text
