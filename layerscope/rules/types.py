"""What a rule is and what it produces: plain data, no formatting."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from layerscope.rules.context import RuleContext


class Kind(enum.Enum):
    """The report's list of finding kinds (users filter on these strings)."""

    REMOVED_LATER = "removed-later"
    OVERWRITTEN_LATER = "overwritten-later"
    PACKAGE_CACHE = "package-cache"
    LEFTOVER = "leftover"
    DUPLICATE_CONTENT = "duplicate-content"
    CACHE_BUST = "cache-bust"


class Severity(enum.IntEnum):
    """Ordered: a higher value is worse."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Finding:
    """One actionable piece of waste.

    ``bytes`` is exact. ``layer`` is the layer that stored the bytes,
    ``hidden_by`` the layer that hid them (hidden-bytes kinds only).
    ``paths`` lists the biggest few paths, ``path_count`` how many there are.
    ``fix`` is the concrete change, in Dockerfile terms.
    """

    rule: str
    kind: Kind
    severity: Severity
    bytes: int
    layer: int | None
    paths: tuple[str, ...]
    message: str
    fix: str
    ecosystem: str | None = None
    hidden_by: int | None = None
    path_count: int = 0
    reclaimable: bool = False  # bytes still in the final filesystem
    location: tuple[str, int] | None = None  # (Dockerfile path, line) when known
    extra: tuple[tuple[str, str], ...] = field(default=())
    # Visible paths whose content makes up ``bytes`` (reclaimable findings), so
    # the summary counts a byte once when two findings cover it.
    claims: frozenset[str] = field(default=frozenset(), compare=False, repr=False)


RuleFunc = Callable[["RuleContext"], Iterable[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A registered rule: permanent ID, kind, default severity, its doc."""

    id: str
    kind: Kind
    severity: Severity
    title: str
    func: RuleFunc
    min_bytes: int = 1  # default threshold: smaller findings are dropped

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip()
