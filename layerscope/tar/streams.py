"""Byte streams the tar reader walks: files, windows into an outer archive,
decompressors.

A :class:`ByteStream` reads forward and can skip forward. Skipping is where
speed comes from: a seekable file skips by seeking, anything else discards
into one reused buffer without building ``bytes`` objects.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol, cast

from layerscope.errors import ArchiveError, LimitExceededError

CHUNK = 1 << 20

# What readers hand around: ``bytes``, or a view into a chunk that is not
# copied. Streams may offer ``read_some(n) -> Buffer`` (up to ``n`` bytes,
# at least one until the end) beside ``read``; the tar reader prefers it.
Buffer = bytes | memoryview

_fast_zlib: Any
try:  # isal's zlib is 2-3x faster than zlib at inflating; optional.
    from isal import isal_zlib as _fast_zlib
except ImportError:  # pragma: no cover - exercised where isal is absent
    _fast_zlib = None

# Compressed data may expand at most this many times (--max-expansion): a
# bomb guard well above real layers (text compresses ~10x, zeros ~1000x with gzip).
MAX_EXPANSION = 1000


class ByteStream(Protocol):
    """A forward-only byte source."""

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end of the stream."""
        ...

    def skip(self, n: int) -> None:
        """Advance ``n`` bytes; ArchiveError if the stream ends first."""
        ...


def some_reader(stream: ByteStream) -> Callable[[int], Buffer]:
    """``stream.read_some`` when it has one, else its ``read``."""
    some: Callable[[int], Buffer] = getattr(stream, "read_some", stream.read)
    return some


class FileStream:
    """A ByteStream over a binary file object, seeking when it can."""

    def __init__(self, f: BinaryIO, *, name: str = "archive") -> None:
        self._f = f
        self._name = name
        self._end: int | None = None
        self._scratch: bytearray | None = None
        try:
            if f.seekable():
                here = f.tell()
                self._end = f.seek(0, os.SEEK_END)
                f.seek(here)
        except (OSError, ValueError):
            self._end = None

    @property
    def seekable(self) -> bool:
        return self._end is not None

    def read(self, n: int) -> bytes:
        try:
            return self._f.read(n)
        except (OSError, EOFError, zlib.error) as e:
            raise ArchiveError(f"{self._name}: read failed: {e}") from None

    def tell(self) -> int:
        return self._f.tell()

    def skip(self, n: int) -> None:
        if n <= 0:
            return
        if self._end is not None:
            pos = self._f.seek(n, os.SEEK_CUR)
            if pos > self._end:
                raise ArchiveError(f"{self._name}: truncated (data runs past the end)")
            return
        discard(self, n, self._name)

    def readinto(self, buf: memoryview) -> int:
        reader = getattr(self._f, "readinto", None)
        if reader is None:
            data = self.read(len(buf))
            buf[: len(data)] = data
            return len(data)
        try:
            return int(reader(buf))
        except (OSError, EOFError, zlib.error) as e:
            raise ArchiveError(f"{self._name}: read failed: {e}") from None


