"""LS307: Python bytecode that pip compiled although the image asks for none.

``ENV PYTHONDONTWRITEBYTECODE=1`` keeps Python from writing ``.pyc`` files
when it imports modules, but ``pip install`` compiles every module it
installs regardless (it runs ``compileall``), so the ``__pycache__``
directories land in the install's layer anyway.
"""

from __future__ import annotations

from collections.abc import Iterator

from layerscope.counts import counted
from layerscope.model import Instruction
from layerscope.rules import rule
from layerscope.rules.common import describe, is_run, kept_files
from layerscope.rules.context import RuleContext
from layerscope.rules.fixes import insert_flag, rewrite
from layerscope.rules.leftover_files import leftover_finding
from layerscope.rules.types import Finding, Kind, Severity
from layerscope.shell.commands import SimpleCommand, has_flag, split_commands, unwrap

__all__ = ["bytecode_against_env", "no_bytecode"]

_VAR = "PYTHONDONTWRITEBYTECODE"


def no_bytecode(env_value: str | None) -> bool:
    """Whether ``PYTHONDONTWRITEBYTECODE`` with this (unquoted) value asks for no
    bytecode: set and neither empty nor ``0``."""
    return bool(env_value) and env_value != "0"


_PIP_INSTALL = r"(?:\bpip[0-9.]*|-m\s+pip)\s+install\b"


def _pip_installs(script: str) -> list[SimpleCommand]:
    out = []
    for c in split_commands(script):
        inner = unwrap(c)
        argv = inner.argv
        if inner.name.startswith("python") and argv[1:3] == ("-m", "pip"):
            argv = argv[2:]
        elif not inner.name.startswith("pip"):
            continue
        if len(argv) > 1 and argv[1] == "install":
            out.append(inner)
    return out


def _asks_for_no_bytecode(ctx: RuleContext, layer: int) -> bool:
    """``PYTHONDONTWRITEBYTECODE`` set (non-empty) by an ENV before ``layer``'s
    step, or in the image's config when the history does not say."""
    index = ctx.image.layers[layer].history_index
    history = ctx.image.history
    if index is not None and history:
        for h in history[:index]:
            p = h.parsed
            if p.instruction is Instruction.ENV and _VAR in p.args:
                words = p.args.replace("=", " ").split()
                at = words.index(_VAR) if _VAR in words else -1
                if 0 <= at < len(words) - 1 and words[at + 1] not in ("", '""', "0"):
                    return True
        return False
    return no_bytecode(ctx.image.config.env_value(_VAR))


@rule(
    "LS307",
    kind=Kind.LEFTOVER,
    severity=Severity.LOW,
    title="Bytecode compiled by pip though PYTHONDONTWRITEBYTECODE is set",
)
def bytecode_against_env(ctx: RuleContext) -> Iterator[Finding]:
    """``.pyc`` files that ``pip install`` compiled in an image whose
    Dockerfile sets ``PYTHONDONTWRITEBYTECODE``.

    The variable says the image wants no bytecode written, but it only
    stops the interpreter; pip compiles every module it installs all the
    same. Pass ``--no-compile`` to ``pip install`` (or set
    ``PIP_NO_COMPILE=1``) so the image holds what it asked for. (Without
    bytecode, the first import of each module compiles it in memory.)

    Bad::

        ENV PYTHONDONTWRITEBYTECODE=1
        RUN pip install --no-cache-dir -r requirements.txt

    Good::

        ENV PYTHONDONTWRITEBYTECODE=1
        RUN pip install --no-cache-dir --no-compile -r requirements.txt
    """
    for layer in range(len(ctx.image.layers)):
        if not is_run(ctx, layer):
            continue
        cmd = ctx.command(layer)
        pips = _pip_installs(cmd)
        if not pips or any(has_flag(c, "--no-compile") for c in pips):
            continue
        if not _asks_for_no_bytecode(ctx, layer):
            continue
        files = [
            (e.path, e.size)
            for e in kept_files(ctx, layer)
            if e.path.endswith(".pyc") and "__pycache__/" in e.path
        ]
        if not files:
            continue
        message = (
            f"{counted(len(files), '.pyc file')} compiled by pip in {describe(ctx, layer)}, "
            "although "
            f"the image sets {_VAR}: pip compiles what it installs regardless"
        )
        fix = f"Tell pip not to compile (layer {layer}):\n" + rewrite(
            cmd, insert_flag(cmd, _PIP_INSTALL, "--no-compile")
        )
        yield leftover_finding("LS307", layer, files, message, fix, "bytecode-compiled")
