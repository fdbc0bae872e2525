"""What every source shares: options, progress reporting, building the Image
from a config blob and scanned layers."""

from __future__ import annotations

import json
import platform as _platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from layerscope.errors import ArchiveError, LimitExceededError, UsageError
from layerscope.history import match_layers
from layerscope.model import Image, ImageConfig, Layer
from layerscope.names import printable
from layerscope.sources.jsonshape import CONFIG, check
from layerscope.sources.layerscan import DigestFilter, LayerScan
from layerscope.tar.reader import DEFAULT_LIMITS, Limits
from layerscope.tar.streams import MAX_EXPANSION

MAX_JSON_BYTES = 16 << 20  # one manifest, index or config
MAX_JSON_TOTAL = 64 << 20  # all JSON members of one archive
# Parsed JSON costs far more than its text (``{}`` is 3 bytes, its dict 64):
# a document may hold at most this many objects, arrays and values.
MAX_JSON_VALUES = 1_000_000


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress event: bytes of input read, layers and entries scanned so far.

    ``layers_total`` is None while unknown (a ``docker save`` stream names its
    layers only at its end); ``entries_read`` is 0 where a source does not count.
    """

    bytes_read: int
    layers_done: int
    layers_total: int | None
    entries_read: int = 0
    via: str = ""  # for an engine image: "docker storage", "docker export"
    # One line for --verbose, once per read: which path an engine image is
    # read by and, for the export, why not the storage (sources/engine_read.py).
    note: str = ""


ProgressFn = Callable[[Progress], None]


# Seconds an engine may stay silent before we give up (--engine-timeout).
ENGINE_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to read an image, independent of where it comes from."""

    platform: str | None = None  # os/arch[/variant]
    limits: Limits = DEFAULT_LIMITS
    want_digest: DigestFilter | None = None
    # Content-hash regular files of at least this many bytes (0: none) where
    # it costs no extra read: every such file in a layer whose bytes are read
    # anyway (compressed, or streamed from an engine), and those up to
    # CHEAP_DIGEST_BYTES in a layer whose file data is otherwise skipped by
    # position. ``want_digest`` adds to that.
    digest_floor: int = 0
    progress: ProgressFn | None = None
    max_expansion: int = MAX_EXPANSION
    max_layers: int = 20_000
    # Entries of all layers together (about 400 bytes of memory each).
    max_entries: int = 4_000_000
    # Hash every layer's bytes and check them against the config's diff_ids
    # and the manifest's blob digests (a full read of every byte).
    verify_digests: bool = False
    engine_timeout: float = ENGINE_TIMEOUT
    # Registries reached over plain http (or TLS without certificate checks)
    # besides loopback ones, as ``host`` or ``host:port`` (--insecure-registry).
    insecure_registries: tuple[str, ...] = ()
    # auto: the engine's layer storage when readable, else its export
    # (sources/engine_read.py); storage or export forces one.
    engine_read: str = "auto"


@dataclass(frozen=True, slots=True)
class ScannedBlob:
    """A layer blob as read: its entries and sizes."""

    scan: LayerScan
    stored_bytes: int
    compression: str
    blob_sha256: str | None = None  # of the stored bytes, when verifying
    diff_sha256: str | None = None  # of the uncompressed tar, when verifying


def count_entries(total: int, blob: ScannedBlob, options: SourceOptions, name: str) -> int:
    """``total`` plus the blob's entries; refused past ``max_entries`` (memory)."""
    total += len(blob.scan.entries)
    if total > options.max_entries:
        raise LimitExceededError(
            f"{name}: more than {options.max_entries} entries in the image's layers "
            f"(--limit max-entries=N)"
        )
    return total


def parse_json(data: bytes, what: str) -> Any:
    """JSON from an archive member, or one clear error naming it."""
    values = data.count(b",") + data.count(b"{") + data.count(b"[")  # counts within strings too
    if values > MAX_JSON_VALUES:
        raise LimitExceededError(f"{what} holds more than {MAX_JSON_VALUES} JSON values")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # Go reads invalid UTF-8 in a string as U+FFFD
        text = data.decode("utf-8", "replace")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError:
        raise ArchiveError(f"{what} is not valid JSON") from None
    except RecursionError:
        raise ArchiveError(f"{what} nests JSON too deeply") from None


def _no_constant(name: str) -> Any:
    """NaN and Infinity are Python's extensions; Go's JSON has none."""
    raise ValueError(name)


def host_platform() -> tuple[str, str, str]:
    """(os, architecture, variant) of this machine in OCI terms."""
    machine = _platform.machine().lower()
    arch = {
        "x86_64": "amd64",
        "amd64": "amd64",
        "aarch64": "arm64",
        "arm64": "arm64",
        "armv7l": "arm",
        "i686": "386",
        "i386": "386",
        "ppc64le": "ppc64le",
        "s390x": "s390x",
        "riscv64": "riscv64",
    }.get(machine, machine)
    return "linux", arch, "v7" if machine == "armv7l" else ""


