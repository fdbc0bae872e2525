"""Image archives read as one forward stream: ``docker save`` (legacy and
Docker 25+ OCI-style layouts), ``oci-archive`` tars, and either of them
gzip- or zstd-compressed.

The archive is walked once. Small JSON members are kept; every layer blob is
scanned as it passes (never extracted, never written anywhere); the manifest,
which ``docker save`` writes last, then says which blobs make the image. The
same walk serves a file on disk (data skipped by seeking) and the engine's
export stream (data discarded as it arrives).
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from layerscope.errors import ArchiveError, LayerscopeError, LimitExceededError
from layerscope.model import Image
from layerscope.sources.blob import BlobPool, FileWindow, scan_blob, submit_scan
from layerscope.sources.interface import (
    MAX_JSON_BYTES,
    MAX_JSON_TOTAL,
    Progress,
    ScannedBlob,
    SourceOptions,
    build_image,
    count_entries,
    parse_json,
)
from layerscope.sources.jsonshape import DOCKER_MANIFEST, check
from layerscope.sources.layerscan import normalize
from layerscope.sources.oci import (
    choose_manifest,
    index_platforms,
    layer_descriptors,
    layer_sizes,
    select_ref,
)
from layerscope.tar.reader import TarReader
from layerscope.tar.streams import ByteStream, Prefixed, discard, open_decompressed, sniff

_JSON_NAMES = frozenset({"manifest.json", "index.json", "oci-layout", "repositories"})
_TAR_MAGIC_OFFSET = 257


class _Documents:
    """The archive's JSON members, kept as bytes and parsed only when the
    manifest needs them: a few MB of ``[{},{},...]`` parse into gigabytes,
    and an archive may hold any number of JSON members nobody asked for."""

    def __init__(self) -> None:
        self._raw: dict[str, tuple[bytes, str]] = {}
        self._parsed: dict[str, Any] = {}
        self.total = 0

    def add(self, path: str, data: bytes, what: str) -> None:
        self.total += len(data)
        if self.total > MAX_JSON_TOTAL:
            raise LimitExceededError(f"{what}: JSON members exceed {MAX_JSON_TOTAL} bytes in all")
        self._raw[path] = (data, what)
        self._parsed.pop(path, None)

    def __contains__(self, path: object) -> bool:
        return path in self._raw

    def get(self, path: str) -> Any:
        """The parsed document at ``path``, or None."""
        if path not in self._parsed:
            if path not in self._raw:
                return None
            data, what = self._raw[path]
            self._parsed[path] = parse_json(data, what)
        return self._parsed[path]

    def __getitem__(self, path: str) -> Any:
        if path not in self._raw:
            raise KeyError(path)
        return self.get(path)


@dataclass(slots=True)
class _Walk:
    """What one pass over the outer archive collected."""

    jsons: _Documents = field(default_factory=_Documents)
    blobs: dict[str, ScannedBlob] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)
    unreadable: set[str] = field(default_factory=set)
    ended: bool = False  # the end-of-archive marker was read: every member is whole


def _safe_name(name: object, what: str) -> str:
    """A path named by a manifest, as an archive key; refuses escapes."""
    if not isinstance(name, str) or not name:
        raise ArchiveError(f"{what} names no path")
    if name.startswith("/") or ".." in name.split("/"):
        raise ArchiveError(f"{what} points outside the archive: {name!r}")
    return normalize(name)


def _is_blob_path(path: str) -> bool:
    # containers/image's docker-archive (podman save, skopeo) stores each layer
    # at the top as ``<hex>.tar``; ``<id>/layer.tar`` is then a symlink to it.
    return (
        path.endswith("/layer.tar")
        or path == "layer.tar"
        or path.startswith("blobs/")
        or ("/" not in path and path.endswith(".tar"))
    )


def _looks_like_json(head: bytes) -> bool:
    """A JSON document may start with whitespace (pretty-printed)."""
    text = head.lstrip(b" \t\r\n")
    return text[:1] in (b"{", b"[") or (len(head) == 512 and not text)


def _looks_like_layer(head: bytes) -> bool:
    if sniff(head) != "none":  # gzip, zstd (a skippable frame first too)
        return True
    if head.count(0) == len(head):  # empty, or an empty tar's zero blocks
        return True
    return head[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] == b"ustar"


def walk_archive(
    stream: ByteStream, name: str, options: SourceOptions, *, fd: int | None = None
) -> _Walk:
    """One pass over an image archive stream.

    ``fd``: the stream is this file, uncompressed, from offset 0. Layers are
    then read through windows on the file (no copying through the archive
    reader) and layers are scanned two at a time (decompression, and the
    reads of an uncompressed layer, run without the GIL).
    """
    with BlobPool() as pool:
        return _walk(stream, name, options, fd, pool)


def _walk(
    stream: ByteStream, name: str, options: SourceOptions, fd: int | None, pool: BlobPool
) -> _Walk:
    walk = _Walk()
    pending: dict[str, Callable[[], ScannedBlob]] = {}
    reader = TarReader(stream, name=name, limits=options.limits)
    stored: set[str] = set()  # paths of non-directory members seen
    entries = 0  # in all layers scanned so far
    for m in reader:
        if m.type == ord("g"):  # a pax global header: an entry that names no file
            continue
        path = normalize(m.name)
        walk.members.add(path)
        if m.type != ord("5"):
            if path in stored:
                # Which copy is the image? A reader that kept the first and one
                # that kept the last would analyze different images: refuse.
                raise ArchiveError(f"{name}: {path!r} appears twice in the archive")
            stored.add(path)
        if m.type in (ord("1"), ord("2")):
            target = m.linkname
            if m.type == ord("2"):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
            walk.links[path] = normalize(target)
            continue
        if not m.is_regular:
            continue
        if _is_blob_path(path):
            if len(walk.blobs) + len(pending) >= options.max_layers:
                raise LimitExceededError(
                    f"{name}: more than {options.max_layers} blobs (--limit max-layers=N)"
                )
            data: ByteStream
            if fd is not None:
                # A window reads in place; peeking leaves it whole for the scan.
                window = FileWindow(fd, reader.consumed, m.size, name)
                head = window.peek(min(m.size, 512))
                data = window
            else:
                data = reader.data_stream()
                head = data.read(min(m.size, 512))
                data = Prefixed(head, data)
            if _looks_like_json(head) and m.size <= MAX_JSON_BYTES:
                walk.jsons.add(path, data.read(m.size), f"{name}: {path}")
                continue
            if not _looks_like_layer(head):
                walk.unreadable.add(path)  # an error only if the manifest needs it
                continue
            blob_name = f"{name}: {path}"
            if isinstance(data, FileWindow):
                pending[path] = submit_scan(pool, data, m.size, blob_name, options)
                while len(pending) > pool.width:  # collect in order: bounded memory, progress
                    entries = _collect(walk, pending, entries, reader.consumed, options, name)
                continue
            pending[path] = functools.partial(scan_blob, data, m.size, blob_name, options)
            entries = _collect(walk, pending, entries, reader.consumed, options, name)
        elif path in _JSON_NAMES or path.endswith(".json") or path.endswith("/json"):
            if m.size > MAX_JSON_BYTES:
                raise LimitExceededError(f"{name}: {path} is larger than {MAX_JSON_BYTES} bytes")
            walk.jsons.add(path, reader.read_data(MAX_JSON_BYTES), f"{name}: {path}")
    while pending:
        entries = _collect(walk, pending, entries, reader.consumed, options, name)
    if not walk.members:
        raise ArchiveError(f"{name}: empty archive")
    walk.ended = reader.terminated
    return walk


def _collect(
    walk: _Walk,
    pending: dict[str, Callable[[], ScannedBlob]],
    entries: int,
    consumed: int,
    options: SourceOptions,
    name: str,
) -> int:
    """Wait for the oldest pending layer scan and record it; returns the
    entries counted so far (checked against the limit)."""
    path = next(iter(pending))
    walk.blobs[path] = pending.pop(path)()
    entries = count_entries(entries, walk.blobs[path], options, name)
    if options.progress is not None:
        options.progress(Progress(consumed, len(walk.blobs), None, entries))
    return entries


def _resolve(walk: _Walk, path: str, what: str) -> str:
    seen = 0
    while path in walk.links:
        path = walk.links[path]
        seen += 1
        if seen > 40:
            raise ArchiveError(f"{what}: link loop at {path!r}")
    if path.startswith("../") or path == "..":
        raise ArchiveError(f"{what}: link points outside the archive")
    return path


def image_from_walk(
    walk: _Walk, *, name: str, reference: str, source: str | None, options: SourceOptions
) -> Image:
    """``source`` None: named after the layout found (docker-archive or oci)."""
    """Assemble the image a walk's manifest describes."""
    warnings: list[str] = []
    manifest_path = "manifest.json"
    if manifest_path in walk.links:  # the classic `docker load` follows it
        manifest_path = _resolve(walk, manifest_path, name)
        warnings.append(
            f"{name}: manifest.json is a link to {manifest_path[:80]!r}: read through the "
            "link, as the classic `docker load` reads it"
        )
    manifest = walk.jsons.get(manifest_path)
    if manifest is not None:
        manifest = check(manifest, DOCKER_MANIFEST, f"{name}: manifest.json")
        if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
            raise ArchiveError(f"{name}: manifest.json is not a list of images")
        entry = _pick_docker_entry(manifest, reference, name, warnings)
        config_path = _safe_name(entry.get("Config"), f"{name}: manifest.json Config")
        layer_paths = entry.get("Layers")
        if not isinstance(layer_paths, list):
            raise ArchiveError(f"{name}: manifest.json has no Layers list")
        layer_paths = [_safe_name(p, f"{name}: manifest.json layer") for p in layer_paths]
        tags = entry.get("RepoTags") or []
        ref = reference or (tags[0] if tags and isinstance(tags[0], str) else "")
        descriptors = [("", "") for _ in layer_paths]
        sizes: list[int | None] | None = None  # the manifest names no sizes
        source = source or "docker-archive"
        if "index.json" in walk.jsons:
            _compare_index(walk, name, options, config_path, layer_paths, warnings)
    elif "index.json" in walk.jsons:
        index, ref_name = select_ref(walk.jsons["index.json"], reference, name)
        man = choose_manifest(
            index,
            lambda digest: walk.jsons.get(_blob_path(digest, name)),
            options.platform,
            name,
        )
        config_digest = (man.get("config") or {}).get("digest")
        config_path = _blob_path(config_digest, name)
        descriptors = layer_descriptors(man, name)
        sizes = layer_sizes(man)
        layer_paths = [_blob_path(d, name) for d, _ in descriptors]
        ref = reference or (ref_name if "/" in ref_name else "")
        source = source or "oci"
    else:
        raise ArchiveError(f"{name}: not an image archive (no manifest.json or index.json)")
    if len(layer_paths) > options.max_layers:
        raise LimitExceededError(
            f"{name}: {len(layer_paths)} layers exceed {options.max_layers} (--limit max-layers=N)"
        )
    config_path = _resolve(walk, config_path, name)
    config = walk.jsons.get(config_path)
    if config is None:
        raise ArchiveError(f"{name}: image config {config_path} is missing from the archive")
    blobs = []
    addressed: list[str | None] = []  # content addresses, for --verify-digests
    for p, (desc_digest, _) in zip(layer_paths, descriptors, strict=True):
        real = _resolve(walk, p, name)
        addressed.append(desc_digest or (_digest_of(real) if real.startswith("blobs/") else None))
        blob = walk.blobs.get(real)
        if blob is None and real in walk.jsons:
            raise ArchiveError(f"{name}: layer {p} is JSON, not a layer tar")
        if blob is None and real in walk.unreadable:
            raise ArchiveError(f"{name}: layer {p} is neither a tar nor gzip/zstd data")
        if blob is None:
            raise ArchiveError(f"{name}: layer {p} is missing from the archive")
        blobs.append(blob)
    digests = [d or _digest_of(p) for p, (d, _) in zip(layer_paths, descriptors, strict=True)]
    media = [
        mt or ("tar" if b.compression == "none" else f"tar+{b.compression}")
        for b, (_, mt) in zip(blobs, descriptors, strict=True)
    ]
    if sizes is None:  # a compressed blob's length is what a pull of it transfers
        sizes = [None if b.compression == "none" else b.stored_bytes for b in blobs]
    image_id = _digest_of(config_path)
    return build_image(
        reference=ref,
        image_id=image_id,
        source=source,
        config=config,
        blobs=blobs,
        blob_digests=digests,
        media_types=media,
        warnings=warnings,
        expected_blob_digests=addressed,
        download_sizes=sizes,
    )


