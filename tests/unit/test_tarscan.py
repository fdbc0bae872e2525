"""The fast member reader against Python's tarfile, the reference."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile

import pytest

from layerscope.errors import ArchiveError, LimitExceededError
from layerscope.tar.reader import Limits, TarReader
from layerscope.tar.streams import FileStream, discard

TYPES = {
    tarfile.REGTYPE: ord("0"),
    tarfile.AREGTYPE: 0,
    tarfile.LNKTYPE: ord("1"),
    tarfile.SYMTYPE: ord("2"),
    tarfile.DIRTYPE: ord("5"),
    tarfile.FIFOTYPE: ord("6"),
    tarfile.CHRTYPE: ord("3"),
    tarfile.GNUTYPE_SPARSE: ord("S"),
}


class _Unseekable:
    """A stream that can only read: exercises the discard path."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def read(self, n: int) -> bytes:
        return self._f.read(min(n, 7919))  # odd short reads on purpose

    def skip(self, n: int) -> None:
        discard(self, n, "stream")


def _reference(data: bytes) -> list[tuple[str, int, int, int, int, str, int]]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t:
            size = m.size
            out.append(
                (m.name, TYPES.get(m.type, m.type[0]), size, m.uid, m.gid, m.linkname, m.mode)
            )
    return out


def _ours(data: bytes, seekable: bool = True) -> list[tuple[str, int, int, int, int, str, int]]:
    stream = FileStream(io.BytesIO(data)) if seekable else _Unseekable(data)
    return [
        (
            m.name.rstrip("/") if m.type == ord("5") else m.name,
            m.type,
            m.realsize,
            m.uid,
            m.gid,
            m.linkname,
            m.mode,
        )
        for m in TarReader(stream)
    ]


def _normalize_ref(rows: list[tuple[str, int, int, int, int, str, int]]) -> list[tuple]:
    return [(r[0].rstrip("/"), *r[1:]) for r in rows]


def _archive(fmt: int, count: int = 300) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for i in range(count):
            depth = "/".join(f"d{j}" for j in range(i % 9))
            name = f"{depth}/{'n' * (i % 180)}file{i}" if depth else f"file{i}"
            info = tarfile.TarInfo(name)
            data = bytes([i % 256]) * (i * 37 % 5000)
            info.size = len(data)
            info.uid = i * 1000
            info.gid = 7
            info.mode = 0o600 + i % 64
            t.addfile(info, io.BytesIO(data))
            if i % 5 == 0:
                link = tarfile.TarInfo(name + ".sym")
                link.type = tarfile.SYMTYPE
                link.linkname = "../" * (i % 4) + "t" * (i % 150)
                t.addfile(link)
            if i % 7 == 0:
                hl = tarfile.TarInfo(name + ".hard")
                hl.type = tarfile.LNKTYPE
                hl.linkname = name
                t.addfile(hl)
            if i % 11 == 0:
                dr = tarfile.TarInfo(name + ".dir")
                dr.type = tarfile.DIRTYPE
                t.addfile(dr)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("seekable", [True, False])
def test_matches_tarfile(fmt: int, seekable: bool) -> None:
    data = _archive(fmt)
    assert _ours(data, seekable) == _normalize_ref(_reference(data))


def test_ustar_prefix_field() -> None:
    buf = io.BytesIO()
    long_dir = "/".join([f"segment{i:02d}" for i in range(12)])  # > 100 chars, < 255
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo(f"{long_dir}/leaf.txt")
        info.size = 3
        t.addfile(info, io.BytesIO(b"abc"))
    names = [m.name for m in TarReader(FileStream(io.BytesIO(buf.getvalue())))]
    assert names == [f"{long_dir}/leaf.txt"]


def test_pax_unicode_and_big_numbers() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("usr/share/émoji-😀.txt")
        info.uid = 3_000_000_000  # too big for octal: pax record
        info.size = 5
        t.addfile(info, io.BytesIO(b"hello"))
    (m,) = list(TarReader(FileStream(io.BytesIO(buf.getvalue()))))
    assert (m.name, m.uid, m.size) == ("usr/share/émoji-😀.txt", 3_000_000_000, 5)


def test_gnu_base256_numbers() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo("big-uid")
        info.uid = 10_000_000_000  # GNU writes base-256
        t.addfile(info, io.BytesIO(b""))
    (m,) = list(TarReader(FileStream(io.BytesIO(buf.getvalue()))))
    assert m.uid == 10_000_000_000


