"""The C header walk (layerscope/tar/_tarwalk.c) gives exactly what the
pure-Python reader gives, entries and errors alike, and both agree with
Python's tarfile. No timing here: speed is measured by benchmarks/."""

from __future__ import annotations

import gzip
import io
import os
import random
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from layerscope.errors import LayerscopeError
from layerscope.model import Entry, EntryType
from layerscope.sources import layerscan
from layerscope.sources.blob import ReusingWindow
from layerscope.sources.daemon import ChunkStream
from layerscope.sources.layerscan import SizeRange, normalize, scan_layer
from layerscope.tar.reader import Limits, TarReader
from layerscope.tar.streams import FileStream, discard
from tests.builders import d, file, hard, layer_tar, opq, sym, wh
from tests.hostile.tarcraft import header

pytestmark = pytest.mark.skipif(
    not layerscan.has_accelerator(), reason="the C accelerator is not built (no compiler?)"
)

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"


class _Trickle:
    """Unseekable, odd short reads: chains of headers straddle every refill."""

    def __init__(self, data: bytes, step: int) -> None:
        self._f = io.BytesIO(data)
        self._step = step

    def read(self, n: int) -> bytes:
        return self._f.read(min(n, self._step))

    def skip(self, n: int) -> None:
        discard(self, n, "stream")


Outcome = tuple[object, ...]


def _outcome(
    data: bytes, accelerate: bool, stream: Callable[[bytes], object], **kw: object
) -> Outcome:
    try:
        scan = scan_layer(stream(data), accelerate=accelerate, **kw)  # type: ignore[arg-type]
    except LayerscopeError as e:
        return ("error", type(e).__name__, str(e))
    assert all(type(e) is Entry for e in scan.entries)
    return ("ok", scan.entries, scan.size_bytes, scan.skipped)


def _chunks(data: bytes, step: int) -> ChunkStream:
    """The engine path's stream: ``read_some`` hands out views into chunks."""
    return ChunkStream(iter([data[i : i + step] for i in range(0, len(data), step)]), "stream")


