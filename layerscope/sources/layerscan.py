"""Turn one layer tarball into model entries: normalised paths, whiteouts
recognised, links typed. Reads a ByteStream; never touches the filesystem."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import xxhash

from layerscope.model import Entry, EntryType
from layerscope.tar import types as tartypes
from layerscope.tar.reader import DEFAULT_LIMITS, FastScan, Limits, Member, TarReader
from layerscope.tar.streams import ByteStream
from layerscope.tar.types import REGULAR_TYPES, SKIPPED_TYPES

_CTX_LEN = 19  # the length of :func:`_context`'s tuple

_accel: FastScan | None
try:  # the optional C header walk (pyproject.toml builds it when a compiler exists)
    from layerscope.tar import _tarwalk

    # A build from before the context last changed would refuse it: keep to Python.
    _accel = _tarwalk.scan if getattr(_tarwalk, "ctx_len", 0) == _CTX_LEN else None
except ImportError:  # pragma: no cover - exercised where it was not built
    _accel = None

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"

_TYPES: dict[int, EntryType] = {
    **dict.fromkeys(REGULAR_TYPES, EntryType.FILE),
    tartypes.GNUTYPE_SPARSE: EntryType.FILE,
    tartypes.LNKTYPE: EntryType.HARDLINK,
    tartypes.SYMTYPE: EntryType.SYMLINK,
    tartypes.CHRTYPE: EntryType.CHAR,
    tartypes.BLKTYPE: EntryType.BLOCK,
    tartypes.DIRTYPE: EntryType.DIR,
    tartypes.GNUTYPE_DUMPDIR: EntryType.DIR,
    tartypes.FIFOTYPE: EntryType.FIFO,
}


def normalize(name: str) -> str:
    """An archive name as a union-filesystem key: ``./a//b/`` -> ``a/b``.

    ``..`` components are kept as plain names: paths are data, never
    resolved against anything.
    """
    if name.startswith("./"):
        name = name[2:]
    name = name.strip("/")
    if "//" in name or name == "." or name.startswith("./") or "/./" in name or name.endswith("/."):
        name = "/".join(p for p in name.split("/") if p and p != ".")
    return name


@dataclass(frozen=True, slots=True)
class LayerScan:
    """What one layer tar holds. ``size_bytes`` is the tar stream length."""

    entries: tuple[Entry, ...]
    size_bytes: int
    skipped: int = 0  # members of types that carry no filesystem object
    terminated: bool = True  # False: the tar stopped without its end-of-archive marker


DigestFilter = Callable[[int], bool]


class SizeRange:
    """A DigestFilter selecting the sizes ``lo..hi``; the C walk tests the
    range itself instead of calling it for each file."""

    __slots__ = ("hi", "lo")

    def __init__(self, lo: int, hi: int) -> None:
        self.lo = lo
        self.hi = hi

    def __call__(self, size: int) -> bool:
        return self.lo <= size <= self.hi


def scan_layer(
    stream: ByteStream,
    *,
    name: str = "layer",
    limits: Limits = DEFAULT_LIMITS,
    want_digest: DigestFilter | None = None,
    measure: bool = False,
    accelerate: bool = True,
    inline_digest_bytes: int = 4 << 20,
    cut: bool = False,
) -> LayerScan:
    """Read every member of one layer tar into entries.

    ``want_digest(size)`` selects regular files whose content is hashed
    (:func:`content_digest`) on the way; everything else is skipped unread. ``measure``
    reads on past the end-of-archive marker so ``size_bytes`` is the exact
    stream length (for compressed blobs, whose length is otherwise unknown).
    ``accelerate=False`` keeps to the pure-Python reader (tests compare both).
    The accelerator hashes files up to ``inline_digest_bytes`` from its buffer;
    larger ones are streamed through the hash. ``cut``: the stream is the first
    part of a tar, cut where the next member is thought to begin (see
    ``TarReader``).
    """
    reader = TarReader(stream, name=name, limits=limits, cut=cut)
    entries: list[Entry] = []
    append = entries.append
    types = _TYPES
    file_t = EntryType.FILE

    def convert(m: Member) -> int:
        """Append the entry of ``m``; 1 when it makes none."""
        path = normalize(m.name)
        base = path.rpartition("/")[2]
        if base.startswith(WHITEOUT_PREFIX):
            parent = path[: len(path) - len(base)].rstrip("/")
            if base == OPAQUE_MARKER:
                append(Entry(parent, EntryType.OPAQUE))
            elif base.startswith(".wh..wh.") or base == WHITEOUT_PREFIX:
                return 1  # aufs bookkeeping (.wh..wh.plnk), or a whiteout naming nothing
            else:
                target = base[len(WHITEOUT_PREFIX) :]
                append(Entry(f"{parent}/{target}" if parent else target, EntryType.WHITEOUT))
            return 0
        typ = types.get(m.type)
        if typ is None:
            if m.type in SKIPPED_TYPES:
                return 1
            typ = file_t  # tarfile reads unknown types as regular files
        if typ is file_t:
            digest = None
            sparse = m.type == tartypes.GNUTYPE_SPARSE
            if want_digest is not None and want_digest(m.realsize) and not sparse:
                digest = _hash(reader)
            append(Entry(path, typ, m.realsize, m.mode & 0o7777, m.uid, m.gid, m.mtime, "", digest))
        elif typ is EntryType.HARDLINK:
            append(
                Entry(path, typ, 0, m.mode & 0o7777, m.uid, m.gid, m.mtime, normalize(m.linkname))
            )
        else:
            append(Entry(path, typ, 0, m.mode & 0o7777, m.uid, m.gid, m.mtime, m.linkname))
        return 0

    if _accel is not None and accelerate:
        ctx = _context(limits, want_digest, inline_digest_bytes)
        skipped = reader.fast_walk(_accel, ctx, entries, convert)
    else:
        skipped = 0
        for m in reader:
            skipped += convert(m)
    if measure:
        reader.drain()
    terminated = reader.terminated or reader.consumed == 0  # an empty blob is an empty tar
    return LayerScan(tuple(entries), reader.consumed, skipped, terminated)


DIGEST_ALGORITHM = "xxh3-128"


def content_digest(data: bytes | memoryview) -> str:
    """The content digest duplicates are grouped by: XXH3, 128 bits.

    These digests only decide which files hold the same bytes; they are never
    checked against anything an image declares. XXH3 runs at memory speed
    (about 14 GB/s here, against sha256's 1.5 GB/s), which is what lets an
    engine export be hashed in its single pass without slowing the read.
    128 bits make an accidental collision negligible; a crafted one can only
    make two different files look like copies (a wrong LS401 finding).
    """
    return f"{DIGEST_ALGORITHM}:{xxhash.xxh3_128_hexdigest(data)}"


def _context(
    limits: Limits, want_digest: DigestFilter | None, inline_digest_bytes: int
) -> tuple[object, ...]:
    """What the accelerator needs to build entries as ``convert`` does."""
    t = EntryType
    lo, hi = (want_digest.lo, want_digest.hi) if isinstance(want_digest, SizeRange) else (-1, -1)
    return (
        Entry,
        t.FILE,
        t.DIR,
        t.SYMLINK,
        t.HARDLINK,
        t.CHAR,
        t.BLOCK,
        t.FIFO,
        t.WHITEOUT,
        t.OPAQUE,
        limits.max_path_bytes,
        limits.max_header_bytes,
        limits.max_file_bytes,
        want_digest,
        xxhash.xxh3_128_hexdigest,  # the C walk adds the prefix: content_digest's result
        inline_digest_bytes,
        lo,
        hi,
        f"{DIGEST_ALGORITHM}:",
    )


def has_accelerator() -> bool:
    """True when the C header walk was built and is in use."""
    return _accel is not None


def _hash(reader: TarReader) -> str:
    """:func:`content_digest` of the current member, streamed in pieces that
    are not copied out of the reader's buffers."""
    h = xxhash.xxh3_128()
    data = reader.data_stream()
    while True:
        piece = data.read_some(1 << 20)
        if not piece:
            break
        h.update(piece)
    return f"{DIGEST_ALGORITHM}:{h.hexdigest()}"
