"""Counts in messages for people: ``1 file``, ``3 files``; ``was``, ``were``."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str = "") -> str:
    """``n`` and its noun: ``counted(1, "file")`` is ``1 file``, 3 gives ``3 files``
    (``plural`` for a noun whose plural is not the noun and an s)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def agree(n: int, one: str, many: str) -> str:
    """The verb form for ``n`` things: ``agree(n, "was", "were")``."""
    return one if n == 1 else many
