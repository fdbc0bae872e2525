"""Byte-level tar and image writers for hostile inputs.

``tarfile`` refuses to write most of what an attacker would: bad checksums,
base-256 sizes of exabytes, names it cannot encode. These helpers write
headers field by field so each hostile archive is exactly what its test says.
Large archives are written as streams of chunks, never held in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

BLOCK = 512
END = bytes(2 * BLOCK)

Chunks = Iterable[bytes]


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\x00" % (width - 1, value)


def header(
    name: bytes | str,
    *,
    size: int = 0,
    typ: bytes = b"0",
    link: bytes | str = b"",
    mode: int = 0o644,
    mtime: int = 1_700_000_000,
    size_field: bytes | None = None,
    chksum: int | None = None,
    prefix: bytes = b"",
) -> bytes:
    """One ustar header block; ``size_field``/``chksum`` override the honest values."""
    if isinstance(name, str):
        name = name.encode("utf-8", "surrogateescape")
    if isinstance(link, str):
        link = link.encode("utf-8", "surrogateescape")
    assert len(name) <= 100 and len(link) <= 100 and len(prefix) <= 155
    h = bytearray(BLOCK)
    h[0 : len(name)] = name
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(0, 8)
    h[116:124] = _octal(0, 8)
    h[124:136] = size_field if size_field is not None else _octal(size, 12)
    h[136:148] = _octal(mtime, 12)
    h[148:156] = b" " * 8
    h[156:157] = typ
    h[157 : 157 + len(link)] = link
    h[257:265] = b"ustar\x0000"
    h[345 : 345 + len(prefix)] = prefix
    value = sum(h) if chksum is None else chksum
    h[148:156] = b"%06o\x00 " % value
    return bytes(h)


def pad(n: int) -> bytes:
    return bytes(-n % BLOCK)


def member(name: bytes | str, data: bytes = b"", *, typ: bytes = b"0", link: str = "") -> bytes:
    """Header plus padded data of one small member."""
    return header(name, size=len(data), typ=typ, link=link) + data + pad(len(data))


def pax_member(records: dict[str, bytes | str], name: str = "pax") -> bytes:
    """A pax extended header ('x') carrying ``records`` for the next member."""
    body = b""
    for key, value in records.items():
        v = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        rec = b" " + key.encode() + b"=" + v + b"\n"
        n = len(rec)
        while len(b"%d" % n) + len(rec) != n:
            n = len(b"%d" % n) + len(rec)
        body += b"%d" % n + rec
    return header(name, size=len(body), typ=b"x") + body + pad(len(body))


def tar(*members: bytes) -> bytes:
    """Members then the end-of-archive blocks."""
    return b"".join(members) + END


class Blob:
    """Bytes of known length, produced as chunks (for large layers)."""

    def __init__(self, size: int, chunks: Chunks) -> None:
        self.size = size
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)

    @classmethod
    def of(cls, data: bytes) -> Blob:
        return cls(len(data), [data])


def write_tar(path: Path, members: Iterable[tuple[str, Blob]]) -> None:
    """An outer tar of ``(name, blob)`` members, streamed to ``path``."""
    with open(path, "wb") as f:
        for name, blob in members:
            f.write(header(name, size=blob.size))
            written = 0
            for chunk in blob:
                f.write(chunk)
                written += len(chunk)
            assert written == blob.size, (name, written, blob.size)
            f.write(pad(blob.size))
        f.write(END)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_json(
    diff_ids: list[str], history: list[dict[str, object]] | None = None, n: int = 0
) -> bytes:
    """An image config; ``n`` layers of plain RUN history unless given."""
    if history is None:
        history = [{"created_by": f"/bin/sh -c step {i}"} for i in range(n or len(diff_ids))]
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
    ).encode()


def docker_archive(
    path: Path,
    layers: list[bytes | Blob],
    *,
    config: bytes | None = None,
    manifest: bytes | None = None,
    extra: list[tuple[str, Blob]] | None = None,
    layer_names: list[str] | None = None,
) -> None:
    """A legacy ``docker save`` archive at ``path``; every part can be overridden."""
    blobs = [b if isinstance(b, Blob) else Blob.of(b) for b in layers]
    names = layer_names or [f"{i:064x}/layer.tar" for i in range(len(blobs))]
    if config is None:
        diff_ids = [sha256(b) if isinstance(b, bytes) else "" for b in layers]
        config = config_json([x for x in diff_ids if x], n=len(layers))
    cfg_name = hashlib.sha256(config).hexdigest() + ".json"
    if manifest is None:
        manifest = json.dumps(
            [{"Config": cfg_name, "RepoTags": ["hostile:latest"], "Layers": names}]
        ).encode()
    members = [*zip(names, blobs, strict=False), (cfg_name, Blob.of(config))]
    members += extra or []
    members.append(("manifest.json", Blob.of(manifest)))
    write_tar(path, members)


def oci_layout(root: Path, layers: list[bytes], *, media: str = "") -> dict[str, str]:
    """An OCI layout directory; returns ``{"config": digest, "layers": ...}`` names."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    descs = []
    for raw in layers:
        digest = sha256(raw)
        (blobs / digest[7:]).write_bytes(raw)
        descs.append(
            {
                "mediaType": media or "application/vnd.oci.image.layer.v1.tar",
                "digest": digest,
                "size": len(raw),
            }
        )
    config = config_json([sha256(raw) for raw in layers])
    (blobs / sha256(config)[7:]).write_bytes(config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256(config),
                "size": len(config),
            },
            "layers": descs,
        }
    ).encode()
    (blobs / sha256(manifest)[7:]).write_bytes(manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha256(manifest),
                "size": len(manifest),
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    return {"config": sha256(config), "manifest": sha256(manifest)}


# -- big and bomb layers ----------------------------------------------------------


def many_files_layer(count: int) -> Blob:
    """A layer of ``count`` empty files spread over directories, built fast:
    one header template, only the name and checksum change."""
    dirs = max(1, count // 1000)
    template = bytearray(header("d00000/f0000000"))
    template[148:156] = b" " * 8
    base = sum(template) - sum(template[0:15])

    def chunks() -> Iterator[bytes]:
        for d in range(dirs):
            yield header(f"d{d:05d}/", typ=b"5", mode=0o755)
        h = template
        out = bytearray()
        for i in range(count):
            name = b"d%05d/f%07d" % (i % dirs, i)
            h[0:15] = name
            h[148:156] = b"%06o\x00 " % (base + sum(name))
            out += h
            if len(out) >= 1 << 20:
                yield bytes(out)
                out.clear()
        yield bytes(out)
        yield END

    return Blob((dirs + count) * BLOCK + len(END), chunks())


def gzip_zero_file_layer(total: int, piece: int = 64 << 20) -> bytes:
    """A gzip layer holding one file of ``total`` zero bytes: a few MB on disk.

    Multi-member gzip: one compressed piece of zeros repeated, so making an
    8 GiB bomb costs one 64 MiB compression.
    """
    assert total % piece == 0
    zeros = gzip.compress(bytes(piece), compresslevel=9, mtime=0)
    head = gzip.compress(header("bomb", size=total), mtime=0)
    tail = gzip.compress(END, mtime=0)
    return head + zeros * (total // piece) + tail


def zstd_zero_file_layer(total: int, piece: int = 64 << 20) -> bytes:
    """The zstd twin of :func:`gzip_zero_file_layer` (frames concatenated)."""
    import zstandard

    c = zstandard.ZstdCompressor(level=19)
    zeros = c.compress(bytes(piece))
    return c.compress(header("bomb", size=total)) + zeros * (total // piece) + c.compress(END)


def deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path
