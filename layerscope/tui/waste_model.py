"""The waste list as the view shows it: grouped, filtered and sorted findings.

A view model only (the reports are untouched): findings of one rule stored
by one layer and hidden by the same layer are one group, named by the
directory their paths share, so 5,970 one-file LS101 findings under one
tree are one row that opens on Enter. The default order is the table
report's (:func:`layerscope.base.attribution.ranked`): bytes in your own
layers first, then rebuild costs (LS5xx), then the base image's findings
collapsed into one row ("your base image carries N bytes of waste") that
opens like a group. No Textual here.
"""

from __future__ import annotations

import enum
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field

from layerscope.analysis import Analysis
from layerscope.base.attribution import BaseWaste, finding_origin, ranked
from layerscope.errors import UsageError
from layerscope.rules import Finding

# A rule and layer pair with at least this many findings becomes one group.
GROUP_MIN = 3
# The rank of the base image's findings (see ``attribution.rank``); the key
# of their collapsed row.
BASE_RANK = 2
BASE_KEY: tuple[str, int | None, int | None] = ("base", None, None)


class Order(enum.Enum):
    BYTES = "bytes"
    LAYER = "layer"
    PATH = "path"

    def next(self) -> Order:
        members = list(Order)
        return members[(members.index(self) + 1) % len(members)]


