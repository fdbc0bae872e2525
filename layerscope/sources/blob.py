"""Scanning one layer blob, whatever its compression; several at once."""

from __future__ import annotations

import dataclasses
import functools
import mmap
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from layerscope.errors import ArchiveError, LayerscopeError
from layerscope.gcpause import one_malloc_arena
from layerscope.sources.interface import ScannedBlob, SourceOptions
from layerscope.sources.layerscan import DigestFilter, LayerScan, SizeRange, scan_layer
from layerscope.tar.header import BLOCK, header_checksum_ok
from layerscope.tar.streams import ByteStream, Hashing, open_decompressed, sniff

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

T = TypeVar("T")


def scan_blob(stream: ByteStream, stored: int, name: str, options: SourceOptions) -> ScannedBlob:
    """Scan a layer blob of ``stored`` bytes; sizes are exact either way."""
    kinds: list[str] = []
    stored_hash = diff_hash = None
    plain: ByteStream
    if options.verify_digests:
        stream = stored_hash = Hashing(stream, name)
    if stored_hash is None and isinstance(stream, FileWindow) and sniff(stream.peek(4)) == "none":
        plain = stream.reusing()  # read in place, no wrapper: the tar reader can rewind it
        kinds.append("none")
    else:
        plain = open_decompressed(
            stream, name=name, max_ratio=options.max_expansion, on_kind=kinds.append
        )
    compressed = kinds[0] != "none"
    if stored_hash is not None:
        if compressed:
            plain = diff_hash = Hashing(plain, name)
        else:
            diff_hash = stored_hash  # the same bytes (``plain`` replays what it read)
    scan = scan_layer(
        plain,
        name=name,
        limits=options.limits,
        # A stream that skips by position reads file data only when asked to.
        want_digest=digest_filter(options, compressed or not getattr(plain, "seekable", False)),
        # An uncompressed blob's length is its stored size; a digest needs every byte.
        measure=compressed or stored_hash is not None,
    )
    if not compressed:
        scan = LayerScan(scan.entries, stored, scan.skipped, scan.terminated)
    if stored_hash is None or diff_hash is None:
        return ScannedBlob(scan, stored, kinds[0])
    return ScannedBlob(scan, stored, kinds[0], stored_hash.digest(), diff_hash.digest())


# Files up to this size sit in the buffers a header walk reads anyway; hashing
# them costs CPU (XXH3, at memory speed), not a read.
CHEAP_DIGEST_BYTES = 64 << 10


def digest_filter(options: SourceOptions, reads_every_byte: bool) -> DigestFilter | None:
    """Which files a layer's scan hashes (see ``SourceOptions.digest_floor``)."""
    floor, extra = options.digest_floor, options.want_digest
    if floor <= 0:
        return extra
    if extra is None:  # a plain range: the C walk tests it without a call
        return SizeRange(floor, _ANY_SIZE if reads_every_byte else CHEAP_DIGEST_BYTES)
    if reads_every_byte:
        return lambda size: size >= floor or extra(size)
    return lambda size: floor <= size <= CHEAP_DIGEST_BYTES or extra(size)


_ANY_SIZE = 1 << 62  # above any member size a tar can declare


class FileWindow:
    """A ByteStream over ``size`` bytes at ``offset`` of an open file.

    Reads with ``pread`` straight from the file (no copy through an outer
    archive's buffers) and skips by moving an offset, so a layer inside an
    uncompressed archive costs what its headers cost. Windows over one file
    are independent: several layers can be read at once.
    """

    def __init__(self, fd: int, offset: int, size: int, name: str) -> None:
        self._fd = fd
        self._pos = offset
        self._end = offset + size
        self._name = name

    seekable = True  # skips move an offset: file data is never read to pass it

    def read(self, n: int) -> bytes:
        n = min(n, self._end - self._pos)
        if n <= 0:
            return b""
        try:
            data = os.pread(self._fd, n, self._pos)
            while len(data) < n:
                more = os.pread(self._fd, n - len(data), self._pos + len(data))
                if not more:
                    raise ArchiveError(f"{self._name}: truncated member data")
                data += more
        except OSError as e:
            raise ArchiveError(f"{self._name}: read failed: {e.strerror}") from None
        self._pos += n
        return data

    def skip(self, n: int) -> None:
        if n > self._end - self._pos:
            raise ArchiveError(f"{self._name}: skip past the end of a member")
        self._pos += n

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes from the current position, without consuming them."""
        here = self._pos
        data = self.read(n)
        self._pos = here
        return data

    def rewind(self, n: int) -> None:
        """Step back ``n`` bytes already read (the tar reader re-reads a partial
        header this way instead of joining it onto the next chunk)."""
        self._pos -= n

    def part(self, start: int, size: int) -> FileWindow:
        """The window over ``size`` bytes from ``start`` of this one's current position."""
        return FileWindow(self._fd, self._pos + start, size, self._name)

    def reusing(self) -> ReusingWindow:
        """This window from its current position, with ``read_some``."""
        return ReusingWindow(self._fd, self._pos, self._end - self._pos, self._name)


