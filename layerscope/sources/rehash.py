"""Content hashes for duplicate detection, at near-zero cost when there is
nothing to compare.

The duplicate rule compares visible regular files of the same size by
content. Hashing every file would cost a pass over every byte, so:

* archives and OCI layouts (re-readable) are read once without hashing; if
  two or more visible files above the floor share a size, the image is read
  again hashing only files of those sizes. An image where no two such files
  share a size is read once and nothing is hashed.
* an engine export is a one-shot stream: there, every regular file above
  the floor is hashed during the single pass.

Only digests are kept, never file contents: memory stays bounded.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from layerscope.errors import SourceError
from layerscope.model import EntryType, Image
from layerscope.sources import SourceOptions, engine_of, open_image
from layerscope.union import replay

# Files smaller than this are never compared; rules/duplicates.py uses the
# same floor (a test keeps the two equal without sources importing rules).
MIN_FILE_BYTES = 4096

__all__ = ["MIN_FILE_BYTES", "candidate_sizes", "open_image_with_digests"]


def candidate_sizes(image: Image, floor: int = MIN_FILE_BYTES) -> frozenset[int]:
    """Sizes (>= ``floor``) shared by two or more visible regular files, at
    least one of which has no digest yet."""
    file_t = EntryType.FILE
    # Visible files are a subset of stored ones: when no stored size repeats,
    # no visible size can, and the replay below is not needed.
    stored = Counter(
        e.size
        for layer in image.layers
        for e in layer.entries
        if e.type is file_t and e.size >= floor
    )
    if not any(n > 1 for n in stored.values()):
        return frozenset()
    union = replay(layer.entries for layer in image.layers)
    counts: Counter[int] = Counter()
    missing: set[int] = set()
    for _, entry in union.final.values():
        if entry.type is file_t and entry.size >= floor:
            counts[entry.size] += 1
            if entry.digest is None:
                missing.add(entry.size)
    return frozenset(size for size in missing if counts[size] > 1)


def open_image_with_digests(
    target: str, *, source: str, options: SourceOptions, floor: int = MIN_FILE_BYTES
) -> Image:
    """``open_image`` with content digests on every duplicate candidate.

    ``floor`` is the smallest file size compared; ``floor <= 0`` turns
    hashing off (the image is read once, as ``open_image`` does).
    """
    if floor <= 0:
        return open_image(target, source=source, options=options)
    if engine_of(target, source) is not None:
        hashed = dataclasses.replace(options, want_digest=lambda size: size >= floor)
        return open_image(target, source=source, options=hashed)
    first = open_image(target, source=source, options=options)
    sizes = candidate_sizes(first, floor)
    if not sizes:
        return first
    digests = [layer.digest for layer in first.layers]
    del first  # the second read replaces it; never hold both
    second = open_image(
        target, source=source, options=dataclasses.replace(options, want_digest=sizes.__contains__)
    )
    if [layer.digest for layer in second.layers] != digests:
        raise SourceError(f"{target}: the image changed while it was read twice")
    return second