def _compare_index(
    walk: _Walk,
    name: str,
    options: SourceOptions,
    config_path: str,
    layer_paths: list[str],
    warnings: list[str],
) -> None:
    """Docker 25+ writes both index.json and manifest.json. The classic image
    store loads manifest.json's image, the containerd store index.json's: say
    so when they differ (the caller analyzes manifest.json's)."""
    said = "analyzing manifest.json's image, the one the classic `docker load` loads"
    try:
        man = choose_manifest(
            walk.jsons["index.json"],
            lambda digest: walk.jsons.get(_blob_path(digest, name)),
            options.platform,
            name,
        )
        index_config = _resolve(
            walk, _blob_path((man.get("config") or {}).get("digest"), name), name
        )
        index_layers = [
            _resolve(walk, _blob_path(d, name), name) for d, _ in layer_descriptors(man, name)
        ]
    except LayerscopeError as e:
        warnings.append(f"{name}: index.json names no readable image ({e}): {said}")
        return
    ours = [_resolve(walk, p, name) for p in layer_paths]
    if index_config != _resolve(walk, config_path, name) or index_layers != ours:
        warnings.append(
            f"{name}: index.json and manifest.json name different images (configs "
            f"{_digest_of(index_config)[:19]} and {_digest_of(config_path)[:19]}): {said}; "
            "the containerd image store loads index.json's"
        )


