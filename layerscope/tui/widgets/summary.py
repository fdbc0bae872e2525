"""The header: which image, where its bytes go, and the budget verdict."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from layerscope.analysis import Analysis
from layerscope.tui.format import short, size


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
    """Two lines: the image, then total / final / wasted / reclaimable / efficiency."""

    def __init__(self, analysis: Analysis, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.analysis = analysis

    def on_mount(self) -> None:
        self.update(self.summary())

    def summary(self) -> Text:
        a = self.analysis
        image = a.image
        s = a.summary
        platform = f"{image.os}/{image.architecture}" + (
            f"/{image.variant}" if image.variant else ""
        )
        text = Text()
        text.append("layerscope ", style="bold")
        text.append(short(image.reference or image.id, 70), style="bold")
        text.append(f"  {image.source}, {platform}, {s.layer_count} layers, {s.file_count} files")
        text.append("\n")
        figures = [
            ("total", size(s.total_bytes), ""),
            ("final", size(s.final_bytes), ""),
            ("wasted", size(s.wasted_bytes), "bold" if s.wasted_bytes else ""),
            ("reclaimable", size(s.reclaimable_bytes), "bold" if s.reclaimable_bytes else ""),
            ("efficiency", f"{s.efficiency:.1%}", ""),
        ]
        for i, (label, value, style) in enumerate(figures):
            if i:
                text.append("  │  ", style="dim")
            text.append(f"{label} ")
            text.append(value, style=style or "bold")
        v = verdict(a)
        if v:
            text.append("  │  ", style="dim")
            text.append_text(v)
        return text
