"""The Dockerfile text the fix writers edit, and the shell-text checks they share.

:class:`DockerfileText` turns steps into character offsets; the checks say
what a RUN's commands are, whether they are joined by ``&&`` only, and
whether a command appended to a RUN runs after everything in it.
"""

from __future__ import annotations

import posixpath
import re

from layerscope.dockerfile.parser import Dockerfile, Stage, Step
from layerscope.fix.model import Edit
from layerscope.model import Instruction
from layerscope.shell.commands import SimpleCommand, split_commands, unwrap
from layerscope.shell.ecosystems import is_clean_subcommand

__all__ = [
    "DockerfileText",
    "and_only",
    "append_to_run",
    "appendable",
    "commands",
    "is_cleanup",
    "mount_targets",
    "subcommand",
    "unquoted",
    "workdirs",
]

_INDENT = "    "


class DockerfileText:
    """The Dockerfile text with line offsets."""

    def __init__(self, df: Dockerfile) -> None:
        self.df = df
        self.text = df.text
        self.starts = [0]
        for line in df.text.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        self.eol = "\r\n" if "\r\n" in df.text.split("\n", 1)[0] + "\n" else "\n"

    def span(self, step: Step) -> tuple[int, int]:
        """The whole lines of ``step`` (heredoc bodies included), newline included."""
        return self.starts[step.line - 1], self.starts[min(step.end_line, len(self.starts) - 1)]

    def instruction_end(self, step: Step) -> int:
        """Offset just after the last character of the instruction line(s)."""
        line = (step.heredocs[0].line - 1) if step.heredocs else step.end_line
        end = self.starts[line]
        while end > self.starts[line - 1] and self.text[end - 1] in "\r\n":
            end -= 1
        while end > self.starts[line - 1] and self.text[end - 1] in " \t":
            end -= 1
        return end

    def args_start(self, step: Step) -> int:
        """Offset of the first argument after the keyword and flags."""
        start = self.starts[step.line - 1]
        first = self.text[start : self.starts[step.line]]
        m = re.match(r"\s*\S+\s+", first)
        pos = start + (m.end() if m else len(first))
        for flag in step.flags:
            m2 = re.compile(r"\S+\s+").match(self.text, pos)
            if m2 is None or not self.text[pos:].startswith(flag[:2]):
                break
            pos = m2.end()
        return pos

    def keyword_end(self, step: Step) -> int:
        """Offset just after the instruction keyword."""
        start = self.starts[step.line - 1]
        m = re.compile(r"\s*\S+").match(self.text, start)
        return m.end() if m else start

    def line_end(self, line: int) -> int:
        return self.starts[min(line, len(self.starts) - 1)]


# -- shell text checks ----------------------------------------------------------------


def unquoted(script: str) -> str:
    """``script`` with quoted strings blanked (for operator and comment checks)."""
    return re.sub(r"'[^']*'|\"(?:\\.|[^\"\\])*\"", "''", script)


def _heredoc_script(step: Step) -> bool:
    """A ``RUN <<EOF`` whose body is the script and starts with ``set -e``: a
    command added as its last line runs after everything, and stops nothing."""
    if len(step.heredocs) != 1 or not re.fullmatch(r"\d*<<-?\S+", step.args.strip()):
        return False
    if step.heredocs[0].content.startswith("#!"):
        return False
    first = next(iter(split_commands(step.script)), None)
    return (
        first is not None
        and first.name == "set"
        and any(a.startswith("-") and "e" in a for a in first.argv[1:])
    )


def appendable(step: Step) -> bool:
    """True when ``&& cmd`` appended to the RUN's text runs after everything."""
    if step.kind is not Instruction.RUN or step.json is not None:
        return False
    if step.heredocs:
        return _heredoc_script(step)
    bare = unquoted(step.args).rstrip()
    if re.search(r"(?:^|\s)#", bare) or bare.endswith(("&", "|", ";", "\\")):
        return False
    return bool(bare)


def and_only(script: str) -> bool:
    """True when the commands of ``script`` are joined by ``&&`` only."""
    bare = unquoted(script)
    return not re.search(r";|\|\||(?<![&|])[&|](?![&|])|\n|(?:^|\s)#", bare)


def commands(step: Step) -> list[SimpleCommand]:
    """The simple commands of the step's script, wrappers (``sudo``, ``env`` ...) removed."""
    return [unwrap(c) for c in split_commands(step.script)]


def subcommand(c: SimpleCommand) -> str:
    """The first argument (``install`` of ``apt-get install``), or ``""``."""
    return c.argv[1] if len(c.argv) > 1 else ""


def is_cleanup(c: SimpleCommand) -> bool:
    """True for a command a cleanup RUN may hold: ``rm``, ``find -delete``, a cache clean."""
    if c.name in ("rm", "true", "set"):
        return True
    if c.name == "find" and "-delete" in c.argv:
        return True
    return is_clean_subcommand(c.name, subcommand(c), movable_only=True)


def mount_targets(step: Step) -> list[str]:
    """The targets of the step's ``--mount`` flags."""
    targets = []
    for f in step.flags:
        if f.startswith("--mount="):
            m = re.search(r"(?:target|dst|destination)=([^,]+)", f)
            if m:
                targets.append(m.group(1))
    return targets


def append_to_run(t: DockerfileText, step: Step, command: str) -> Edit:
    """Append ``&& command`` to a RUN on a continuation line of its own (a
    heredoc script gets it as its last line)."""
    if step.heredocs:
        pos = t.starts[step.heredocs[0].end_line - 1]
        return Edit(pos, pos, command + t.eol)
    pos = t.instruction_end(step)
    return Edit(pos, pos, f" {t.df.escape}{t.eol}{_INDENT}&& {command}")


# -- working directories --------------------------------------------------------------


def workdirs(stage: Stage) -> list[str]:
    """The working directory in effect at each step of the stage."""
    wd = "/"
    out = []
    for step in stage.steps:
        out.append(wd)
        if step.kind is Instruction.WORKDIR:
            wd = posixpath.normpath(posixpath.join(wd, step.expanded.strip().strip("\"'")))
    return out
