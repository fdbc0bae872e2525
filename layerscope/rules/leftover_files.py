"""What the LS3xx leftover rules share: the visible files they look at, and
the shape of their findings and of their "remove it where it is made" fix."""

from __future__ import annotations

import re
from collections import defaultdict

from layerscope.model import EntryType
from layerscope.rules.cachepaths import scan as cache_scan
from layerscope.rules.common import is_copy, is_run, severity_for, top_paths
from layerscope.rules.context import RuleContext
from layerscope.rules.fixes import append_command, quote_paths, rewrite
from layerscope.rules.types import Finding, Kind


def visible_files(ctx: RuleContext, *hints: re.Pattern[str]) -> list[tuple[str, int, int]]:
    """Visible regular files with content, not claimed by a cache rule, among
    the paths ``hints`` find (see PathText): (path, layer, size), in the final
    filesystem's order. A hint must find every path its rule reports."""
    claimed = cache_scan(ctx).visible
    paths = ctx.paths
    out = []
    for i in paths.text.candidates(*hints):
        layer, entry = paths.nodes[i]
        path = paths.paths[i]
        if entry.type is EntryType.FILE and entry.size > 0 and path not in claimed:
            out.append((path, layer, entry.size))
    return out


def by_layer(items: list[tuple[str, int, int]]) -> dict[int, list[tuple[str, int]]]:
    """(path, layer, size) items grouped by layer as (path, size)."""
    groups: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for path, layer, size in items:
        groups[layer].append((path, size))
    return groups


def leftover_finding(
    rule_id: str,
    layer: int,
    files: list[tuple[str, int]],
    message: str,
    fix: str,
    cause: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> Finding:
    """A reclaimable LS3xx finding over ``files`` (path, size) of one layer;
    ``extra`` pairs follow its cause."""
    size = sum(s for _, s in files)
    return Finding(
        rule=rule_id,
        kind=Kind.LEFTOVER,
        severity=severity_for(size),
        bytes=size,
        layer=layer,
        paths=top_paths(files),
        message=message,
        fix=fix,
        path_count=len(files),
        reclaimable=True,
        extra=(("cause", cause), *extra),
        claims=frozenset(p for p, _ in files),
    )


def remove_fix(ctx: RuleContext, layer: int, targets: list[str], what: str) -> str:
    """Remove ``targets`` in the RUN that makes them, or where a non-RUN layer gets them."""
    if is_run(ctx, layer):
        cmd = ctx.command(layer)
        return f"Remove {what} in the RUN that makes it (layer {layer}):\n" + rewrite(
            cmd, append_command(cmd, f"rm -rf {quote_paths(sorted(targets))}")
        )
    if is_copy(ctx, layer):
        return (
            f"Layer {layer} copies {what} from the build context: exclude it in "
            f".dockerignore, or copy only what the image needs"
        )
    return f"Layer {layer} has no build history (a base image?): remove {what} where it is made"
