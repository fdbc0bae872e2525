"""Turn any input into the one image model.

``open_image(target, source=...)`` decides where ``target`` comes from:
an existing path is an archive (``docker save``, ``oci-archive``, maybe
compressed) or an OCI layout directory; anything else is an engine reference.
"""

from __future__ import annotations

import os
import stat

from layerscope.errors import SourceError, UsageError
from layerscope.model import Image
from layerscope.sources.interface import SourceOptions

SOURCES = ("auto", "docker", "podman", "docker-archive", "oci")

__all__ = ["SOURCES", "engine_of", "open_image", "split_archive_ref"]


def split_archive_ref(target: str) -> tuple[str, str]:
    """``path.tar:tag`` (an image inside a multi-image archive) -> parts."""
    if os.path.exists(target):
        return target, ""
    # The tag may hold colons itself (repo:tag, host:5000/repo:tag): the
    # archive is the shortest prefix before a colon that is a file.
    pos = target.find(":")
    while pos > 0:
        if os.path.isfile(target[:pos]):
            return target[:pos], target[pos + 1 :]
        pos = target.find(":", pos + 1)
    return target, ""


def engine_of(target: str, source: str) -> str | None:
    """The engine ``open_image`` would read ``target`` from, or None for a path."""
    if source in ("docker", "podman"):
        return source
    if source != "auto":
        return None
    path, _ = split_archive_ref(target)
    return None if os.path.exists(path) else "docker"


def open_image(target: str, *, source: str = "auto", options: SourceOptions) -> Image:
    """Read the image named by ``target`` from the chosen source."""
    if source not in SOURCES:
        raise UsageError(f"unknown --source {source!r} (choose from {', '.join(SOURCES)})")
    engine = engine_of(target, source)
    from layerscope.gcpause import paused_gc

    with paused_gc():  # an image is a few hundred thousand acyclic tuples
        if engine is not None:
            from layerscope.sources.engine_read import read_engine

            return read_engine(target, engine=engine, options=options)
        return _read_path(target, "path" if source == "auto" else source, options)


def _read_path(target: str, source: str, options: SourceOptions) -> Image:
    from layerscope.sources.archive import read_archive_stream
    from layerscope.sources.oci import read_layout
    from layerscope.tar.streams import FileStream

    path, ref = split_archive_ref(target)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file or directory") from None
    except OSError as e:
        raise SourceError(f"{path}: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        return read_layout(path, reference=ref, options=options)
    if not stat.S_ISREG(st.st_mode):
        raise SourceError(f"{path}: not a regular file or directory (a FIFO or device?)")
    if st.st_size == 0:
        raise SourceError(f"{path}: empty file, not an image archive")
    try:
        # O_NONBLOCK: a FIFO swapped in after the stat must not block the open;
        # fstat on the open descriptor is the check that counts.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise SourceError(f"{path}: {e.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SourceError(f"{path}: not a regular file or directory (a FIFO or device?)")
    os.set_blocking(fd, True)
    f = os.fdopen(fd, "rb")
    with f:
        head = f.read(4)
        f.seek(0)
        if head.startswith(b"PK\x03\x04"):
            raise SourceError(f"{path}: a zip file, not a tar image archive")
        return read_archive_stream(
            FileStream(f, name=path),
            name=path,
            reference=ref,
            source=None if source == "path" else source,
            options=options,
            fd=f.fileno(),
        )
