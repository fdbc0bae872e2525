"""Layers read from the engine's own storage: the unpacked overlay layer
directories, walked instead of waiting for an export.

Each layer directory is turned into the entries that ``layerscan.scan_layer``
makes of the tar the engine would export for it, in the order that tar has
them (Go's ``filepath.Walk``: every directory before its children, names in
byte order):

* a character device 0/0 is a whiteout of its name;
* a directory with the ``trusted.overlay.opaque`` (or ``user.overlay.opaque``)
  attribute ``y`` is opaque: its entry is followed by an OPAQUE entry;
* a non-directory whose inode was seen before in the layer is a hard link to
  the first path that had it; sockets are not stored (as in a tar).

Names are engine data but still untrusted: every directory is opened by
name relative to its parent with ``O_NOFOLLOW``, so a symlink is never
followed and nothing outside the layer directory is reached; devices and
FIFOs are never opened. The exact tar length of a layer comes from the
engine's tar-split record (``storage_probe``). Content digests are taken
afterwards, from the files themselves, and only for files whose size another
visible file shares (the duplicate candidates).
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, cast

import xxhash

from layerscope.errors import LimitExceededError
from layerscope.model import Entry, EntryType
from layerscope.sources.layerscan import DIGEST_ALGORITHM, normalize
from layerscope.union import replay

_accel: Callable[[int, list[Entry], tuple[object, ...]], int] | None
_scan_split: (
    Callable[
        [bytes, int, int, dict[int, int], Callable[[bytes, bytes], None]],
        tuple[int, int, int, int],
    ]
    | None
)
try:  # the optional C walk and tar-split scan (pyproject.toml builds them)
    from layerscope.sources._storagewalk import tar_split as _c_tar_split
    from layerscope.sources._storagewalk import walk as _c_walk

    _accel, _scan_split = _c_walk, _c_tar_split
except ImportError:  # pragma: no cover - exercised where it was not built
    _accel = _scan_split = None

# What the C walk builds its entries of (its ctx, before the per-call items).
_WALK_CTX = (
    Entry,
    EntryType.FILE,
    EntryType.DIR,
    EntryType.SYMLINK,
    EntryType.HARDLINK,
    EntryType.CHAR,
    EntryType.BLOCK,
    EntryType.FIFO,
    EntryType.WHITEOUT,
    EntryType.OPAQUE,
)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
# O_NONBLOCK: a FIFO swapped in for a file must not block the open; the
# fstat on the descriptor is the check that counts.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
# Deeper trees are left to the export (each level holds a descriptor open).
MAX_DEPTH = 256


class StorageUnavailable(Exception):
    """The storage cannot be read as it is (vanished, no permission, too
    deep): the caller reads the export instead. The message says why."""


@dataclass(frozen=True, slots=True)
class LayerDir:
    """One layer as the engine stores it: its directory and tar length."""

    path: str
    size_bytes: int
    root_entry: Entry | None = None  # the tar's own ``./`` member, when it has one


def _name_key(name: str) -> bytes:
    return os.fsencode(name)


def _opaque(fd: int, xattrs: Sequence[str]) -> bool:
    for attr in xattrs:
        try:
            if os.getxattr(fd, attr) == b"y":
                return True
        except OSError:
            continue
    return False


def walk_layer(
    root: str,
    *,
    xattrs: Sequence[str] = OPAQUE_XATTRS,
    max_entries: int = 4_000_000,
    accelerate: bool = True,
) -> list[Entry]:
    """The entries of the layer directory ``root``, in export order: by the C
    walk (``_storagewalk.c``) when it is built and ``accelerate``, else in
    Python; both give the same entries and errors.

    Raises StorageUnavailable when the directory vanishes or cannot be read.
    """
    top = _open_layer(root)
    try:
        if accelerate and _accel is not None:
            entries: list[Entry] = []
            status = _accel(
                top, entries, (*_WALK_CTX, _xattr_names(xattrs), MAX_DEPTH, max_entries)
            )
            if status == 1:
                raise StorageUnavailable(f"{root}: directories nested deeper than {MAX_DEPTH}")
            if status == 2:
                raise _too_many(root, max_entries)
        else:
            entries = _walk_python(top, root, xattrs, max_entries)
    except (FileNotFoundError, NotADirectoryError) as e:
        raise StorageUnavailable(
            f"layer directory {root} changed while it was read ({e.strerror}): "
            f"the image was removed?"
        ) from None
    except PermissionError as e:
        raise StorageUnavailable(f"layer directory {root}: {e.strerror}") from None
    except OSError as e:
        raise StorageUnavailable(f"layer directory {root}: {e.strerror or e}") from None
    finally:
        os.close(top)
    return entries


def has_accelerator() -> bool:
    """Whether the C walk of layer directories is built."""
    return _accel is not None


def _xattr_names(xattrs: Sequence[str]) -> tuple[bytes, ...]:
    return tuple(os.fsencode(x) for x in xattrs)


def _too_many(root: str, max_entries: int) -> LimitExceededError:
    return LimitExceededError(f"{root}: more than {max_entries} entries (--limit max-entries=N)")


def _walk_python(top: int, root: str, xattrs: Sequence[str], max_entries: int) -> list[Entry]:
    """The pure-Python walk of the directory open as ``top`` (OSErrors pass)."""
    entries: list[Entry] = []
    append = entries.append
    links: dict[tuple[int, int], str] = {}
    file_t, dir_t = EntryType.FILE, EntryType.DIR
    s_ifmt, s_ifreg, s_ifdir, s_iflnk = stat.S_IFMT, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK
    kinds = {
        stat.S_IFCHR: EntryType.CHAR,
        stat.S_IFBLK: EntryType.BLOCK,
        stat.S_IFIFO: EntryType.FIFO,
    }
    # Frames of (directory fd, path prefix, names left in reverse order).
    stack: list[tuple[int, str, list[tuple[str, os.DirEntry[str]]]]] = []
    try:
        stack.append((top, "", _listing(top)))
        while stack:
            fd, prefix, todo = stack[-1]
            if not todo:
                stack.pop()
                if fd != top:
                    os.close(fd)
                continue
            name, item = todo.pop()
            st = item.stat(follow_symlinks=False)
            path = prefix + name
            mode = st.st_mode
            fmt = s_ifmt(mode)
            perm = mode & 0o7777
            # Whole seconds, floored (Go's Unix()); int(st_mtime) would round
            # a float up to the next second at .9999999.
            mtime = st.st_mtime_ns // 1_000_000_000
            if fmt == s_ifdir:
                append(Entry(path, dir_t, 0, perm, st.st_uid, st.st_gid, mtime))
                if len(stack) >= MAX_DEPTH:
                    raise StorageUnavailable(f"{root}: directories nested deeper than {MAX_DEPTH}")
                sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
                if _opaque(sub, xattrs):
                    append(Entry(path, EntryType.OPAQUE))
                try:
                    listing = _listing(sub)
                except BaseException:
                    os.close(sub)
                    raise
                stack.append((sub, path + "/", listing))
                continue
            if fmt == stat.S_IFCHR and st.st_rdev == 0:
                append(Entry(path, EntryType.WHITEOUT))
                continue
            if fmt == stat.S_IFSOCK:
                continue  # a tar stores no sockets
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                first = links.get(key)
                if first is not None:
                    append(
                        Entry(path, EntryType.HARDLINK, 0, perm, st.st_uid, st.st_gid, mtime, first)
                    )
                    continue
                links[key] = path
            if fmt == s_ifreg:
                append(Entry(path, file_t, st.st_size, perm, st.st_uid, st.st_gid, mtime))
            elif fmt == s_iflnk:
                target = os.readlink(name, dir_fd=fd)
                append(Entry(path, EntryType.SYMLINK, 0, perm, st.st_uid, st.st_gid, mtime, target))
            else:
                kind = kinds.get(fmt)
                if kind is None:
                    continue
                append(Entry(path, kind, 0, perm, st.st_uid, st.st_gid, mtime))
            if len(entries) > max_entries:
                raise _too_many(root, max_entries)
    finally:
        for fd, _, _ in stack:
            if fd != top:
                os.close(fd)
    return entries


def _open_layer(root: str) -> int:
    try:
        return os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        raise StorageUnavailable(
            f"layer directory {root} is gone (the image was removed?)"
        ) from None
    except OSError as e:
        raise StorageUnavailable(f"layer directory {root}: {e.strerror}") from None


def _listing(fd: int) -> list[tuple[str, os.DirEntry[str]]]:
    """The directory's items in reverse export order (popped from the end)."""
    with os.scandir(fd) as it:
        items = [(e.name, e) for e in it]
    if all(name.isascii() for name, _ in items):
        items.sort(reverse=True)  # by name: names in a directory differ
    else:  # Go compares bytes; surrogate-escaped names sort otherwise as str
        items.sort(reverse=True, key=lambda t: _name_key(t[0]))
    return items


