"""OCI image layouts: index and manifest resolution (shared with archives),
and reading a layout directory on disk.

A directory layout is read blob by blob, each opened without following a
symlink out of the layout: a hostile layout cannot make layerscope read a
file elsewhere on the host.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable
from typing import Any, BinaryIO

from layerscope.errors import ArchiveError, LimitExceededError, SourceError
from layerscope.model import Image
from layerscope.sources.blob import BlobPool, in_order, scan_blob
from layerscope.sources.interface import (
    MAX_JSON_BYTES,
    Progress,
    ScannedBlob,
    SourceOptions,
    build_image,
    count_entries,
    host_platform,
    parse_json,
    parse_platform,
)
from layerscope.sources.jsonshape import OCI_DOCUMENT, check
from layerscope.tar.streams import FileStream

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MAX_INDEX_DEPTH = 4


def _platform_of(desc: dict[str, Any]) -> tuple[str, str, str] | None:
    p = desc.get("platform")
    if not isinstance(p, dict):
        return None
    return p.get("os") or "", p.get("architecture") or "", p.get("variant") or ""


def _image_descriptors(index: dict[str, Any]) -> list[dict[str, Any]]:
    """An index's descriptors that are images (attestations and signatures
    ride along in indexes: not images)."""
    return [
        d
        for d in index["manifests"]
        if isinstance(d, dict)
        and (d.get("annotations") or {}).get("vnd.docker.reference.type") != "attestation-manifest"
        and _platform_of(d) != ("unknown", "unknown", "")
    ]


def index_platforms(
    index: Any, get_json: Callable[[str], Any], name: str, depth: int = 0
) -> list[str]:
    """Every ``os/arch[/variant]`` an index (nested indexes too) offers, in
    its order; empty when its manifests name no platform (one image)."""
    if depth > MAX_INDEX_DEPTH:
        raise ArchiveError(f"{name}: index nesting deeper than {MAX_INDEX_DEPTH}")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        return []
    out: list[str] = []
    for d in _image_descriptors(index):
        if d.get("mediaType") in INDEX_TYPES:
            out += index_platforms(get_json(str(d.get("digest", ""))), get_json, name, depth + 1)
            continue
        p = _platform_of(d)
        if p is not None and p[0] and p[1]:
            out.append("/".join(x for x in p if x))
    return list(dict.fromkeys(out))


def choose_manifest(
    index: Any,
    get_json: Callable[[str], Any],
    platform: str | None,
    name: str,
    depth: int = 0,
) -> dict[str, Any]:
    """Follow an OCI index (nested indexes too) to one image manifest.

    ``get_json(digest)`` returns a parsed blob or None. With several
    platforms, ``platform`` (``os/arch[/variant]``) or else the host's decides.
    """
    if depth > MAX_INDEX_DEPTH:
        raise ArchiveError(f"{name}: index nesting deeper than {MAX_INDEX_DEPTH}")
    index = check(index, OCI_DOCUMENT, f"{name}: index" + (".json" if depth == 0 else ""))
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise ArchiveError(f"{name}: index.json has no manifests list")
    images = _image_descriptors(index)
    if not images:
        raise ArchiveError(f"{name}: index lists no image manifest")
    chosen = _pick_platform(images, platform, name)
    blob = get_json(chosen.get("digest", ""))
    if blob is None:
        raise ArchiveError(f"{name}: manifest {chosen.get('digest')} is missing from the archive")
    if not isinstance(blob, dict):
        raise ArchiveError(f"{name}: manifest {chosen.get('digest')} is not a JSON object")
    blob = dict(check(blob, OCI_DOCUMENT, f"{name}: manifest {chosen.get('digest')}"))
    if chosen.get("mediaType") in INDEX_TYPES or blob.get("mediaType") in INDEX_TYPES:
        return choose_manifest(blob, get_json, platform, name, depth + 1)
    return blob


REF_NAME = "org.opencontainers.image.ref.name"


def select_ref(index: Any, reference: str, name: str) -> tuple[Any, str]:
    """The index narrowed to the manifests tagged ``reference`` (their
    ``org.opencontainers.image.ref.name``: a full name as podman writes it,
    or a tag as skopeo and umoci do), and the name to report.

    Without ``reference``, several differently named images are narrowed to
    the first (and named); a layout whose manifests carry no names is left
    whole: its descriptors are platforms of one image.
    """
    # Checked by shape before its descriptors are read (choose_manifest checks it again).
    index = check(index, OCI_DOCUMENT, f"{name}: index.json")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        return index, reference
    descs = [d for d in index["manifests"] if isinstance(d, dict)]
    names = [str((d.get("annotations") or {}).get(REF_NAME) or "") for d in descs]
    named = sorted({n for n in names if n})
    if not named:
        return index, reference
    if reference:
        keep = [
            d
            for d, n in zip(descs, names, strict=True)
            if n and (n == reference or reference.endswith(":" + n) or n.endswith(":" + reference))
        ]
        if not keep:
            raise SourceError(
                f"{name}: no image named {reference!r} (it names: {', '.join(named)[:400]})"
            )
        return {**index, "manifests": keep}, reference
    first = next(n for n in names if n)
    keep = [d for d, n in zip(descs, names, strict=True) if n in ("", first)]
    return {**index, "manifests": keep}, first


def _pick_platform(descs: list[dict[str, Any]], platform: str | None, name: str) -> dict[str, Any]:
    with_platform = [(d, _platform_of(d)) for d in descs]
    if platform is not None:
        want = parse_platform(platform)
        for d, p in with_platform:
            if p is not None and p[:2] == want[:2] and (not want[2] or p[2] == want[2]):
                return d
        if all(p is None for _, p in with_platform) and len(descs) == 1:
            return descs[0]
        listed = ", ".join(sorted({"/".join(x for x in p if x) for _, p in with_platform if p}))
        raise SourceError(
            f"{name}: platform {platform} not in the image (available: {listed or 'none named'})"
        )
    if len(descs) == 1:
        return descs[0]
    host = host_platform()
    for d, p in with_platform:
        if p is not None and p[:2] == host[:2] and (not host[2] or p[2] == host[2]):
            return d
    for d, p in with_platform:
        if p is not None and p[:2] == host[:2]:
            return d
    listed = ", ".join(sorted({"/".join(x for x in p if x) for _, p in with_platform if p}))
    raise SourceError(
        f"{name}: no image for this host's platform {host[0]}/{host[1]}; "
        f"choose one with --platform (available: {listed})"
    )


def layer_descriptors(manifest: dict[str, Any], name: str) -> list[tuple[str, str]]:
    """``(digest, mediaType)`` of each layer in a manifest, in order."""
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise ArchiveError(f"{name}: manifest has no layers list")
    out = []
    for d in layers:
        if not isinstance(d, dict) or not isinstance(d.get("digest"), str):
            raise ArchiveError(f"{name}: manifest has a layer without a digest")
        out.append((d["digest"], d.get("mediaType") or ""))
    return out


def layer_sizes(manifest: dict[str, Any]) -> list[int | None]:
    """Each layer descriptor's ``size`` (what a pull transfers), None where absent."""
    layers = manifest.get("layers")
    out: list[int | None] = []
    for d in layers if isinstance(layers, list) else []:
        size = d.get("size") if isinstance(d, dict) else None
        ok = isinstance(size, int) and not isinstance(size, bool) and size >= 0
        out.append(size if ok else None)
    return out


