"""Images read straight from a registry over the OCI distribution API, no daemon.

The manifest (Docker v2 schema 2 or OCI; an index or manifest list picks a
platform as for any other source) and the config are fetched and checked
against their digests and size limits; then the layers stream into the
scanner a few at once, each checked against its digest as it passes and
never stored. Sizes from the descriptors become ``Layer.download_bytes``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from layerscope.errors import ArchiveError, LimitExceededError, SourceError
from layerscope.model import Image
from layerscope.sources.blob import scan_blob
from layerscope.sources.interface import (
    MAX_JSON_BYTES,
    Progress,
    ScannedBlob,
    SourceOptions,
    build_image,
    count_entries,
    parse_json,
)
from layerscope.sources.oci import INDEX_TYPES, choose_manifest
from layerscope.sources.registry_blob import BlobStream
from layerscope.sources.registry_client import RegistryClient
from layerscope.sources.registry_http import HttpStatusError, Transport
from layerscope.sources.registry_ref import parse_reference

MAX_MANIFEST_BYTES = 4 << 20  # what containers/image and the distribution spec allow
DOWNLOADS = 3  # layers downloaded and scanned at once
T = TypeVar("T")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
SCHEMA1_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)
ACCEPT = ", ".join((OCI_MANIFEST, DOCKER_MANIFEST, *sorted(INDEX_TYPES)))


@dataclasses.dataclass(frozen=True, slots=True)
class _Descriptor:
    digest: str
    size: int
    media_type: str


def read_registry_image(target: str, *, options: SourceOptions) -> Image:
    """The image ``target`` names, read from its registry."""
    return _with_client(target, options, _read)


def registry_diff_ids(target: str, *, options: SourceOptions) -> list[str]:
    """The layer diff_ids of ``target`` from its manifest and config only
    (``--base`` for a registry image: no layer is downloaded)."""

    def diff_ids(client: RegistryClient, _target: str, options: SourceOptions) -> list[str]:
        config = _resolve(client, options)[2]
        rootfs = config.get("rootfs") if isinstance(config, dict) else None
        ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
        return [str(x) for x in ids] if isinstance(ids, list) else []

    return _with_client(target, options, diff_ids)


def _with_client(
    target: str, options: SourceOptions, fn: Callable[[RegistryClient, str, SourceOptions], T]
) -> T:
    ref = parse_reference(target)
    transport = Transport(
        timeout=options.engine_timeout, insecure=frozenset(options.insecure_registries)
    )
    try:
        return fn(RegistryClient(ref, transport), target, options)
    except (OSError, http.client.HTTPException) as e:  # a transport error not met before
        raise SourceError(f"registry:{ref}: {type(e).__name__}: {e}") from None
    finally:
        transport.close()


def _resolve(
    client: RegistryClient, options: SourceOptions
) -> tuple[dict[str, Any], _Descriptor, Any]:
    """The platform's manifest, its config descriptor and the parsed config."""
    ref = client.ref
    name = f"registry:{ref}"
    top = _manifest(client, ref.wanted, ref.digest, name)
    if _is_index(top):
        manifest = choose_manifest(
            top, lambda digest: _manifest(client, digest, digest, name), options.platform, name
        )
    else:
        manifest = top
    if manifest.get("mediaType") in SCHEMA1_TYPES or manifest.get("schemaVersion") == 1:
        raise SourceError(f"{name}: a schema 1 manifest (deprecated; push the image again)")
    config_desc = _descriptor(manifest.get("config"), f"{name}: config")
    if config_desc.media_type and config_desc.media_type not in CONFIG_TYPES:
        raise SourceError(
            f"{name}: not a container image (its config is {config_desc.media_type[:80]})"
        )
    if config_desc.size > MAX_JSON_BYTES:
        raise LimitExceededError(f"{name}: image config is larger than {MAX_JSON_BYTES} bytes")
    config_bytes, _, _ = client.get_document(
        f"/v2/{ref.repository}/blobs/{config_desc.digest}",
        "*/*",
        MAX_JSON_BYTES,
        f"{name}: config {config_desc.digest}",
    )
    _check_digest(config_bytes, config_desc.digest, f"{name}: config")
    if len(config_bytes) != config_desc.size:
        raise ArchiveError(
            f"{name}: config is {len(config_bytes)} bytes, its descriptor says {config_desc.size}"
        )
    return manifest, config_desc, parse_json(config_bytes, f"{name}: config")


