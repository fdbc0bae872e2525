"""The JSON report: a separate mapping from the analysis, so internals can
change without breaking the people who script against the report.

Schema version 1.1 (``schema_version`` 1, ``schema_minor`` 1: fields are
only ever added within a major version); ``schema-v1.json`` beside this
module is its JSON Schema. Sizes are exact integers of bytes.
"""

from __future__ import annotations

from typing import Any

from layerscope import __version__
from layerscope.analysis import Analysis, BudgetResult
from layerscope.base.attribution import Side, finding_origin, layer_origin, split
from layerscope.names import json_text, raw_bytes
from layerscope.rules.types import Finding

SCHEMA_VERSION = 1
# 1: image.source dir/stdin/registry, layers[].download_bytes, summary.download_bytes.
SCHEMA_MINOR = 1


def finding_to_dict(f: Finding, origin: str = "own") -> dict[str, Any]:
    """One finding as the report shows it; ``origin`` is ``base`` or ``own``."""
    return {
        "rule": f.rule,
        "kind": f.kind.value,
        "severity": f.severity.label,
        "bytes": f.bytes,
        "layer": f.layer,
        "hidden_by": f.hidden_by,
        "paths": [json_text(p) for p in f.paths],
        **_path_bytes(f.paths),
        "path_count": f.path_count,
        "ecosystem": f.ecosystem,
        "reclaimable": f.reclaimable,
        "origin": origin,
        "message": json_text(f.message),
        "fix": json_text(f.fix),
        "location": None
        if f.location is None
        else {"file": json_text(f.location[0]), "line": f.location[1]},
        **{k: json_text(v) for k, v in f.extra},
    }


def _path_bytes(paths: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``path_bytes``: each path's exact bytes in base64 where it is not UTF-8
    (its ``paths`` text shows those bytes as ``\\xNN``), else null; only
    when some path needs it."""
    raw = [raw_bytes(p) for p in paths]
    return {"path_bytes": raw} if any(r is not None for r in raw) else {}


def _side(side: Side) -> dict[str, int]:
    return {
        "layer_count": side.layer_count,
        "total_bytes": side.total_bytes,
        "wasted_bytes": side.wasted_bytes,
        "reclaimable_bytes": side.reclaimable_bytes,
    }


def to_dict(result: Analysis) -> dict[str, Any]:
    """The whole report (schema version 1)."""
    image = result.image
    s = result.summary
    parts = split(result)
    layers = []
    for layer, stats in zip(image.layers, result.layers, strict=True):
        h = image.layer_history(layer)
        layers.append(
            {
                "index": layer.index,
                "digest": layer.digest,
                "blob_digest": layer.blob_digest,
                "media_type": layer.media_type,
                "size_bytes": layer.size_bytes,
                "compressed_bytes": layer.compressed_bytes,
                "download_bytes": layer.download_bytes,
                "created_by": json_text(h.created_by) if h else None,
                "instruction": h.parsed.instruction.value if h else None,
                "empty_layer": stats.entry_count == 0,
                "entry_count": stats.entry_count,
                "file_count": stats.file_count,
                "content_bytes": stats.content_bytes,
                "added_bytes": stats.added_bytes,
                "added_files": stats.added_files,
                "modified_bytes": stats.modified_bytes,
                "modified_files": stats.modified_files,
                "removed_bytes": stats.removed_bytes,
                "removed_files": stats.removed_files,
                "wasted_bytes": stats.wasted_bytes,
                "origin": layer_origin(result, layer.index).value,
            }
        )
    layer_of = {layer.history_index: layer.index for layer in image.layers}
    history = [
        {
            "index": i,
            "created_by": json_text(h.created_by),
            "instruction": h.parsed.instruction.value,
            "args": json_text(h.parsed.args),
            "builder": h.parsed.builder.value,
            "empty_layer": h.empty_layer,
            "created": json_text(h.created) if h.created is not None else None,
            "layer": layer_of.get(i),
        }
        for i, h in enumerate(image.history)
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "schema_minor": SCHEMA_MINOR,
        "tool": {"name": "layerscope", "version": __version__},
        "image": {
            "reference": json_text(image.reference),
            "id": image.id,
            "source": image.source,
            "os": image.os,
            "architecture": image.architecture,
            "variant": image.variant,
        },
        "summary": {
            "total_bytes": s.total_bytes,
            "final_bytes": s.final_bytes,
            "wasted_bytes": s.wasted_bytes,
            "removed_bytes": s.removed_bytes,
            "overwritten_bytes": s.overwritten_bytes,
            "reclaimable_bytes": s.reclaimable_bytes,
            "efficiency": s.efficiency,
            "layer_count": s.layer_count,
            "file_count": s.file_count,
            "download_bytes": image.download_bytes,
            "base": _side(parts.base),
            "own": _side(parts.own),
        },
        "base": {
            "reference": json_text(result.base_reference) if result.base_reference else None,
            "layer_count": result.base_layer_count,
            "signal": result.base_signal or "none",
        },
        "layers": layers,
        "history": history,
        "findings": [finding_to_dict(f, finding_origin(result, f).value) for f in result.findings],
        "warnings": [json_text(w) for w in image.warnings],
        "budgets": [budget_to_dict(b) for b in result.budgets],
        "passed": result.passed,
    }


def budget_to_dict(b: BudgetResult) -> dict[str, Any]:
    """One budget verdict as every report shows it."""
    return {
        "name": b.name,
        "limit": b.limit,
        "actual": b.actual,
        "passed": b.passed,
        "severity": b.severity,
        "message": b.message,
    }