class _Layout:
    """Blob access inside one OCI layout directory, never leaving it.

    Every path is resolved (symlinks included) and must stay under the
    layout's real root; the file is then opened without following a final
    symlink and without blocking (a FIFO planted as a blob would hang a
    plain ``open``), must be a regular file, and on Linux the opened file
    descriptor's own path is checked again, so a directory swapped for a
    symlink between the check and the open is caught too.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    kind = "layout"

    def blob_rel(self, alg: str, hexpart: str) -> str:
        """Where a blob lives, relative to the root (both parts alphanumeric)."""
        return os.path.join("blobs", alg, hexpart)

    def path(self, digest: str) -> str:
        alg, sep, hexpart = digest.partition(":")
        if not sep or not alg.isalnum() or not hexpart.isalnum():
            raise ArchiveError(f"{self.root}: invalid digest {digest[:80]!r}")
        return self._inside(self.blob_rel(alg, hexpart))

    def _inside(self, rel: str) -> str:
        full = os.path.realpath(os.path.join(self.root, rel))
        if not full.startswith(self.root + os.sep):
            raise ArchiveError(f"{self.root}: {rel} points outside the layout")
        return full

    def open(self, full: str, what: str) -> BinaryIO:
        """``full`` (a path from :meth:`_inside`) opened for reading.

        FileNotFoundError passes through; anything else is a SourceError.
        """
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(full, flags)
        except FileNotFoundError:
            raise
        except OSError as e:
            raise SourceError(f"{what}: cannot read: {e.strerror}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ArchiveError(f"{what} is not a regular file (a FIFO, device or directory?)")
            try:
                real = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                real = full  # no /proc: the realpath check above stands
            if not real.startswith(self.root + os.sep):
                raise ArchiveError(f"{what} points outside the layout")
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def read_json(self, rel: str, what: str) -> Any:
        full = self._inside(rel)
        try:
            f = self.open(full, what)
        except FileNotFoundError:
            return None
        with f:
            try:
                data = f.read(MAX_JSON_BYTES + 1)
            except OSError as e:
                raise SourceError(f"{what}: cannot read: {e.strerror}") from None
        if len(data) > MAX_JSON_BYTES:
            raise LimitExceededError(f"{what} is larger than {MAX_JSON_BYTES} bytes")
        return parse_json(data, what)

    def blob_json(self, digest: str) -> Any:
        alg, sep, hexpart = digest.partition(":") if isinstance(digest, str) else ("", "", "")
        if not sep or not alg.isalnum() or not hexpart.isalnum():
            return None  # not a digest: the caller reports it missing
        return self.read_json(self.blob_rel(alg, hexpart), f"{self.root}: blob {digest[:80]}")


def layout_platforms(root: str, reference: str) -> list[str]:
    """The platforms an OCI layout directory's index offers (see index_platforms)."""
    layout = _Layout(root)
    index = layout.read_json("index.json", f"{root}: index.json")
    index, _ = select_ref(index, reference, root)
    return index_platforms(index, layout.blob_json, root)