def _read(client: RegistryClient, target: str, options: SourceOptions) -> Image:
    name = f"registry:{client.ref}"
    manifest, config_desc, config = _resolve(client, options)
    raw_layers = manifest.get("layers")
    if not isinstance(raw_layers, list):
        raise ArchiveError(f"{name}: manifest has no layers list")
    if len(raw_layers) > options.max_layers:
        raise LimitExceededError(
            f"{name}: {len(raw_layers)} layers exceed {options.max_layers} (--limit max-layers=N)"
        )
    layers = [_descriptor(d, f"{name}: layer {i}") for i, d in enumerate(raw_layers)]
    blobs = _scan_layers(client, layers, name, options)
    image = build_image(
        reference=target,
        image_id=config_desc.digest,
        source="registry",
        config=config,
        blobs=blobs,
        blob_digests=[d.digest for d in layers],
        media_types=[d.media_type for d in layers],
        warnings=[],
        expected_blob_digests=[d.digest for d in layers],
    )
    sized = tuple(
        dataclasses.replace(layer, download_bytes=d.size)
        for layer, d in zip(image.layers, layers, strict=True)
    )
    return dataclasses.replace(image, layers=sized)


def _manifest(client: RegistryClient, wanted: str, digest: str, name: str) -> dict[str, Any]:
    """A manifest or index, by tag or digest, checked against ``digest`` (or
    the registry's Docker-Content-Digest when fetched by tag)."""
    what = f"{name}: manifest {wanted}"
    try:
        data, ctype, header_digest = client.get_document(
            f"/v2/{client.ref.repository}/manifests/{wanted}", ACCEPT, MAX_MANIFEST_BYTES, what
        )
    except HttpStatusError as e:
        if e.status == 404:
            raise SourceError(
                f"{name}: no manifest {wanted} in the registry (not pushed?)"
            ) from None
        raise
    claimed = digest or (header_digest if header_digest.startswith("sha256:") else "")
    if claimed:
        _check_digest(data, claimed, what)
    if ctype in SCHEMA1_TYPES:
        raise SourceError(f"{name}: a schema 1 manifest (deprecated; push the image again)")
    doc = parse_json(data, what)
    if not isinstance(doc, dict):
        raise ArchiveError(f"{what} is not a JSON object")
    if ctype and "mediaType" not in doc:
        doc["mediaType"] = ctype
    return doc


def _is_index(doc: dict[str, Any]) -> bool:
    return doc.get("mediaType") in INDEX_TYPES or (
        isinstance(doc.get("manifests"), list) and "layers" not in doc
    )


def _check_digest(data: bytes, digest: str, what: str) -> None:
    if not digest.startswith("sha256:"):
        raise ArchiveError(f"{what}: cannot check digest {digest[:80]!r} (only sha256)")
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ArchiveError(
            f"{what}: its bytes hash to {actual}, not {digest} (corrupt or tampered)"
        )


def _descriptor(raw: object, what: str) -> _Descriptor:
    if not isinstance(raw, dict):
        raise ArchiveError(f"{what}: no descriptor")
    digest, size, media = raw.get("digest"), raw.get("size"), raw.get("mediaType", "")
    if not isinstance(digest, str) or not digest.startswith("sha256:") or len(digest) != 71:
        raise ArchiveError(f"{what}: descriptor without a sha256 digest")
    if not all(c in "0123456789abcdef" for c in digest[7:]):
        raise ArchiveError(f"{what}: invalid digest {digest[:80]!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ArchiveError(f"{what}: descriptor without a valid size")
    return _Descriptor(digest, size, str(media))


def _scan_layers(
    client: RegistryClient, layers: list[_Descriptor], name: str, options: SourceOptions
) -> list[ScannedBlob]:
    stop = threading.Event()
    first_error: list[BaseException] = []  # what made the others stop
    lock = threading.Lock()

    def scan(index: int, desc: _Descriptor) -> ScannedBlob:
        what = f"{name}: layer {index} ({desc.digest[:19]})"
        stream = BlobStream(client, desc.digest, desc.size, what, stop)
        try:
            try:
                blob = scan_blob(stream, desc.size, what, options)
            except LimitExceededError:
                raise
            except ArchiveError:
                if stream.failure is not None:
                    raise stream.failure from None  # a download error a decompressor wrapped
                # Corrupt bytes usually fail to decompress before the digest
                # is known: when the digest differs, that is the real cause.
                stream.finish()
                raise
            stream.finish()
            return blob
        except BaseException as e:
            with lock:
                if not stop.is_set():
                    first_error.append(e)
                    stop.set()
            raise
        finally:
            stream.abandon()

    blobs: list[ScannedBlob] = []
    pool = ThreadPoolExecutor(min(DOWNLOADS, max(len(layers), 1)), "layerscope-pull")
    try:
        futures: list[Future[ScannedBlob]] = [pool.submit(scan, i, d) for i, d in enumerate(layers)]
        entries = done = 0
        for future in futures:
            try:
                blob = future.result()
            except BaseException:
                if first_error:
                    raise first_error[0] from None
                raise
            entries = count_entries(entries, blob, options, name)
            blobs.append(blob)
            done += blob.stored_bytes
            if options.progress is not None:
                options.progress(Progress(done, len(blobs), len(layers)))
    finally:
        stop.set()  # layers still downloading after an error give up at their next read
        pool.shutdown(wait=True, cancel_futures=True)
    return blobs
