"""Tar header fields: the member record, resource limits, numeric fields
(octal and base-256), the signed-checksum variant and pax records. What
:mod:`layerscope.tar.reader`'s reader parses headers with."""

from __future__ import annotations

from dataclasses import dataclass

from layerscope.errors import ArchiveError, LimitExceededError
from layerscope.tar.types import GNUTYPE_SPARSE, REGULAR_TYPES

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource bounds for hostile input; each is configurable."""

    max_path_bytes: int = 64 * 1024
    max_header_bytes: int = 1 << 20  # one pax or GNU long-name header
    max_members: int = 4_000_000  # per tar stream (an entry costs ~400 bytes)
    max_file_bytes: int = 1 << 50  # a declared size beyond this is refused (1 PiB)
    # All pax and GNU long-name headers and sparse-map blocks of one tar stream
    # together: the engine keeps only the last of a chain, so memory stays
    # bounded; this bounds the time spent reading them.
    max_meta_bytes: int = 2 << 30


DEFAULT_LIMITS = Limits()


class Member:
    """One tar member. ``size`` is the data stored in the archive; ``realsize``
    the logical file size (they differ only for sparse files)."""

    __slots__ = ("gid", "linkname", "mode", "mtime", "name", "realsize", "size", "type", "uid")

    def __init__(
        self,
        name: str,
        type: int,  # noqa: A002 - the tar field name
        size: int,
        realsize: int,
        mode: int,
        uid: int,
        gid: int,
        mtime: int,
        linkname: str,
    ) -> None:
        self.name = name
        self.type = type  # the type flag byte, e.g. ord("0")
        self.size = size
        self.realsize = realsize
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.linkname = linkname

    @property
    def is_regular(self) -> bool:
        return self.type in REGULAR_TYPES or self.type == GNUTYPE_SPARSE

    def __repr__(self) -> str:
        return f"Member({self.name!r}, {chr(self.type)!r}, size={self.size})"


def num(field: bytes, what: str, name: str) -> int:
    """A numeric header field: octal text, or base-256 when the high bit is set."""
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        if field[0] & 0x40:  # negative base-256
            value -= 1 << (8 * (len(field) - 1) + 6)
        return value
    text = field.split(b"\x00", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise ArchiveError(f"{name}: invalid {what} field {text[:20]!r}") from None


def header_checksum_ok(hdr: bytes) -> bool:
    """True when ``hdr`` (one block) carries a well-formed octal checksum that
    matches its bytes (the usual, unsigned sum)."""
    field = hdr[148:156]
    try:
        chksum = int(field.split(b"\x00", 1)[0] or b"x", 8)
    except ValueError:
        return False
    return chksum == unsigned_checksum(hdr)


def unsigned_checksum(hdr: bytes) -> int:
    """The header's byte sum with its checksum field counted as spaces."""
    return sum(hdr) - sum(hdr[148:156]) + 8 * 32


def check_signed(hdr: bytes, chksum: int, name: str) -> None:
    """Old tars summed signed bytes; accept that variant before refusing."""
    if chksum == unsigned_checksum(hdr):
        return
    signed = sum(b - 256 if b > 127 else b for b in hdr)
    if chksum != signed - sum(b - 256 if b > 127 else b for b in hdr[148:156]) + 256:
        raise ArchiveError(f"{name}: bad tar header checksum (not a tar, or corrupt)")


def text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def parse_pax(data: bytes, name: str) -> dict[str, str]:
    """Records ``"%d %s=%s\\n"``; values keep their exact bytes."""
    out: dict[str, str] = {}
    pos = 0
    n = len(data)
    while pos < n:
        if data[pos] == 0:
            break
        sp = data.find(b" ", pos)
        if sp < 0:
            raise ArchiveError(f"{name}: malformed pax header")
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise ArchiveError(f"{name}: malformed pax header length") from None
        end = pos + length
        if length <= 0 or end > n or data[end - 1 : end] != b"\n":
            raise ArchiveError(f"{name}: malformed pax record")
        record = data[sp + 1 : end - 1]
        eq = record.find(b"=")
        if eq < 0:
            raise ArchiveError(f"{name}: malformed pax record")
        out[text(record[:eq])] = text(record[eq + 1 :])
        pos = end
    return out