class ReusingWindow(FileWindow):
    """A FileWindow whose ``read_some`` reads into one buffer, again and again.

    What it returns is valid only until the next read: for the tar reader,
    which never keeps a piece across reads (it copies the few bytes it joins).
    A fresh ``bytes`` per read costs page faults and cache misses on every
    chunk: on an archive of small files, a third of the scan's time.
    """

    def __init__(self, fd: int, offset: int, size: int, name: str) -> None:
        super().__init__(fd, offset, size, name)
        self._scratch = memoryview(b"")

    def read_some(self, n: int) -> memoryview:
        """Up to ``n`` bytes (at least one until the end), in the shared buffer."""
        n = min(n, self._end - self._pos)
        if n <= 0:
            return memoryview(b"")
        if len(self._scratch) < n:
            # Its own mapping, unmapped when the window goes: a heap block of
            # this size would stay with the thread's malloc arena after it.
            self._scratch = memoryview(mmap.mmap(-1, n))
        try:
            got = os.preadv(self._fd, [self._scratch[:n]], self._pos)
        except OSError as e:
            raise ArchiveError(f"{self._name}: read failed: {e.strerror}") from None
        if not got:
            raise ArchiveError(f"{self._name}: truncated member data")
        self._pos += got
        return self._scratch[:got]


# An uncompressed layer at least this large is read as two parts at once,
# cut at a member's header near its middle: one large layer (the usual image)
# or an odd number of them would otherwise leave a core idle.
SPLIT_MIN_BYTES = 32 << 20
_CUT_SEARCH = 1 << 20  # bytes searched for a header after the middle
_CUT_PIECE = 64 << 10  # read at a time (a block-aligned size: no header straddles two)
_MAGIC_AT = 257  # of "ustar" in a header


def submit_scan(
    pool: BlobPool, window: FileWindow, stored: int, name: str, options: SourceOptions
) -> Callable[[], ScannedBlob]:
    """Start :func:`scan_blob` of the layer blob in ``window`` on ``pool``;
    returns a function that waits for the result.

    A large uncompressed blob is scanned as two parts at once, cut at what
    looks like a header. The cut is kept only if the first part's walk ends
    exactly there, with no extension header pending and no end-of-archive
    marker: then a member truly begins at the cut, and the second part's
    walk is the rest of the layer's. Otherwise (a tar stored inside the
    layer can look like a header), or when either part fails, the whole blob
    is scanned again in one walk, which decides and reports as always.
    """
    whole = functools.partial(scan_blob, window, stored, name, options)
    splits = pool.width > 1 and stored >= SPLIT_MIN_BYTES and not options.verify_digests
    cut = find_cut(window, stored) if splits and sniff(window.peek(4)) == "none" else None
    if cut is None:
        return pool.submit(whole)
    # Halved bounds: the parts' totals stay within the layer's (a part over
    # its half falls back to the whole walk, which applies the real bound).
    limits = dataclasses.replace(
        options.limits,
        max_members=options.limits.max_members // 2,
        max_meta_bytes=options.limits.max_meta_bytes // 2,
    )
    want = digest_filter(options, reads_every_byte=False)

    def part(start: int, size: int, is_first: bool) -> LayerScan:
        return scan_layer(
            window.part(start, size).reusing(),
            name=name,
            limits=limits,
            want_digest=want,
            cut=is_first,
        )

    first = pool.submit(functools.partial(part, 0, cut, True))
    second = pool.submit(functools.partial(part, cut, stored - cut, False))

    def result() -> ScannedBlob:
        a = _outcome(first)
        b = _outcome(second)
        if a is None or b is None or a.terminated or a.size_bytes != cut:
            return whole()
        scan = LayerScan(a.entries + b.entries, stored, a.skipped + b.skipped, b.terminated)
        return ScannedBlob(scan, stored, "none")

    return result


def _outcome(result: Callable[[], LayerScan]) -> LayerScan | None:
    """A part's scan, or None if it failed on the input (the whole walk tells why)."""
    try:
        return result()
    except LayerscopeError:
        return None


def find_cut(window: FileWindow, size: int) -> int | None:
    """The offset of the first block after the middle of the tar in ``window``
    that reads as a ustar header (magic and checksum), or None."""
    middle = (size // 2) & ~(BLOCK - 1)
    for piece in range(middle, min(middle + _CUT_SEARCH, size), _CUT_PIECE):
        data = window.part(piece, min(_CUT_PIECE, size - piece)).read(_CUT_PIECE)
        at = data.find(b"ustar")
        while at >= 0:
            start = at - _MAGIC_AT
            block = data[start : start + BLOCK] if start >= 0 and start % BLOCK == 0 else b""
            if len(block) == BLOCK and header_checksum_ok(block):
                return piece + start
            at = data.find(b"ustar", at + 1)
    return None


def workers() -> int:
    """Threads for scanning layers at once: decompression (isal, zstandard)
    runs without the GIL, so one layer inflates while another is parsed.
    ``LAYERSCOPE_SCAN_THREADS`` overrides it (benchmarks compare 1 and 2)."""
    env = os.environ.get("LAYERSCOPE_SCAN_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return min(2, os.cpu_count() or 1)


class BlobPool:
    """Runs layer scans on a small thread pool (inline with one core).

    Results come back in submission order, so errors and progress are
    reported as a sequential read would report them.
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self.width = workers()  # threads, and scans worth keeping in flight

    def submit(self, fn: Callable[[], T]) -> Callable[[], T]:
        """Start ``fn``; returns a function that waits for its result."""
        if self.width < 2:
            value = fn()
            return lambda: value
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            one_malloc_arena()
            self._pool = ThreadPoolExecutor(self.width, thread_name_prefix="layerscope-scan")
        future: Future[T] = self._pool.submit(fn)
        return future.result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> BlobPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def in_order(results: list[Callable[[], T]]) -> Iterator[T]:
    """Wait for each result in turn."""
    for r in results:
        yield r()
