"""Report formats: each is a pure ``render(result) -> str``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from layerscope.analysis import Analysis

FORMATS = ("table", "json", "markdown", "sarif", "html", "junit", "codequality")
# ``-o FILE`` picks the format from these extensions (others: --format, else table).
EXTENSIONS = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".sarif": "sarif",
    ".html": "html",
    ".htm": "html",
    ".xml": "junit",
}


def render(fmt: str, result: Analysis) -> str:
    """Render ``result`` in format ``fmt`` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    module = importlib.import_module(
        "layerscope.report.text" if fmt == "table" else f"layerscope.report.{fmt}"
    )
    func: Callable[[Analysis], str] = module.render
    return func(result)
