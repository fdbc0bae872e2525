"""Scanning one layer blob, whatever its compression."""

from __future__ import annotations

from layerscope.layerscan import LayerScan, scan_layer
from layerscope.sources.interface import ScannedBlob, SourceOptions
from layerscope.streams import ByteStream, open_decompressed


def scan_blob(stream: ByteStream, stored: int, name: str, options: SourceOptions) -> ScannedBlob:
    """Scan a layer blob of ``stored`` bytes; sizes are exact either way."""
    kinds: list[str] = []
    plain = open_decompressed(
        stream, name=name, max_ratio=options.max_expansion, on_kind=kinds.append
    )
    compressed = kinds[0] != "none"
    scan = scan_layer(
        plain,
        name=name,
        limits=options.limits,
        want_digest=options.want_digest,
        measure=compressed,  # an uncompressed blob's length is its stored size
    )
    if not compressed:
        scan = LayerScan(scan.entries, stored, scan.skipped)
    return ScannedBlob(scan, stored, kinds[0])