# --------------------------------------------------------------- tar-split

_inflate_lib: Any = zlib
_inflate_errors: tuple[type[Exception], ...] = (zlib.error,)
try:  # isal inflates 2-3x faster than zlib (tar/streams.py uses it too)
    from isal import isal_zlib

    _inflate_lib = isal_zlib
    _inflate_errors = (zlib.error, cast("type[Exception]", isal_zlib.error))  # its own class
except ImportError:  # pragma: no cover - exercised where isal is absent
    pass

_SEGMENT = b'{"type":2,"payload":"'
_FILE = b'{"type":1,'
_NAMED = b'{"type":1,"name":"'
_ROOTS = (b'{"type":1,"name":"./",', b'{"type":1,"name":".",', b'{"type":1,"name":"/",')


@dataclass(frozen=True, slots=True)
class TarSplit:
    """What a layer's tar-split record tells without the files: the exact
    tar length, whether the tar has a root ``./`` member, and the CRC-64 (as
    base64 text) of each file of at least the asked size, by normalised
    name. Two files whose checksums differ hold different bytes."""

    size_bytes: int
    has_root: bool
    # hash(normalised name) -> the CRC as an int: a third of the memory of
    # names and texts. str hashes are keyed per process, so names cannot be
    # made to collide; a collision would only cost a duplicate finding.
    checksums: dict[int, int]


