"""The tar readers against Python's tarfile, on random archives tarfile wrote.

Random members (long and non-ASCII names, ustar prefixes, long link targets,
every member type, owners and times that need base-256 or pax, pax records
and global headers) in USTAR, GNU and PAX formats, and sparse files written
by GNU tar: TarReader must report what tarfile reports (name, size, type,
link target, mode, owner, mtime), seekable or streamed in odd-sized reads,
and the C accelerator must produce exactly the entries the Python reader
does. The same stacks also go through real tars into the union replay and
must match the reference extraction.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from layerscope.model import Entry, EntryType
from layerscope.sources.layerscan import has_accelerator, scan_layer
from layerscope.tar.reader import Member, TarReader
from layerscope.tar.streams import FileStream, bytes_stream, discard
from layerscope.union import replay
from tests.property.layers import Stack, stacks
from tests.property.test_union_model import expected_hidden, extract, union_tree

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}
TYPES = {
    tarfile.REGTYPE: ord("0"),
    tarfile.AREGTYPE: 0,
    tarfile.LNKTYPE: ord("1"),
    tarfile.SYMTYPE: ord("2"),
    tarfile.CHRTYPE: ord("3"),
    tarfile.BLKTYPE: ord("4"),
    tarfile.DIRTYPE: ord("5"),
    tarfile.FIFOTYPE: ord("6"),
    tarfile.CONTTYPE: ord("7"),
    tarfile.GNUTYPE_SPARSE: ord("S"),
}

segment = st.text(
    alphabet=st.sampled_from("abcxyz019._-é日\u202e"), min_size=1, max_size=40
).filter(lambda s: s not in (".", ".."))
names = st.lists(segment, min_size=1, max_size=8).map("/".join)


@st.composite
def members(draw: st.DrawFn, fmt: str) -> tarfile.TarInfo:
    name = draw(names)
    kind = draw(st.sampled_from(["file", "file", "dir", "sym", "hard", "fifo", "chr", "blk"]))
    info = tarfile.TarInfo(name)
    info.mode = draw(st.integers(0, 0o7777))
    info.mtime = draw(st.integers(0, 2**33 if fmt != "ustar" else 8**11 - 1))
    top = 2**40 if fmt != "ustar" else 8**7 - 1
    info.uid = draw(st.integers(0, top))
    info.gid = draw(st.integers(0, top))
    if fmt == "ustar" and (len(name.encode()) > 255 or not name.isascii()):
        assume(False)  # ustar cannot store it; tarfile would refuse
    if kind == "file":
        info.size = draw(st.integers(0, 3000))
    elif kind == "dir":
        info.type = tarfile.DIRTYPE
    elif kind in ("sym", "hard"):
        info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
        info.linkname = draw(names)
        if fmt == "ustar":
            assume(len(info.linkname.encode()) <= 100 and info.linkname.isascii())
    else:
        info.type = {"fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE}[kind]
        info.devmajor, info.devminor = draw(st.integers(0, 255)), draw(st.integers(0, 255))
    if fmt == "pax" and draw(st.booleans()):
        info.pax_headers = {"comment": draw(st.text(max_size=30)), "layerscope.x": "1"}
    return info


@st.composite
def archives(draw: st.DrawFn) -> bytes:
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    buf = io.BytesIO()
    pax = {"comment": "global"} if fmt == "pax" and draw(st.booleans()) else None
    with tarfile.open(
        fileobj=buf, mode="w", format=FORMATS[fmt], pax_headers=pax, encoding="utf-8"
    ) as t:
        # (tarfile cannot read back a global header followed by no member)
        for info in draw(st.lists(members(fmt), min_size=1 if pax else 0, max_size=12)):
            data = bytes([len(info.name) % 256]) * info.size if info.isreg() else None
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


Row = tuple[str, int, int, str, int, int, int, int]


def reference(data: bytes) -> list[Row]:
    with tarfile.open(fileobj=io.BytesIO(data), encoding="utf-8") as t:
        return [
            (
                m.name,
                TYPES.get(m.type, m.type[0]),
                m.size,
                m.linkname,
                m.mode,
                m.uid,
                m.gid,
                int(m.mtime),
            )
            for m in t
        ]


def _row(m: Member) -> Row:
    name = m.name.rstrip("/") if m.type == ord("5") else m.name
    return (name, m.type, m.realsize, m.linkname, m.mode, m.uid, m.gid, m.mtime)


class Dribble:
    """A non-seekable stream that hands out odd-sized pieces."""

    def __init__(self, data: bytes, step: int) -> None:
        self._f = io.BytesIO(data)
        self._step = step

    def read(self, n: int) -> bytes:
        return self._f.read(min(n, self._step))

    def skip(self, n: int) -> None:
        discard(self, n, "dribble")


def check_agreement(data: bytes, step: int = 7919) -> None:
    expected = reference(data)
    # A global header is an entry of its own for us (as for Go), none for tarfile;
    # its only record here (a comment) changes no member.
    ours = [_row(m) for m in TarReader(FileStream(io.BytesIO(data))) if m.type != ord("g")]
    assert ours == expected
    assert [_row(m) for m in TarReader(Dribble(data, step)) if m.type != ord("g")] == expected
    python = scan_layer(bytes_stream(data), accelerate=False, want_digest=lambda n: n > 100)
    fast = scan_layer(bytes_stream(data), accelerate=True, want_digest=lambda n: n > 100)
    assert fast == python


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(archives(), st.integers(1, 9000))
def test_reader_agrees_with_tarfile(data: bytes, step: int) -> None:
    check_agreement(data, step)


def test_the_accelerator_is_built() -> None:
    """The C/Python agreement above only means something with both present."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        assert has_accelerator()
    elif not has_accelerator():
        pytest.skip("layerscope.tar._tarwalk not built")


