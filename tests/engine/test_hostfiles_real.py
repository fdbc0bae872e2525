"""LS306 on real images: a virtualenv made by this machine's Python
(``python -m venv``) shipped with the build context, with both builders."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from layerscope.analysis import analyze
from layerscope.sources import open_image
from layerscope.sources.interface import SourceOptions

from .imagebuild import build_image, docker_save


def _context_with_a_venv(ctx: Path) -> None:
    app = ctx / "app"
    app.mkdir()
    (app / "main.py").write_text("print('hi')\n")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(app / ".venv")],
        check=True,
        capture_output=True,
    )


def _venv_files(tag: str, tmp: Path) -> tuple[dict[str, int], str]:
    """Regular files under app/.venv in the COPY layer, and bin/python's link,
    read with tarfile from ``docker save``."""
    with tarfile.open(docker_save(tag, tmp / "image.tar")) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        member = outer.extractfile(manifest[0]["Layers"][-1])
        assert member is not None
        with tarfile.open(fileobj=member) as layer:
            members = {m.name.lstrip("./"): m for m in layer}
    files = {n: m.size for n, m in members.items() if n.startswith("app/.venv/") and m.isreg()}
    return files, members["app/.venv/bin/python"].linkname


@pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])
def test_a_venv_made_on_the_host_and_copied_in(
    busybox_base: str, tmp_path: Path, buildkit: bool
) -> None:
    tag = f"layerscope-test/host-venv:{'buildkit' if buildkit else 'classic'}"
    build_image(
        tag,
        f"FROM {busybox_base}\nCOPY app /app\n",
        buildkit=buildkit,
        prepare=_context_with_a_venv,
    )
    try:
        result = analyze(open_image(tag, source="docker", options=SourceOptions()))
        files, python = _venv_files(tag, tmp_path)
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
    (f,) = [f for f in result.findings if f.rule == "LS306"]
    assert f.bytes == sum(files.values()) and f.path_count == len(files)
    assert f.layer == len(result.image.layers) - 1
    assert "/app/.venv" in f.message and python in f.message
