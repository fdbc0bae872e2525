"""What grew between two images: the comparison behind ``layerscope diff``.

Each side is a :class:`Snapshot`, made from an analysis or from a JSON report
of an earlier run. The comparison is plain data (:class:`Diff`): the
per-layer and per-directory growth, the findings that are new and gone, and
the verdicts of the growth budgets (``max_growth`` ...) and of NEW's own
budgets. Per-directory growth needs both images: a JSON report holds no
file tree.
"""

from __future__ import annotations

import json
import posixpath
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from layerscope.analysis import Analysis, BudgetResult
from layerscope.errors import SourceError
from layerscope.model import EntryType

DIR_DEPTH = 2
TOP_DIRS = 20


@dataclass(frozen=True, slots=True)
class LayerInfo:
    index: int
    digest: str
    bytes: int
    command: str


@dataclass(frozen=True, slots=True)
class FindingInfo:
    rule: str
    kind: str
    bytes: int
    path: str
    message: str
    fix: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.path)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a diff needs of one side: from an analysis or a JSON report."""

    reference: str
    id: str
    total_bytes: int
    final_bytes: int
    wasted_bytes: int
    reclaimable_bytes: int
    layers: tuple[LayerInfo, ...]
    findings: tuple[FindingInfo, ...]
    dirs: Mapping[str, int] | None  # final bytes per directory (DIR_DEPTH deep)


@dataclass(frozen=True, slots=True)
class LayerDelta:
    """Layer ``index`` of both images: ``same`` (one digest), ``changed``,
    ``added`` (only NEW has it) or ``removed`` (only OLD)."""

    index: int
    status: str
    old_bytes: int
    new_bytes: int
    command: str

    @property
    def growth(self) -> int:
        return self.new_bytes - self.old_bytes


@dataclass(frozen=True, slots=True)
class DirDelta:
    path: str
    old_bytes: int
    new_bytes: int

    @property
    def growth(self) -> int:
        return self.new_bytes - self.old_bytes


@dataclass(frozen=True, slots=True)
class Diff:
    old: Snapshot
    new: Snapshot
    layers: tuple[LayerDelta, ...]
    dirs: tuple[DirDelta, ...] | None
    new_findings: tuple[FindingInfo, ...]
    gone_findings: tuple[FindingInfo, ...]
    budgets: tuple[BudgetResult, ...] = ()
    # ``--baseline PATH`` that did not exist (``--baseline-missing ok``): NEW
    # is compared with itself and judged alone, no growth budget.
    baseline_missing: bool = False

    @property
    def passed(self) -> bool:
        return all(b.passed or b.severity != "fail" for b in self.budgets)


def directory_bytes(result: Analysis, depth: int = DIR_DEPTH) -> dict[str, int]:
    """Final bytes per directory, each file counted in its directory cut to
    ``depth`` components (``/usr/lib`` holds everything below it)."""
    out: dict[str, int] = defaultdict(int)
    for path, (_, entry) in result.union.final.items():
        if entry.type is EntryType.FILE and entry.size:
            parts = posixpath.dirname(path).split("/") if "/" in path else []
            out["/" + "/".join(parts[:depth])] += entry.size
    return dict(out)


def snapshot(result: Analysis) -> Snapshot:
    """The diff's view of an analysed image."""
    image = result.image
    layers = []
    for layer, stats in zip(image.layers, result.layers, strict=True):
        h = image.layer_history(layer)
        layers.append(LayerInfo(layer.index, layer.digest, stats.content_bytes, _cmd(h)))
    s = result.summary
    return Snapshot(
        reference=image.reference,
        id=image.id,
        total_bytes=s.total_bytes,
        final_bytes=s.final_bytes,
        wasted_bytes=s.wasted_bytes,
        reclaimable_bytes=s.reclaimable_bytes,
        layers=tuple(layers),
        findings=tuple(
            FindingInfo(
                f.rule, f.kind.value, f.bytes, f.paths[0] if f.paths else "", f.message, f.fix
            )
            for f in result.findings
        ),
        dirs=directory_bytes(result),
    )


def _cmd(h: Any) -> str:
    if h is None:
        return ""
    return f"{h.parsed.instruction.value} {h.parsed.args}".strip()


def snapshot_from_report(data: object, name: str) -> Snapshot:
    """The diff's view of a JSON report (schema version 1) from an earlier run."""

    def bad(why: str) -> SourceError:
        return SourceError(f"{name}: not a layerscope JSON report ({why})")

    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise bad("schema_version 1 expected")
    try:
        s = data["summary"]
        ints = {
            k: s[k] for k in ("total_bytes", "final_bytes", "wasted_bytes", "reclaimable_bytes")
        }
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints.values()):
            raise bad("summary sizes must be integers")
        commands = {
            h["layer"]: f"{h['instruction']} {h['args']}".strip()
            for h in data.get("history", [])
            if h.get("layer") is not None
        }
        layers = tuple(
            LayerInfo(
                int(x["index"]),
                str(x["digest"]),
                int(x["content_bytes"]),
                commands.get(x["index"], ""),
            )
            for x in data["layers"]
        )
        findings = tuple(
            FindingInfo(
                str(f["rule"]),
                str(f["kind"]),
                int(f["bytes"]),
                str(f["paths"][0]) if f["paths"] else "",
                str(f["message"]),
                str(f["fix"]),
            )
            for f in data["findings"]
        )
        image = data["image"]
        return Snapshot(
            reference=str(image.get("reference") or ""),
            id=str(image.get("id") or ""),
            layers=layers,
            findings=findings,
            dirs=None,
            **ints,
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise bad(f"missing or wrong field: {e}") from None


def load_report(path: str) -> Snapshot:
    """Read a baseline JSON report."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise SourceError(f"{path}: {e.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SourceError(f"{path}: not valid JSON: {e}") from None
    return snapshot_from_report(data, path)


def compare(old: Snapshot, new: Snapshot) -> Diff:
    """Layer by layer (by position), directory by directory, finding by finding."""
    layers = []
    for i in range(max(len(old.layers), len(new.layers))):
        a = old.layers[i] if i < len(old.layers) else None
        b = new.layers[i] if i < len(new.layers) else None
        if a is not None and b is not None:
            status = "same" if a.digest == b.digest else "changed"
            layers.append(LayerDelta(i, status, a.bytes, b.bytes, b.command))
        elif b is not None:
            layers.append(LayerDelta(i, "added", 0, b.bytes, b.command))
        elif a is not None:
            layers.append(LayerDelta(i, "removed", a.bytes, 0, a.command))
    dirs = None
    if old.dirs is not None and new.dirs is not None:
        deltas = [
            DirDelta(p, old.dirs.get(p, 0), new.dirs.get(p, 0))
            for p in sorted(set(old.dirs) | set(new.dirs))
        ]
        deltas = [d for d in deltas if d.growth]
        deltas.sort(key=lambda d: (-abs(d.growth), d.path))
        dirs = tuple(deltas[:TOP_DIRS])
    old_keys = {f.key for f in old.findings}
    new_keys = {f.key for f in new.findings}
    return Diff(
        old=old,
        new=new,
        layers=tuple(layers),
        dirs=dirs,
        new_findings=tuple(f for f in new.findings if f.key not in old_keys),
        gone_findings=tuple(f for f in old.findings if f.key not in new_keys),
    )
