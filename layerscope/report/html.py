"""The HTML report: one self-contained page (a summary, a treemap of the
filesystem, a bar per layer, the findings) that opens offline.

Safety by construction: the image's texts never enter the markup. They
travel in one ``<script type="application/json">`` block (``<``, ``>`` and
``&`` escaped, so no text can close it), and the page's script sets them as
text nodes only. A Content-Security-Policy forbids every network request and
lets only this script and this style run, by their hashes.

The script and style are files beside this module (``assets/``), written by
hand: a squarified treemap is forty lines, which beats vendoring a charting
library and its licence for it. Pure: the same analysis gives the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

from layerscope.analysis import Analysis
from layerscope.report.html_data import page_data

__all__ = ["embed", "page", "render"]

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>layerscope report</title>
<style>{css}</style>
</head>
<body>
<noscript><p>This report draws itself with JavaScript; the same figures are in
<code>layerscope IMAGE --format json</code>.</p></noscript>
<script type="application/json" id="layerscope-data">{data}</script>
<script>{js}</script>
</body>
</html>
"""


@cache
def _asset(name: str) -> str:
    return (resources.files("layerscope.report") / "assets" / name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def embed(data: Any) -> str:
    """``data`` as JSON that is inert inside a ``<script>`` element: ASCII
    only, and no ``<``, ``>`` or ``&`` (so no ``</script>`` or ``<!--``)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(data: Any) -> str:
    """The page around ``data`` (the image's or a diff's mapping)."""
    css, js = _asset("report.css"), _asset("report.js")
    csp = (
        "default-src 'none'; "
        f"script-src 'sha256-{_sha256(js)}'; "
        f"style-src 'sha256-{_sha256(css)}'; "
        "base-uri 'none'; form-action 'none'"
    )
    return _TEMPLATE.format(csp=csp, css=css, js=js, data=embed(data))


def render(result: Analysis) -> str:
    """The whole HTML report of one image."""
    return page(page_data(result))
