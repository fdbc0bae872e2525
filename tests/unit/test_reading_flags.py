"""The image-reading flags mean the same in layerscope IMAGE, diff and fix."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.builders import d, docker_archive, file, layer_tar
from tests.cli import layerscope

DOCKERFILE = "FROM scratch\nCOPY . /\n"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "img.tar"
    layers = [layer_tar([d("a"), *(file(f"a/f{i}", 10) for i in range(20))])]
    path.write_bytes(docker_archive(layers, [{"created_by": "COPY . / # buildkit"}]))
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    return path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return layerscope(*args, cwd=cwd, env={"CI": "true"}, timeout=60)


@pytest.mark.parametrize(
    "command",
    [
        ["{a}", "--format", "json"],
        ["diff", "{a}", "{a}", "--format", "json"],
        ["fix", "{a}", "--dockerfile", "Dockerfile"],
    ],
    ids=["main", "diff", "fix"],
)
def test_limit_applies_to_every_command(archive: Path, command: list[str]) -> None:
    args = [c.format(a=archive) for c in command]
    ok = _run(*args, cwd=archive.parent)
    assert ok.returncode in (0, 1), ok.stderr
    refused = _run(*args, "--limit", "max-members=5", cwd=archive.parent)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1 and "layerscope: error:" in refused.stderr
    bad = _run(*args, "--max-expansion", "0", cwd=archive.parent)
    assert bad.returncode == 2 and "--max-expansion" in bad.stderr
