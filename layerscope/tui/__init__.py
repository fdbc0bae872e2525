"""The interactive view. Importing this package imports no Textual: see app.py.

:func:`run_tui` starts reading the image before it imports Textual, so the
half second of imports overlaps the read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from layerscope.analysis import Analysis
    from layerscope.base.resolve import LocalImages
    from layerscope.pipeline import Request
    from layerscope.tui.loader import Loader


def start_loading(request: Request, listing: LocalImages | None) -> Loader:
    """A started :class:`~layerscope.tui.loader.Loader` of the requested image, read
    and finished by :mod:`layerscope.pipeline` exactly as the headless path does;
    its tree index waits for the main screen's first paint."""
    from layerscope import pipeline
    from layerscope.gcpause import keep_collectable
    from layerscope.model import Image
    from layerscope.sources.interface import SourceOptions
    from layerscope.sources.size import input_size
    from layerscope.tui.loader import Loader

    keep_collectable()  # a long-running app: never freeze what a load builds

    def read(opts: SourceOptions) -> Image:
        return pipeline.read(request, opts)

    def finish(image: Image) -> Analysis:
        return pipeline.finish(image, request, listing)

    total = None if request.engine is not None else input_size(request.target)
    loader = Loader(
        read,
        finish,
        request.options,
        bytes_total=total,
        stage=request.stage,
        hold_index=True,
    )
    loader.start()
    return loader


def run_tui(request: Request) -> tuple[int, Analysis | None]:
    """Read the requested image with a progress screen, then show it; the exit status
    and the analysis shown (None when the view closed before it was ready).

    The engine's images for the base match are listed while the engine
    prepares its export.
    """
    from layerscope import pipeline

    with pipeline.overlapping(request, request.engine) as listing:
        loader = start_loading(request, listing)
        try:
            from layerscope.tui.app import show

            return show(loader, request.target)
        finally:
            loader.cancel()
            loader.join(timeout=2.0)  # let an engine export close its connection
