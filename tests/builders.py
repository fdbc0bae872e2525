"""Builders for small in-memory layers, archives and images used by unit tests.

Tarballs are made with Python's ``tarfile`` so the reader under test is
checked against an independent writer.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from layerscope.model import Entry, EntryType, Image, Layer
from layerscope.sources.archive import read_archive_stream
from layerscope.sources.interface import SourceOptions
from layerscope.tar.streams import bytes_stream


@dataclass(frozen=True)
class F:
    """A member to put in a crafted layer tar.

    kind: file, dir, symlink, hardlink, whiteout (of ``path``), opaque (dir ``path``).
    """

    path: str
    kind: str = "file"
    data: bytes = b""
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


def file(path: str, data: bytes | int = b"", **kw: int) -> F:
    """A regular file; an int ``data`` means that many bytes."""
    if isinstance(data, int):
        data = b"x" * data
    return F(path, "file", data, **kw)  # type: ignore[arg-type]


def d(path: str) -> F:
    return F(path, "dir", mode=0o755)


def sym(path: str, target: str) -> F:
    return F(path, "symlink", link=target)


def hard(path: str, target: str) -> F:
    return F(path, "hardlink", link=target)


def wh(path: str) -> F:
    return F(path, "whiteout")


def opq(path: str) -> F:
    return F(path, "opaque")


def layer_tar(members: Iterable[F], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A layer tarball holding ``members`` in order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for m in members:
            path = m.path
            if m.kind == "whiteout":
                head, _, base = path.rpartition("/")
                path = f"{head}/.wh.{base}" if head else f".wh.{base}"
            elif m.kind == "opaque":
                path = f"{path}/.wh..wh..opq" if path else ".wh..wh..opq"
            info = tarfile.TarInfo(path)
            info.mode, info.uid, info.gid = m.mode, m.uid, m.gid
            info.mtime = 1_700_000_000
            if m.kind == "dir":
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            elif m.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, m.link
                t.addfile(info)
            elif m.kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, m.link
                t.addfile(info)
            else:
                info.size = len(m.data)
                t.addfile(info, io.BytesIO(m.data))
    return buf.getvalue()


def docker_archive(
    layers: Sequence[bytes],
    history: Sequence[dict[str, object]] | None = None,
    *,
    repo_tag: str = "test/image:latest",
    config_extra: dict[str, object] | None = None,
    compress_layers: bool = False,
) -> bytes:
    """A legacy ``docker save`` archive (manifest.json, <id>/layer.tar, <cfg>.json)."""
    diff_ids = ["sha256:" + hashlib.sha256(raw).hexdigest() for raw in layers]
    if history is None:
        history = [{"created_by": f"/bin/sh -c step {i}"} for i in range(len(layers))]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin", "HOME=/root"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": list(history),
        **(config_extra or {}),
    }
    config_raw = json.dumps(config).encode()
    config_name = hashlib.sha256(config_raw).hexdigest() + ".json"
    members: list[tuple[str, bytes]] = []
    layer_names = []
    for i, raw in enumerate(layers):
        name = f"{i:064x}/layer.tar"
        layer_names.append(name)
        members.append((name, gzip.compress(raw, mtime=0) if compress_layers else raw))
    members.append((config_name, config_raw))
    manifest = [{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def read_archive(data: bytes, options: SourceOptions | None = None) -> Image:
    """Parse archive bytes through the real archive source."""
    return read_archive_stream(
        bytes_stream(data, "test.tar"),
        name="test.tar",
        reference="",
        source=None,
        options=options or SourceOptions(),
    )


def image_of(*layers: Sequence[F], history: Sequence[str] | None = None) -> Image:
    """An Image made by writing the layers as a docker archive and reading it back."""
    hist = None
    if history is not None:
        hist = [{"created_by": h} for h in history]
    return read_archive(docker_archive([layer_tar(m) for m in layers], hist))


def entries_image(*layers: Sequence[Entry]) -> Image:
    """An Image straight from entry lists (no tar involved)."""
    return Image(
        reference="t",
        id="sha256:0",
        source="test",
        os="linux",
        architecture="amd64",
        layers=tuple(Layer(i, f"sha256:{i}", tuple(es), 0, 0) for i, es in enumerate(layers)),
    )


__all__ = [
    "Entry",
    "EntryType",
    "F",
    "d",
    "docker_archive",
    "entries_image",
    "file",
    "hard",
    "image_of",
    "layer_tar",
    "opq",
    "read_archive",
    "sym",
    "wh",
]
