"""The engine export stream: chunks read on a background thread and handed
out in order, errors raised to the reader, the thread stopped on close."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest

from layerscope.errors import ArchiveError, SourceError
from layerscope.sources.daemon import ChunkStream, Prefetch


def _chunks(data: bytes, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    pos = 0
    while pos < len(data):
        n = rng.choice([1, 7, 512, 4096, 65536, 1 << 20])
        yield data[pos : pos + n]
        pos += n


@pytest.mark.parametrize("seed", range(4))
def test_reads_and_skips_give_the_bytes_in_order(seed: int) -> None:
    data = random.Random(seed).randbytes(3 << 20)
    prefetch = Prefetch(_chunks(data, seed), depth=3)
    stream = ChunkStream(prefetch, "engine:x")
    rng = random.Random(seed + 100)
    pos = 0
    try:
        while pos < len(data):
            n = rng.choice([0, 1, 511, 512, 1 << 20, 3 << 20])
            if rng.random() < 0.3:
                n = min(n, len(data) - pos)
                stream.skip(n)
            else:
                got = stream.read(n)
                assert got == data[pos : pos + n]
                n = len(got)
            pos += n
        assert stream.read(10) == b""
        assert stream.read(10) == b""
        with pytest.raises(ArchiveError):
            stream.skip(1)
    finally:
        prefetch.close()
    assert stream.received == len(data)


def test_an_error_in_the_export_reaches_the_reader() -> None:
    def broken() -> Iterator[bytes]:
        yield b"x" * 100
        raise ConnectionError("reset by peer")

    prefetch = Prefetch(broken())
    stream = ChunkStream(prefetch, "engine:x")
    try:
        assert stream.read(100) == b"x" * 100
        with pytest.raises(SourceError, match=r"broke off.*reset by peer"):
            stream.read(1)
    finally:
        prefetch.close()


def test_close_stops_a_thread_blocked_on_a_full_queue() -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"y" * 1000

    before = threading.active_count()
    prefetch = Prefetch(endless(), depth=2, batch_bytes=10_000)
    first = next(prefetch)
    assert first == b"y" * len(first) and len(first) % 1000 == 0
    prefetch.close()
    assert threading.active_count() == before


def test_pieces_that_arrived_are_joined_up_to_a_batch() -> None:
    arrived = threading.Event()

    def pieces() -> Iterator[bytes]:
        for i in range(50):
            yield bytes([i]) * 1000
        arrived.set()

    prefetch = Prefetch(pieces(), batch_bytes=8000)
    try:
        assert arrived.wait(5)
        got = list(prefetch)
    finally:
        prefetch.close()
    assert b"".join(got) == b"".join(bytes([i]) * 1000 for i in range(50))
    assert [len(g) for g in got] == [8000] * 6 + [2000]


def test_the_reader_gets_what_arrived_without_waiting_for_more() -> None:
    """Docker sends the end of the tar, then holds the response open while it
    deletes its temporary export: the bytes already in must not wait for a
    batch to fill, or for the end of the transfer."""
    release = threading.Event()

    def held() -> Iterator[bytes]:
        yield b"a" * 100
        yield b"b" * 100
        release.wait(30)

    prefetch = Prefetch(held(), batch_bytes=1 << 20)
    stream = ChunkStream(prefetch, "engine:x")
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(stream.read(200)), daemon=True)
    try:
        reader.start()
        reader.join(10)  # the source holds on for 30 s: a reader that waits is still waiting
        assert got == [b"a" * 100 + b"b" * 100]
    finally:
        release.set()
        prefetch.close()
