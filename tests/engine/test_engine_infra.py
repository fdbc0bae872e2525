"""The engine-test infrastructure itself works: bases, both builders, save, skopeo."""

from __future__ import annotations

import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .imagebuild import (
    BUSYBOX_TAG,
    DEBIAN_TAG,
    Compression,
    ImageBuildError,
    build_image,
    docker_save,
    skopeo_oci_archive,
    skopeo_oci_layout,
)

INFRA_DOCKERFILE = """\
FROM {base}
RUN dd if=/dev/zero of=/tmp/big bs=1k count=64 && echo x > /etc/x
COPY hello.txt /app/hello.txt
RUN rm /tmp/big
"""

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def history(tag: str) -> list[str]:
    """CreatedBy of every history entry, newest first."""
    return docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag).splitlines()


@pytest.fixture(scope="module")
def infra_image(busybox_base: str) -> Iterator[str]:
    """A small classic-built image (3 layers on top of the busybox base)."""
    tag = build_image(
        "layerscope-test/infra:classic",
        INFRA_DOCKERFILE.format(base=busybox_base),
        {"hello.txt": b"hello\n"},
    )
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def test_busybox_base_runs(busybox_base: str) -> None:
    assert busybox_base == BUSYBOX_TAG
    out = docker(
        "run",
        "--rm",
        "--network",
        "none",
        busybox_base,
        "sh",
        "-c",
        "echo hi; id -u app; stat -c %a /tmp",
    )
    assert out.splitlines() == ["hi", "1000", "1777"]


@pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])
def test_build_marks_history_by_builder(busybox_base: str, buildkit: bool) -> None:
    tag = f"layerscope-test/infra:{'buildkit' if buildkit else 'classic'}-history"
    try:
        build_image(
            tag,
            INFRA_DOCKERFILE.format(base=busybox_base),
            {"hello.txt": b"hello\n"},
            buildkit=buildkit,
        )
        built = history(tag)[:3]  # the three Dockerfile steps; below is the base
        assert len(built) == 3
        if buildkit:
            assert all(line.endswith("# buildkit") for line in built), built
            assert built[0] == "RUN /bin/sh -c rm /tmp/big # buildkit"
        else:
            assert not any("# buildkit" in line for line in built), built
            assert built[0] == "/bin/sh -c rm /tmp/big"
            assert "/bin/sh -c #(nop) COPY" in built[1]
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def test_build_arg_and_failure_output(busybox_base: str) -> None:
    dockerfile = f"FROM {busybox_base}\nARG WHO\nRUN echo greeting-$WHO && false\n"
    with pytest.raises(ImageBuildError) as excinfo:
        build_image("layerscope-test/infra:fails", dockerfile, build_args={"WHO": "world"})
    message = str(excinfo.value)
    assert "greeting-world" in message  # the build output is in the error
    assert "classic" in message


def test_docker_save_has_manifest(infra_image: str, tmp_path: Path) -> None:
    path = docker_save(infra_image, tmp_path / "image.tar")
    with tarfile.open(path) as tar:
        names = tar.getnames()
        assert "manifest.json" in names
        manifest_file = tar.extractfile("manifest.json")
        assert manifest_file is not None
        manifest = json.load(manifest_file)
    assert manifest[0]["RepoTags"] == [infra_image]
    assert len(manifest[0]["Layers"]) == 4  # base + 3 steps (each makes a layer here)


def _oci_layers(layout: Path) -> list[tuple[str, bytes]]:
    """(mediaType, first 4 bytes of the blob) of each layer of the only manifest."""
    index = json.loads((layout / "index.json").read_text())
    [desc] = index["manifests"]
    assert desc["annotations"]["org.opencontainers.image.ref.name"] == "latest"
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / desc["digest"].removeprefix("sha256:")).read_text())
    layers = []
    for layer in manifest["layers"]:
        with open(blobs / layer["digest"].removeprefix("sha256:"), "rb") as blob:
            layers.append((layer["mediaType"], blob.read(4)))
    return layers


@pytest.mark.parametrize("compression", [None, "gzip", "zstd", "uncompressed"])
def test_skopeo_oci_layout(
    infra_image: str, tmp_path: Path, compression: Compression | None
) -> None:
    layout = skopeo_oci_layout(infra_image, tmp_path / "layout", compression=compression)
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    layers = _oci_layers(layout)
    assert len(layers) == 4
    for media_type, magic in layers:
        if compression == "zstd":
            assert media_type == "application/vnd.oci.image.layer.v1.tar+zstd"
            assert magic == ZSTD_MAGIC
        elif compression == "uncompressed":
            # skopeo 1.9.3 writes plain tar but labels it tar+gzip; accept a fixed skopeo.
            assert not magic.startswith(GZIP_MAGIC)
            assert media_type in {
                "application/vnd.oci.image.layer.v1.tar",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            }
        else:
            assert media_type == "application/vnd.oci.image.layer.v1.tar+gzip"
            assert magic.startswith(GZIP_MAGIC)


def test_skopeo_oci_archive(infra_image: str, tmp_path: Path) -> None:
    archive = skopeo_oci_archive(infra_image, tmp_path / "image-oci.tar", compression="gzip")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"index.json", "oci-layout"} <= names
    assert sum(name.startswith("blobs/sha256/") for name in names) >= 6  # 4 + config + manifest


@pytest.mark.slow
def test_debian_base_apt_install_leaves_debs(debian_base: str) -> None:
    """The debootstrap base can apt-get in a build (network host) and has no docker-clean."""
    assert debian_base == DEBIAN_TAG
    tag = "layerscope-test/infra:debian-apt"
    dockerfile = (
        f"FROM {debian_base}\n"
        "RUN test ! -e /etc/apt/apt.conf.d/docker-clean"
        " && apt-get update && apt-get install -y --no-install-recommends hello\n"
    )
    try:
        build_image(tag, dockerfile, buildkit=True, network="host")
        out = docker(
            "run",
            "--rm",
            "--network",
            "none",
            tag,
            "sh",
            "-c",
            "hello; ls /var/cache/apt/archives/",
        )
        assert out.startswith("Hello, world!")
        assert "hello_" in out  # the .deb stays behind: no docker-clean in this base
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
