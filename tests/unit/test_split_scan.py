"""A large uncompressed layer is scanned as two parts at once (blob.submit_scan):
the result is the one-walk result, whatever the cut lands on."""

from __future__ import annotations

import dataclasses
import io
import os
import random
import tarfile
from collections.abc import Iterator

import pytest

from layerscope.errors import ArchiveError, LayerscopeError
from layerscope.sources import blob
from layerscope.sources.blob import BlobPool, FileWindow, scan_blob, submit_scan
from layerscope.sources.interface import ScannedBlob, SourceOptions
from layerscope.tar.header import Limits
from layerscope.tar.reader import TarReader
from layerscope.tar.streams import FileStream
from tests.builders import d, file, hard, layer_tar, opq, sym, wh

OPTIONS = SourceOptions(digest_floor=1000)


@pytest.fixture(autouse=True)
def _two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two scan threads (whatever the machine) and a split of small layers."""
    monkeypatch.setenv("LAYERSCOPE_SCAN_THREADS", "2")
    monkeypatch.setattr(blob, "SPLIT_MIN_BYTES", 64 << 10)


@pytest.fixture
def cuts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int | None, bool]]]:
    """(cut offset, whether the one walk had to run) of every submit_scan."""
    seen: list[tuple[int | None, bool]] = []
    find, whole = blob.find_cut, blob.scan_blob

    def spy_find(window: FileWindow, size: int) -> int | None:
        cut = find(window, size)
        seen.append((cut, False))
        return cut

    def spy_whole(*args: object, **kw: object) -> ScannedBlob:
        if seen:
            seen[-1] = (seen[-1][0], True)
        return whole(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(blob, "find_cut", spy_find)
    monkeypatch.setattr(blob, "scan_blob", spy_whole)
    yield seen


def _window(data: bytes) -> FileWindow:
    fd = os.memfd_create("layer")
    os.write(fd, b"p" * 512 + data)  # at an offset, as a layer in an archive
    return FileWindow(fd, 512, len(data), "layer")


def _both(data: bytes, options: SourceOptions = OPTIONS) -> tuple[object, object]:
    """(split outcome, one-walk outcome): the scan or the error's type and text."""
    out: list[object] = []
    for split in (True, False):
        window = _window(data)
        try:
            with BlobPool() as pool:
                if split:
                    got = submit_scan(pool, window, len(data), "layer", options)()
                else:
                    got = scan_blob(window, len(data), "layer", options)
            out.append(got)
        except LayerscopeError as e:
            out.append((type(e).__name__, str(e)))
        finally:
            os.close(window._fd)
    return out[0], out[1]