def read_layout(root: str, *, reference: str, options: SourceOptions) -> Image:
    """An image from an OCI layout directory."""
    layout = _Layout(root)
    index = layout.read_json("index.json", f"{root}: index.json")
    if index is None:
        raise SourceError(
            f"{root}: not an OCI layout (no index.json) nor a dir: layout (no manifest.json)"
        )
    index, ref_name = select_ref(index, reference, root)
    manifest = choose_manifest(index, layout.blob_json, options.platform, root)
    return image_from_manifest(
        layout,
        manifest,
        root=root,
        reference=reference or _full_name(ref_name) or os.path.basename(os.path.normpath(root)),
        source="oci",
        options=options,
    )


def _full_name(ref_name: str) -> str:
    """A ref.name that is a whole image name (podman's), not a bare tag."""
    return ref_name if "/" in ref_name else ""


def image_from_manifest(
    layout: _Layout,
    manifest: dict[str, Any],
    *,
    root: str,
    reference: str,
    source: str,
    options: SourceOptions,
) -> Image:
    """The image one manifest describes, its blobs read from ``layout``."""
    config_digest = (manifest.get("config") or {}).get("digest", "")
    config = layout.blob_json(config_digest) if isinstance(config_digest, str) else None
    if config is None:
        raise ArchiveError(f"{root}: image config {config_digest} is missing")
    descriptors = layer_descriptors(manifest, root)
    if len(descriptors) > options.max_layers:
        raise LimitExceededError(
            f"{root}: {len(descriptors)} layers exceed {options.max_layers} (--limit max-layers=N)"
        )

    def scan(digest: str) -> ScannedBlob:
        path = layout.path(digest)
        try:
            f = layout.open(path, f"{root}: layer {digest}")
        except FileNotFoundError:
            raise ArchiveError(
                f"{root}: layer {digest} is missing from the {layout.kind}"
            ) from None
        with f:
            size = os.fstat(f.fileno()).st_size
            return scan_blob(FileStream(f, name=digest), size, f"{root}: {digest}", options)

    blobs: list[ScannedBlob] = []
    done = 0
    # Layers are separate files: two at a time (decompression runs without the GIL).
    with BlobPool() as pool:
        results = [pool.submit(functools.partial(scan, digest)) for digest, _ in descriptors]
        entries = 0
        for blob in in_order(results):
            entries = count_entries(entries, blob, options, root)
            blobs.append(blob)
            done += blob.stored_bytes
            if options.progress is not None:
                options.progress(Progress(done, len(blobs), len(descriptors)))
    return build_image(
        reference=reference,
        image_id=config_digest,
        source=source,
        config=config,
        blobs=blobs,
        blob_digests=[d for d, _ in descriptors],
        media_types=[m for _, m in descriptors],
        warnings=[],
        expected_blob_digests=[d for d, _ in descriptors],
        download_sizes=layer_sizes(manifest),
    )
