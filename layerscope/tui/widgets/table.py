"""A row table whose Home and End move the cursor, as the help says."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable


class RowTable(DataTable[Text]):
    """DataTable with Home/End (and g/G) on the first and last row, j/k as arrows.

    Textual's own Home/End scroll sideways, which these tables never need:
    their columns fit the pane.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home,g", "first_row", "First", show=False),
        Binding("end,G", "last_row", "Last", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("j", "cursor_down", "Down", show=False),
    ]

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
