"""The file tree pane: filter box, mode line, the tree, and the selected node."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Input, Static

from layerscope.names import printable
from layerscope.tui.format import cut_middle, plural, size
from layerscope.tui.tree_model import Node, Sort, Status, TreeModel
from layerscope.tui.widgets.filetree import SYMBOL, FileTree

# Typing in the filter box searches once the keys stop for this long.
DEBOUNCE = 0.15


class TreePane(Vertical):
    """Everything about the file tree of the selected layer."""

    ALLOW_MAXIMIZE = True

    def __init__(
        self,
        model: TreeModel,
        *,
        layer: int = -1,
        floor: int = 0,
        id: str | None = None,  # noqa: A002
    ) -> None:
        super().__init__(id=id)
        self.model = model
        self.first_layer = layer
        self.floor = floor
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ filter paths", id="tree-filter")
        yield Static(id="tree-mode")
        yield FileTree(self.model, layer=self.first_layer, floor=self.floor, id="tree")
        yield Static(id="tree-info")

    def on_mount(self) -> None:
        self.border_title = "File tree"
        self.show_mode()
        info = self.describe(self.file_tree.current)
        self.query_one("#tree-info", Static).update(info, layout=False)

    @property
    def file_tree(self) -> FileTree:
        return self.query_one(FileTree)

    def show_mode(self) -> None:
        v = self.file_tree.view
        parts = [f"layer {v.layer}", f"sort: {v.sort.value}"]
        if v.since is not None and v.since < v.layer:
            parts[0] += f", all changes since layer {v.since}"
        if v.only_changes:
            parts.append("only changes in this layer")
        if v.only_waste:
            parts.append("only waste")
        if v.hidden:
            parts.append("hiding " + ", ".join(sorted(s.value for s in v.hidden)))
        if v.query:
            matches, _ = self.model.search(v.query, v.layer)
            parts.append(plural(len(matches), "match", "matches"))
        self.query_one("#tree-mode", Static).update(Text("  ·  ".join(parts)), layout=False)
        self.count_rows()

    def count_rows(self) -> None:
        rows = plural(len(self.file_tree.rows), "row")
        self.border_subtitle = f"+added ~modified -removed !waste · {rows}"

    @on(FileTree.RowsChanged)
    def _rows_changed(self, event: FileTree.RowsChanged) -> None:
        event.stop()
        self.show_mode()

    def set_layer(self, layer: int) -> None:
        self.file_tree.set_layer(layer)
        self.show_mode()

    def toggle_sort(self) -> None:
        v = self.file_tree.view
        self.file_tree.set_view(replace(v, sort=Sort.SIZE if v.sort is Sort.NAME else Sort.NAME))
        self.show_mode()

    def toggle_changes(self) -> None:
        v = self.file_tree.view
        self.file_tree.set_view(replace(v, only_changes=not v.only_changes))
        self.show_mode()

    def toggle_waste(self) -> None:
        v = self.file_tree.view
        self.file_tree.set_view(replace(v, only_waste=not v.only_waste))
        self.show_mode()

    def reveal(self, path: str, marked: frozenset[str]) -> None:
        self.file_tree.reveal(path, marked)
        if not self.file_tree.view.query:
            self.query_one("#tree-filter", Input).value = ""
        self.show_mode()

    @on(Input.Changed, "#tree-filter")
    def _typed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE, lambda: self.apply_filter(event.value))

    @on(Input.Submitted, "#tree-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        self.apply_filter(event.value)
        self.file_tree.focus()

    def apply_filter(self, text: str) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        self.file_tree.set_view(replace(self.file_tree.view, query=text.strip()))
        self.show_mode()

    @on(FileTree.Moved)
    def _moved(self, event: FileTree.Moved) -> None:
        self.query_one("#tree-info", Static).update(self.describe(event.node), layout=False)

    def describe(self, node: Node | None) -> Text:
        """The node's size, type, attributes and layers first (never cut off),
        then its whole path, wrapped."""
        if node is None:
            return Text("nothing here: change the layer or the filters", style="italic")
        layer = self.file_tree.view.layer
        v = node.version
        e = v.entry
        text = Text()
        text.append(f"{SYMBOL[node.status]} {size(self.model.size(node, layer))}", style="bold")
        text.append(f"  {e.type.value} {e.mode & 0o7777:04o} {e.uid}:{e.gid}")
        if e.linkname:
            text.append(f" → {printable(e.linkname)}")
        text.append("" if v.start < 0 else f"  stored by layer {v.start}")
        if node.status is Status.REMOVED:
            text.append(f", removed by layer {layer}")
        elif v.end < self.model.layer_count:
            text.append(f", {'removed' if v.removed else 'replaced'} by layer {v.end}")
        if self.model.is_waste(node):
            text.append("  ! waste", style="bold")
        text.append("\n")
        room = 2 * max(8, self.query_one("#tree-info", Static).content_region.width or 60)
        text.append(cut_middle(f"/{printable(node.path)}", room), style="bold")
        return text
