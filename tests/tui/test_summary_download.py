"""The header names what a pull transfers when the source knows it, and only then."""

from __future__ import annotations

import dataclasses

from layerscope.analysis import Analysis
from layerscope.tui.widgets.summary import SummaryBar


def _with_download(analysis: Analysis, sizes: list[int | None]) -> Analysis:
    layers = tuple(
        dataclasses.replace(layer, download_bytes=s)
        for layer, s in zip(analysis.image.layers, sizes, strict=True)
    )
    return dataclasses.replace(analysis, image=dataclasses.replace(analysis.image, layers=layers))


def test_download_shown_when_every_layer_is_known(analysis: Analysis) -> None:
    n = len(analysis.image.layers)
    known = _with_download(analysis, [1000 * (i + 1) for i in range(n)])
    total = sum(1000 * (i + 1) for i in range(n))
    wide = SummaryBar(known).summary(wide=True).plain
    assert "download" in wide
    from layerscope.tui.format import size

    assert f"download {size(total)}" in wide
    assert "pull " in SummaryBar(known).summary(wide=False, width=80).plain


def test_no_download_figure_when_any_layer_is_unknown(analysis: Analysis) -> None:
    n = len(analysis.image.layers)
    partly = _with_download(analysis, [None] + [5] * (n - 1))
    assert "download" not in SummaryBar(partly).summary(wide=True).plain
    assert "download" not in SummaryBar(analysis).summary(wide=True).plain