@dataclass(frozen=True, slots=True)
class Group:
    """Findings of one rule and one (stored, hidden) layer pair."""

    rule: str
    layer: int | None
    hidden_by: int | None
    findings: tuple[Finding, ...]
    directory: str
    # The base image's findings collapsed into one (rule ``base``).
    base: BaseWaste | None = None

    @property
    def key(self) -> tuple[str, int | None, int | None]:
        return (self.rule, self.layer, self.hidden_by)

    @property
    def bytes(self) -> int:
        if self.base is not None and len(self.findings) == len(self.base.findings):
            return self.base.reclaimable_bytes  # each path once, as the summary counts
        return sum(f.bytes for f in self.findings)

    @property
    def first(self) -> Finding:
        return self.findings[0]


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the waste table: a finding, a group, or a member of an open group."""

    finding: Finding
    group: Group | None = None
    member: bool = False
    rank: int = 0  # 0 own layers, 1 rebuild cost (LS5xx), 2 the base image

    @property
    def bytes(self) -> int:
        return (
            self.group.bytes if self.group is not None and not self.member else self.finding.bytes
        )

    @property
    def path(self) -> str:
        if self.group is not None and not self.member:
            return self.group.directory
        return self.finding.paths[0] if self.finding.paths else ""


@dataclass(frozen=True, slots=True)
class Filter:
    """``rule:LS101 kind:leftover sev:medium layer:3 origin:own`` and free words
    (matched against the paths); every term must hold. Severity means at least."""

    rules: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    severity: int | None = None
    layers: frozenset[int] = frozenset()
    origin: str | None = None
    words: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, text: str) -> Filter:
        """Read a filter; an unknown key or a bad value is a :class:`UsageError`."""
        from layerscope.rules.types import Severity

        rules: set[str] = set()
        kinds: set[str] = set()
        layers: set[int] = set()
        severity = None
        origin = None
        words: list[str] = []
        for term in text.split():
            key, sep, value = term.partition(":")
            key = key.lower()
            if not sep or key not in ("rule", "kind", "sev", "severity", "layer", "origin"):
                words.append(term.lower())
                continue
            if key == "rule":
                rules.add(value.upper())
            elif key == "kind":
                kinds.add(value.lower())
            elif key in ("sev", "severity"):
                try:
                    severity = Severity[value.upper()].value
                except KeyError:
                    raise UsageError(f"severity {value!r}: info, low, medium or high") from None
            elif key == "layer":
                if not value.isdigit():
                    raise UsageError(f"layer {value!r}: a layer number")
                layers.add(int(value))
            else:
                if value.lower() not in ("base", "own"):
                    raise UsageError(f"origin {value!r}: base or own")
                origin = value.lower()
        return cls(
            frozenset(rules), frozenset(kinds), severity, frozenset(layers), origin, tuple(words)
        )

    def __bool__(self) -> bool:
        return bool(
            self.rules
            or self.kinds
            or self.severity is not None
            or self.layers
            or self.origin
            or self.words
        )


def common_directory(paths: Sequence[str]) -> str:
    """The deepest directory holding every path (``/`` at worst)."""
    dirs = [posixpath.dirname(p.rstrip("/")) or "/" for p in paths if p]
    if not dirs:
        return "/"
    try:
        return posixpath.commonpath(dirs) or "/"
    except ValueError:  # relative and absolute mixed
        return "/"


class WasteModel:
    """Findings of one analysis, grouped, filtered and sorted for the table."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.findings = analysis.findings
        self.groups: list[tuple[int, Group | Finding]] = []
        for n, found in ranked(analysis):
            if isinstance(found, BaseWaste):
                paths = [p for f in found.findings for p in f.paths]
                group = Group(*BASE_KEY, found.findings, common_directory(paths), found)
                self.groups.append((n, group))
            else:
                self.groups.extend((n, item) for item in self._group(found))
        self._origin: dict[int, str] = {}

    @staticmethod
    def _group(findings: Sequence[Finding]) -> list[Group | Finding]:
        by_key: dict[tuple[str, int | None, int | None], list[Finding]] = {}
        order: list[tuple[str, int | None, int | None]] = []
        for f in findings:
            key = (f.rule, f.layer, f.hidden_by)
            if key not in by_key:
                by_key[key] = []
                order.append(key)
            by_key[key].append(f)
        out: list[Group | Finding] = []
        for key in order:
            members = by_key[key]
            if len(members) < GROUP_MIN:
                out.extend(members)
                continue
            paths = [p for f in members for p in f.paths]
            out.append(Group(key[0], key[1], key[2], tuple(members), common_directory(paths)))
        return out

    def origin(self, f: Finding) -> str:
        got = self._origin.get(id(f))
        if got is None:
            got = self._origin[id(f)] = finding_origin(self.analysis, f).value
        return got

    def _keeps(self, f: Finding, flt: Filter) -> bool:
        if flt.rules and f.rule not in flt.rules:
            return False
        if flt.kinds and f.kind.value not in flt.kinds:
            return False
        if flt.severity is not None and f.severity.value < flt.severity:
            return False
        if flt.layers and f.layer not in flt.layers:
            return False
        if flt.origin is not None and self.origin(f) != flt.origin:
            return False
        if flt.words:
            text = " ".join(f.paths).lower() + " " + f.message.lower()
            return all(w in text for w in flt.words)
        return True

    def rows(
        self,
        flt: Filter = Filter(),
        order: Order = Order.BYTES,
        opened: frozenset[tuple[str, int | None, int | None]] = frozenset(),
    ) -> list[Row]:
        """The table's rows: groups (opened ones followed by their members) and
        single findings, filtered by ``flt`` and sorted by ``order``; by bytes
        within each rank (own layers, rebuild costs, the base image)."""
        top: list[Row] = []
        members: dict[int, list[Row]] = {}
        for n, item in self.groups:
            if isinstance(item, Finding):
                if self._keeps(item, flt):
                    top.append(Row(item, rank=n))
                continue
            kept = tuple(f for f in item.findings if self._keeps(f, flt))
            if not kept:
                continue
            group = item if len(kept) == len(item.findings) else _subgroup(item, kept)
            row = Row(group.first, group, rank=n)
            top.append(row)
            if item.key in opened:
                members[id(row)] = [Row(f, group, member=True, rank=n) for f in kept]
        if order is Order.BYTES:
            top.sort(key=lambda r: (r.rank, -r.bytes))
        elif order is Order.LAYER:
            top.sort(key=lambda r: (-1 if r.finding.layer is None else r.finding.layer, -r.bytes))
        else:
            top.sort(key=lambda r: r.path)
        out: list[Row] = []
        for row in top:
            out.append(row)
            out.extend(members.get(id(row), ()))
        return out


def _subgroup(group: Group, kept: tuple[Finding, ...]) -> Group:
    paths = [p for f in kept for p in f.paths]
    return Group(
        group.rule, group.layer, group.hidden_by, kept, common_directory(paths), group.base
    )
