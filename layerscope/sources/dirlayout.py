"""``dir:`` layouts: what ``skopeo copy ... dir:PATH`` and ``podman save
--format docker-dir`` write.

``manifest.json`` (Docker schema 2 or OCI) beside the blobs, each named by
its digest's hex (``<alg>-<hex>`` for another algorithm than sha256) and a
``version`` file. A manifest list copied with ``--all`` is ``manifest.json``
too, its instances ``<hex>.manifest.json``. Blobs are opened the way an OCI
layout's are: never through a symlink out of the directory.
"""

from __future__ import annotations

import os

from layerscope.errors import ArchiveError, SourceError
from layerscope.model import Image
from layerscope.sources.interface import SourceOptions
from layerscope.sources.oci import (
    INDEX_TYPES,
    _Layout,
    choose_manifest,
    image_from_manifest,
)

VERSION_PREFIX = "Directory Transport Version:"


class _DirLayout(_Layout):
    kind = "directory"

    def blob_rel(self, alg: str, hexpart: str) -> str:
        return hexpart if alg == "sha256" else f"{alg}-{hexpart}"

    def instance_json(self, digest: str) -> object:
        """A manifest list's instance: ``<hex>.manifest.json``."""
        alg, sep, hexpart = digest.partition(":") if isinstance(digest, str) else ("", "", "")
        if not sep or not alg.isalnum() or not hexpart.isalnum():
            return None
        rel = self.blob_rel(alg, hexpart) + ".manifest.json"
        return self.read_json(rel, f"{self.root}: manifest {digest[:80]}")


def is_dir_layout(root: str) -> bool:
    """A directory with ``manifest.json`` and no ``index.json``."""
    return os.path.isfile(os.path.join(root, "manifest.json")) and not os.path.exists(
        os.path.join(root, "index.json")
    )


def read_dir_layout(root: str, *, reference: str, options: SourceOptions) -> Image:
    """An image from a ``dir:`` layout directory."""
    layout = _DirLayout(root)
    manifest = layout.read_json("manifest.json", f"{root}: manifest.json")
    if manifest is None:
        raise SourceError(f"{root}: not a dir: layout (no manifest.json)")
    if isinstance(manifest, list):
        raise SourceError(
            f"{root}: an unpacked docker save archive, not a dir: layout; pass the .tar itself"
        )
    if not isinstance(manifest, dict):
        raise ArchiveError(f"{root}: manifest.json is not a JSON object")
    if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
        manifest = choose_manifest(manifest, layout.instance_json, options.platform, root)
    elif manifest.get("schemaVersion") == 1:
        raise SourceError(f"{root}: a Docker schema 1 manifest (convert it: skopeo copy)")
    return image_from_manifest(
        layout,
        manifest,
        root=root,
        reference=reference or os.path.basename(os.path.normpath(root)),
        source="dir",
        options=options,
    )


def dir_platforms(root: str) -> list[str]:
    """The platforms a ``dir:`` copy of a manifest list offers (else none)."""
    from layerscope.sources.oci import index_platforms

    layout = _DirLayout(root)
    manifest = layout.read_json("manifest.json", f"{root}: manifest.json")
    if not isinstance(manifest, dict) or "manifests" not in manifest:
        return []
    return index_platforms(manifest, layout.instance_json, root)
