"""``--limit NAME=N``: the resource bounds for hostile input, by name.

The names are the fields of :class:`layerscope.tar.reader.Limits` (per tar
stream) plus ``max-layers`` (per image). docs/security.md lists them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from layerscope.errors import UsageError
from layerscope.sources.interface import SourceOptions

LIMIT_NAMES = (
    "max-entries",
    "max-members",
    "max-path-bytes",
    "max-header-bytes",
    "max-file-bytes",
    "max-meta-bytes",
    "max-layers",
)
_IMAGE_WIDE = ("max-entries", "max-layers")  # SourceOptions fields; the rest are Limits'
_SUFFIX = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def limit_defaults() -> dict[str, int]:
    """Each limit's default value."""
    options = SourceOptions()
    return {
        name: getattr(options if name in _IMAGE_WIDE else options.limits, name.replace("-", "_"))
        for name in LIMIT_NAMES
    }


def with_limits(options: SourceOptions, items: Sequence[str]) -> SourceOptions:
    """``options`` with each ``NAME=N`` applied (N may end in K, M, G, T, P)."""
    limits = options.limits
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in LIMIT_NAMES:
            raise UsageError(f"--limit {item!r}: use NAME=N, NAME one of {', '.join(LIMIT_NAMES)}")
        text = text.strip().upper().removesuffix("B")
        scale = _SUFFIX.get(text[-1:], 1)
        try:
            value = int(text[:-1] if scale > 1 else text) * scale
        except ValueError:
            raise UsageError(f"--limit {item!r}: {text!r} is not a number") from None
        if value < 1:
            raise UsageError(f"--limit {item!r}: must be at least 1")
        if key == "max-entries":
            options = dataclasses.replace(options, max_entries=value)
        elif key == "max-layers":
            options = dataclasses.replace(options, max_layers=value)
        else:
            limits = dataclasses.replace(limits, **{key.replace("-", "_"): value})
    return dataclasses.replace(options, limits=limits)