def _gnu_tar_sparse(tmp: Path, fmt: str, holes: list[tuple[int, int]]) -> bytes:
    src = tmp / "src"
    src.mkdir()
    with open(src / "sparse.bin", "wb") as f:
        for offset, length in holes:
            f.seek(offset)
            f.write(b"d" * length)
        f.truncate(max(o + n for o, n in holes) + 4096)
    (src / "plain.txt").write_text("plain\n")
    out = tmp / "out.tar"
    subprocess.run(
        ["tar", f"--format={fmt}", "--sparse", "-cf", str(out), "-C", str(src), "."],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar not installed")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["gnu", "posix", "oldgnu"]),
    st.lists(st.tuples(st.integers(0, 1 << 22), st.integers(1, 20000)), min_size=1, max_size=6),
)
def test_sparse_files_from_gnu_tar(fmt: str, holes: list[tuple[int, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = _gnu_tar_sparse(Path(tmp), fmt, holes)
    check_agreement(data)


# -- the same random stacks, through real tar files -----------------------------------


def _layer_tar(entries: list[Entry], contents: dict[str, bytes], fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for e in entries:
            path = e.path
            if e.type is EntryType.WHITEOUT:
                head, _, base = path.rpartition("/")
                path = f"{head}/.wh.{base}" if head else f".wh.{base}"
            elif e.type is EntryType.OPAQUE:
                path = f"{path}/.wh..wh..opq" if path else ".wh..wh..opq"
            info = tarfile.TarInfo(path)
            data = None
            if e.type is EntryType.DIR:
                info.type = tarfile.DIRTYPE
            elif e.type is EntryType.SYMLINK:
                info.type, info.linkname = tarfile.SYMTYPE, e.linkname
            elif e.type is EntryType.HARDLINK:
                info.type, info.linkname = tarfile.LNKTYPE, e.linkname
            elif e.type is EntryType.FIFO:
                info.type = tarfile.FIFOTYPE
            elif e.type is EntryType.FILE:
                assert e.digest is not None
                data = contents[e.digest]
                info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _with_link_digests(entries: tuple[Entry, ...]) -> list[Entry]:
    """Scanned hard links carry no digest: give each its target's, as the tar
    resolves it (the last member of that name before it)."""
    last: dict[str, str | None] = {}
    out = []
    for e in entries:
        if e.type is EntryType.HARDLINK:
            e = e._replace(digest=last.get(e.linkname))
        elif e.type is EntryType.FILE:
            last[e.path] = e.digest
        out.append(e)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks(), st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]), st.booleans())
def test_stacks_through_real_tars(stack: Stack, fmt: int, accelerate: bool) -> None:
    scanned = [
        _with_link_digests(
            scan_layer(
                bytes_stream(_layer_tar(layer, stack.contents, fmt)),
                accelerate=accelerate,
                want_digest=lambda n: True,
            ).entries
        )
        for layer in stack.layers
    ]
    final = extract(stack)
    union = replay(scanned)
    assert union_tree(union) == final, stack.describe()
    from collections import Counter

    got = Counter((h.layer, h.path, h.size) for h in union.hidden)
    assert got == expected_hidden(stack, final), stack.describe()
