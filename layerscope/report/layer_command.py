"""What each view says a layer's step was: its instruction and command, and what
to say instead of ``UNKNOWN`` and nothing for a layer without one."""

from __future__ import annotations

import re

from layerscope.analysis import Analysis
from layerscope.model import Instruction

_DIGEST_SOURCE = re.compile(r"\b(file|dir|multi):([0-9a-f]{12})[0-9a-f]{52}\b")

NO_HISTORY = "(no history entry)"


def compact_digests(command: str) -> str:
    """``COPY dir:<64 hex> in /app`` with the digest cut to 12 hex digits, so the
    destination (what tells two COPY layers apart) stays in sight."""
    return _DIGEST_SOURCE.sub(r"\1:\2…", command)


def layer_command(
    analysis: Analysis, index: int, *, compact: bool = True
) -> tuple[Instruction | None, str]:
    """(instruction, command) of layer ``index``, digests compacted unless not
    ``compact``. The instruction is None when the history does not name one; the
    command then says what the layer is (a base image layer, or one with no
    command recorded) unless the history holds some text."""
    layer = analysis.image.layers[index]
    h = analysis.image.layer_history(layer)
    if h is None:
        return None, NO_HISTORY
    args = compact_digests(h.parsed.args) if compact else h.parsed.args
    if h.parsed.instruction is not Instruction.UNKNOWN:
        return h.parsed.instruction, args
    if args.strip():
        return None, args
    base = analysis.base_layer_count
    if base is None or index < base:
        return None, "base image layer (no command recorded)"
    return None, "(no command recorded)"