def apply_pax(
    pax: dict[str, str],
    limits: Limits,
    name: str,
    mname: str,
    link: str,
    size: int,
    realsize: int,
    uid: int,
    gid: int,
    mtime: int,
) -> tuple[str, str, int, int, int, int, int]:
    """A member's fields with pax records (local over global) applied."""

    def number(key: str, default: int) -> int:
        value = pax.get(key)
        if value is None:
            return default
        try:
            return int(float(value)) if "." in value else int(value)
        except (ValueError, OverflowError):  # "1e999" is a float, but no int
            raise ArchiveError(f"{name}: invalid pax {key} {value[:20]!r}") from None

    mname = pax.get("path", mname)
    if len(mname) > limits.max_path_bytes:
        raise LimitExceededError(
            f"{name}: a member name exceeds {limits.max_path_bytes} bytes "
            f"(--limit max-path-bytes=N)"
        )
    link = pax.get("linkpath", link)
    size = number("size", size)
    if size < 0 or size > limits.max_file_bytes:
        raise LimitExceededError(
            f"{name}: member declares an impossible size {size} "
            f"(over {limits.max_file_bytes}: --limit max-file-bytes=N)"
        )
    realsize = size
    uid = number("uid", uid)
    gid = number("gid", gid)
    mtime = number("mtime", mtime)
    if "GNU.sparse.name" in pax:
        mname = pax["GNU.sparse.name"]
    if "GNU.sparse.realsize" in pax:
        realsize = number("GNU.sparse.realsize", size)
    elif "GNU.sparse.size" in pax:
        realsize = number("GNU.sparse.size", size)
    if realsize != size:
        check_realsize(realsize, limits, name)
    if "GNU.sparse.map" in pax:
        values = pax["GNU.sparse.map"].split(",")
        try:
            numbers = [int(v) for v in values] if values != [""] else []
        except ValueError:
            raise ArchiveError(f"{name}: invalid pax GNU.sparse.map") from None
        if len(numbers) % 2:
            raise ArchiveError(f"{name}: invalid pax GNU.sparse.map (odd count)")
        check_sparse_map(list(zip(numbers[::2], numbers[1::2], strict=True)), realsize, name)
    return mname, link, size, realsize, uid, gid, mtime


def check_realsize(realsize: int, limits: Limits, name: str) -> None:
    """A sparse file's logical size, held to the limits of any size."""
    if realsize < 0 or realsize > limits.max_file_bytes:
        raise LimitExceededError(
            f"{name}: sparse member declares an impossible size {realsize} "
            f"(over {limits.max_file_bytes} or negative: --limit max-file-bytes=N)"
        )


def check_sparse_map(entries: list[tuple[int, int]], realsize: int, name: str) -> None:
    """Sparse data fragments ``(offset, length)`` must lie in order within the
    file, without overlap (Go's tar reader refuses anything else)."""
    end = 0
    for offset, length in entries:
        if offset < 0 or length < 0 or offset < end or offset + length > realsize:
            raise ArchiveError(
                f"{name}: invalid sparse map (fragment {offset}+{length} of a {realsize}-byte file)"
            )
        end = offset + length


def old_gnu_sparse(block: bytes, start: int, count: int, name: str) -> list[tuple[int, int]]:
    """The ``(offset, length)`` entries of an old GNU sparse header or extension
    block: ``count`` slots of 24 bytes from ``start``; an empty slot ends them."""
    out = []
    for i in range(count):
        at = start + 24 * i
        if block[at] == 0:
            break
        out.append(
            (
                num(block[at : at + 12], "sparse offset", name),
                num(block[at + 12 : at + 24], "sparse length", name),
            )
        )
    return out
