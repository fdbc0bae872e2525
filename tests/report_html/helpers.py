"""Images for the HTML report's tests: a hostile one and a page's embedded data."""

from __future__ import annotations

import io
import json
import tarfile

from layerscope.analysis import Analysis, analyze
from tests.builders import docker_archive, read_archive

DATA_OPEN = '<script type="application/json" id="layerscope-data">'

# Names an archive may hold: markup, script ends, quotes, newlines, an ANSI
# escape, a right-to-left override, and bytes that are not UTF-8.
HOSTILE = (
    "app/</script><script>window.__pwned=1</script>",
    'app/<img src=x onerror="window.__pwned=2">.png',
    "app/quote\"s and 'single' `back`",
    "app/new\nline",
    "app/\x1b[31mred\x1b[0m",
    "app/evil\u202etxt.exe",
    "app/raw-\udcff\udcfe-bytes",
    "app/&amp;<!--comment",
)
HOSTILE_COMMAND = "/bin/sh -c echo '</script><img src=x onerror=\"window.__pwned=3\">' > /x"


def hostile_layer() -> bytes:
    """A layer holding files named as in HOSTILE (raw bytes via surrogateescape)."""
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf,
        mode="w",
        format=tarfile.GNU_FORMAT,
        encoding="utf-8",
        errors="surrogateescape",
    ) as t:
        for i, name in enumerate(HOSTILE):
            data = b"x" * (4096 * (len(HOSTILE) - i))
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def hostile_analysis() -> Analysis:
    """A two-layer image: hostile names, one of them deleted (a hidden copy)."""
    second = io.BytesIO()
    with tarfile.open(fileobj=second, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo("app/.wh.new\nline")
        t.addfile(info, io.BytesIO(b""))
    archive = docker_archive(
        [hostile_layer(), second.getvalue()],
        [{"created_by": HOSTILE_COMMAND}, {"created_by": "/bin/sh -c rm 'app/new\nline'"}],
        repo_tag="evil/</script>:latest",
    )
    return analyze(read_archive(archive))


def embedded(page: str) -> object:
    """The data an HTML report embeds."""
    start = page.index(DATA_OPEN) + len(DATA_OPEN)
    return json.loads(page[start : page.index("</script>", start)])
