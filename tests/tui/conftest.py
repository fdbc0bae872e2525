"""Crafted images for the interactive view: real archives written to tmp files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from layerscope.analysis import Analysis, analyze
from layerscope.sources import open_image
from layerscope.sources.interface import SourceOptions
from tests.builders import d, docker_archive, file, layer_tar, wh

# A name an attacker may put in a layer: terminal escapes and a newline.
EVIL = "opt/app/evil\x1b]0;pwned\x07\x1b[2J\nname.txt"

LAYERS = [
    [d("etc"), file("etc/os-release", 50), d("usr"), d("usr/bin"), file("usr/bin/tool", 3000)],
    [
        d("var"),
        d("var/lib"),
        d("var/lib/apt"),
        d("var/lib/apt/lists"),
        file("var/lib/apt/lists/deb.debian.org_Packages", 60_000),
        file("usr/bin/curl", 5000),
    ],
    [d("tmp"), file("tmp/src.tgz", 200_000), d("opt"), d("opt/app"), file("opt/app/main", 9000)]
    + [file(f"opt/app/lib/mod{i:02d}.py", 100 + i) for i in range(12)]
    + [file(EVIL, 7)],
    [wh("tmp/src.tgz")],
    [file("opt/app/main", 9000)],
]
HISTORY = [
    {"created_by": "/bin/sh -c mkdir -p /etc /usr/bin && install-tool"},
    {"created_by": "/bin/sh -c apt-get update && apt-get install -y curl"},
    {"created_by": "/bin/sh -c wget -O /tmp/src.tgz https://example.com/src.tgz && make"},
    {"created_by": "/bin/sh -c rm -f /tmp/src.tgz"},
    {"created_by": "/bin/sh -c chmod -R 755 /opt/app"},
]


def write_archive(path: Path, layers: list[list[object]] | None = None) -> Path:
    raw = docker_archive(
        [layer_tar(m) for m in (layers or LAYERS)],  # type: ignore[arg-type]
        HISTORY if layers is None else None,
        repo_tag="example/app:1.0",
    )
    path.write_bytes(raw)
    return path


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield write_archive(tmp_path_factory.mktemp("tui") / "app.tar")


@pytest.fixture(scope="session")
def analysis(archive: Path) -> Analysis:
    return analyze(open_image(str(archive), options=SourceOptions()))
