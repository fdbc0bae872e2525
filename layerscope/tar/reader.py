"""Fast tar member reader: parses 512-byte headers and skips file data.

Python's ``tarfile`` builds a TarInfo per member and reads through several
layers of indirection; this reader parses headers straight out of a large
buffer and skips data by seeking (files) or discarding (streams). It handles
ustar prefixes, pax extended and global headers, GNU long names and links,
GNU old-style and pax sparse files, and base-256 numbers. ``tarfile`` is the
reference it is tested against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from zlib import adler32

from layerscope.errors import ArchiveError, LimitExceededError
from layerscope.tar import types as tt
from layerscope.tar.header import (
    BLOCK,
    DEFAULT_LIMITS,
    ZERO_BLOCK,
    Limits,
    Member,
    apply_pax,
    check_realsize,
    check_signed,
    check_sparse_map,
    num,
    old_gnu_sparse,
    parse_pax,
    text,
)
from layerscope.tar.streams import CHUNK, Buffer, ByteStream, some_reader

__all__ = ["DEFAULT_LIMITS", "FastScan", "Limits", "Member", "MemberStream", "TarReader"]

# scan(buf, pos, out, ctx, members_left) -> (status, pos, need, members, skipped)
FastScan = Callable[
    [Buffer, int, list[Any], tuple[object, ...], int], tuple[int, int, int, int, int]
]
SlowMember = Callable[[Member], int]  # converts one member; returns 1 if it was skipped
_MAX_FILL = 16 << 20  # bytes the buffer may grow to for the accelerator (see fast_walk)


class TarReader:
    """Iterates the members of one tar stream.

    While a member is current, :meth:`read_data` or :meth:`data_stream` give
    its content; whatever is not read is skipped when iteration resumes.
    """

    def __init__(
        self,
        stream: ByteStream,
        *,
        name: str = "tar",
        limits: Limits = DEFAULT_LIMITS,
        cut: bool = False,
    ) -> None:
        self._src = stream
        # The stream is the first part of a tar cut where a member is thought
        # to begin: an extension header with no member after it is an error
        # then (its member lies beyond the cut), not the end of the archive.
        self._cut = cut
        self._src_some = some_reader(stream)
        self._name = name
        self._limits = limits
        # ``_buf`` may be a memoryview into a chunk the source handed over
        # (``read_some``): the stream path then copies no bulk data at all.
        self._buf: Buffer = b""
        self._pos = 0
        # Source bytes already fetched that follow ``_buf`` (a chunk's tail
        # after the few bytes ``_fill`` had to join onto a partial header).
        self._ahead = memoryview(b"")
        self._left = 0  # unread data bytes of the current member
        self._pad = 0  # padding after the current member's data
        self.meta_bytes = 0  # pax and long-name headers and sparse maps read so far
        self.consumed = 0  # bytes of the stream walked so far
        self.members = 0
        # False until the end-of-archive marker is read: a stream that just
        # stops was probably cut (tarfile accepts it; callers may warn).
        self.terminated = False

    # -- buffer ---------------------------------------------------------
    def _read_some(self, n: int) -> memoryview:
        """Up to ``n`` (at least 1) bytes from the source, uncopied; empty at its end."""
        ahead = self._ahead
        if not ahead:
            piece = self._src_some(n)
            ahead = piece if type(piece) is memoryview else memoryview(piece)
        self._ahead = ahead[n:]
        return ahead[:n]

    def _take(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or fewer only at the end of the stream."""
        end = self._pos + n
        buf = self._buf
        if end <= len(buf):
            out = buf[self._pos : end]
            self._pos = end
            self.consumed += n
            return out if type(out) is bytes else bytes(out)
        # Copied: a source's next read may reuse the buffer a view points into.
        parts: list[Buffer] = [bytes(buf[self._pos :])]
        have = len(parts[0])
        self._buf = b""
        self._pos = 0
        while have < n:
            chunk = self._read_some(max(CHUNK, n - have))
            if not chunk:
                break
            need = n - have
            if len(chunk) > need:
                parts.append(chunk[:need])
                self._buf = chunk
                self._pos = need
                have = n
            else:
                parts.append(bytes(chunk))
                have += len(chunk)
        self.consumed += have
        return b"".join(parts)

    def _skip(self, n: int) -> None:
        avail = len(self._buf) - self._pos
        if n <= avail:
            self._pos += n
        else:
            self._buf = b""
            self._pos = 0
            rest = n - avail
            used = min(rest, len(self._ahead))  # bytes already fetched come first
            self._ahead = self._ahead[used:]
            if rest > used:
                self._src.skip(rest - used)
        self.consumed += n

    def _take_exact(self, n: int, what: str) -> bytes:
        data = self._take(n)
        if len(data) != n:
            raise ArchiveError(f"{self._name}: truncated in {what}")
        return data

    # -- current member's data -----------------------------------------
    def read_data(self, limit: int) -> bytes:
        """The rest of the current member's data, refusing more than ``limit``."""
        if self._left > limit:
            raise LimitExceededError(f"{self._name}: member of {self._left} bytes exceeds {limit}")
        data = self._take_exact(self._left, "member data")
        self._left = 0
        return data

    def data_stream(self) -> MemberStream:
        """A ByteStream over the rest of the current member's data."""
        return MemberStream(self)

    def drain(self) -> None:
        """Read to the end of the stream (padding after the end-of-archive
        marker), so ``consumed`` is the exact stream length."""
        self.consumed += len(self._buf) - self._pos
        self._buf = b""
        self._pos = 0
        while True:
            chunk = self._read_some(CHUNK)
            if not chunk:
                return
            self.consumed += len(chunk)

    def _finish_member(self) -> None:
        self._skip(self._left + self._pad)
        self._left = 0
        self._pad = 0

    def _fill(self, need: int) -> bool:
        """Make the buffer hold ``need`` bytes from the current position;
        False when the stream ends first.

        Whole chunks become the buffer uncopied. A header (or an inline-hashed
        file) that straddles two chunks is joined from exactly the ``need``
        bytes it spans, and the rest of the next chunk waits in ``_ahead``:
        the join copies a few kilobytes, not the chunk.
        """
        have = len(self._buf) - self._pos
        if have >= need:
            return True
        rewind = getattr(self._src, "rewind", None)
        if rewind is not None and have and not self._ahead:
            rewind(have)  # read the partial header again rather than copy the chunk
            have = 0
        if not have:
            piece = self._read_some(max(CHUNK, need))
            self._buf, self._pos = piece, 0
            if len(piece) >= need or not piece:
                return len(piece) >= need
            have = len(piece)
        # Copied: a source's next read may reuse the buffer a view points into.
        parts: list[Buffer] = [bytes(self._buf[self._pos :])]
        while have < need:
            piece = self._read_some(need - have)
            if not piece:
                break
            parts.append(bytes(piece))
            have += len(piece)
        self._buf = b"".join(parts)
        self._pos = 0
        return have >= need

    def fast_walk(
        self, scan: FastScan, ctx: tuple[object, ...], out: list[Any], slow: SlowMember
    ) -> int:
        """Walk the whole archive with an accelerator ``scan`` (see
        ``layerscope/tar/_tarwalk.c``) that appends converted members to ``out``;
        every member it declines goes through :meth:`next_member` and
        ``slow(member)``. Returns the count of members skipped by either."""
        skipped = 0
        limit = self._limits.max_members
        # The accelerator wants a member's headers whole in the buffer: a chain
        # of pax headers longer than this is left to the reader, which keeps
        # only the last one instead of buffering them all.
        max_fill = max(_MAX_FILL, 4 * self._limits.max_header_bytes)
        while True:
            self._finish_member()
            status, pos, need, members, passed = scan(
                self._buf, self._pos, out, ctx, limit - self.members
            )
            self.members += members
            skipped += passed
            self._skip(pos - self._pos)
            if status == 0 and need <= max_fill and self._fill(need):
                continue
            m = self.next_member()  # the member the accelerator declined
            if m is None:
                return skipped
            skipped += slow(m)

    # -- iteration -------------------------------------------------------
    def __iter__(self) -> Iterator[Member]:
        while True:
            m = self.next_member()
            if m is None:
                return
            yield m

    def next_member(self) -> Member | None:
        """The next member (its headers parsed, its data pending), or None at
        the end of the archive."""
        limits = self._limits
        name = self._name
        pax: dict[str, str] | None = None
        longname: bytes | None = None
        longlink: bytes | None = None
        while True:
            self._finish_member()
            hdr = self._take(BLOCK)
            if len(hdr) < BLOCK:
                if not hdr:
                    extension = pax is not None or longname is not None or longlink is not None
                    if self._cut and extension:
                        raise ArchiveError(f"{name}: the cut falls after an extension header")
                    return None  # EOF without end-of-archive blocks: as tarfile does
                raise ArchiveError(f"{name}: truncated tar header")
            if hdr == ZERO_BLOCK:
                self._after_zero_block()
                return None  # end-of-archive marker
            # adler32's low half is 1 + the byte sum mod 65521: a C-speed byte sum
            # (exact up to that modulus, far below any realistic corruption).
            field = hdr[148:156]
            try:
                chksum = int(field[:6], 8)
            except ValueError:
                chksum = num(field, "checksum", name)
            if (chksum - (adler32(hdr) & 0xFFFF) + 1 + sum(field) - 256) % 65521:
                check_signed(hdr, num(field, "checksum", name), name)
            typ = hdr[156]
            try:
                size = int(hdr[124:135], 8)
            except ValueError:
                size = num(hdr[124:136], "size", name)
            if size < 0 or size > limits.max_file_bytes:
                raise LimitExceededError(
                    f"{name}: member declares an impossible size {size} "
                    f"(over {limits.max_file_bytes}: --limit max-file-bytes=N)"
                )
            padded = (size + BLOCK - 1) & ~(BLOCK - 1)
            if typ in tt.PAX_TYPES or typ in tt.GNU_NAME_TYPES:
                self._count_meta(size)
            if typ in tt.PAX_TYPES:
                if size > limits.max_header_bytes:
                    raise LimitExceededError(
                        f"{name}: pax header of {size} bytes exceeds {limits.max_header_bytes} "
                        f"(--limit max-header-bytes=N)"
                    )
                records = parse_pax(self._take_exact(padded, "pax header")[:size], name)
                if typ == tt.XGLTYPE:
                    # As Go's reader (and so the engine) has it: a global header
                    # is an entry of its own that applies to no other member,
                    # and it ends any chain of headers before it.
                    return self._global_entry(hdr, records)
                pax = records  # only the last local header counts, as in Go
                continue
            if typ in tt.GNU_NAME_TYPES:
                if size > limits.max_header_bytes:
                    raise LimitExceededError(
                        f"{name}: long name of {size} bytes exceeds {limits.max_header_bytes} "
                        f"(--limit max-header-bytes=N)"
                    )
                raw = self._take_exact(padded, "GNU long name")[:size].split(b"\x00", 1)[0]
                if typ == tt.GNUTYPE_LONGNAME:
                    longname = raw
                else:
                    longlink = raw
                continue

            self.members += 1
            if self.members > limits.max_members:
                raise LimitExceededError(
                    f"{name}: more than {limits.max_members} members in one tar "
                    f"(--limit max-members=N)"
                )
            # Name: GNU long name, else ustar prefix + name.
            if longname is not None:
                rawname = longname
            else:
                rawname = hdr[0:100].split(b"\x00", 1)[0]
                if hdr[257:263] == b"ustar\x00" and hdr[345] != 0:
                    rawname = hdr[345:500].split(b"\x00", 1)[0] + b"/" + rawname
            rawlink = longlink if longlink is not None else hdr[157:257].split(b"\x00", 1)[0]
            if len(rawname) > limits.max_path_bytes:
                raise LimitExceededError(
                    f"{name}: a member name exceeds {limits.max_path_bytes} bytes "
                    f"(--limit max-path-bytes=N)"
                )
            mname = text(rawname)
            link = text(rawlink)
            try:
                mode = int(hdr[100:107], 8)
                uid = int(hdr[108:115], 8)
                gid = int(hdr[116:123], 8)
                mtime = int(hdr[136:147], 8)
            except ValueError:
                mode = num(hdr[100:108], "mode", name)
                uid = num(hdr[108:116], "uid", name)
                gid = num(hdr[116:124], "gid", name)
                mtime = num(hdr[136:148], "mtime", name)
            realsize = size
            if typ == tt.GNUTYPE_SPARSE:
                realsize = num(hdr[483:495], "realsize", name)
                check_realsize(realsize, limits, name)
                fragments = old_gnu_sparse(hdr, 386, 4, name)
                ext = hdr[482]
                while ext:
                    self._count_meta(BLOCK)
                    block = self._take_exact(BLOCK, "sparse header")
                    fragments += old_gnu_sparse(block, 0, 21, name)
                    ext = block[504]
                check_sparse_map(fragments, realsize, name)
            if pax:
                mname, link, size, realsize, uid, gid, mtime = apply_pax(
                    pax, limits, name, mname, link, size, realsize, uid, gid, mtime
                )
                padded = (size + BLOCK - 1) & ~(BLOCK - 1)
            pax = None
            longname = longlink = None
            if typ in tt.NO_DATA_TYPES:
                self._left = 0
                self._pad = 0
            else:
                self._left = size
                self._pad = padded - size
            return Member(mname, typ, size, realsize, mode, uid, gid, mtime, link)

    def _count_meta(self, size: int) -> None:
        self.meta_bytes += size
        if self.meta_bytes > self._limits.max_meta_bytes:
            raise LimitExceededError(
                f"{self._name}: more than {self._limits.max_meta_bytes} bytes of tar metadata "
                f"(pax and long-name headers, sparse maps) (--limit max-meta-bytes=N)"
            )

    def _global_entry(self, hdr: bytes, records: dict[str, str]) -> Member:
        """A pax global header as its own member (no data; nothing applied)."""
        self.members += 1
        if self.members > self._limits.max_members:
            raise LimitExceededError(
                f"{self._name}: more than {self._limits.max_members} members in one tar "
                f"(--limit max-members=N)"
            )
        self._left = 0
        self._pad = 0
        gname = hdr[0:100].split(b"\x00", 1)[0]
        return Member(text(gname), tt.XGLTYPE, 0, 0, 0, 0, 0, 0, "")

    def _after_zero_block(self) -> None:
        """One zero block was read. A second ends the archive; the end of the
        stream does too (Go's reader takes that as the end). Anything else is
        refused, as Go refuses it: a lone zero block would otherwise hide the
        rest of the layer."""
        nxt = self._take(BLOCK)
        if not nxt or nxt == ZERO_BLOCK:
            self.terminated = True
            return
        if len(nxt) < BLOCK:
            raise ArchiveError(f"{self._name}: truncated after a zero block")
        raise ArchiveError(
            f"{self._name}: a lone zero block in mid-archive, then more members "
            f"(the engine's tar reader refuses this)"
        )