def discard(stream: ByteStream, n: int, name: str) -> None:
    """Read and drop ``n`` bytes of ``stream`` without keeping them."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        scratch = memoryview(bytearray(min(n, CHUNK)))
        while n > 0:
            got = readinto(scratch[: min(n, len(scratch))])
            if not got:
                raise ArchiveError(f"{name}: truncated (stream ended early)")
            n -= got
        return
    while n > 0:
        data = stream.read(min(n, CHUNK))
        if not data:
            raise ArchiveError(f"{name}: truncated (stream ended early)")
        n -= len(data)


class Prefixed:
    """Replays ``head`` before the rest of ``inner`` (for magic-byte sniffing)."""

    def __init__(self, head: bytes, inner: ByteStream) -> None:
        self._head = head
        self._inner = inner

    def read(self, n: int) -> bytes:
        if self._head:
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._inner.read(n - len(out))
            return out
        return self._inner.read(n)

    @property
    def seekable(self) -> bool:
        """Whether what follows the head skips by position."""
        return bool(getattr(self._inner, "seekable", False))

    def read_some(self, n: int) -> Buffer:
        if self._head:
            out, self._head = self._head[:n], self._head[n:]
            return out
        return some_reader(self._inner)(n)

    def skip(self, n: int) -> None:
        if self._head:
            take = min(n, len(self._head))
            self._head = self._head[take:]
            n -= take
        if n:
            self._inner.skip(n)


class _Counted:
    """File-like ``read`` over a ByteStream that counts what it hands out."""

    def __init__(self, inner: ByteStream) -> None:
        self._inner = inner
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n if n > 0 else CHUNK)
        self.count += len(data)
        return data


class Inflater:
    """Decompresses a gzip or zstd ByteStream, refusing decompression bombs.

    Every decompression step yields at most ``CHUNK`` bytes, so memory stays
    bounded however well the input compresses (one zstd frame of a few KB
    can claim gigabytes). ``max_ratio`` bounds output/input once the output
    passes ``ratio_floor`` bytes: a few MB of gzip that claim 8 GiB is
    refused in well under a second instead of being inflated.
    """

    def __init__(
        self,
        inner: ByteStream,
        kind: str,
        *,
        name: str,
        max_ratio: int,
        ratio_floor: int,
    ) -> None:
        self._src = _Counted(inner)
        self._name = name
        self._kind = kind
        self._max_ratio = max_ratio
        self._ratio_floor = ratio_floor
        self.produced = 0
        self._pending = b""
        self._tail = b""  # gzip input not yet consumed
        self._eof = False
        self._zreader: Any = None
        if kind == "gzip":
            self._new_member()
        else:
            import zstandard

            # A reader bounds each read's output; decompressobj would not.
            self._zreader = zstandard.ZstdDecompressor().stream_reader(
                cast(BinaryIO, self._src),
                read_size=CHUNK // 4,
                read_across_frames=True,
                closefd=False,
            )

    @property
    def compressed(self) -> int:
        return self._src.count

    def _new_member(self) -> None:
        lib = _fast_zlib if _fast_zlib is not None else zlib
        self._d = lib.decompressobj(31)
        self._started = False  # has this member seen input?

    def _inflate(self) -> bytes:
        """At most CHUNK bytes of gzip output; b"" only at the end."""
        while True:
            raw = self._tail
            if not raw:
                raw = self._src.read(CHUNK // 4)
                if not raw:
                    out: bytes = self._d.decompress(b"", CHUNK)  # output held back by max_length
                    if out:
                        return out
                    self._eof = True
                    if self._started and not self._d.eof:
                        raise ArchiveError(f"{self._name}: truncated gzip stream")
                    return b""
            self._started = True
            out = self._d.decompress(raw, CHUNK)
            self._tail = self._d.unconsumed_tail
            if self._d.eof:
                # Another gzip member may follow: keep going.
                rest = self._d.unused_data
                self._new_member()
                self._tail = rest
            if out:
                return out

    def _more(self) -> bool:
        """Decompress into ``_pending``; False at the end."""
        if self._eof:
            return False
        try:
            out = self._inflate() if self._zreader is None else self._zreader.read(CHUNK)
        except ArchiveError:
            raise
        except Exception as e:  # zlib.error, zstd.ZstdError, isal's error
            raise ArchiveError(f"{self._name}: corrupt {self._kind} data: {e}") from None
        if not out:
            self._eof = True
            return False
        self.produced += len(out)
        if self.produced > self._ratio_floor and self.produced > self._max_ratio * self.compressed:
            raise LimitExceededError(
                f"{self._name}: {self._kind} expands more than {self._max_ratio}x "
                f"(a decompression bomb?); raise --max-expansion to read it"
            )
        self._pending = self._pending + out if self._pending else out
        return True

    def read(self, n: int) -> bytes:
        while len(self._pending) < n and self._more():
            pass
        if len(self._pending) <= n:
            out, self._pending = self._pending, b""
            return out
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    def skip(self, n: int) -> None:
        while n > 0:
            if not self._pending and not self._more():
                raise ArchiveError(f"{self._name}: truncated (layer ended early)")
            take = min(n, len(self._pending))
            self._pending = self._pending[take:]
            n -= take


class Hashing:
    """A ByteStream that sha256-hashes every byte passing through it, skipped
    bytes included (they are read, not seeked over): for digest checks."""

    def __init__(self, inner: ByteStream, name: str) -> None:
        import hashlib

        self._inner = inner
        self._name = name
        self._hash = hashlib.sha256()

    def read(self, n: int) -> bytes:
        data = self._inner.read(n)
        self._hash.update(data)
        return data

    def skip(self, n: int) -> None:
        while n > 0:
            data = self._inner.read(min(n, CHUNK))
            if not data:
                raise ArchiveError(f"{self._name}: truncated (stream ended early)")
            self._hash.update(data)
            n -= len(data)

    def digest(self) -> str:
        """``sha256:<hex>`` of everything read so far."""
        return "sha256:" + self._hash.hexdigest()


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_SKIPPABLE_TAIL = b"\x2a\x4d\x18"  # little-endian 0x184D2A5?, after a byte 0x50-0x5F


def is_zstd_skippable(head: bytes) -> bool:
    """True when ``head`` starts with a zstd skippable frame's magic number."""
    return len(head) >= 4 and 0x50 <= head[0] <= 0x5F and head[1:4] == ZSTD_SKIPPABLE_TAIL


def sniff(head: bytes) -> str:
    """Compression named by magic bytes: ``gzip``, ``zstd`` or ``none``.

    A zstd stream may start with a skippable frame (magic 0x184D2A50 to
    0x184D2A5F, RFC 8878 section 3.1.2), which containerd accepts too.
    """
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC) or is_zstd_skippable(head):
        return "zstd"
    return "none"


def open_decompressed(
    stream: ByteStream,
    *,
    name: str,
    max_ratio: int = MAX_EXPANSION,
    ratio_floor: int = 256 << 20,
    on_kind: Callable[[str], None] | None = None,
) -> ByteStream:
    """``stream`` decompressed according to its magic bytes (media types lie)."""
    head = stream.read(4)
    kind = sniff(head)
    if on_kind is not None:
        on_kind(kind)
    replay = Prefixed(head, stream)
    if kind == "none":
        return replay
    return Inflater(replay, kind, name=name, max_ratio=max_ratio, ratio_floor=ratio_floor)


def bytes_stream(data: bytes, name: str = "data") -> FileStream:
    """A ByteStream over bytes in memory (tests, small blobs)."""
    return FileStream(io.BytesIO(data), name=name)
