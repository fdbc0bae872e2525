"""The findings of the LS2xx package-cache rules, one ecosystem at a time.

:func:`cache_findings` turns the cache groups ``rules/cachepaths.py`` found
into findings: the cache's fate (still in the image, deleted or rewritten
by a later layer), a message, and a fix built from the ecosystem's recipe in
``rules/fixes.py`` (clean up in the RUN that fills the cache, or a BuildKit
cache mount).
"""

from __future__ import annotations

from collections.abc import Iterator

from layerscope.counts import counted
from layerscope.model import Instruction
from layerscope.rules.cachepaths import CacheGroup, scan
from layerscope.rules.common import describe, is_run, severity_for, top_paths
from layerscope.rules.context import RuleContext
from layerscope.rules.fixes import (
    CACHE_FIXES,
    CLEAN_TOOLS,
    append_command,
    cache_mount_run,
    cleanup_commands,
    quote_paths,
    rewrite,
)
from layerscope.rules.types import Finding, Kind
from layerscope.union import Cause


def _roots_text(g: CacheGroup) -> str:
    return ", ".join("/" + r for r in sorted(g.roots))


def _cause(ctx: RuleContext, g: CacheGroup) -> str:
    if g.hidden_by is None:
        return "left-in-image"
    if g.cause is Cause.OVERWRITTEN:
        return "rewritten-later"
    return "cleanup-in-later-run" if is_run(ctx, g.hidden_by) else "removed-later"


def _message(ctx: RuleContext, g: CacheGroup, label: str) -> str:
    where = describe(ctx, g.layer)
    n = len(g.files)
    if g.hidden_by is None:
        return (
            f"{label} cache stored by {where} is still in the final image: "
            f"{counted(n, 'file')} under {_roots_text(g)}"
        )
    verb = "rewrote" if g.cause is Cause.OVERWRITTEN else "deleted"
    return (
        f"{label} cache stored by {where} ({counted(n, 'file')} under {_roots_text(g)}); "
        f"{describe(ctx, g.hidden_by)} {verb} it, but the bytes stay in layer {g.layer}"
    )


def _fix(ctx: RuleContext, g: CacheGroup) -> str:
    recipe = CACHE_FIXES[g.ecosystem]
    label = recipe.label
    roots = sorted(g.roots)
    layer = g.layer
    instr = ctx.instruction(layer)
    if not is_run(ctx, layer):
        if instr in (Instruction.COPY, Instruction.ADD):
            return (
                f"Layer {layer} ({instr.value}) copies a {label} cache into the image: "
                f"exclude {quote_paths(roots)} from the build context with .dockerignore, "
                f"or copy only what the image needs."
            )
        return (
            f"Layer {layer} has no build history (a base image or an import): remove "
            f"{quote_paths(roots)} where that layer is built, or use a base image without it."
        )
    cmd = ctx.command(layer)
    lines: list[str] = []
    if recipe.multistage:
        lines.append(
            "Best: build in a separate stage and COPY --from=<build stage> only the result; "
            f"the {label} cache then never reaches the final image. Otherwise:"
        )
    cleanup: list[str] = []
    if g.hidden_by is not None and g.cause is Cause.REMOVED and is_run(ctx, g.hidden_by):
        cleanup = cleanup_commands(
            ctx.command(g.hidden_by),
            [*roots, *(p for p, _ in g.files)],
            CLEAN_TOOLS.get(g.ecosystem, ()),
        )
    if cleanup:
        lines.append(
            f"Move the cleanup of layer {g.hidden_by} into the RUN that fills the cache "
            f"(layer {layer}), so the cache never lands in a layer:"
        )
        lines.append(rewrite(cmd, append_command(cmd, " && ".join(cleanup))))
    else:
        lines.append(f"Clean the {label} cache in the same RUN that fills it (layer {layer}):")
        lines.append(rewrite(cmd, recipe.clean(cmd, roots)))
        if recipe.env_alternative:
            lines.append(f"(or set {recipe.env_alternative} before that RUN)")
    targets = recipe.mounts(roots)
    if targets:
        lines.append("Or, with BuildKit, keep the cache out of the layers and reuse it:")
        lines.append(cache_mount_run(cmd, targets, locked=recipe.locked, uid=g.uid, gid=g.gid))
        if recipe.mount_note:
            lines.append(recipe.mount_note)
    return "\n".join(lines)


def cache_findings(ctx: RuleContext, rule_id: str, ecosystem: str) -> Iterator[Finding]:
    """The findings of one ecosystem's cache rule."""
    label = CACHE_FIXES[ecosystem].label
    for g in scan(ctx).groups.get(ecosystem, []):
        size = g.bytes
        present = g.hidden_by is None
        yield Finding(
            rule=rule_id,
            kind=Kind.PACKAGE_CACHE,
            severity=severity_for(size),
            bytes=size,
            layer=g.layer,
            paths=top_paths(g.files),
            message=_message(ctx, g, label),
            fix=_fix(ctx, g),
            ecosystem=ecosystem,
            hidden_by=g.hidden_by,
            path_count=len(g.files),
            reclaimable=present,
            extra=(("cause", _cause(ctx, g)),),
            claims=frozenset(p for p, _ in g.files) if present else frozenset(),
        )
