"""The file tree of one layer: a virtual list over the tree model.

Only the rows of expanded directories exist (a flat list of paths and
depths), and only the lines on screen are rendered, so a 200,000-file image
costs what its open directories cost. Expanding or collapsing splices the
row list; switching layer or filter rebuilds it from the expanded set.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from layerscope.model import EntryType
from layerscope.names import printable
from layerscope.tui.format import cut_middle, size
from layerscope.tui.tree_model import Node, Row, Status, TreeModel, View

SYMBOL = {Status.ADDED: "+", Status.MODIFIED: "~", Status.REMOVED: "-", Status.UNCHANGED: " "}
SIZE_WIDTH = 10
# Filtered trees open every directory on the way to a match, up to this many matches.
AUTO_EXPAND = 2000


class FileTree(ScrollView, can_focus=True):
    """Rows of the merged filesystem of the selected layer."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "filetree--added",
        "filetree--modified",
        "filetree--removed",
        "filetree--waste",
        "filetree--dir",
        "filetree--size",
        "filetree--guide",
        "filetree--cursor",
        "filetree--marked",
    }
    DEFAULT_CSS = """
    FileTree {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        & > .filetree--added { color: $text-success; }
        & > .filetree--modified { color: $text-warning; }
        & > .filetree--removed { color: $text-error; text-style: strike; }
        & > .filetree--waste { color: $text-error; text-style: bold; }
        & > .filetree--dir { text-style: bold; }
        & > .filetree--size { color: $text-muted; }
        & > .filetree--guide { color: $text-muted; }
        & > .filetree--cursor { background: $block-cursor-blurred-background; }
        & > .filetree--marked { text-style: underline; }
        &:focus > .filetree--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
        }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "Top", show=False),
        Binding("end", "edge(1)", "Bottom", show=False),
        Binding("right,l", "expand", "Expand", show=False),
        Binding("left,h", "collapse", "Collapse", show=False),
        Binding("enter,space", "toggle_open", "Open/close", show=False),
        Binding("E", "expand_all", "Open all", show=False),
        Binding("a", "toggle_status('added')", "Hide added", show=False),
        Binding("m", "toggle_status('modified')", "Hide modified", show=False),
        Binding("x", "toggle_status('removed')", "Hide removed", show=False),
        Binding("u", "toggle_status('unchanged')", "Hide unchanged", show=False),
        Binding("A", "aggregate", "All changes", show=False),
    ]

    class RowsChanged(Message):
        """Directories opened or closed: the row count changed."""

    class Moved(Message):
        """The cursor is on another node (or on nothing)."""

        def __init__(self, node: Node | None) -> None:
            super().__init__()
            self.node = node

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
        self.floor = floor  # what the aggregated view compares with
        self.view = View(layer=layer if layer >= 0 else max(0, model.layer_count - 1))
        self.expanded: set[str] = set()
        self.marked: frozenset[str] = frozenset()
        self.rows: list[Row] = []
        self.cursor = 0
        self._open: set[str] | frozenset[str] = self.expanded
        self._style_key: tuple[str, bool] | None = None
        self._style_cache: dict[str, Style] = {}
        self._rebuild(keep=None)

    # -- state ---------------------------------------------------------------
    @property
    def current(self) -> Node | None:
        if not 0 <= self.cursor < len(self.rows):
            return None
        return self.model.node(self.rows[self.cursor].path, self.view.layer, self.view.since)

    def _open_dirs(self) -> set[str] | frozenset[str]:
        if not self.view.query:
            return self.expanded
        matches, above = self.model.search(self.view.query, self.view.layer)
        if len(matches) > AUTO_EXPAND:
            return self.expanded
        return self.expanded | above

    def _rebuild(self, keep: str | None) -> None:
        self._open = self._open_dirs()
        self.rows = self.model.rows(self.view, self._open)
        self.virtual_size = Size(self.size.width, len(self.rows))
        self.cursor = 0
        if keep is not None:
            self.cursor = self._nearest_row(keep)
        self.refresh()
        if self.is_attached:
            self.post_message(self.RowsChanged())

    def _nearest_row(self, path: str) -> int:
        index = {r.path: i for i, r in enumerate(self.rows)}
        while path:
            if path in index:
                return index[path]
            path = path.rpartition("/")[0]
        return 0

    def set_view(self, view: View) -> None:
        """Show another layer, order or filter; the cursor stays on its path."""
        if view == self.view:
            return
        node = self.current
        self.view = view
        self._rebuild(keep=node.path if node else None)
        self._cursor_changed()

    def set_layer(self, layer: int) -> None:
        self.set_view(replace(self.view, layer=layer))

    def reveal(self, path: str, marked: frozenset[str] = frozenset()) -> bool:
        """Open the directories above ``path`` and put the cursor on it."""
        path = path.strip("/")
        self.marked = marked
        if self.model.node(path, self.view.layer) is None:
            self.refresh()
            return False
        parent = path.rpartition("/")[0]
        while parent:
            self.expanded.add(parent)
            parent = parent.rpartition("/")[0]
        node = self.current
        self._rebuild(keep=node.path if node else None)
        found = any(r.path == path for r in self.rows)
        if not found and self.view.query:  # the filter hides it: drop the filter
            self.view = replace(self.view, query="")
            self._rebuild(keep=None)
            found = any(r.path == path for r in self.rows)
        self.cursor = self._nearest_row(path)
        self._cursor_changed(center=True)
        return found

    # -- expanding -----------------------------------------------------------
    def _set_open(self, index: int, want: bool) -> None:
        row = self.rows[index]
        is_open = row.path in self._open
        if not row.is_dir or is_open == want:
            return
        if want:
            self.expanded.add(row.path)
            if self._open is not self.expanded:
                self._open = self._open | {row.path}
            below = self.model.rows(self.view, self._open, under=row.path)
            self.rows[index + 1 : index + 1] = below
        else:
            self.expanded.discard(row.path)
            if self._open is not self.expanded:
                self._open = self._open - {row.path}
            end = index + 1
            while end < len(self.rows) and self.rows[end].depth > row.depth:
                end += 1
            del self.rows[index + 1 : end]
        self.virtual_size = Size(self.size.width, len(self.rows))
        self.refresh()
        self.post_message(self.RowsChanged())

    def action_toggle_open(self) -> None:
        if self.rows:
            row = self.rows[self.cursor]
            self._set_open(self.cursor, row.path not in self._open)

    def action_expand(self) -> None:
        if not self.rows:
            return
        row = self.rows[self.cursor]
        if row.is_dir and row.path in self._open:
            self.action_move(1)
        else:
            self._set_open(self.cursor, True)

    def action_collapse(self) -> None:
        if not self.rows:
            return
        row = self.rows[self.cursor]
        if row.is_dir and row.path in self._open:
            self._set_open(self.cursor, False)
            return
        parent = row.path.rpartition("/")[0]
        if parent:
            self.cursor = self._nearest_row(parent)
            self._cursor_changed()

    def action_collapse_all(self) -> None:
        node = self.current
        top = node.path.partition("/")[0] if node else None
        self.expanded.clear()
        self.view = replace(self.view, query="") if self.view.query else self.view
        self._rebuild(keep=top)
        self._cursor_changed()

    def action_expand_all(self) -> None:
        """Open every directory (of every layer: the set does not depend on it)."""
        node = self.current
        self.expanded.update(p for p in self.model.children if p)
        self._rebuild(keep=node.path if node else None)
        self._cursor_changed()

    def action_toggle_status(self, status: str) -> None:
        """Show or hide one change type (added, modified, removed, unchanged)."""
        which = Status(status)
        hidden = self.view.hidden
        self.set_view(replace(self.view, hidden=hidden ^ {which}))

    def action_aggregate(self) -> None:
        """This layer's changes, or every change since the floor layer (the base's top)."""
        since = None if self.view.since is not None else self.floor
        self.set_view(replace(self.view, since=since))

    # -- moving --------------------------------------------------------------
    def action_move(self, delta: int) -> None:
        if not self.rows:
            return
        was = self.cursor
        self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))
        top = int(self.scroll_offset.y)
        height = self.scrollable_content_region.height
        if top <= self.cursor < top + height:
            # No scrolling needed: repaint the two rows, not the whole tree.
            self.refresh_line(was)
            self.refresh_line(self.cursor)
            self.post_message(self.Moved(self.current))
        else:
            self._cursor_changed()

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(1, self.scrollable_content_region.height - 1))

    def action_edge(self, end: int) -> None:
        self.action_move(len(self.rows) if end else -len(self.rows))

    def _cursor_changed(self, center: bool = False) -> None:
        if self.rows:
            self.scroll_to_region(
                Region(0, self.cursor, 1, 1), animate=False, center=center, force=True
            )
        self.refresh()
        self.post_message(self.Moved(self.current))

    def on_click(self, event: events.Click) -> None:
        index = event.y + int(self.scroll_offset.y)
        if not 0 <= index < len(self.rows):
            return
        row = self.rows[index]
        arrow = 4 + 2 * row.depth
        was = self.cursor
        self.cursor = index
        if row.is_dir and (event.chain > 1 or was == index or arrow <= event.x <= arrow + 1):
            self._set_open(index, row.path not in self._open)
        self._cursor_changed()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.rows))

    # -- rendering -----------------------------------------------------------
    def _styles(self) -> dict[str, Style]:
        """Component styles, looked up once per theme and focus, not per line."""
        key = (self.app.theme, self.has_focus)
        if self._style_key != key:
            get = self.get_component_rich_style
            self._style_cache = {
                Status.ADDED.value: get("filetree--added"),
                Status.MODIFIED.value: get("filetree--modified"),
                Status.REMOVED.value: get("filetree--removed"),
                Status.UNCHANGED.value: Style(),
                "bold": Style(bold=True),
                "waste": get("filetree--waste"),
                "dir": get("filetree--dir"),
                "marked": get("filetree--marked"),
                "guide": get("filetree--guide"),
                "size": get("filetree--size"),
                "cursor": get("filetree--cursor"),
            }
            self._style_key = key
        return self._style_cache

    def notify_style_update(self) -> None:
        self._style_key = None
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_offset.y)
        width = self.scrollable_content_region.width
        base = self.rich_style
        if not 0 <= index < len(self.rows):
            return Strip.blank(width, base)
        row = self.rows[index]
        node = self.model.node(row.path, self.view.layer, self.view.since)
        if node is None:
            return Strip.blank(width, base)
        styles = self._styles()
        status_style = styles[node.status.value]
        waste = self.model.is_waste(node)
        entry = node.version.entry
        if row.is_dir:
            arrow = "▾ " if row.path in self._open else "▸ "
            name = printable(node.name) + "/"
        else:
            arrow = "  "
            name = printable(node.name)
            if entry.type in (EntryType.SYMLINK, EntryType.HARDLINK):
                name += " → " + printable(entry.linkname)
        name_style = status_style
        if row.is_dir:
            name_style = name_style + styles["dir"]
        if row.path in self.marked:
            name_style = name_style + styles["marked"]
        sym = SYMBOL[node.status]
        amount = size(self.model.size(node, self.view.layer))
        if entry.type not in (EntryType.FILE, EntryType.DIR):
            amount = ""
        left = [
            Segment(f" {sym}", status_style + styles["bold"]),
            Segment(" ! " if waste else "   ", styles["waste"]),
            Segment("  " * row.depth, styles["guide"]),
            Segment(arrow, styles["guide"]),
        ]
        used = sum(s.cell_length for s in left)
        room = max(1, width - used - SIZE_WIDTH - 1)
        if len(name) > room:
            # Cut in the middle: the end of a long name tells it apart.
            name = cut_middle(name, room) if room >= 8 else name[: max(0, room - 1)] + "…"
        segments = [
            *left,
            Segment(name, name_style),
            Segment(" " * max(1, room - len(name) + 1)),
            Segment(amount.rjust(SIZE_WIDTH), styles["size"]),
        ]
        segments = list(Segment.apply_style(segments, style=base))
        if index == self.cursor:
            segments = list(Segment.apply_style(segments, post_style=styles["cursor"]))
        return Strip(segments).crop_extend(0, width, base)
