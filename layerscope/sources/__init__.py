"""Turn any input into the one image model.

``open_image(target, source=...)`` decides where ``target`` comes from:
an existing path is an archive (``docker save``, ``oci-archive``, maybe
compressed), an OCI layout directory or a ``dir:`` layout; ``-`` is an archive streamed on
stdin; anything else is an engine reference, or a registry's when it names its registry
host (a first component with a dot or a port, or ``localhost``) and no engine has it.
"""

from __future__ import annotations

import functools
import os
import stat

from layerscope.errors import SourceError, UsageError
from layerscope.model import Image
from layerscope.sources.interface import SourceOptions

SOURCES = ("auto", "docker", "podman", "docker-archive", "oci", "dir", "registry")

__all__ = [
    "SOURCES",
    "engine_of",
    "open_image",
    "open_platform_images",
    "split_archive_ref",
]


def split_archive_ref(target: str) -> tuple[str, str]:
    """``path.tar:tag`` or ``layout-dir:tag`` (an image among several) -> parts."""
    if os.path.exists(target):
        return target, ""
    # The tag may hold colons itself (repo:tag, host:5000/repo:tag): the
    # archive is the shortest prefix before a colon that is a file.
    pos = target.find(":")
    while pos > 0:
        if os.path.isfile(target[:pos]) or _is_layout(target[:pos]):
            return target[:pos], target[pos + 1 :]
        pos = target.find(":", pos + 1)
    return target, ""


def _is_layout(path: str) -> bool:
    """A directory an image layout could be (``oci:DIR:tag`` as skopeo spells it)."""
    return any(os.path.isfile(os.path.join(path, n)) for n in ("index.json", "manifest.json"))


def engine_of(target: str, source: str) -> str | None:
    """The engine (or ``registry``) ``open_image`` would read ``target`` from,
    or None for a path: whatever streams once rather than sits in a file."""
    if source in ("docker", "podman", "registry"):
        return source
    if source != "auto" or target == "-":
        return None
    path, _ = split_archive_ref(target)
    if os.path.exists(path):
        return None
    from layerscope.sources.registry_ref import looks_like_registry_ref

    if looks_like_registry_ref(target) and not _engine_has(target):
        return "registry"
    return "docker"


@functools.lru_cache(maxsize=16)  # asked by every step of one read: ask the engines once
def _engine_has(reference: str) -> bool:
    """Whether Docker's engine, or else Podman's, answers and has ``reference`` (auto's
    registry rule: Podman names its local images ``localhost/...``)."""
    from layerscope.sources.engine_query import connect, engine_layers

    for engine in ("docker", "podman"):
        try:
            client = connect(engine, 10.0)
        except SourceError:
            continue
        try:
            if engine_layers(client, reference) is not None:
                return True
        except Exception:  # an engine that fails to answer has nothing to offer
            continue
        finally:
            client.close()
    return False


def open_image(target: str, *, source: str = "auto", options: SourceOptions) -> Image:
    """Read the image named by ``target`` from the chosen source."""
    if source not in SOURCES:
        raise UsageError(f"unknown --source {source!r} (choose from {', '.join(SOURCES)})")
    engine = engine_of(target, source)
    from layerscope.gcpause import paused_gc

    with paused_gc():  # an image is a few hundred thousand acyclic tuples
        if engine == "registry":
            from layerscope.sources.registry import read_registry_image

            try:
                return read_registry_image(target, options=options)
            except SourceError as e:
                if source != "auto":
                    raise
                # auto chose the registry because no engine had the image: say both.
                raise SourceError(f"{e}; nor is it in the docker or podman engine") from None
        if engine is not None:
            from layerscope.sources.engine_read import read_engine

            image = read_engine(target, engine=engine, options=options, any_engine=source == "auto")
        elif target == "-":
            from layerscope.sources.stdin import read_stdin_image

            image = read_stdin_image(options=options)
        else:
            image = _read_path(target, "path" if source == "auto" else source, options)[0]
    _check_platform(image, options.platform, "stdin" if target == "-" else target)
    return image


def _check_platform(image: Image, platform: str | None, name: str) -> None:
    """``--platform`` on a single-platform source (an engine, a docker save,
    a manifest without an index) must name the image's own platform: a
    report of another one must not pass for it."""
    if platform is None or not image.os or not image.architecture:
        return
    from layerscope.sources.interface import parse_platform

    want = parse_platform(platform)
    if (image.os, image.architecture) != want[:2] or (want[2] and image.variant != want[2]):
        has = "/".join(p for p in (image.os, image.architecture, image.variant) if p)
        raise SourceError(f"{name}: platform {platform} not in the image (available: {has})")


def open_platform_images(target: str, *, source: str, options: SourceOptions) -> list[Image]:
    """``--all-platforms``: one image per platform of a multi-platform index
    (an archive is read once for all of them); one image for anything else."""
    if source not in SOURCES:
        raise UsageError(f"unknown --source {source!r} (choose from {', '.join(SOURCES)})")
    from layerscope.gcpause import paused_gc

    with paused_gc():
        if engine_of(target, source) is not None:
            return [open_image(target, source=source, options=options)]
        if target == "-":
            from layerscope.sources.stdin import read_stdin_images

            return read_stdin_images(options=options, all_platforms=True)
        return _read_path(
            target, "path" if source == "auto" else source, options, all_platforms=True
        )


def _read_path(
    target: str, source: str, options: SourceOptions, *, all_platforms: bool = False
) -> list[Image]:
    import dataclasses

    from layerscope.sources.archive import read_archive_platforms, read_archive_stream
    from layerscope.sources.oci import layout_platforms, read_layout
    from layerscope.tar.streams import FileStream

    path, ref = split_archive_ref(target)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file or directory") from None
    except OSError as e:
        raise SourceError(f"{path}: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        from layerscope.sources.dirlayout import dir_platforms, is_dir_layout, read_dir_layout

        as_dir = source == "dir" or (source != "oci" and is_dir_layout(path))
        read = read_dir_layout if as_dir else read_layout
        platforms: list[str | None] = [options.platform]
        if all_platforms:
            platforms = [*(dir_platforms(path) if as_dir else layout_platforms(path, ref))] or [
                options.platform
            ]
        return [
            read(path, reference=ref, options=dataclasses.replace(options, platform=p))
            for p in platforms
        ]
    if not stat.S_ISREG(st.st_mode):
        raise SourceError(f"{path}: not a regular file or directory (a FIFO or device?)")
    if source == "dir":
        raise SourceError(f"{path}: --source dir reads a directory (skopeo dir:), not a file")
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
        read_archive = read_archive_platforms if all_platforms else read_archive_stream
        found = read_archive(
            FileStream(f, name=path),
            name=path,
            reference=ref,
            source=None if source == "path" else source,
            options=options,
            fd=f.fileno(),
        )
        return found if isinstance(found, list) else [found]
