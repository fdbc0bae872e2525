"""Archive and layout sources on crafted inputs (real engine archives: tests/engine)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from layerscope.analysis import analyze
from layerscope.errors import ArchiveError, SourceError, UsageError
from layerscope.model import Instruction
from layerscope.sources import open_image
from layerscope.sources.interface import SourceOptions
from tests.builders import d, docker_archive, file, layer_tar, read_archive, wh
from tests.cli import layerscope

LAYERS = [
    layer_tar([d("tmp"), file("tmp/big", 4000), file("bin/sh", 100)]),
    layer_tar([wh("tmp/big"), file("app/main.py", 30)]),
]
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
    {"created_by": "/bin/sh -c #(nop)  ENV A=1", "empty_layer": True},
    {"created_by": "/bin/sh -c rm /tmp/big && cp x /app/main.py"},
]


def _summary(img):
    s = analyze(img).summary
    return (s.total_bytes, s.final_bytes, s.wasted_bytes, s.layer_count, s.file_count)


EXPECTED = (4130, 130, 4000, 2, 2)


def _blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def _oci_files(
    layers: list[bytes],
    compress: str = "none",
    media_lie: bool = False,
    platforms: list[tuple[str, str]] | None = None,
) -> dict[str, bytes]:
    """Files of an OCI layout (path -> bytes) for one or several platforms."""
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}'}
    manifests = []
    for os_name, arch in platforms or [("linux", "amd64")]:
        descs = []
        diff_ids = []
        for raw in layers:
            diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
            if compress == "gzip":
                blob, media = gzip.compress(raw), "application/vnd.oci.image.layer.v1.tar+gzip"
            elif compress == "zstd":
                blob = zstandard.ZstdCompressor().compress(raw)
                media = "application/vnd.oci.image.layer.v1.tar+zstd"
            else:
                blob, media = raw, "application/vnd.oci.image.layer.v1.tar"
            if media_lie:
                media = "application/vnd.oci.image.layer.v1.tar+gzip"
            digest, _ = _blob(blob)
            files[f"blobs/sha256/{digest[7:]}"] = blob
            descs.append({"mediaType": media, "digest": digest, "size": len(blob)})
        config = json.dumps(
            {
                "os": os_name,
                "architecture": arch,
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": HISTORY,
                "config": {"Env": ["HOME=/home/app"], "User": "app"},
            }
        ).encode()
        cdigest, _ = _blob(config)
        files[f"blobs/sha256/{cdigest[7:]}"] = config
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": cdigest,
                    "size": len(config),
                },
                "layers": descs,
            }
        ).encode()
        mdigest, _ = _blob(manifest)
        files[f"blobs/sha256/{mdigest[7:]}"] = manifest
        manifests.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": mdigest,
                "size": len(manifest),
                "platform": {"os": os_name, "architecture": arch},
            }
        )
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": manifests}).encode()
    return files


def _tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _write_dir(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def test_docker_archive_legacy_layout() -> None:
    img = read_archive(docker_archive(LAYERS, HISTORY))
    assert img.source == "docker-archive" and img.reference == "test/image:latest"
    assert _summary(img) == EXPECTED
    assert len(img.history) == 3 and img.history[1].empty_layer
    assert [img.layer_history(layer).parsed.instruction for layer in img.layers] == [
        Instruction.ADD,
        Instruction.RUN,
    ]
    assert img.layers[0].size_bytes == len(LAYERS[0])
    assert img.layers[0].digest == "sha256:" + hashlib.sha256(LAYERS[0]).hexdigest()


def test_gzip_compressed_archive_and_layers(tmp_path: Path) -> None:
    raw = docker_archive(LAYERS, HISTORY, compress_layers=True)
    path = tmp_path / "img.tar.gz"
    path.write_bytes(gzip.compress(raw))
    img = open_image(str(path), options=SourceOptions())
    assert _summary(img) == EXPECTED
    assert img.layers[1].size_bytes == len(LAYERS[1])
    assert img.layers[1].compressed_bytes == len(gzip.compress(LAYERS[1], mtime=0))


@pytest.mark.parametrize("compress", ["none", "gzip", "zstd"])
def test_oci_layout_directory(tmp_path: Path, compress: str) -> None:
    root = _write_dir(tmp_path / "layout", _oci_files(LAYERS, compress))
    img = open_image(str(root), options=SourceOptions())
    assert img.source == "oci"
    assert _summary(img) == EXPECTED
    assert img.config.user == "app" and img.config.env_value("HOME") == "/home/app"
    assert [layer.size_bytes for layer in img.layers] == [len(x) for x in LAYERS]


@pytest.mark.parametrize("compress", ["none", "zstd"])
def test_oci_archive_and_lying_media_type(tmp_path: Path, compress: str) -> None:
    path = tmp_path / "oci.tar"
    path.write_bytes(_tar_of(_oci_files(LAYERS, compress, media_lie=True)))
    img = open_image(str(path), options=SourceOptions())
    assert img.source == "oci" and _summary(img) == EXPECTED


def test_multi_platform_index(tmp_path: Path) -> None:
    files = _oci_files(LAYERS, platforms=[("linux", "arm64"), ("linux", "amd64")])
    root = _write_dir(tmp_path / "multi", files)
    img = open_image(str(root), options=SourceOptions(platform="linux/arm64"))
    assert img.architecture == "arm64"
    with pytest.raises(SourceError, match="linux/s390x not in the image"):
        open_image(str(root), options=SourceOptions(platform="linux/s390x"))
    with pytest.raises(UsageError):
        open_image(str(root), options=SourceOptions(platform="linux"))


def test_layout_blob_symlinked_outside_is_refused(tmp_path: Path) -> None:
    files = _oci_files(LAYERS)
    root = _write_dir(tmp_path / "evil", files)
    outside = tmp_path / "secret"
    outside.write_bytes(LAYERS[0])
    victim = next(p for p, data in files.items() if data == LAYERS[0])
    os.unlink(root / victim)
    os.symlink(outside, root / victim)
    with pytest.raises(ArchiveError, match="outside"):
        open_image(str(root), options=SourceOptions())


def _manifest_archive(manifest: object, extra: dict[str, bytes] | None = None) -> bytes:
    files = {"manifest.json": json.dumps(manifest).encode(), **(extra or {})}
    return _tar_of(files)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_tar_of({"manifest.json": b"{not json"}), "not valid JSON"),
        (_manifest_archive([{"Config": "../../etc/passwd", "Layers": []}]), "outside"),
        (
            _manifest_archive([{"Config": "c.json", "Layers": ["x/layer.tar"]}], {"c.json": b"{}"}),
            "missing",
        ),
        (_manifest_archive([{"Config": "c.json", "Layers": []}]), "config"),
        (_tar_of({"hello.txt": b"hi"}), "not an image archive"),
    ],
)
def test_broken_archives_raise_clear_errors(data: bytes, message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        read_archive(data)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return layerscope(*args, env={"CI": "true"}, timeout=60)


def test_cli_bad_inputs_one_line_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"")
    zipf = tmp_path / "x.zip"
    zipf.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(os.urandom(4096))
    for args in (
        [str(empty)],
        [str(zipf)],
        [str(fifo)],
        [str(garbage)],
        [str(tmp_path / "nope.tar"), "--source", "docker-archive"],
        ["x", "--format", "yaml"],
        ["x", "--bogus"],
    ):
        r = _cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("layerscope: error:"), (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_cli_json_and_output_file(tmp_path: Path) -> None:
    path = tmp_path / "img.tar"
    path.write_bytes(docker_archive(LAYERS, HISTORY))
    out = tmp_path / "report.json"
    r = _cli(str(path), "--format", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["summary"]["wasted_bytes"] == 4000
    assert report["findings"][0]["kind"] == "removed-later"
    assert report["findings"][0]["paths"] == ["/tmp/big"]
    assert report["layers"][1]["instruction"] == "RUN"
    assert [h["empty_layer"] for h in report["history"]] == [False, True, False]
    r = _cli(str(path), "--format", "table")
    assert r.returncode == 0 and "removed-later" in r.stdout and "/tmp/big" in r.stdout


def test_output_file_honours_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "img.tar"
    path.write_bytes(docker_archive(LAYERS, HISTORY))
    out = tmp_path / "report.json"
    r = _cli(str(path), "--format", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".layerscope-")]


def test_archive_path_with_an_image_reference(tmp_path: Path) -> None:
    path = tmp_path / "multi.tar"
    path.write_bytes(docker_archive(LAYERS, HISTORY, repo_tag="registry:5000/team/app:v1"))
    img = open_image(f"{path}:registry:5000/team/app:v1", options=SourceOptions())
    assert img.reference == "registry:5000/team/app:v1" and img.source == "docker-archive"


def test_no_repeated_stored_size_means_no_candidates_and_no_replay(monkeypatch) -> None:
    from layerscope.sources import rehash

    img = read_archive(docker_archive(LAYERS, HISTORY))
    calls = []
    monkeypatch.setattr(rehash, "replay", lambda layers: calls.append(1))
    assert rehash.candidate_sizes(img, floor=1) == frozenset()
    assert calls == []


@pytest.mark.parametrize("extra_sizes", [0, 20])
@pytest.mark.parametrize("delete", [False, True])
def test_candidate_sizes_are_the_visible_unhashed_pairs(extra_sizes: int, delete: bool) -> None:
    """The size bound counted in C (issue 15) only skips work: the sizes are
    those a plain count of the visible files gives, with many unhashed sizes
    (no bound) or few, a pair split by a whiteout or not."""
    from collections import Counter

    from layerscope.model import EntryType
    from layerscope.sources import rehash
    from layerscope.union import replay

    first = [d("x"), file("x/a", b"a" * 5000), file("x/b", b"b" * 5000), file("c", b"c" * 6000)]
    first += [file(f"e{i}", b"e" * (7000 + i)) for i in range(extra_sizes)]
    layers = [layer_tar(first), layer_tar([wh("x/b")] if delete else [file("z", b"z" * 10)])]
    img = read_archive(docker_archive(layers, None))
    visible = [e for _, e in replay(layer.entries for layer in img.layers).final.values()]
    counts = Counter(e.size for e in visible if e.type is EntryType.FILE and e.size >= 4096)
    expected = frozenset(size for size, n in counts.items() if n > 1)
    assert rehash.candidate_sizes(img) == expected
    assert expected == (frozenset() if delete else frozenset({5000}))
