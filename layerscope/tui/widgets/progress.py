"""The progress screen shown while the image is exported, scanned and indexed."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static

from layerscope.names import printable
from layerscope.tui.format import short, size
from layerscope.tui.loader import Loader, LoadState, Phase

POLL = 0.1


def status_line(state: LoadState) -> str:
    """Bytes and layers done, and the elapsed time."""
    done = size(state.bytes_read)
    if state.bytes_total:
        done += f" of {size(state.bytes_total)}"
    layers = f"{state.layers_done}"
    if state.layers_total:
        layers += f"/{state.layers_total}"
    seconds = int(state.elapsed())
    again = f" (pass {state.passes}: hashing duplicate candidates)" if state.passes > 1 else ""
    via = f"from the {state.via}  ·  " if state.via else ""
    return (
        f"{via}{done} read  ·  {layers} layers scanned{again}  ·  "
        f"{seconds // 60}:{seconds % 60:02d}"
    )


PHASE_TEXT = {
    Phase.READING: "Reading and scanning layers",
    Phase.ANALYZING: "Analyzing: replaying layers, running the rules",
    Phase.INDEXING: "Indexing the file tree",
    Phase.DONE: "Done",
    Phase.FAILED: "Failed",
    Phase.CANCELLED: "Stopping",
}


class ProgressScreen(Screen[None]):
    """Polls the loader; tells the app when the result (or an error) is there."""

    class Finished(Message):
        def __init__(self, state: LoadState) -> None:
            super().__init__()
            self.state = state

    def __init__(self, loader: Loader, target: str, *, poll: bool = True) -> None:
        super().__init__(id="progress")
        self.loader = loader
        self.target = target
        self._poll = poll
        self._reported = False

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="progress-box"):
            yield Static(Text(short(printable(self.target), 70), style="bold"), id="progress-image")
            yield Static(id="progress-phase")
            yield ProgressBar(
                total=self.loader.state.bytes_total, show_eta=False, id="progress-bar"
            )
            yield Static(id="progress-status")
            yield Static("q or Ctrl+C stops and quits", id="progress-hint")
        yield Footer()

    def on_mount(self) -> None:
        self.update_state()
        if self._poll:
            self.set_interval(POLL, self.update_state)

    def update_state(self) -> None:
        state = self.loader.state
        self.query_one("#progress-phase", Static).update(PHASE_TEXT[state.phase])
        bar = self.query_one(ProgressBar)
        if state.bytes_total:
            read = state.bytes_total if state.phase is not Phase.READING else state.bytes_read
            bar.update(total=state.bytes_total, progress=min(read, state.bytes_total))
        elif state.layers_total:
            bar.update(total=state.layers_total, progress=state.layers_done)
        self.query_one("#progress-status", Static).update(status_line(state))
        # The analysis is done: the main screen comes while the tree is indexed
        # (or waits for that screen's first paint, see Loader's hold_index).
        early = state.early is not None and state.phase in (Phase.ANALYZING, Phase.INDEXING)
        if (early or state.phase in (Phase.DONE, Phase.FAILED)) and not self._reported:
            self._reported = True
            self.post_message(self.Finished(state))
