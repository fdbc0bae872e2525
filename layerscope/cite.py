"""Findings read from an image, told in the words of the Dockerfile it was built from.

The classic builder records a COPY as ``COPY dir:<hash> in /app``: right for
an image alone, useless next to the Dockerfile that says ``COPY ./src ./src``.
Once the layers are mapped to their steps, :func:`cite_dockerfile` names each
COPY/ADD layer a message or fix mentions by its Dockerfile line, and an
LS5xx finding that the Dockerfile check made for the same line lends its
text (which knows the stage, the WORKDIR and the other steps), keeping the
bytes the image measured.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from layerscope.dockerfile.layer_map import LayerMap
from layerscope.dockerfile.parser import Step
from layerscope.model import Image, Instruction
from layerscope.rules.common import short
from layerscope.rules.types import Finding

__all__ = ["cite_dockerfile"]

_LAYER = re.compile(r"layer (\d+) \((COPY|ADD) ([^()]*(?:\([^()]*\)[^()]*)*)\)")
_HASHED = re.compile(r"(?:dir|file|multi):[0-9a-fA-F]{6,}")
_STEP_COST = re.compile(r"rebuilds \d+ step\(s\)")
_LAYER_COST = re.compile(r"rebuilds \d+ layer\(s\) \(\d+ bytes\)")


def _step_text(step: Step) -> str:
    flags = " ".join(step.flags)
    return short(" ".join(x for x in (step.keyword.upper(), flags, step.args) if x), 60)


def _bind_mount(fix: str, step: Step) -> str:
    """A bind mount proposed for a COPY's files, with the COPY's own source and
    stage (``from=builder``) filled in."""
    ops = step.operands()
    if len(ops) == 2 and not step.heredocs:
        fix = fix.replace("source=<src>,", f"source={ops[0]},")
    stage = step.flag("from")
    if stage:
        if "from=<stage>," in fix:
            fix = fix.replace("from=<stage>,", f"from={stage},")
        elif "from=" not in fix:
            fix = fix.replace("--mount=type=bind,", f"--mount=type=bind,from={stage},")
    return fix


_COPY_SRC = re.compile(r"\b((?:COPY|ADD)(?: --\S+)* )<src>(?= )")


def _copy_source(fix: str, step: Step) -> str:
    """The finding's own COPY, quoted in its fix with the classic builder's hidden
    source (``COPY <src> /app``), spelt with the Dockerfile's source."""
    ops = step.operands()
    if len(ops) < 2 or step.heredocs:
        return fix
    source = " ".join(ops[:-1])
    return _COPY_SRC.sub(lambda m: m.group(1) + source, fix)


_DIFF_RUN = re.compile(r"(?m)^([-+]RUN )(?!--)")


def _with_run_flags(fix: str, step: Step) -> str:
    """A fix's ``-RUN``/``+RUN`` lines (from the history, which does not record a
    RUN's flags) with the Dockerfile's ``--mount``/``--network`` flags: without
    them the line would lose the cache or the bind-mounted manifest it needs."""
    return _DIFF_RUN.sub(lambda m: m.group(1) + " ".join(step.flags) + " ", fix)


def cite_dockerfile(
    findings: Sequence[Finding],
    image: Image,
    mapping: LayerMap,
    from_dockerfile: Sequence[Finding] = (),
) -> list[Finding]:
    """``findings`` with hashed COPY sources replaced by the Dockerfile's lines."""
    steps: dict[int, Step] = {}
    runs: dict[int, Step] = {}
    for layer in image.layers:
        step = mapping.step_for_layer(image, layer.index)
        if step is not None and step.kind in (Instruction.COPY, Instruction.ADD):
            steps[layer.index] = step
        elif step is not None and step.kind is Instruction.RUN and step.flags:
            runs[layer.index] = step
    by_location: dict[tuple[str, tuple[str, int] | None], Finding] = {
        (f.rule, f.location): f for f in from_dockerfile if f.rule.startswith("LS5") and f.location
    }

    def layer_text(m: re.Match[str]) -> str:
        step = steps.get(int(m.group(1)))
        if step is None or not _HASHED.search(m.group(3)):
            return m.group(0)
        return f"layer {m.group(1)} (line {step.line}: {_step_text(step)})"

    out: list[Finding] = []
    for f in findings:
        twin = by_location.get((f.rule, f.location))
        if twin is not None and f.layer is not None:
            cost = _LAYER_COST.search(f.message)
            message = twin.message
            if cost is not None:
                message = _STEP_COST.sub(cost.group(0), message, count=1)
            f = dataclasses.replace(f, message=message, fix=twin.fix)
        message = _LAYER.sub(layer_text, f.message)
        fix = _LAYER.sub(layer_text, f.fix)
        step = steps.get(f.layer) if f.layer is not None else None
        if step is not None and "--mount=type=bind," in fix:
            fix = _bind_mount(fix, step)
        if step is not None and "<src>" in fix:
            fix = _copy_source(fix, step)
        run = runs.get(f.layer) if f.layer is not None else None
        if run is not None:
            fix = _with_run_flags(fix, run)
        if message != f.message or fix != f.fix:
            f = dataclasses.replace(f, message=message, fix=fix)
        out.append(f)
    return out