def _tar_split_chunks(path: str, max_bytes: int) -> Iterator[bytes]:
    """The inflated record, a piece at a time; an empty piece last."""
    inflate = _inflate_lib.decompressobj(wbits=47)
    seen = 0
    try:
        with open(path, "rb", buffering=0) as f:
            while True:
                raw = f.read(32 << 10)  # ~1 MB inflated: little memory held
                data = inflate.decompress(raw) if raw else inflate.flush()
                seen += len(data)
                if seen > max_bytes:
                    raise StorageUnavailable(f"{path}: tar-split record larger than {max_bytes}")
                if data:
                    yield data
                if not raw:
                    yield b""
                    return
    except OSError as e:
        raise StorageUnavailable(f"{path}: {e.strerror or e}") from None
    except _inflate_errors:
        raise StorageUnavailable(f"{path}: not a gzipped tar-split record") from None


def _tar_split_lines(path: str, max_bytes: int) -> Iterator[list[bytes]]:
    """The inflated record, a list of whole lines at a time."""
    rest = b""
    for data in _tar_split_chunks(path, max_bytes):
        lines = (rest + data if rest else data).split(b"\n")
        rest = lines.pop() if data else b""
        yield lines


_SIZE = re.compile(rb',"size":(\d+),')
_NAMED_FILE = re.compile(
    # The name unrolled (plain runs, then escapes each followed by a run):
    # no alternation tried per character.
    rb'^\{"type":1,"name":"([^"\\\n]*(?:\\.[^"\\\n]*)*)","size":(\d+),"payload":"([A-Za-z0-9+/=]+)"',
    re.MULTILINE,
)


