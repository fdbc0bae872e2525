"""The ``no-compile`` fix: ``pip install --no-compile`` in a RUN whose
environment sets ``PYTHONDONTWRITEBYTECODE`` (LS307).

The variable stops the interpreter from writing bytecode, not pip: pip
compiles every module it installs unless told ``--no-compile``. The flag
goes right after each ``pip install`` of the RUN; with an image, the saving
is the ``__pycache__/*.pyc`` files the step's layer stores, and the line pip
wrote for each into its package's ``RECORD`` (``path,,`` with csv's ``\r\n``,
the path relative to the ``site-packages`` holding the package). A RUN that
also runs ``compileall`` asked for bytecode itself and gets no fix.
"""

from __future__ import annotations

from collections.abc import Iterable

from layerscope.dockerfile.parser import Stage
from layerscope.fix.cache import insert_after, is_pip_install
from layerscope.fix.model import Evidence, Fix
from layerscope.fix.text import DockerfileText, commands
from layerscope.model import Instruction
from layerscope.rules.bytecode import no_bytecode
from layerscope.shell.commands import has_flag

_VAR = "PYTHONDONTWRITEBYTECODE"


def _record_line(path: str) -> int:
    """Bytes of the ``RECORD`` line pip writes for a compiled file (0 outside a
    ``site-packages`` or ``dist-packages`` directory)."""
    for marker in ("/site-packages/", "/dist-packages/"):
        at = path.find(marker)
        if at >= 0:
            return len(path[at + len(marker) :].encode("utf-8", "surrogateescape")) + len(",,\r\n")
    return 0


def no_compile(t: DockerfileText, stage: Stage, ev: Evidence | None) -> Iterable[Fix]:
    """``--no-compile`` for each RUN of the stage that pip-installs while
    ``PYTHONDONTWRITEBYTECODE`` is set (and ``PIP_NO_COMPILE`` is not)."""
    for step in stage.steps:
        if step.kind is not Instruction.RUN or step.json is not None:
            continue
        env = dict(step.env)
        # The parser has unquoted the values; PIP_NO_COMPILE reads like the other.
        if not no_bytecode(env.get(_VAR)) or no_bytecode(env.get("PIP_NO_COMPILE")):
            continue
        cmds = commands(step)
        pips = [c for c in cmds if is_pip_install(c)]
        if not pips or any(has_flag(c, "--no-compile") for c in pips):
            continue
        if any("compileall" in c.argv for c in cmds):
            continue
        start, end = t.span(step)
        edits = insert_after(
            t.text[start:end], start, r"\bpip[0-9.]*\s+install\b", "--no-compile", len(pips)
        )
        if not edits:
            continue
        saved = 0
        if ev is not None and ev.layer(step) is not None:
            saved = sum(
                size + _record_line(path)
                for path, size in ev.files(step)
                if path.endswith(".pyc") and "__pycache__/" in path
            )
            if saved == 0:
                continue
        yield Fix(
            "no-compile",
            "LS307",
            step.line,
            f"pip compiles no bytecode into the layer of line {step.line} ({_VAR} is set)",
            tuple(edits),
            bytes=saved,
        )