class MemberStream:
    """ByteStream over the current member's remaining data."""

    def __init__(self, reader: TarReader) -> None:
        self._r = reader

    def read(self, n: int) -> bytes:
        r = self._r
        n = min(n, r._left)
        if n <= 0:
            return b""
        if r._pos >= len(r._buf) and not r._ahead:
            # Nothing buffered: read straight from the source (one copy fewer).
            data = r._src.read(n)
            r.consumed += len(data)
        else:
            data = r._take(n)
        r._left -= len(data)
        if len(data) < n:
            raise ArchiveError(f"{r._name}: truncated member data")
        return data

    def read_some(self, n: int) -> Buffer:
        """Up to ``n`` (at least 1) bytes of the member, as a view into the
        reader's buffers when it can: nothing is copied."""
        r = self._r
        n = min(n, r._left)
        if n <= 0:
            return b""
        avail = len(r._buf) - r._pos
        if avail > 0:
            take = min(n, avail)
            data = memoryview(r._buf)[r._pos : r._pos + take]
            r._pos += take
        else:
            data = r._read_some(n)
            if not data:
                raise ArchiveError(f"{r._name}: truncated member data")
        r.consumed += len(data)
        r._left -= len(data)
        return data

    def skip(self, n: int) -> None:
        r = self._r
        if n > r._left:
            raise ArchiveError(f"{r._name}: skip past the end of a member")
        r._skip(n)
        r._left -= n

    @property
    def remaining(self) -> int:
        return self._r._left
