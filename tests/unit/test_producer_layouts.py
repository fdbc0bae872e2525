"""Layouts other producers write (podman, skopeo, buildah), crafted here with
Python's tarfile; the real tools' output is read in tests/engine/test_producers_real.py."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from layerscope.errors import ArchiveError
from layerscope.sources.archive import read_archive_stream
from layerscope.sources.interface import SourceOptions
from layerscope.tar.streams import FileStream
from tests.builders import d, docker_archive, file, layer_tar, read_archive, wh
from tests.cli import layerscope

LAYERS = [
    layer_tar([d("tmp"), file("tmp/big", 4000), file("bin/sh", 100)]),
    layer_tar([wh("tmp/big"), file("app/main.py", 30)]),
]


def _tar(members: list[tuple[str, bytes | str]]) -> bytes:
    """A tar of ``(name, data)``; a str ``data`` makes a symlink to it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type = tarfile.SYMTYPE
                info.linkname = data
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _config(layers: list[bytes]) -> bytes:
    diff_ids = ["sha256:" + hashlib.sha256(raw).hexdigest() for raw in layers]
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"/bin/sh -c step {i}"} for i in range(len(layers))],
        }
    ).encode()


def cimage_archive(
    layers: list[bytes], *, link: str | None = None, via_links: bool = False
) -> bytes:
    """What containers/image's docker-archive writer makes (podman save,
    skopeo ``docker-archive:``): ``<hex>.tar`` layers at the top, each
    ``<id>/layer.tar`` a symlink to one, ``manifest.json`` last.
    ``link`` replaces the first symlink's target (hostile archives);
    ``via_links``: the manifest names the symlinks instead of the layers."""
    config = _config(layers)
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    members: list[tuple[str, bytes | str]] = []
    names = []
    for raw in layers:
        hexpart = hashlib.sha256(raw).hexdigest()
        members.append((f"{hexpart}.tar", raw))
        names.append(f"{hexpart}.tar")
    members.append((config_name, config))
    for i, name in enumerate(names):
        layer_id = f"{i + 1:064x}"
        members.append((f"{layer_id}/layer.tar", link if link and i == 0 else f"../{name}"))
        members.append((f"{layer_id}/VERSION", b"1.0"))
    if via_links:
        names = [f"{i + 1:064x}/layer.tar" for i in range(len(names))]
    manifest = [{"Config": config_name, "RepoTags": ["localhost/x:1"], "Layers": names}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    members.append(("repositories", b"{}"))
    return _tar(members)


class _Pipe:
    """A non-seekable file: what a shell pipe gives (no seek, no tell)."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)

    def seekable(self) -> bool:
        return False


def _read_stream(data: bytes) -> object:
    return read_archive_stream(
        FileStream(_Pipe(data), name="pipe"),  # type: ignore[arg-type]
        name="pipe",
        reference="",
        source="stdin",
        options=SourceOptions(),
    )


def test_containers_image_docker_archive_from_file_and_stream() -> None:
    want = read_archive(docker_archive(LAYERS))
    data = cimage_archive(LAYERS)
    for image in (read_archive(data), _read_stream(data)):
        assert [la.digest for la in image.layers] == [la.digest for la in want.layers]  # type: ignore[attr-defined]
        assert [la.entries for la in image.layers] == [la.entries for la in want.layers]  # type: ignore[attr-defined]
        assert [la.size_bytes for la in image.layers] == [len(raw) for raw in LAYERS]  # type: ignore[attr-defined]
    image = read_archive(data)
    assert image.layers[0].blob_digest == "sha256:" + hashlib.sha256(LAYERS[0]).hexdigest()
    assert image.reference == "localhost/x:1"


@pytest.mark.parametrize("link", ["../../etc/passwd", "../" * 10 + "etc/shadow"])
def test_layer_symlink_out_of_the_archive_is_refused(link: str) -> None:
    # The manifest names the symlinks, the first of which points above the root.
    data = cimage_archive(LAYERS, link=link, via_links=True)
    with pytest.raises(ArchiveError, match="outside the archive"):
        read_archive(data)


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("/etc/passwd", "missing from the archive"),  # a name in the archive, never the host's
        (f"../{1:064x}/layer.tar", "link loop"),  # the link names itself
        ("../manifest.json", "is JSON, not a layer tar"),
    ],
)
def test_hostile_layer_symlinks(link: str, message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        read_archive(cimage_archive(LAYERS, link=link, via_links=True))


def test_manifest_naming_the_symlinks_reads_the_same() -> None:
    a = read_archive(cimage_archive(LAYERS, via_links=True))
    b = read_archive(cimage_archive(LAYERS))
    assert [la.entries for la in a.layers] == [la.entries for la in b.layers]


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return layerscope(*args, stdin=stdin, env={"CI": "true"}, timeout=60, binary=True)


def test_stdin_reads_an_archive_stream(tmp_path: Path) -> None:
    path = tmp_path / "a.tar"
    path.write_bytes(cimage_archive(LAYERS))
    from_file = json.loads(_cli(str(path), "--format", "json").stdout)
    r = _cli("-", "--format", "json", stdin=path.read_bytes())
    assert r.returncode == 0, r.stderr
    from_stdin = json.loads(r.stdout)
    assert from_stdin["image"]["source"] == "stdin"
    assert from_file["image"]["source"] == "docker-archive"
    assert from_stdin["summary"] == from_file["summary"]
    assert from_stdin["layers"] == from_file["layers"]
    assert from_stdin["findings"] == from_file["findings"]


@pytest.mark.parametrize("data", [b"", b"not a tar at all" * 100])
def test_stdin_bad_input_is_one_line_exit_2(data: bytes) -> None:
    r = _cli("-", "--format", "json", stdin=data)
    assert r.returncode == 2
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerscope: error: stdin"), r.stderr


def test_podman_socket_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from layerscope.errors import SourceError
    from layerscope.sources.daemon import engine_url, podman_socket

    sock = tmp_path / "podman" / "podman.sock"
    sock.parent.mkdir()
    sock.write_bytes(b"")
    monkeypatch.setenv("DOCKER_HOST", "unix:///docker.sock")  # Docker's: never Podman's
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("CONTAINER_HOST", raising=False)
    assert podman_socket() == f"unix://{sock}"
    monkeypatch.setenv("CONTAINER_HOST", "unix:///elsewhere.sock")
    assert engine_url("podman") == "unix:///elsewhere.sock"
    assert engine_url("docker") == "unix:///docker.sock"
    monkeypatch.setenv("CONTAINER_HOST", "ssh://core@host/run/podman/podman.sock")
    with pytest.raises(SourceError, match="only a unix:// socket"):
        podman_socket()


def _dir_layout(root: Path, compress: str) -> Path:
    """A ``dir:`` layout (skopeo ``dir:``, podman ``--format docker-dir``)
    made from a crafted OCI layout: the manifest as ``manifest.json``, every
    other blob named by its hex."""
    from tests.unit.test_sources import _oci_files

    files = _oci_files(LAYERS, compress)
    index = json.loads(files["index.json"])
    manifest_hex = index["manifests"][0]["digest"][7:]
    root.mkdir()
    (root / "version").write_text("Directory Transport Version: 1.1\n")
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            hexpart = name.rsplit("/", 1)[1]
            (root / ("manifest.json" if hexpart == manifest_hex else hexpart)).write_bytes(data)
    return root


@pytest.mark.parametrize("compress", ["none", "gzip", "zstd"])
def test_dir_layout(tmp_path: Path, compress: str) -> None:
    from layerscope.sources import open_image
    from tests.unit.test_sources import EXPECTED, _summary

    root = _dir_layout(tmp_path / "d", compress)
    image = open_image(str(root), options=SourceOptions())
    assert image.source == "dir"
    assert _summary(image) == EXPECTED
    stored = [len((root / la.blob_digest[7:]).read_bytes()) for la in image.layers]
    assert [la.download_bytes for la in image.layers] == stored
    assert image.download_bytes == sum(stored)
    assert open_image(str(root), source="dir", options=SourceOptions()).layers == image.layers


def test_dir_layout_blob_symlinked_outside_is_refused(tmp_path: Path) -> None:
    from layerscope.sources import open_image

    root = _dir_layout(tmp_path / "d", "gzip")
    secret = tmp_path / "secret"
    secret.write_bytes(b"x" * 1000)
    manifest = json.loads((root / "manifest.json").read_bytes())
    victim = root / manifest["layers"][0]["digest"][7:]
    victim.unlink()
    victim.symlink_to(secret)
    with pytest.raises(ArchiveError, match="outside the layout"):
        open_image(str(root), options=SourceOptions())


def test_download_bytes_of_docker_archives() -> None:
    plain = read_archive(docker_archive(LAYERS))
    assert [la.download_bytes for la in plain.layers] == [None, None]
    assert plain.download_bytes is None
    packed = read_archive(docker_archive(LAYERS, compress_layers=True))
    assert [la.download_bytes for la in packed.layers] == [
        la.compressed_bytes for la in packed.layers
    ]
    assert all(la.download_bytes < la.size_bytes for la in packed.layers)  # type: ignore[operator]


def test_oci_ref_names_pick_the_image(tmp_path: Path) -> None:
    from layerscope.errors import SourceError
    from layerscope.sources import open_image
    from tests.unit.test_sources import _oci_files, _tar_of, _write_dir

    files = _oci_files(LAYERS, "gzip")
    other = _oci_files(LAYERS[:1], "gzip")
    index = json.loads(files["index.json"])
    extra = json.loads(other["index.json"])["manifests"][0]
    index["manifests"][0]["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    extra["annotations"] = {"org.opencontainers.image.ref.name": "old"}
    index["manifests"] = [extra, *index["manifests"]]
    files = {**other, **files, "index.json": json.dumps(index).encode()}
    root = _write_dir(tmp_path / "layout", files)
    archive = tmp_path / "layout.tar"
    archive.write_bytes(_tar_of(files))
    for path in (root, archive):
        assert len(open_image(f"{path}:latest", options=SourceOptions()).layers) == 2
        assert len(open_image(f"{path}:old", options=SourceOptions()).layers) == 1
        first = open_image(str(path), options=SourceOptions())  # the first named image
        assert len(first.layers) == 1
        with pytest.raises(SourceError, match=r"no image named 'nope' \(it names: latest, old\)"):
            open_image(f"{path}:nope", options=SourceOptions())


def test_all_platforms_reports_each(tmp_path: Path) -> None:
    from tests.unit.test_sources import _oci_files, _tar_of, _write_dir

    files = _oci_files(LAYERS, "gzip", platforms=[("linux", "arm64"), ("linux", "amd64")])
    root = _write_dir(tmp_path / "layout", files)
    archive = tmp_path / "multi.tar"
    archive.write_bytes(_tar_of(files))
    single = json.loads(_cli(str(root), "--platform", "linux/arm64", "--format", "json").stdout)
    for args, stdin in (([str(root)], None), ([str(archive)], None), (["-"], archive.read_bytes())):
        r = _cli(*args, "--all-platforms", "--format", "json", stdin=stdin)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert [p["platform"] for p in doc["platforms"]] == ["linux/arm64", "linux/amd64"]
        assert doc["passed"] is True
        first = doc["platforms"][0]["report"]
        assert first["summary"] == single["summary"]
        assert first["findings"] == single["findings"]
        assert [la["digest"] for la in first["layers"]] == [la["digest"] for la in single["layers"]]
    sarif = json.loads(_cli(str(root), "--all-platforms", "--format", "sarif").stdout)
    assert len(sarif["runs"]) == 2
    table = _cli(str(root), "--all-platforms", "--format", "table").stdout.decode()
    assert "=== platform linux/arm64 ===" in table and "=== platform linux/amd64 ===" in table
    # A budget broken on any platform fails the run.
    assert (
        _cli(str(root), "--all-platforms", "--format", "json", "--max-total", "1").returncode == 1
    )
    r = _cli(str(root), "--platform", "linux/s390x", "--format", "json")
    assert r.returncode == 2
    assert r.stderr.decode().strip().splitlines() == [
        f"layerscope: error: {root}: platform linux/s390x not in the image "
        "(available: linux/amd64, linux/arm64)"
    ]
    r = _cli(str(root), "--platform", "linux/arm64", "--all-platforms")
    assert r.returncode == 2 and b"exclude each other" in r.stderr


def test_dir_source_mistakes_are_one_line(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    archive.write_bytes(docker_archive(LAYERS))
    r = _cli(str(archive), "--source", "dir")
    assert r.returncode == 2 and b"--source dir reads a directory" in r.stderr
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    with tarfile.open(archive) as t:
        t.extractall(unpacked, filter="data")
    r = _cli(str(unpacked))
    assert r.returncode == 2
    assert r.stderr.decode().strip().splitlines() == [
        f"layerscope: error: {unpacked}: an unpacked docker save archive, not a dir: layout; "
        "pass the .tar itself"
    ]


class _Zeros(io.RawIOBase):
    """``head``, then ``n`` zero bytes, then ``tail``, made as they are read."""

    def __init__(self, head: bytes, n: int, tail: bytes) -> None:
        self._parts = [head, n, tail]

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while self._parts and (size < 0 or len(out) < size):
            part = self._parts[0]
            want = (1 << 20) if size < 0 else size - len(out)
            if isinstance(part, int):
                take = min(want, part)
                out += bytes(take)
                self._parts[0] = part - take
            else:
                take = min(want, len(part))
                out += part[:take]
                self._parts[0] = part[take:]
            if not self._parts[0]:
                self._parts.pop(0)
        return bytes(out)


def test_stdin_stream_holds_no_layer_bytes(tmp_path: Path) -> None:
    """A 256 MiB layer piped in, containers/image layout (manifest last): the
    reader's peak memory stays far below the layer's size."""
    big = 256 << 20
    info = tarfile.TarInfo("big.bin")
    info.size = big
    head = info.tobuf(tarfile.PAX_FORMAT)
    layer_size = len(head) + big + 1024  # no padding: 256 MiB is whole blocks
    layer_name = "ab" * 32 + ".tar"
    config = json.dumps(
        {"os": "linux", "architecture": "amd64", "rootfs": {"diff_ids": ["sha256:" + "0" * 64]}}
    ).encode()
    manifest = json.dumps([{"Config": "c.json", "RepoTags": [], "Layers": [layer_name]}]).encode()
    # VmHWM: this process's own peak (ru_maxrss would carry the forking
    # parent's across the exec: pytest's, after a long run).
    code = (
        "import sys\n"
        "from layerscope.cli import main\n"
        "rc = main(['-', '--format', 'json', '-o', sys.argv[1]])\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(status.split()[0], file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(out)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "CI": "true"},
    )
    assert proc.stdin is not None
    with tarfile.open(fileobj=proc.stdin, mode="w|", format=tarfile.PAX_FORMAT) as t:
        member = tarfile.TarInfo(layer_name)
        member.size = layer_size
        t.addfile(member, _Zeros(head, big, bytes(1024)))  # type: ignore[arg-type]
        for name, data in (("c.json", config), ("manifest.json", manifest)):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            t.addfile(member, io.BytesIO(data))
    proc.stdin.close()
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0, err
    peak_kib = int(err.decode().strip().splitlines()[-1])
    report = json.loads(out.read_text())
    assert report["summary"]["total_bytes"] == big
    assert report["layers"][0]["size_bytes"] == layer_size
    assert peak_kib < 128 << 10, f"peak RSS {peak_kib} KiB for a {big >> 20} MiB layer"


def test_platform_on_a_single_platform_archive_must_match(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    archive.write_bytes(docker_archive(LAYERS))  # its config says linux/amd64
    assert _cli(str(archive), "--platform", "linux/amd64", "--format", "json").returncode == 0
    r = _cli(str(archive), "--platform", "linux/arm64/v8", "--format", "json")
    assert r.returncode == 2
    assert r.stderr.decode().strip().splitlines() == [
        f"layerscope: error: {archive}: platform linux/arm64/v8 not in the image "
        "(available: linux/amd64)"
    ]
