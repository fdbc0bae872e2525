"""Core accounting on real images from a real engine, both builders, every source.

Expected figures come from the Dockerfile itself (files of known sizes made
with dd), and every source (engine stream, docker save, skopeo OCI layouts
with uncompressed, gzip and zstd layers) must give the same summary.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from layerscope.analysis import analyze
from layerscope.model import Instruction
from layerscope.sources import open_image
from layerscope.sources.interface import SourceOptions
from tests.cli import layerscope

from .imagebuild import build_image, docker_save, skopeo_oci_archive, skopeo_oci_layout

DOCKERFILE = """\
FROM {base}
RUN mkdir -p /work /data/cache /links \\
 && dd if=/dev/zero of=/work/download.bin bs=1000 count=300 \\
 && dd if=/dev/zero of=/data/cache/a bs=1000 count=40 \\
 && dd if=/dev/zero of=/data/cache/b bs=1000 count=60 \\
 && dd if=/dev/zero of=/links/target bs=1000 count=25 \\
 && ln /links/target /links/hard \\
 && ln -s /links/target /links/soft
COPY app/ /app/
ENV MODE=test
RUN rm -rf /work/download.bin && rm -rf /data/cache && mkdir /data/cache \\
 && dd if=/dev/zero of=/data/cache/c bs=1000 count=5
RUN chown -R 1000:1000 /app && rm /links/target
"""
APP = {f"app/file{i}.txt": bytes([65 + i]) * (1000 * (i + 1)) for i in range(4)}
APP_BYTES = sum(len(v) for v in APP.values())  # 10,000


def _build(tag: str, base: str, buildkit: bool) -> str:
    return build_image(tag, DOCKERFILE.format(base=base), APP, buildkit=buildkit)


@pytest.fixture(scope="module", params=[False, True], ids=["classic", "buildkit"])
def built(request: pytest.FixtureRequest, busybox_base: str) -> tuple[str, bool]:
    buildkit = request.param
    tag = f"layerscope-test/core-{'bk' if buildkit else 'classic'}:1"
    return _build(tag, busybox_base, buildkit), buildkit


def _summary(target: str) -> dict[str, int | float]:
    result = analyze(open_image(target, options=SourceOptions()))
    s = result.summary
    return {
        "total": s.total_bytes,
        "final": s.final_bytes,
        "wasted": s.wasted_bytes,
        "removed": s.removed_bytes,
        "overwritten": s.overwritten_bytes,
        "layers": s.layer_count,
        "files": s.file_count,
    }


def test_exact_accounting_from_the_engine(built: tuple[str, bool]) -> None:
    tag, buildkit = built
    result = analyze(open_image(tag, options=SourceOptions()))
    s = result.summary
    # 300,000 downloaded then deleted; 100,000 of cache hidden by rm -rf of the dir;
    # the app tree (10,000) copied again by chown -R.
    assert s.removed_bytes == 300_000 + 100_000
    assert s.overwritten_bytes == APP_BYTES
    assert s.wasted_bytes == s.removed_bytes + s.overwritten_bytes
    assert s.final_bytes == s.total_bytes - s.wasted_bytes
    # The hard link keeps the deleted target's 25,000 bytes alive: not waste.
    assert "links/hard" in result.union.final and "links/target" not in result.union.final
    kinds = {(f.kind.value, f.layer, f.hidden_by) for f in result.findings}
    assert ("removed-later", 1, 3) in kinds  # download + cache deleted by the rm RUN
    assert ("overwritten-later", 2, 4) in kinds  # COPY app, then chown -R (layer 4)
    removed = [f for f in result.findings if f.kind.value == "removed-later"]
    assert {f.extra[0][1] for f in removed} == {"/work/download.bin", "/data/cache"}
    over = next(f for f in result.findings if f.kind.value == "overwritten-later")
    assert over.bytes == APP_BYTES and over.path_count == 4
    assert over.paths[0] == "/app/file3.txt"
    assert "--chown" in over.fix
    instrs = [
        result.image.layer_history(layer).parsed.instruction for layer in result.image.layers[1:]
    ]
    assert instrs == [Instruction.RUN, Instruction.COPY, Instruction.RUN, Instruction.RUN]
    env = [h for h in result.image.history if h.parsed.instruction is Instruction.ENV]
    assert len(env) == 1 and env[0].empty_layer
    builder = result.image.layer_history(result.image.layers[1]).parsed.builder.value
    assert builder == ("buildkit" if buildkit else "classic")


def test_every_source_gives_the_same_summary(built: tuple[str, bool], tmp_path: Path) -> None:
    tag, _ = built
    expected = _summary(tag)
    save = docker_save(tag, tmp_path / "save.tar")
    assert _summary(str(save)) == expected
    layout = skopeo_oci_layout(tag, tmp_path / "layout")
    assert _summary(str(layout)) == expected
    assert _summary(str(skopeo_oci_archive(tag, tmp_path / "oci.tar"))) == expected
    gz = skopeo_oci_layout(tag, tmp_path / "gz", compression="gzip")
    assert _summary(str(gz)) == expected
    zst = skopeo_oci_archive(tag, tmp_path / "zst.tar", compression="zstd")
    assert _summary(str(zst)) == expected
    lying = skopeo_oci_layout(tag, tmp_path / "plain", compression="uncompressed")
    assert _summary(str(lying)) == expected


def test_engine_layer_sizes_match_docker_inspect(built: tuple[str, bool], tmp_path: Path) -> None:
    tag, _ = built
    image = open_image(tag, options=SourceOptions())
    inspect = json.loads(
        subprocess.run(
            ["docker", "image", "inspect", tag], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    assert [layer.digest for layer in image.layers] == inspect["RootFS"]["Layers"]
    assert image.id == inspect["Id"]
    assert image.config.env_value("MODE") == "test"


def test_cli_on_engine_reference_and_missing_image(built: tuple[str, bool]) -> None:
    tag, _ = built
    r = layerscope(tag, "--format", "json", timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["image"]["source"] == "docker"
    assert report["summary"]["wasted_bytes"] == 400_000 + APP_BYTES
    r = layerscope("layerscope-test/no-such:image", "--format", "json", timeout=120)
    assert r.returncode == 2 and "not found" in r.stderr and len(r.stderr.splitlines()) == 1


def test_engine_down_is_one_clear_line() -> None:
    r = layerscope(
        "whatever:1", "--format", "json", timeout=120,
        base_env={"DOCKER_HOST": "unix:///nonexistent/docker.sock", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert r.returncode == 2
    assert "cannot reach the docker engine" in r.stderr and len(r.stderr.splitlines()) == 1
