"""How many bytes reading a path source will take, for progress displays."""

from __future__ import annotations

import os

__all__ = ["input_size"]


def input_size(target: str) -> int | None:
    """Bytes a path source will read (for the progress bar), None for engines."""
    path = target
    if not os.path.exists(path):
        head, sep, _ = target.rpartition(":")
        if not (sep and os.path.isfile(head)):
            return None
        path = head
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _dirs, files in os.walk(os.path.join(path, "blobs")):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                continue
    return total or None