def _inside_outer_tar(data: bytes, step: int) -> object:
    """A layer read as a member of an outer archive stream (``docker save``
    from the engine): views pass through the outer reader's member stream."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("abc/layer.tar")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    outer = TarReader(_chunks(out.getvalue(), step), name="outer")
    assert outer.next_member() is not None
    return outer.data_stream()


class _ShortReads(ReusingWindow):
    """Reads of at most ``step`` bytes: headers and files straddle every read,
    and each read overwrites the buffer the one before handed out."""

    step = 1 << 20

    def read_some(self, n: int) -> memoryview:
        return super().read_some(min(n, self.step))


def _window(step: int) -> Callable[[bytes], object]:
    """An uncompressed layer of an archive on disk: pread windows, and
    ``read_some`` into one buffer that every read reuses."""

    def make(data: bytes) -> object:
        fd = os.memfd_create("layer")
        os.write(fd, b"x" * 1000 + data)  # the layer sits at an offset, as in an archive
        _FDS.append(fd)
        window = _ShortReads(fd, 1000, len(data), "layer")
        window.step = step
        return window

    return make


_FDS: list[int] = []


@pytest.fixture(autouse=True)
def _close_windows() -> Iterator[None]:
    yield
    while _FDS:
        os.close(_FDS.pop())


STREAMS: dict[str, Callable[[bytes], object]] = {
    "seekable": lambda b: FileStream(io.BytesIO(b)),
    "trickle-7919": lambda b: _Trickle(b, 7919),
    "trickle-513": lambda b: _Trickle(b, 513),
    "chunks-509": lambda b: _chunks(b, 509),
    "chunks-4099": lambda b: _chunks(b, 4099),
    "chunks-1MiB": lambda b: _chunks(b, 1 << 20),
    "outer-tar-1031": lambda b: _inside_outer_tar(b, 1031),
    "outer-tar-65537": lambda b: _inside_outer_tar(b, 65537),
    "file-window-1MiB": _window(1 << 20),
    "file-window-509": _window(509),
    "file-window-4099": _window(4099),
}


def assert_same(data: bytes, **kw: object) -> Outcome:
    """Fast and pure-Python agree over every kind of stream; returns the outcome."""
    want = _outcome(data, False, STREAMS["seekable"], **kw)
    for name, make in STREAMS.items():
        slow = _outcome(data, False, make, **kw)
        assert _outcome(data, True, make, **kw) == slow, name
        assert slow[:2] == want[:2], name  # error messages may name the stream
        if want[0] == "ok":
            assert slow == want, name
    return want


def _tar(fmt: int, count: int = 400) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for i in range(count):
            depth = "/".join(f"d{j}" for j in range(i % 9))
            name = f"{depth}/{'n' * (i % 180)}file{i}" if depth else f"./file{i}"
            if i % 13 == 0:
                name = "ünï/" + name + "/é"  # pax path (non-ASCII) in PAX, raw bytes otherwise
            info = tarfile.TarInfo(name)
            data = bytes([i % 256]) * (i * 37 % 5000)
            info.size = len(data)
            info.uid = i * 1000 if i % 17 else 9_000_000  # > 7 octal digits: pax or base-256
            info.gid = 7
            info.mode = 0o600 + i % 64 + (0o4000 if i % 19 == 0 else 0)
            info.mtime = 1_700_000_000 + i + (0.5 if fmt == tarfile.PAX_FORMAT and i % 3 else 0)
            t.addfile(info, io.BytesIO(data))
            if i % 5 == 0:
                link = tarfile.TarInfo(name + ".sym")
                link.type = tarfile.SYMTYPE
                link.linkname = "../" * (i % 4) + "t" * (i % 150)
                t.addfile(link)
            if i % 7 == 0:
                hl = tarfile.TarInfo(name + ".hard")
                hl.type = tarfile.LNKTYPE
                hl.linkname = "./" + name + "/"
                t.addfile(hl)
            if i % 11 == 0:
                dr = tarfile.TarInfo(name + ".dir/")
                dr.type = tarfile.DIRTYPE
                t.addfile(dr)
            if i % 23 == 0:
                for kind in (tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE):
                    dev = tarfile.TarInfo(f"{name}.dev{kind!r}")
                    dev.type = kind
                    dev.devmajor, dev.devminor = 1, 3
                    t.addfile(dev)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_formats_match_pure_python_and_tarfile(fmt: int) -> None:
    if fmt == tarfile.USTAR_FORMAT:
        with pytest.raises(ValueError):  # tarfile cannot write some of these names in ustar
            _tar(fmt)
        return
    data = _tar(fmt)
    out = assert_same(data)
    assert out[0] == "ok"
    entries = out[1]
    assert isinstance(entries, tuple)
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        ref = list(t)
    assert [e.path for e in entries] == [normalize(m.name) for m in ref]
    for e, m in zip(entries, ref, strict=True):
        assert e.size == (m.size if m.isreg() else 0)
        assert (e.mode, e.uid, e.gid, e.mtime) == (m.mode & 0o7777, m.uid, m.gid, int(m.mtime))
        if m.issym():
            assert e.linkname == m.linkname
        if m.islnk():
            assert e.linkname == normalize(m.linkname)


def test_layers_with_whiteouts_links_and_dirs() -> None:
    layer = layer_tar(
        [
            d("etc"),
            file("etc/a", 10),
            wh("etc/b"),
            opq("var/cache"),
            opq(""),
            sym("bin/sh", "/bin/busybox"),
            hard("bin/ls", "./bin//busybox"),
            file("./x//y/./z/", 3),
            file(".wh..wh.plnk/1", 1),
            file("a/.wh..wh.aufs", 0),
            file(".wh.", 0),
            file("top/.wh.", 0),
        ]
    )
    out = assert_same(layer)
    assert out[0] == "ok"
    entries = out[1]
    assert isinstance(entries, tuple)
    assert Entry("etc/b", EntryType.WHITEOUT) in entries
    assert Entry("var/cache", EntryType.OPAQUE) in entries
    assert Entry("", EntryType.OPAQUE) in entries
    assert out[3] == 3


def _raw(*blocks: bytes) -> bytes:
    return b"".join(blocks) + bytes(1024)


def _with_data(h: bytes, data: bytes) -> bytes:
    return h + data + bytes(-len(data) % 512)


def _pax(records: dict[str, str], typ: bytes = b"x") -> bytes:
    body = b""
    for k, v in records.items():
        rec = f" {k}={v}\n".encode("utf-8", "surrogateescape")
        n = len(rec) + 1
        while len(str(n).encode()) + len(rec) != n:
            n += 1
        body += str(n).encode() + rec
    return _with_data(header("PaxHeader", size=len(body), typ=typ), body)


def _field(h: bytes, start: int, value: bytes) -> bytes:
    """Replace a header field and fix the checksum."""
    b = bytearray(h)
    b[start : start + len(value)] = value
    b[148:156] = b" " * 8
    b[148:156] = b"%06o\x00 " % sum(b)
    return bytes(b)


CRAFTED = {
    "pax-path-link-size": _raw(
        _pax({"path": "very/long/" + "p" * 300, "size": "3", "uid": "70000000000"}),
        _with_data(header("short", size=0), b"abc"),
        _pax({"linkpath": "../" + "t" * 200}),
        header("lnk", typ=b"2"),
    ),
    "pax-two-headers-merge": _raw(
        _pax({"path": "first", "mtime": "5"}),
        _pax({"path": "second"}),
        header("x", size=0),
    ),
    "pax-chain-only-last-counts": _raw(
        _pax({"path": "first", "uid": "7"}),
        _pax({"mtime": "5"}),
        header("x", size=0),
    ),
    "pax-global-own-entry-applies-nothing": _raw(
        _pax({"path": "first"}),
        _pax({"path": "g", "uid": "9"}, typ=b"g"),
        header("a", size=0),
        header("b", size=0),
    ),
    "pax-chain-longer-than-the-buffer": _raw(
        *[_pax({"comment": "c" * 900_000}) for _ in range(30)],
        _pax({"path": "last"}),
        header("x", size=0),
    ),
    "pax-fractional-mtime": _raw(
        _pax({"mtime": "1700000000.999999999"}),
        header("f"),
        _pax({"mtime": "12.5"}),
        header("g"),
    ),
    "pax-odd-numbers": _raw(_pax({"uid": "+5"}), header("f")),
    "pax-negative": _raw(_pax({"mtime": "-5"}), header("f")),
    "pax-bad-number": _raw(_pax({"size": "1e999"}), header("f")),
    "pax-empty-path": _raw(_pax({"path": ""}), header("f")),
    "pax-sparse-keys": _raw(
        _pax({"GNU.sparse.name": "real", "GNU.sparse.realsize": "9000"}), header("f")
    ),
    "pax-global": _raw(_pax({"uid": "42"}, b"g"), header("f"), header("g2")),
    "pax-then-end": _raw(_pax({"path": "x"})),
    "pax-malformed": _raw(_with_data(header("P", size=10, typ=b"x"), b"99 path=x\n"), header("f")),
    "pax-nonutf8": _raw(_pax({"path": "caf\udce9/\udcff"}), header("f")),
    "gnu-longname": _raw(
        _with_data(header("././@LongLink", size=301, typ=b"L"), b"L" * 300 + b"\x00"),
        _with_data(header("././@LongLink", size=201, typ=b"K"), b"./k/" + b"K" * 196 + b"\x00"),
        header("short", typ=b"1", link="short-link"),
    ),
    "ustar-prefix": _raw(header("name", prefix=b"some/prefix//./dir")),
    "fields-with-spaces": _raw(
        _field(header("a"), 100, b"  644  \x00"),
        _field(header("b"), 100, b"644\x00    "),
        _field(header("c"), 124, b"   \x00        "),
        _field(header("d"), 136, b"14\x00" + b"9" * 9),
        _field(header("e"), 100, b"00006447"),
        _field(_field(header("f"), 100, b"00006447"), 108, b"7\x00     "),
        _field(header("g"), 100, b"0o644\x00\x00\x00"),
        _field(header("h"), 100, b"\x00" * 8),
        _field(header("i"), 100, b"       7"),
    ),
    "base256": _raw(_field(header("big", size=0), 108, b"\x80" + bytes(6) + b"\x05")),
    "checksum-bad": _raw(header("a", chksum=1)),
    "odd-types": _raw(
        header("v", typ=b"V"),
        header("m", typ=b"M"),
        _with_data(header("dumpdir", typ=b"D", size=4), b"abcd"),
        _with_data(header("unknown", typ=b"Z", size=5), b"hello"),
        _with_data(header("hardlink-with-size", typ=b"1", size=600, link="x"), b""),
        header("after"),
    ),
    "truncated-in-data": header("f", size=5000) + b"x" * 100,
    "truncated-in-header": header("f") + b"y" * 100,
    "truncated-in-pax": _pax({"path": "p" * 2000})[:900],
    "no-end-marker": header("f"),
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_headers(name: str) -> None:
    assert_same(CRAFTED[name])


def test_signed_checksum_variant() -> None:
    h = bytearray(header("\u00e9t\u00e9"))
    signed = sum(b - 256 if b > 127 else b for b in h[:148] + h[156:]) + 256
    h[148:156] = b"%06o\x00 " % signed
    out = assert_same(_raw(bytes(h)))
    assert out[0] == "ok"


@pytest.mark.parametrize(
    "limits",
    [
        Limits(max_path_bytes=50),
        Limits(max_header_bytes=100),
        Limits(max_members=10),
        Limits(max_file_bytes=1000),
    ],
)
def test_limits_are_refused_alike(limits: Limits) -> None:
    out = assert_same(_tar(tarfile.PAX_FORMAT, 60), limits=limits)
    assert out[0] == "error"


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_digests_of_selected_files(fmt: int) -> None:
    data = _tar(fmt, 120)
    out = assert_same(data, want_digest=lambda size: size >= 2000)
    assert out[0] == "ok"
    entries = out[1]
    assert isinstance(entries, tuple)
    hashed = [e for e in entries if e.digest is not None]
    assert hashed
    assert all(e.size >= 2000 and e.type is EntryType.FILE for e in hashed)
    for inline in (0, 2500, 1 << 20):  # streamed, both, from the buffer
        assert assert_same(data, want_digest=lambda s: s >= 2000, inline_digest_bytes=inline) == out
    sizes = {e.size for e in hashed[:3]}
    again = assert_same(data, want_digest=sizes.__contains__)[1]
    assert isinstance(again, tuple)
    assert {e.size for e in again if e.digest is not None} == sizes


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_digests_of_a_size_range(fmt: int) -> None:
    """A size range is tested in C, with no call per file: the files in it
    get the digests content_digest gives, whatever the buffer boundaries."""
    data = _tar(fmt, 160)
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        truth = {
            normalize(m.name): layerscan.content_digest(t.extractfile(m).read())  # type: ignore[union-attr]
            for m in t.getmembers()
            if m.isreg()
        }
    for lo, hi in ((2000, 4000), (0, 1 << 20), (4999, 5000)):
        for inline in (0, 3000, 1 << 20):
            out = assert_same(data, want_digest=SizeRange(lo, hi), inline_digest_bytes=inline)
            assert out[0] == "ok"
            entries = out[1]
            assert isinstance(entries, tuple)
            files = [e for e in entries if e.type is EntryType.FILE]
            hashed = [e for e in files if e.digest is not None]
            assert all(lo <= e.size <= hi for e in hashed)
            assert {e.path for e in hashed} == {e.path for e in files if lo <= e.size <= hi}
            assert all(e.digest == truth[e.path] for e in hashed)


def test_pax_sizes_and_damaged_pax_records_hash_the_right_bytes() -> None:
    """A pax size record decides where a file's data ends, so which bytes
    are hashed; records that do not parse go to the Python reader, which
    gives the same outcome."""
    body = b"y" * 3000
    for size_record in ("3000", "2999", "30x0", "", "0"):
        records = {"size": size_record} if size_record else {"comment": "none"}
        data = _raw(
            _with_data(header("a", size=1500), b"a" * 1500),
            _pax(records),
            _with_data(header("b", size=3000), body),
            _with_data(header("c", size=2500), b"c" * 2500),
            _pax({"path": "d" * 200}),
            _with_data(header("d", size=2048), b"d" * 2048),
        )
        assert_same(data, want_digest=SizeRange(1, 1 << 20))


def test_measure_counts_the_whole_stream() -> None:
    data = _tar(tarfile.GNU_FORMAT, 50) + bytes(10_000)
    assert assert_same(data, measure=True)[2] == len(data)


def test_random_header_damage_is_handled_alike() -> None:
    """Seeded byte flips in headers: every outcome, entries or error, is the same."""
    base = _raw(
        _pax({"path": "p/" + "q" * 150, "mtime": "17.25"}),
        _with_data(header("a", size=700), b"z" * 700),
        _with_data(header("././@LongLink", size=120, typ=b"L"), b"n" * 119 + b"\x00"),
        header("b", typ=b"2", link="t"),
        header("c", prefix=b"pre/fix"),
        header("d/.wh.e"),
        header("f/.wh..wh..opq"),
    )
    heads = [i for i in range(0, len(base), 512) if base[i + 257 : i + 262] == b"ustar"]
    rng = random.Random(8)
    same = 0
    for _ in range(400):
        b = bytearray(base)
        start = rng.choice(heads)
        for _ in range(rng.randint(1, 3)):
            b[start + rng.randrange(512)] = rng.choice(b"0 7\x00\x80/.9x")
        if rng.random() < 0.7:  # keep the checksum right so fields get parsed
            b[start + 148 : start + 156] = b" " * 8
            b[start + 148 : start + 156] = b"%06o\x00 " % sum(b[start : start + 512])
        assert_same(bytes(b))
        assert_same(bytes(b), want_digest=SizeRange(100, 1 << 20))  # hashed too
        same += 1
    assert same == 400


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs GNU tar")
@pytest.mark.parametrize("fmt", ["gnu", "posix", "oldgnu"])
def test_archives_written_by_gnu_tar(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "src"
    (src / "dir" / ("deep" * 30)).mkdir(parents=True)
    (src / "dir" / ("deep" * 30) / ("name" * 40)).write_bytes(b"x" * 3000)
    (src / "sparse").write_bytes(b"")
    with open(src / "sparse", "r+b") as f:
        f.seek(1 << 20)
        f.write(b"end")
    (src / "link").symlink_to("dir/" + "deep" * 30)
    out = tmp_path / "a.tar"
    subprocess.run(
        ["tar", "-C", str(src), f"--format={fmt}", "-S", "-cf", str(out), "."], check=True
    )
    assert assert_same(out.read_bytes())[0] == "ok"


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.tar.gz")))
def test_sample_image_layers(sample: str) -> None:
    data = gzip.decompress((SAMPLES / sample).read_bytes())
    outer = TarReader(FileStream(io.BytesIO(data)))
    layers = 0
    for m in outer:
        if m.is_regular and (m.name.endswith("layer.tar") or m.name.startswith("blobs/")):
            blob = outer.read_data(1 << 30)
            if blob[257:262] == b"ustar":
                assert assert_same(blob)[0] == "ok"
                layers += 1
    assert layers > 0