def _pick_docker_entry(
    manifest: list[Any], reference: str, name: str, warnings: list[str]
) -> dict[str, Any]:
    entries = [e for e in manifest if isinstance(e, dict)]
    if reference:
        for e in entries:
            if reference in (e.get("RepoTags") or []):
                return e
    if len(entries) > 1:
        warnings.append(f"{name} holds {len(entries)} images; analyzing the first")
    return entries[0]


def _blob_path(digest: object, name: str) -> str:
    if not isinstance(digest, str) or ":" not in digest:
        raise ArchiveError(f"{name}: invalid digest {digest!r}")
    alg, _, hexpart = digest.partition(":")
    if not alg.isalnum() or not hexpart.isalnum():
        raise ArchiveError(f"{name}: invalid digest {digest[:80]!r}")
    return f"blobs/{alg}/{hexpart}"


def _digest_of(path: str) -> str:
    """``sha256:<hex>`` from a blob path or a legacy ``<hex>.json`` name."""
    if path.startswith("blobs/"):
        parts = path.split("/")
        if len(parts) == 3:
            return f"{parts[1]}:{parts[2]}"
    base = posixpath.basename(path)
    if base == "layer.tar":
        base = posixpath.basename(posixpath.dirname(path))
    base = base.removesuffix(".json").removesuffix(".tar")
    return f"sha256:{base}" if len(base) == 64 else base


