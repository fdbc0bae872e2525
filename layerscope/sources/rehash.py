"""Content hashes for duplicate detection, at near-zero cost when there is
nothing to compare.

The duplicate rule compares visible regular files of the same size by
content (XXH3-128, see ``layerscan.content_digest``). Hashing runs at memory
speed; reading bytes that would otherwise be skipped is what costs. So the
first read hashes, of the files at or above the floor, those whose bytes it
reads anyway (``SourceOptions.digest_floor``):

* an engine export (a one-shot stream) and compressed layers: every file;
* uncompressed layers in an archive or layout, whose file data is skipped
  by position: files up to ``blob.CHEAP_DIGEST_BYTES``, which lie in the
  buffers the header walk reads.

Only if two or more visible files of one size remain with a file unhashed
is the image read again, hashing files of those sizes too. An image whose
larger files all differ in size is read once.

Only digests are kept, never file contents: memory stays bounded.
"""

from __future__ import annotations

import dataclasses
import operator
from collections import Counter

from layerscope.errors import SourceError
from layerscope.model import EntryType, Image
from layerscope.sources import engine_of, open_image, open_platform_images
from layerscope.sources.interface import SourceOptions
from layerscope.union import replay

# Files smaller than this are never compared; rules/duplicates.py uses the
# same floor (a test keeps the two equal without sources importing rules).
MIN_FILE_BYTES = 4096

__all__ = [
    "MIN_FILE_BYTES",
    "candidate_sizes",
    "open_image_with_digests",
    "open_platform_images_with_digests",
]


# Entry fields read in C: size, digest and type; size and type.
_SIZE_DIGEST_TYPE = operator.itemgetter(2, 8, 1)
_SIZE_TYPE = operator.itemgetter(2, 1)
_SIZE = operator.itemgetter(2)


def candidate_sizes(image: Image, floor: int = MIN_FILE_BYTES) -> frozenset[int]:
    """Sizes (>= ``floor``) shared by two or more visible regular files, at
    least one of which has no digest yet."""
    file_t = EntryType.FILE
    # Visible files are a subset of stored ones: when no unhashed file's size
    # is stored twice, no such visible pair exists, and the replay below is
    # not needed. Most files have a digest (or are below the floor): the
    # unhashed ones are picked out first, and only their sizes counted.
    unhashed: set[int] = set()
    for layer in image.layers:
        unhashed.update(
            size
            for size, digest, typ in map(_SIZE_DIGEST_TYPE, layer.entries)
            if digest is None and size >= floor and typ is file_t
        )
    if not unhashed:
        return frozenset()
    if len(unhashed) <= 16:
        # A bound counted in C: entries of any type with such a size (only
        # files have a size). No size stored twice: no pair, no replay.
        sizes = [list(map(_SIZE, layer.entries)) for layer in image.layers]
        if all(sum(layer.count(size) for layer in sizes) <= 1 for size in unhashed):
            return frozenset()
        del sizes
    stored: Counter[int] = Counter()
    for layer in image.layers:
        stored.update(
            size
            for size, typ in map(_SIZE_TYPE, layer.entries)
            if size in unhashed and typ is file_t
        )
    if not any(stored[size] > 1 for size in unhashed):
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
    hashed = dataclasses.replace(options, digest_floor=floor)
    first = open_image(target, source=source, options=hashed)
    if engine_of(target, source) is not None or target == "-":
        return first  # a stream: every file at or above the floor is hashed
    sizes = candidate_sizes(first, floor)
    if not sizes:
        return first
    digests = [layer.digest for layer in first.layers]
    del first  # the second read replaces it; never hold both
    second = open_image(
        target, source=source, options=dataclasses.replace(hashed, want_digest=sizes.__contains__)
    )
    if [layer.digest for layer in second.layers] != digests:
        raise SourceError(f"{target}: the image changed while it was read twice")
    return second


def open_platform_images_with_digests(
    target: str, *, source: str, options: SourceOptions, floor: int = MIN_FILE_BYTES
) -> list[Image]:
    """``--all-platforms``: :func:`open_image_with_digests` for each platform."""
    if floor <= 0:
        return open_platform_images(target, source=source, options=options)
    hashed = dataclasses.replace(options, digest_floor=floor)
    images = open_platform_images(target, source=source, options=hashed)
    if engine_of(target, source) is not None or target == "-":
        return images
    out = []
    for image in images:
        sizes = candidate_sizes(image, floor)
        if not sizes:
            out.append(image)
            continue
        platform = options.platform
        if len(images) > 1:
            platform = "/".join(p for p in (image.os, image.architecture, image.variant) if p)
        again = dataclasses.replace(hashed, want_digest=sizes.__contains__, platform=platform)
        second = open_image(target, source=source, options=again)
        if [layer.digest for layer in second.layers] != [layer.digest for layer in image.layers]:
            raise SourceError(f"{target}: the image changed while it was read twice")
        out.append(second)
    return out
