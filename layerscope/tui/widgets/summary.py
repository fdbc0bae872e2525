"""The header: which image, where its bytes go, and the budget verdict."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import Static

from layerscope.analysis import Analysis
from layerscope.tui.format import plural, short, size


def verdict(analysis: Analysis) -> Text:
    """Budget verdict: nothing when no budget is configured."""
    budgets = analysis.budgets
    if not budgets:
        return Text()
    failed = [b for b in budgets if not b.passed and b.severity == "fail"]
    warned = [b for b in budgets if not b.passed and b.severity != "fail"]
    text = Text("budgets ")
    if failed:
        text.append(" FAIL ", style="bold reverse red")
        text.append(" " + ", ".join(short(b.message or b.name, 60) for b in failed[:2]))
        if len(failed) > 2:
            text.append(f" (+{len(failed) - 2})")
    else:
        text.append(" PASS ", style="bold reverse green")
        text.append(f" {len(budgets) - len(warned)}/{len(budgets)} hold")
    if warned:
        text.append(f"  {len(warned)} warning{'s' if len(warned) > 1 else ''}", style="yellow")
    return text


class SummaryBar(Static):
    """Two lines: the image, then total / final / wasted / reclaimable / efficiency.

    Narrower than :data:`WIDE` columns, both lines drop their words, not their
    figures, so the header never takes more than two lines.
    """

    WIDE = 110

    def __init__(self, analysis: Analysis, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.analysis = analysis
        self._wide: bool | None = None

    def on_mount(self) -> None:
        self._render_for(self.size.width or self.app.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self._render_for(event.size.width)

    def _render_for(self, width: int) -> None:
        wide = width >= self.WIDE
        if wide != self._wide:
            self._wide = wide
            self.update(self.summary(wide=wide, width=width))

    def summary(self, *, wide: bool = True, width: int = 140) -> Text:
        a = self.analysis
        image = a.image
        s = a.summary
        platform = f"{image.os}/{image.architecture}" + (
            f"/{image.variant}" if image.variant else ""
        )
        counts = f"{plural(s.layer_count, 'layer')}, {plural(s.file_count, 'file')}"
        text = Text(no_wrap=True, overflow="ellipsis")
        name = image.reference or image.id
        if wide:
            text.append("layerscope ", style="bold")
            text.append(short(name, 70), style="bold")
            text.append(f"  {image.source}, {platform}, {counts}")
        else:
            text.append(short(name, max(12, width - len(counts) - 6)), style="bold")
            text.append(f"  {counts}")
        text.append("\n")
        figures = [
            ("total", size(s.total_bytes), ""),
            ("final", size(s.final_bytes), ""),
            ("wasted", size(s.wasted_bytes), "bold" if s.wasted_bytes else ""),
            ("reclaimable", size(s.reclaimable_bytes), "bold" if s.reclaimable_bytes else ""),
            ("efficiency", f"{s.efficiency:.1%}", ""),
        ]
        if not wide:
            figures[3] = ("reclaim", figures[3][1], figures[3][2])
            figures[4] = ("eff", figures[4][1], "")
        download = image.download_bytes  # only where the source knows what a pull moves
        if download is not None:
            figures.insert(2, ("download" if wide else "pull", size(download), ""))
        sep = "  │  " if wide else " │ "
        for i, (label, value, style) in enumerate(figures):
            if i:
                text.append(sep, style="dim")
            text.append(f"{label} ")
            text.append(value, style=style or "bold")
        v = verdict(a)
        if v:
            text.append(sep, style="dim")
            text.append_text(v)
        return text
