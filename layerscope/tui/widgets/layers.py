"""The layers pane: one row per layer, the full command of the highlighted one."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from layerscope.analysis import Analysis
from layerscope.names import printable
from layerscope.tui.format import short, size

COMMAND_WIDTH = 40


def layer_lines(analysis: Analysis) -> dict[int, tuple[str, int]]:
    """Dockerfile (path, line) of each layer, where a finding located it."""
    out: dict[int, tuple[str, int]] = {}
    for f in analysis.findings:
        if f.layer is not None and f.location is not None:
            out.setdefault(f.layer, f.location)
    return out


class LayersPane(Vertical):
    """Layers in image order with size, waste, instruction and command."""

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

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="layers-table", cursor_type="row", zebra_stripes=True)
        yield table
        with VerticalScroll(id="layer-detail-scroll"):
            yield Static(id="layer-detail")

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#layers-table", DataTable)

    def on_mount(self) -> None:
        self.border_title = "Layers"
        a = self.analysis
        table = self.table
        table.add_column(Text("#", justify="right"), key="index")
        table.add_column(Text("Size", justify="right"), key="size")
        table.add_column(Text("Wasted", justify="right"), key="wasted")
        table.add_column(Text("Instr"), key="instr")
        table.add_column(Text("Line", justify="right"), key="line")
        table.add_column(Text("Command"), key="command")
        base = a.base_layer_count or 0
        for layer, stats in zip(a.image.layers, a.layers, strict=True):
            h = a.image.layer_history(layer)
            style = "dim" if layer.index < base else ""
            where = self.lines.get(layer.index)
            table.add_row(
                Text(str(layer.index), justify="right", style=style),
                Text(size(stats.content_bytes), justify="right", style=style),
                Text(
                    size(stats.wasted_bytes) if stats.wasted_bytes else "-",
                    justify="right",
                    style="bold" if stats.wasted_bytes else style,
                ),
                Text(h.parsed.instruction.value if h else "?", style=style),
                Text(str(where[1]) if where else "", justify="right", style=style),
                Text(short(h.parsed.args if h else "", COMMAND_WIDTH), style=style),
                key=str(layer.index),
            )
        if self.initial > 0:
            table.move_cursor(row=self.initial)
        self.subtitle()

    def subtitle(self) -> None:
        base = self.analysis.base_layer_count
        self.border_subtitle = f"{len(self.analysis.image.layers)} layers" + (
            f", {base} from the base image (dim)" if base else ""
        )

    @property
    def index(self) -> int:
        return self.table.cursor_row

    def select(self, index: int) -> None:
        if 0 <= index < self.table.row_count and index != self.table.cursor_row:
            self.table.move_cursor(row=index)

    @on(DataTable.RowHighlighted, "#layers-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.cursor_row != self.table.cursor_row:
            return  # stale: the cursor moved on before this event arrived
        self.query_one("#layer-detail", Static).update(self.describe(event.cursor_row))
        self.post_message(self.Selected(event.cursor_row))

    def describe(self, index: int) -> Text:
        a = self.analysis
        if not 0 <= index < len(a.image.layers):
            return Text()
        layer = a.image.layers[index]
        stats = a.layers[index]
        h = a.image.layer_history(layer)
        text = Text()
        text.append(f"Layer {index}", style="bold")
        if h is not None:
            text.append(f"  {h.parsed.instruction.value}", style="bold")
            text.append(f" ({h.parsed.builder.value} builder)")
        where = self.lines.get(index)
        if where is not None:
            text.append(f"  {printable(where[0])}:{where[1]}")
        text.append("\n")
        text.append(printable(h.parsed.args) if h is not None else "(no history entry)")
        text.append("\n")
        text.append(
            f"{stats.file_count} files, {size(stats.content_bytes)}; "
            f"added {stats.added_files} ({size(stats.added_bytes)}), "
            f"modified {stats.modified_files} ({size(stats.modified_bytes)}), "
            f"removed {stats.removed_files} ({size(stats.removed_bytes)})",
            style="dim",
        )
        if stats.wasted_bytes:
            text.append(f"\n{size(stats.wasted_bytes)} stored here are hidden later", style="bold")
        text.append(f"\n{layer.digest}", style="dim")
        return text
