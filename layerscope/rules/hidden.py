"""LS1xx: bytes stored in a layer and hidden by a later one."""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterator

from layerscope.analysis import RuleContext
from layerscope.model import Instruction
from layerscope.rules import rule
from layerscope.rules.base import Finding, Kind, Severity
from layerscope.union import Cause, Hidden

TOP_PATHS = 5
_CHOWN = re.compile(r"(?:^|[\s;&|(])(chown|chmod|chgrp)\s+(?:-\w*R|--recursive)")


def severity_for(size: int) -> Severity:
    """Severity grows with the bytes at stake."""
    if size >= 50 << 20:
        return Severity.HIGH
    if size >= 5 << 20:
        return Severity.MEDIUM
    if size >= 100 << 10:
        return Severity.LOW
    return Severity.INFO


def _common_dir(paths: list[str]) -> str:
    dirs = [posixpath.dirname(p) for p in paths]
    common = posixpath.commonpath(dirs) if all(dirs) else ""
    return common


def _overwrite_groups(items: list[Hidden]) -> dict[str, list[Hidden]]:
    """Group overwritten files under their deepest common directory; when that
    is the root, under each top-level directory instead."""
    common = _common_dir([h.path for h in items])
    if common:
        return {common: items}
    by_top: dict[str, list[Hidden]] = defaultdict(list)
    for h in items:
        by_top[h.path.partition("/")[0] if "/" in h.path else h.path].append(h)
    out: dict[str, list[Hidden]] = {}
    for top, group in by_top.items():
        out[_common_dir([h.path for h in group]) or top] = group
    return out


def _grouped(ctx: RuleContext, cause: Cause) -> Iterator[tuple[int, int, str, list[Hidden]]]:
    pairs: dict[tuple[int, int], list[Hidden]] = defaultdict(list)
    for h in ctx.union.hidden:
        if h.cause is cause and h.size > 0:
            pairs[(h.layer, h.hidden_by)].append(h)
    for (layer, by), items in sorted(pairs.items()):
        if cause is Cause.REMOVED:
            groups: dict[str, list[Hidden]] = defaultdict(list)
            for h in items:
                groups[h.group].append(h)
        else:
            groups = _overwrite_groups(items)
        for key, group in sorted(groups.items()):
            yield layer, by, key, group


def _finding(
    rule_id: str, kind: Kind, layer: int, by: int, key: str, group: list[Hidden], msg: str, fix: str
) -> Finding:
    size = sum(h.size for h in group)
    biggest = sorted(group, key=lambda h: (-h.size, h.path))[:TOP_PATHS]
    return Finding(
        rule=rule_id,
        kind=kind,
        severity=severity_for(size),
        bytes=size,
        layer=layer,
        paths=tuple("/" + h.path for h in biggest),
        message=msg,
        fix=fix,
        hidden_by=by,
        path_count=len(group),
        extra=(("group", "/" + key),),
    )


def _describe(ctx: RuleContext, layer: int) -> str:
    cmd = ctx.command(layer)
    kind = ctx.instruction(layer)
    if not cmd:
        return f"layer {layer}"
    short = cmd if len(cmd) <= 80 else cmd[:77] + "..."
    return f"layer {layer} ({kind.value} {short})"


@rule("LS101", kind=Kind.REMOVED_LATER, severity=Severity.MEDIUM, title="Deleted by a later layer")
def removed_later(ctx: RuleContext) -> Iterator[Finding]:
    """Files stored in one layer and deleted by a later one.

    A layer is an immutable tarball: ``RUN rm`` in a later instruction only
    adds a whiteout that hides the files, and every byte is still pulled and
    stored. Delete temporary files in the same ``RUN`` that created them, or
    build in a separate stage and ``COPY --from`` only the result.

    Bad::

        RUN wget -O /tmp/src.tgz https://example.com/src.tgz && tar -xzf /tmp/src.tgz
        RUN rm -rf /tmp/src.tgz

    Good::

        RUN wget -O /tmp/src.tgz https://example.com/src.tgz && tar -xzf /tmp/src.tgz \\
            && rm -rf /tmp/src.tgz
    """
    for layer, by, key, group in _grouped(ctx, Cause.REMOVED):
        where = "/" + key
        msg = (
            f"{len(group)} file(s) under {where} stored in {_describe(ctx, layer)} "
            f"were deleted by {_describe(ctx, by)}"
        )
        if ctx.instruction(layer) is Instruction.RUN:
            fix = (
                f"Delete {where} in the same RUN that creates it (layer {layer}): "
                f"RUN {ctx.command(layer)} && rm -rf {where}"
            )
        else:
            fix = (
                f"Do not add {where} at all (layer {layer}): exclude it in .dockerignore, "
                f"or build in another stage and COPY --from only what the image needs"
            )
        yield _finding("LS101", Kind.REMOVED_LATER, layer, by, key, group, msg, fix)


@rule(
    "LS102",
    kind=Kind.OVERWRITTEN_LATER,
    severity=Severity.MEDIUM,
    title="Overwritten by a later layer",
)
def overwritten_later(ctx: RuleContext) -> Iterator[Finding]:
    """Files stored in one layer and stored again, at the same path, by a later one.

    Every copy stays in the image. The usual cause is ``RUN chown -R`` or
    ``chmod -R`` after a ``COPY``: the metadata change copies every file
    into a new layer. Set ownership while copying, or change files in the
    ``RUN`` that creates them.

    Bad::

        COPY app /app
        RUN chown -R app:app /app

    Good::

        COPY --chown=app:app app /app
    """
    for layer, by, key, group in _grouped(ctx, Cause.OVERWRITTEN):
        where = "/" + key
        later = ctx.command(by)
        msg = (
            f"{len(group)} file(s) under {where} stored in {_describe(ctx, layer)} "
            f"were stored again by {_describe(ctx, by)}"
        )
        m = _CHOWN.search(later) if ctx.instruction(by) is Instruction.RUN else None
        if m is not None:
            verb = m.group(1)
            if ctx.instruction(layer) in (Instruction.COPY, Instruction.ADD):
                flag = "--chmod" if verb == "chmod" else "--chown"
                fix = (
                    f"Replace the recursive {verb} in layer {by} with "
                    f"{ctx.instruction(layer).value} {flag}=... on layer {layer}"
                )
            else:
                fix = f"Run the {verb} inside the RUN of layer {layer}, not in a later RUN"
        elif ctx.instruction(by) is Instruction.RUN and ctx.instruction(layer) is Instruction.RUN:
            fix = (
                f"Make the change of layer {by} in the same RUN as layer {layer}, "
                f"so only the final version of {where} is stored"
            )
        else:
            fix = f"Store {where} once: drop the earlier copy in layer {layer} or merge the steps"
        yield _finding("LS102", Kind.OVERWRITTEN_LATER, layer, by, key, group, msg, fix)