def test_pax_global_header_is_its_own_entry_and_applies_nothing() -> None:
    # Go's reader (so the engine) returns a global header as an entry and applies
    # none of its records; tarfile applies them to every later member.
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"uid": "4242"}
    ) as t:
        for name in ("a", "b"):
            info = tarfile.TarInfo(name)
            t.addfile(info, io.BytesIO(b""))
    got = [(m.type, m.name, m.uid) for m in TarReader(FileStream(io.BytesIO(buf.getvalue())))]
    assert got[0][0] == ord("g")
    assert got[1:] == [(ord("0"), "a", 0), (ord("0"), "b", 0)]


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar not installed")
@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_sparse_files_written_by_gnu_tar(tmp_path, fmt: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse.img", "wb") as f:
        f.seek(10 * 1024 * 1024)
        f.write(b"end")
    (src / "plain.txt").write_bytes(b"plain")
    out = tmp_path / "a.tar"
    subprocess.run(
        ["tar", "--sparse", f"--format={fmt}", "-cf", str(out), "-C", str(src), "."],
        check=True,
    )
    data = out.read_bytes()
    ours = {
        m.name.lstrip("./"): m.realsize
        for m in TarReader(FileStream(io.BytesIO(data)))
        if m.is_regular
    }
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        ref = {m.name.lstrip("./"): m.size for m in t if m.isfile()}
    assert ours == ref
    assert ours["sparse.img"] == 10 * 1024 * 1024 + 3


def test_member_data_can_be_read_and_the_rest_skipped() -> None:
    data = _archive(tarfile.PAX_FORMAT, 40)
    reader = TarReader(FileStream(io.BytesIO(data)))
    seen = {}
    for m in reader:
        if m.name.endswith("file3"):
            seen[m.name] = reader.read_data(1 << 20)
        elif m.name.endswith("file5"):
            stream = reader.data_stream()
            seen[m.name] = stream.read(10) + stream.read(1 << 20)
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for name, content in seen.items():
            f = t.extractfile(name)
            assert f is not None
            assert f.read() == content
    assert len(seen) == 2


def test_bad_checksum_is_refused() -> None:
    data = bytearray(_archive(tarfile.GNU_FORMAT, 3))
    data[10] ^= 0x55  # flip bits inside the first member's name
    with pytest.raises(ArchiveError, match="checksum"):
        list(TarReader(FileStream(io.BytesIO(bytes(data)))))


@pytest.mark.parametrize("seekable", [True, False])
def test_truncated_data_is_refused(seekable: bool) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("big")
        info.size = 100_000
        t.addfile(info, io.BytesIO(b"z" * 100_000))
    cut = buf.getvalue()[:5000]
    stream = FileStream(io.BytesIO(cut)) if seekable else _Unseekable(cut)
    with pytest.raises(ArchiveError, match="truncated"):
        list(TarReader(stream))


def test_truncated_header_is_refused() -> None:
    data = _archive(tarfile.GNU_FORMAT, 3)
    with pytest.raises(ArchiveError, match="truncated"):
        list(TarReader(FileStream(io.BytesIO(data[:700]))))


def test_long_name_limit() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        t.addfile(tarfile.TarInfo("x" * 5000))
    with pytest.raises(LimitExceededError):
        list(TarReader(FileStream(io.BytesIO(buf.getvalue())), limits=Limits(max_path_bytes=4096)))
    assert len(list(TarReader(FileStream(io.BytesIO(buf.getvalue()))))) == 1


def test_empty_stream_is_an_empty_tar() -> None:
    assert list(TarReader(FileStream(io.BytesIO(b"")))) == []
    assert list(TarReader(FileStream(io.BytesIO(bytes(1024))))) == []


def test_reads_a_real_file_by_seeking(tmp_path) -> None:
    data = _archive(tarfile.PAX_FORMAT, 100)
    path = tmp_path / "x.tar"
    path.write_bytes(data)
    with open(path, "rb") as f:
        ours = _ours_file(f)
    assert ours == [r[0].rstrip("/") for r in _reference(data)]
    assert os.path.getsize(path) == len(data)


def _ours_file(f: io.BufferedReader) -> list[str]:
    return [m.name.rstrip("/") for m in TarReader(FileStream(f))]