def read_tar_split(
    path: str, *, floor: int = 0, max_bytes: int = 4 << 30, accelerate: bool = True
) -> TarSplit:
    """Read a tar-split record: gzipped JSON lines, as Go writes them, of the
    tar's raw bytes between files (type 2, base64) and its files (type 1,
    with their sizes and CRC-64), which the engine keeps beside each layer to
    rebuild the exact tar it was given. ``floor > 0`` collects the checksums
    of files of at least ``floor`` bytes. A line of another form makes the
    record unreadable (StorageUnavailable), never a wrong size.

    A record holds two lines per tar member. The C scan (``_storagewalk.c``)
    reads them when it is built and ``accelerate``; else the work is done a
    list of lines at a time by C loops of Python's (``map``, ``find``,
    ``count``, one regular expression over the short file lines).
    """
    if accelerate and _scan_split is not None:
        return _read_tar_split_c(path, floor, max_bytes, _scan_split)
    total = 0
    root = False
    checksums: dict[int, int] = {}
    find, count, quote, pad = bytes.find, bytes.count, repeat(b'"'), repeat(b"=")
    for lines in _tar_split_lines(path, max_bytes):
        segments = [line for line in lines if line.startswith(_SEGMENT)]
        file_lines = [line for line in lines if line.startswith(_FILE)]
        if len(segments) + len(file_lines) != len(lines) - lines.count(b""):
            raise StorageUnavailable(f"{path}: not a tar-split record as this version knows it")
        files = b"\n".join(file_lines)
        ends = list(map(find, segments, quote, repeat(21)))
        if -1 in ends:
            raise StorageUnavailable(f"{path}: not a tar-split record as this version knows it")
        chars = sum(ends) - 21 * len(segments)
        total += chars // 4 * 3 - sum(map(count, segments, pad))
        total += sum(map(int, _SIZE.findall(files)))
        if not root and any(r in files for r in _ROOTS):
            root = True
        if floor > 0:
            for raw, size, crc in _NAMED_FILE.findall(files):
                if int(size) >= floor:
                    _checksum(raw, crc, checksums)
    return TarSplit(total, root, checksums)


def _read_tar_split_c(
    path: str,
    floor: int,
    max_bytes: int,
    scan: Callable[
        [bytes, int, int, dict[int, int], Callable[[bytes, bytes], None]],
        tuple[int, int, int, int],
    ],
) -> TarSplit:
    total = 0
    root = False
    checksums: dict[int, int] = {}
    rest = b""

    def slow_checksum(raw: bytes, crc: bytes) -> None:
        _checksum(raw, crc, checksums)

    for data in _tar_split_chunks(path, max_bytes):
        if not data:  # the end: the last line may lack its newline
            data = b"\n"
        start = 0
        if rest:  # the line that straddles the pieces, alone: no copy of the piece
            start = data.find(b"\n") + 1
            if not start:
                rest += data
                continue
            rest += data[:start]
            pieces = [(rest, 0)]
        else:
            pieces = []
        pieces.append((data, start))
        for buf, at in pieces:
            used, size, has_root, bad = scan(buf, at, floor, checksums, slow_checksum)
            if bad:
                raise StorageUnavailable(f"{path}: not a tar-split record as this version knows it")
            total += size
            root = root or bool(has_root)
        rest = data[used:]
    return TarSplit(total, root, checksums)


def _checksum(raw: bytes, crc: bytes, out: dict[int, int]) -> None:
    """Record a file's CRC under its normalised name."""
    try:
        name = json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()
    except ValueError:  # (UnicodeDecodeError too): read the file to be sure
        return
    try:
        value = int.from_bytes(base64.b64decode(crc), "big")
    except ValueError:
        return
    out[hash(normalize(name))] = value


# --------------------------------------------------------------- digests