def read_archive_stream(
    stream: ByteStream,
    *,
    name: str,
    reference: str,
    source: str | None,
    options: SourceOptions,
    fd: int | None = None,
) -> Image:
    """An image from an archive stream, compressed or not. ``fd``: the stream
    reads this regular file from offset 0 (layers are then read in place)."""
    return read_archive_until_end(
        stream, name=name, reference=reference, source=source, options=options, fd=fd
    )[0]


def read_archive_until_end(
    stream: ByteStream,
    *,
    name: str,
    reference: str,
    source: str | None,
    options: SourceOptions,
    fd: int | None = None,
) -> tuple[Image, bool]:
    """:func:`read_archive_stream`, and whether the tar's end-of-archive
    marker was read. Reading stops there: whatever a stream sends after the
    marker (padding, a transfer's end) is not read."""
    kinds: list[str] = []
    plain = open_decompressed(
        stream, name=name, max_ratio=options.max_expansion, on_kind=kinds.append
    )
    walk = walk_archive(plain, name, options, fd=fd if kinds[0] == "none" else None)
    image = image_from_walk(walk, name=name, reference=reference, source=source, options=options)
    if kinds[0] != "none":
        discard_rest(plain)
    return image, walk.ended


def read_archive_platforms(
    stream: ByteStream,
    *,
    name: str,
    reference: str,
    source: str | None,
    options: SourceOptions,
    fd: int | None = None,
) -> list[Image]:
    """Every platform's image in an archive, from one pass over it (the walk
    scans every blob; each platform's manifest then picks its own). An
    archive without a multi-platform index gives its one image."""
    import dataclasses

    kinds: list[str] = []
    plain = open_decompressed(
        stream, name=name, max_ratio=options.max_expansion, on_kind=kinds.append
    )
    walk = walk_archive(plain, name, options, fd=fd if kinds[0] == "none" else None)
    platforms: list[str] = []
    if "manifest.json" not in walk.jsons and "index.json" in walk.jsons:
        index, _ = select_ref(walk.jsons["index.json"], reference, name)
        platforms = index_platforms(index, lambda d: walk.jsons.get(_blob_path(d, name)), name)
    wanted: list[str | None] = [*platforms] or [options.platform]
    images = [
        image_from_walk(
            walk,
            name=name,
            reference=reference,
            source=source,
            options=dataclasses.replace(options, platform=p),
        )
        for p in wanted
    ]
    if kinds[0] != "none":
        discard_rest(plain)
    return images


def discard_rest(stream: ByteStream) -> None:
    """Drain a stream (so a compressed archive's integrity check runs)."""
    while stream.read(1 << 20):
        pass


__all__ = ["discard", "read_archive_stream", "walk_archive"]
