"""``-`` as the image: a ``docker save`` or ``oci-archive`` stream on stdin.

The stream is analyzed as it arrives, exactly as an engine's export is:
layers are scanned in passing, nothing is written to disk, and the stream
is read once (content digests are taken on that one pass).
"""

from __future__ import annotations

import os
import stat
import sys
from typing import BinaryIO, cast

from layerscope.errors import SourceError
from layerscope.model import Image
from layerscope.sources.interface import SourceOptions

STDIN = "-"
NAME = "stdin"


def read_stdin_image(*, options: SourceOptions) -> Image:
    """The image whose archive arrives on standard input."""
    return read_stdin_images(options=options, all_platforms=False)[0]


def read_stdin_images(*, options: SourceOptions, all_platforms: bool) -> list[Image]:
    """The image (``all_platforms``: every platform's) on standard input."""
    from layerscope.sources.archive import read_archive_platforms, read_archive_stream
    from layerscope.tar.streams import FileStream

    try:
        fd = sys.stdin.fileno()
        mode = os.fstat(fd).st_mode
    except (AttributeError, ValueError, OSError):
        raise SourceError(f"{NAME}: no standard input to read an image archive from") from None
    if sys.stdin.isatty():
        raise SourceError(f"{NAME}: is a terminal; pipe an archive in (docker save IMAGE | ...)")
    if stat.S_ISDIR(mode):
        raise SourceError(f"{NAME}: is a directory, not an image archive stream")
    # Buffered: a pipe's raw read returns what has arrived, the stream
    # contract wants all ``n`` bytes short of the end.
    f = os.fdopen(os.dup(fd), "rb")
    with f:
        try:
            empty = not f.peek(1)
        except OSError as e:
            raise SourceError(f"{NAME}: cannot read: {e.strerror}") from None
        if empty:
            raise SourceError(f"{NAME}: empty input, not an image archive")
        stream = FileStream(cast(BinaryIO, _NoSeek(f)), name=NAME)
        if all_platforms:
            return read_archive_platforms(
                stream, name=NAME, reference="", source=NAME, options=options
            )
        return [read_archive_stream(stream, name=NAME, reference="", source=NAME, options=options)]


class _NoSeek:
    """stdin read forward only, even when it is a regular file: the one pass
    is the contract (``-`` is never read twice)."""

    def __init__(self, f: object) -> None:
        self._f = f

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._f.read(n)  # type: ignore[attr-defined]
        return data

    def readinto(self, buf: memoryview) -> int:
        got: int = self._f.readinto(buf)  # type: ignore[attr-defined]
        return got

    def seekable(self) -> bool:
        return False