def _many(count: int, seed: int = 1, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    rng = random.Random(seed)
    members = [d("app"), d("app/sub")]
    for i in range(count):
        size = rng.choice([0, 10, 700, 1500, 5000, 20_000])
        name = f"app/{'sub/' if i % 3 else ''}{'n' * (i % 140)}f{i}"
        members.append(file(name, bytes([i % 251]) * size, uid=i % 3))
        if i % 17 == 0:
            members.append(hard(f"app/h{i}", name))
        if i % 29 == 0:
            members.append(sym(f"app/s{i}", name))
        if i % 31 == 0:
            members.append(wh(f"gone{i}"))
    members.append(opq("app/sub"))
    return layer_tar(members, fmt)


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_a_split_layer_is_the_one_walk_layer(fmt: int, cuts: list[tuple[int | None, bool]]) -> None:
    data = _many(400, fmt=fmt)
    split, whole = _both(data)
    assert isinstance(split, ScannedBlob) and split == whole
    assert split.scan.entries and any(e.digest for e in split.scan.entries)
    [(cut, walked_again)] = cuts
    assert cut is not None and cut >= len(data) // 2 and not walked_again


def test_a_tar_inside_the_layer_is_no_cut(cuts: list[tuple[int | None, bool]]) -> None:
    """A file whose bytes are a tar, across the middle: its headers look
    real; the first part's walk does not end there, so one walk decides."""
    inner = _many(60, seed=2, fmt=tarfile.USTAR_FORMAT)
    data = layer_tar([file("a", b"x" * 1000), file("inner.tar", inner), file("z", b"y" * 3000)])
    assert len(inner) > len(data) // 2 + 4096
    split, whole = _both(data)
    assert isinstance(split, ScannedBlob) and split == whole
    assert [e.path for e in split.scan.entries] == ["a", "inner.tar", "z"]
    [(cut, walked_again)] = cuts
    assert cut is not None and walked_again


def test_a_cut_after_a_pax_header_walks_again(
    monkeypatch: pytest.MonkeyPatch, cuts: list[tuple[int | None, bool]]
) -> None:
    """A cut at a member's own header, its pax header before the cut: the
    first part ends with the pax header pending, which is no clean end."""
    data = _many(300)
    window = _window(data)
    reader = TarReader(FileStream(io.BytesIO(data)))
    positions = []  # (first header, own header) of members with a pax header
    while True:
        start = reader.consumed
        m = reader.next_member()
        if m is None:
            break
        if reader.consumed - start > 512 and m.type in (ord("0"), ord("5")):
            own = start + ((reader.consumed - start) // 512 - 1) * 512
            positions.append(own)
    os.close(window._fd)
    target = next(p for p in positions if p > len(data) // 2)
    monkeypatch.setattr(blob, "find_cut", lambda window, size: target)
    split, whole = _both(data)
    assert isinstance(split, ScannedBlob) and split == whole


def test_the_reader_of_a_cut_refuses_a_pending_extension_header() -> None:
    pax = tarfile.TarInfo("p" * 150)  # a long name: a pax header first
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        t.addfile(pax)
    only_the_pax_header = buf.getvalue()[:1024]  # its header and one block of records
    assert TarReader(FileStream(io.BytesIO(only_the_pax_header))).next_member() is None
    with pytest.raises(ArchiveError, match="extension header"):
        TarReader(FileStream(io.BytesIO(only_the_pax_header)), cut=True).next_member()


def test_an_end_marker_before_the_cut_walks_again(cuts: list[tuple[int | None, bool]]) -> None:
    """Two tars back to back: the walk stops at the first one's end marker."""
    first = _many(50, seed=3)
    data = first + _many(300, seed=4)
    split, whole = _both(data)
    assert isinstance(split, ScannedBlob) and split == whole
    assert len(split.scan.entries) < 120
    [(cut, walked_again)] = cuts
    assert cut is not None and walked_again


def test_damage_after_the_cut_is_reported_as_the_one_walk_reports_it() -> None:
    data = bytearray(_many(300))
    at = len(data) * 3 // 4
    head = data.index(b"ustar", at) - 257
    data[head + 124 : head + 136] = b"9" * 12  # a size that is no octal number
    split, whole = _both(bytes(data))
    assert split == whole
    assert isinstance(split, tuple) and split[0] == "ArchiveError"


@pytest.mark.parametrize("spare", [0, -1])
def test_member_limits_hold_for_the_whole_layer(spare: int) -> None:
    """Parts count against half the bound each: one over its half walks the
    whole layer again, which applies the layer's bound exactly."""
    data = _many(300)
    whole = _both(data)[1]
    assert isinstance(whole, ScannedBlob)
    members = len(whole.scan.entries) + whole.scan.skipped
    options = dataclasses.replace(OPTIONS, limits=Limits(max_members=members + spare))
    split, whole = _both(data, options)
    assert split == whole
    assert isinstance(split, ScannedBlob) == (spare == 0)


def test_no_split_below_the_size_or_on_one_thread(
    monkeypatch: pytest.MonkeyPatch, cuts: list[tuple[int | None, bool]]
) -> None:
    data = _many(300)
    monkeypatch.setattr(blob, "SPLIT_MIN_BYTES", len(data) + 1)
    split, whole = _both(data)
    assert split == whole and not cuts
    monkeypatch.setattr(blob, "SPLIT_MIN_BYTES", 1)
    monkeypatch.setenv("LAYERSCOPE_SCAN_THREADS", "1")
    split, whole = _both(data)
    assert split == whole and not cuts
