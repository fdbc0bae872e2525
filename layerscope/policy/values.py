"""How a policy's values are spelled (sizes, fractions, counts) and the
``Policy`` they make.

Sizes: ``B``, decimal ``kB``/``MB``/``GB``/``TB`` (also ``k``, ``M``,
``G``, ``T``), binary ``KiB``/``MiB``/``GiB``/``TiB``; units are
case-insensitive. Fractions: ``5%`` or ``0.05`` (a bare number above 1 is
refused as ambiguous).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1 << 10,
    "kib": 1 << 10,
    "mi": 1 << 20,
    "mib": 1 << 20,
    "gi": 1 << 30,
    "gib": 1 << 30,
    "ti": 1 << 40,
    "tib": 1 << 40,
}


class ValueKind(enum.Enum):
    """How a budget's limit is spelled and compared."""

    SIZE = "size"  # bytes
    FRACTION = "fraction"  # 0..1, written 5% or 0.05
    COUNT = "count"  # a whole number


def parse_size(value: object) -> int:
    """``300MB``, ``1.5GiB``, ``1048576`` (or a TOML integer) -> bytes.

    Raises ValueError with a message fit for a person.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a size")
        if not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number of bytes (write e.g. 1.5MB)")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a size")
    m = _SIZE.match(value)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise ValueError(f"{value!r} is not a size (write e.g. 300MB, 1.5GiB or 1048576)")
    number = float(m.group(1))
    if _UNITS[unit] == 1 and not number.is_integer():
        # `--max-total 1.5` is a slip for 1.5MB or 1.5GB, not a 2-byte limit.
        raise ValueError(f"{value!r} is not a whole number of bytes (write e.g. 1.5MB)")
    return round(number * _UNITS[unit])


def parse_fraction(value: object) -> float:
    """``5%`` or ``0.05`` (or a TOML number) -> 0.05; must lie in 0..1."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not a fraction")
    text = str(value).strip()
    percent = text.endswith("%")
    try:
        number = float(text[:-1] if percent else text)
    except ValueError:
        raise ValueError(f"{value!r} is not a fraction (write e.g. 5% or 0.05)") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a number between 0% and 100%")
    if percent:
        number /= 100
    elif number > 1:
        raise ValueError(f"{value!r} is ambiguous: write {number:g}% or {number / 100:g}")
    if not math.isfinite(number) or not 0 <= number <= 1:
        raise ValueError(f"{value!r} is not between 0% and 100%")
    return number


def parse_count(value: object) -> int:
    """A whole number of at least 0."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a count")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and value >= 0:
        return value
    raise ValueError(f"{value!r} is not a whole number")


def parse_value(kind: ValueKind, value: object) -> float:
    """Parse ``value`` as a limit of ``kind`` (sizes and counts stay ints)."""
    if kind is ValueKind.SIZE:
        return parse_size(value)
    if kind is ValueKind.FRACTION:
        return parse_fraction(value)
    return parse_count(value)


@dataclass(frozen=True, slots=True)
class Limit:
    """One budget's limit and what breaking it means (``fail`` or ``warn``;
    ``off`` switches an inherited budget off)."""

    value: float
    severity: str = "fail"


@dataclass(frozen=True, slots=True)
class NamedBudgets:
    """Budgets that apply to images whose reference matches one of ``patterns``."""

    name: str
    patterns: tuple[str, ...]
    limits: Mapping[str, Limit]


@dataclass(frozen=True, slots=True)
class RulePolicy:
    """What a rule's findings mean for the verdict, and its size floor."""

    level: str = "warn"
    min_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything a policy file says. ``path`` is where it came from ('' for
    none), ``origin`` is ``layerscope``, ``dive`` or ``none``."""

    path: str = ""
    origin: str = "none"
    limits: Mapping[str, Limit] = field(default_factory=dict)
    named: tuple[NamedBudgets, ...] = ()
    rules: Mapping[str, RulePolicy] = field(default_factory=dict)
    min_bytes: int | None = None
    notes: tuple[str, ...] = ()
    # Why this file applies (``--config``, or where the upward search found it).
    reason: str = ""