def parse_platform(text: str) -> tuple[str, str, str]:
    """``os/arch[/variant]`` -> parts; UsageError when malformed."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"--platform must be os/arch[/variant], got {text!r}")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def build_image(
    *,
    reference: str,
    image_id: str,
    source: str,
    config: dict[str, Any],
    blobs: Sequence[ScannedBlob],
    blob_digests: Sequence[str],
    media_types: Sequence[str],
    warnings: list[str],
    expected_blob_digests: Sequence[str | None] | None = None,
    download_sizes: Sequence[int | None] | None = None,
) -> Image:
    """Assemble the model from a parsed config and the scanned layer blobs.

    Blobs read with ``verify_digests`` are checked against the config's
    diff_ids and ``expected_blob_digests`` (the content addresses the
    manifest used, None where it named a blob by another kind of name).
    ``download_sizes``: what the manifest says each blob weighs (None where
    it says nothing); a blob stored at another length is reported and its
    stored length used.
    """
    if not isinstance(config, dict):
        raise ArchiveError("image config is not a JSON object")
    config = check(config, CONFIG, "image config")
    rootfs = config.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list):
        diff_ids = []
    if diff_ids and len(diff_ids) != len(blobs):
        warnings.append(
            f"config lists {len(diff_ids)} diff_ids but the manifest {len(blobs)} layers"
        )
    raw_history = config.get("history")
    if not isinstance(raw_history, list):
        raw_history = []
    raw_history = [h for h in raw_history if isinstance(h, dict)]
    history, pairing, notes = match_layers(raw_history, len(blobs))
    warnings.extend(notes)
    layers = []
    for i, blob in enumerate(blobs):
        if not blob.scan.terminated:
            warnings.append(
                f"layer {i} ({blob_digests[i][:19]}) ends without the tar end-of-archive "
                f"marker: it may be truncated (--verify-digests checks it)"
            )
        diff_id = diff_ids[i] if i < len(diff_ids) and isinstance(diff_ids[i], str) else ""
        if blob.diff_sha256 is not None:
            expected = expected_blob_digests[i] if expected_blob_digests is not None else None
            _verify(i, blob, diff_id, expected, warnings)
        download = download_sizes[i] if download_sizes is not None else None
        if download is not None and download != blob.stored_bytes:
            warnings.append(
                f"layer {i} ({blob_digests[i][:19]}): the manifest says {download} bytes, "
                f"the blob holds {blob.stored_bytes}"
            )
            download = blob.stored_bytes
        layers.append(
            Layer(
                index=i,
                digest=printable(diff_id or blob_digests[i]),
                entries=blob.scan.entries,
                size_bytes=blob.scan.size_bytes,
                compressed_bytes=blob.stored_bytes,
                blob_digest=printable(blob_digests[i]),
                media_type=printable(media_types[i]),
                history_index=pairing[i],
                download_bytes=download,
            )
        )
    cfg = config.get("config") or {}
    if not isinstance(cfg, dict):
        cfg = {}
    return Image(
        reference=reference,
        id=printable(image_id),
        source=source,
        # Identifiers, not names: shown escaped everywhere (a config is
        # attacker-written; reports print these fields as they are).
        os=printable(str(config.get("os") or "")),
        architecture=printable(str(config.get("architecture") or "")),
        variant=printable(str(config.get("variant") or "")),
        layers=tuple(layers),
        history=tuple(history),
        config=_runtime_config(cfg),
        warnings=tuple(warnings),
    )


def _verify(
    index: int, blob: ScannedBlob, diff_id: str, blob_digest: str | None, warnings: list[str]
) -> None:
    """Compare a verified blob's hashes with what the image claims."""
    checked = 0
    for what, claimed, actual in (
        ("the config's diff_id", diff_id, blob.diff_sha256),
        ("the manifest's blob digest", blob_digest, blob.blob_sha256),
    ):
        if not claimed:
            continue
        if not claimed.startswith("sha256:"):
            warnings.append(f"layer {index}: cannot verify {what} {claimed[:80]!r} (not sha256)")
            continue
        checked += 1
        if claimed != actual:
            raise ArchiveError(
                f"layer {index} does not match its digest: the content hashes to {actual}, "
                f"{what} is {claimed[:80]} (a corrupt or tampered layer)"
            )
    if not checked:
        warnings.append(f"layer {index}: no sha256 digest to verify it against")


def _strings(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return None


def _runtime_config(cfg: dict[str, Any]) -> ImageConfig:
    labels = cfg.get("Labels") or {}
    volumes = cfg.get("Volumes") or {}
    return ImageConfig(
        env=_strings(cfg.get("Env")) or (),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items()))
        if isinstance(labels, dict)
        else (),
        entrypoint=_strings(cfg.get("Entrypoint")),
        cmd=_strings(cfg.get("Cmd")),
        user=str(cfg.get("User") or ""),
        workdir=str(cfg.get("WorkingDir") or ""),
        volumes=tuple(sorted(str(v) for v in volumes)) if isinstance(volumes, dict) else (),
    )
