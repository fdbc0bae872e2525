"""Fuzz targets for the archive and tar readers.

Each target takes arbitrary bytes and must either succeed or raise a
:class:`layerscope.errors.LayerscopeError` (what the CLI turns into one line
and exit 2): any other exception, a hang or a crash is a bug. The tar target
also runs the C accelerator and the pure-Python reader side by side and
requires the same entries or the same error from both.

Seeds are small valid inputs; :func:`mutate` breaks them in ways that get
past the first checks (header checksums are recomputed after a mutation, so
the fuzzer reaches the fields behind them).

Run long: ``python -m tests.property.fuzz_targets [seconds]`` (atheris when
installed, else hypothesis with the fuzz profile); see docs/security.md.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable

import zstandard

from layerscope.errors import LayerscopeError
from layerscope.sources.archive import read_archive_stream
from layerscope.sources.interface import SourceOptions
from layerscope.sources.layerscan import scan_layer
from layerscope.tar.reader import Limits
from layerscope.tar.streams import bytes_stream, open_decompressed

LIMITS = Limits(max_path_bytes=4096, max_header_bytes=1 << 16, max_members=5000)
OPTIONS = SourceOptions(limits=LIMITS, max_layers=50, max_expansion=100)


def _outcome(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except LayerscopeError as e:
        return ("error", type(e).__name__, str(e))


def fuzz_tar(data: bytes) -> None:
    """One layer tar, both readers: same entries, or the same error."""

    def run(accelerate: bool) -> Callable[[], object]:
        return lambda: scan_layer(
            bytes_stream(data),
            limits=LIMITS,
            accelerate=accelerate,
            want_digest=lambda n: n < 4096,
            measure=True,
        )

    fast, python = _outcome(run(True)), _outcome(run(False))
    assert fast == python, (fast, python)


def fuzz_inflate(data: bytes) -> None:
    """gzip/zstd sniffing and inflating, bounded."""

    def run() -> int:
        s = open_decompressed(bytes_stream(data), name="fuzz", max_ratio=100, ratio_floor=1 << 20)
        total = 0
        while chunk := s.read(1 << 16):
            total += len(chunk)
        return total

    _outcome(run)


def fuzz_archive(data: bytes) -> None:
    """A whole image archive, then the analysis and both reports."""
    from layerscope.analysis import analyze
    from layerscope.report import render

    def run() -> None:
        image = read_archive_stream(
            bytes_stream(data), name="fuzz.tar", reference="", source=None, options=OPTIONS
        )
        result = analyze(image)
        json.loads(render("json", result))
        render("table", result)

    _outcome(run)


# -- seeds and mutations ---------------------------------------------------------------


def _tar(fmt: int, members: list[tuple[str, str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind in ("sym", "hard"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = data.decode()
                data = b""
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def layer_seeds() -> list[bytes]:
    members = [
        ("etc", "dir", b""),
        ("etc/passwd", "file", b"root:x:0:0::/root:/bin/sh\n"),
        ("usr/" + "long/" * 30 + "name", "file", b"x" * 700),
        ("link", "sym", b"/etc/passwd"),
        ("hard", "hard", b"etc/passwd"),
        ("tmp/.wh.gone", "file", b""),
        ("opt/.wh..wh..opq", "file", b""),
        ("caf\u00e9", "file", b"\xff" * 3),
    ]
    return [
        _tar(tarfile.GNU_FORMAT, members),
        _tar(tarfile.PAX_FORMAT, members),
        _tar(tarfile.USTAR_FORMAT, members[:2] + members[3:5]),
    ]


def archive_seeds() -> list[bytes]:
    from tests.builders import docker_archive

    layers = layer_seeds()[:2]
    plain = docker_archive(layers)
    return [plain, docker_archive(layers, compress_layers=True), gzip.compress(plain, mtime=0)]


def inflate_seeds() -> list[bytes]:
    data = layer_seeds()[0]
    return [gzip.compress(data, mtime=0), zstandard.ZstdCompressor().compress(data), data]


def fix_checksums(data: bytearray) -> None:
    """Recompute the checksum of every block that looks like a tar header."""
    for off in range(0, len(data) - 511, 512):
        block = data[off : off + 512]
        if block[257:262] == b"ustar":
            block[148:156] = b" " * 8
            data[off + 148 : off + 156] = b"%06o\x00 " % sum(block)


INTERESTING = [
    b"77777777777",
    b"\x80\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff",
    b"\xff" * 12,
    b"0" * 12,
    b"-1",
    b"x",
    b"L",
    b"K",
    b"g",
    b"S",
    b"5",
    b"2",
    b"1",
    b"\x00",
    b"999999999999 path=" + b"a" * 20 + b"\n",
    b"30 GNU.sparse.realsize=99999\n",
    b"../../../../etc/passwd\x00",
    b".wh.",
    b".wh..wh..opq",
]


def mutate(seed: bytes, ops: list[tuple[int, int, int]], fix: bool) -> bytes:
    """Apply ``(kind, position, value)`` mutations to ``seed``."""
    data = bytearray(seed)
    for kind, pos, value in ops:
        if not data:
            break
        pos %= len(data)
        if kind == 0:  # flip a byte
            data[pos] ^= value % 255 + 1
        elif kind == 1:  # truncate
            del data[pos:]
        elif kind == 2:  # insert an interesting value
            piece = INTERESTING[value % len(INTERESTING)]
            data[pos : pos + len(piece)] = piece
        elif kind == 3:  # write into a header field of a 512-byte block
            block = pos - pos % 512
            field = [0, 100, 124, 136, 148, 156, 157, 257, 345][value % 9]
            piece = INTERESTING[(value // 9) % len(INTERESTING)]
            data[block + field : block + field + len(piece)] = piece
        else:  # duplicate a block
            block = pos - pos % 512
            data[block:block] = data[block : block + 512]
    if fix:
        fix_checksums(data)
    return bytes(data)


def _main() -> None:  # pragma: no cover - the long run, by hand
    import sys

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3600.0
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        atheris = None
    if atheris is not None:

        def one(data: bytes) -> None:
            fuzz_tar(data)
            fuzz_inflate(data)
            fuzz_archive(data)

        atheris.Setup([sys.argv[0], f"-max_total_time={int(seconds)}"], one)
        atheris.Fuzz()
        return
    import os
    import time

    import pytest

    os.environ["LAYERSCOPE_FUZZ_SCALE"] = "50"  # fresh random examples each round
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        code = pytest.main(["-q", "-x", "-p", "no:cacheprovider", "tests/property/test_fuzz.py"])
        if code != 0:
            sys.exit(code)


if __name__ == "__main__":
    _main()