def candidates(
    layers: Sequence[Sequence[Entry]],
    floor: int,
    want: Callable[[int], bool] | None,
    checksums: Sequence[dict[int, int]] | None = None,
) -> dict[int, dict[str, int]]:
    """Per layer, the visible regular files (path -> size) whose content must be hashed:
    those of at least ``floor`` bytes whose size another visible file shares
    (the duplicate candidates), and those ``want(size)`` asks for.

    ``checksums`` (per layer, ``hash(path)`` -> CRC-64, from the tar-split
    records) leaves out the candidates whose checksum no other visible file
    of at least ``floor`` bytes shares: their content is unique, a digest
    would match nothing. Files without a checksum stay.

    The union is replayed here even when no size repeats: the analysis
    then finds the same replay done (``union.replay`` keeps the last one).
    Two passes over it and no list of the candidates: the peak memory of
    the read stays below the export's."""
    if floor <= 0 and want is None:
        return {}
    file_t = EntryType.FILE
    final = replay(layers).final
    counts: Counter[int] = Counter()
    # By the checksum alone: files of another size that share one are kept
    # too, and only cost a digest.
    shared: Counter[int] | None = None if checksums is None else Counter()
    if floor > 0:
        for path, (index, e) in final.items():
            if e.type is file_t and e.size >= floor:
                counts[e.size] += 1
                if shared is not None and checksums is not None:
                    crc = checksums[index].get(hash(path))
                    if crc is not None:
                        shared[crc] += 1
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for path, (index, e) in final.items():
        if e.type is not file_t:
            continue
        size = e.size
        if want is not None and want(size):
            out[index][path] = size
        elif floor > 0 and size >= floor and counts[size] > 1:
            if shared is not None and checksums is not None:
                crc = checksums[index].get(hash(path))
                if crc is not None and shared[crc] < 2:
                    continue
            out[index][path] = size
    return dict(out)


def hash_files(root: str, sizes: dict[str, int]) -> dict[str, str]:
    """:func:`layerscan.content_digest` of each file of ``sizes`` (path -> size) under ``root``,
    opened without following any symlink; StorageUnavailable when one is no
    longer the regular file of the size the walk saw."""
    out: dict[str, str] = {}
    top = _open_layer(root)
    parent_path: str | None = None
    parent_fd = -1
    try:
        for path in sorted(sizes):
            directory, _, name = path.rpartition("/")
            if directory != parent_path:
                if parent_fd >= 0 and parent_fd != top:
                    os.close(parent_fd)
                parent_fd, parent_path = -1, None
                parent_fd = _open_dir(top, directory)
                parent_path = directory
            fd = os.open(name, _FILE_FLAGS, dir_fd=parent_fd)
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode) or st.st_size != sizes[path]:
                    raise StorageUnavailable(f"{root}/{path} changed while it was read")
                h = xxhash.xxh3_128()
                while True:
                    piece = os.read(fd, 1 << 20)
                    if not piece:
                        break
                    h.update(piece)
                out[path] = f"{DIGEST_ALGORITHM}:{h.hexdigest()}"
            finally:
                os.close(fd)
    except OSError as e:
        raise StorageUnavailable(
            f"{root}: a file changed while it was read ({e.strerror or e}): the image was removed?"
        ) from None
    finally:
        if parent_fd >= 0 and parent_fd != top:
            os.close(parent_fd)
        os.close(top)
    return out


def _open_dir(top: int, directory: str) -> int:
    """A descriptor of ``directory`` below ``top``, each component opened
    with O_NOFOLLOW relative to the one before."""
    fd = top
    for part in directory.split("/") if directory else ():
        nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
        if fd != top:
            os.close(fd)
        fd = nxt
    return fd


def with_digests(entries: Sequence[Entry], digests: dict[str, str]) -> tuple[Entry, ...]:
    """``entries`` with the digests of the files named in ``digests`` set."""
    if not digests:
        return tuple(entries)  # the very tuple when it is one (union.replay's memo)
    file_t = EntryType.FILE
    return tuple(
        e._replace(digest=digests[e.path]) if e.type is file_t and e.path in digests else e
        for e in entries
    )
