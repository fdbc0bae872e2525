"""Dockerfile lines: BuildKit's line rules, from the file's text to its instructions.

Parser directives, continuation lines (comment and empty lines inside a
continuation dropped) and here-document bodies, as listed in the
:mod:`layerscope.dockerfile.parser` docstring. The reader gives one logical
instruction per entry, with its first and last line; splitting that into
flags, steps and stages is :func:`layerscope.dockerfile.parser.parse`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from layerscope.dockerfile.words import heredoc_marks, split_flags
from layerscope.errors import ConfigError
from layerscope.history import exec_form_args
from layerscope.names import printable

__all__ = ["MAX_DOCKERFILE_BYTES", "DockerfileError", "Heredoc", "LineReader", "quote"]

# A Dockerfile is text a person wrote: nothing real comes near this, and the
# shell rules read every RUN several times (docs/security.md).
MAX_DOCKERFILE_BYTES = 1 << 20
QUOTE_WIDTH = 80


def quote(text: str, width: int = QUOTE_WIDTH) -> str:
    """``text`` for an error line: control characters escaped, at most
    ``width`` characters (a Dockerfile may be anything, even a secret)."""
    shown = printable(text[: width + 1])
    return shown if len(shown) <= width else shown[: width - 1] + "…"


_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*\Z")
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})


class DockerfileError(ConfigError):
    """The Dockerfile is missing, unreadable or does not parse."""


@dataclass(frozen=True, slots=True)
class Heredoc:
    """A here-document attached to an instruction.

    ``content`` is the body with its newlines; ``line`` its first body line
    and ``end_line`` the terminator's line (1-based). ``expand`` is false
    when the delimiter was quoted; ``chomp`` for ``<<-`` (leading tabs go).
    """

    name: str
    content: str
    expand: bool
    chomp: bool
    line: int
    end_line: int


class LineReader:
    """Reads the text into logical instructions: :meth:`run` gives one
    (text, first line, last line, heredocs) per instruction; ``escape`` and
    ``warnings`` hold what the parser directives and the lines said."""

    def __init__(self, text: str, path: str) -> None:
        self.lines = text.removeprefix("\ufeff").splitlines(keepends=True)
        self.path = path
        self.escape = "\\"
        self.warnings: list[str] = []
        self._continuation = self._continuation_re()

    def _continuation_re(self) -> re.Pattern[str]:
        e = re.escape(self.escape)
        return re.compile(rf"([^{e}]){e}[ \t]*\Z|\A{e}[ \t]*\Z")

    def _trim(self, line: str) -> tuple[str, bool]:
        m = self._continuation.search(line)
        if m is None:
            return line, True
        return line[: m.start()] + (m.group(1) or ""), False

    def _directive(self, line: str, state: dict[str, bool]) -> None:
        if state["done"]:
            return
        m = _DIRECTIVE.match(line)
        if m is None or m.group(1).lower() not in ("escape", "syntax"):
            state["done"] = True
            return
        key = m.group(1).lower()
        if state.get(key):
            raise DockerfileError(
                f"{quote(self.path, 200)}: only one {key} parser directive can be used"
            )
        state[key] = True
        if key == "escape":
            if m.group(2) not in ("\\", "`"):
                raise DockerfileError(
                    f"{quote(self.path, 200)}: invalid escape token {quote(m.group(2))!r}"
                )
            self.escape = m.group(2)
            self._continuation = self._continuation_re()

    def run(self) -> list[tuple[str, int, int, list[Heredoc]]]:
        out: list[tuple[str, int, int, list[Heredoc]]] = []
        lines = self.lines
        state = {"done": False}
        i = 0
        while i < len(lines):
            raw = lines[i].rstrip("\r\n")
            self._directive(raw, state)
            i += 1
            start = i
            text = raw.lstrip()
            if text.startswith("#"):
                text = ""
            line, end = self._trim(text)
            if end and not line:
                continue
            empty_continuation = False
            parts = [line]  # joined once: adding to a string per line is quadratic
            while not end and i < len(lines):
                nxt = lines[i].rstrip("\r\n")
                i += 1
                if nxt.lstrip().startswith("#"):
                    continue
                if not nxt.strip():
                    empty_continuation = True
                    continue
                part, end = self._trim(nxt)
                parts.append(part)
            line = "".join(parts)
            if empty_continuation:
                self.warnings.append(f"line {start}: empty continuation line")
            docs: list[Heredoc] = []
            keyword = line.split(None, 1)[0].upper()
            if keyword in _HEREDOC_KEYWORDS and not _is_json(split_flags(line)[2]):
                for name, expand_, chomp in heredoc_marks(line):
                    body: list[str] = []
                    first = i + 1
                    while True:
                        if i >= len(lines):
                            raise DockerfileError(
                                f"{quote(self.path, 200)}:{start}: unterminated heredoc "
                                f"{quote(name)!r}"
                            )
                        candidate = lines[i].rstrip("\r\n")
                        i += 1
                        if (candidate.lstrip("\t") if chomp else candidate) == name:
                            break
                        body.append(lines[i - 1])
                    content = "".join(body)
                    if chomp:
                        content = re.sub(r"(?m)^\t+", "", content)
                    docs.append(Heredoc(name, content, expand_, chomp, first, i))
            out.append((line, start, i, docs))
        return out


def _is_json(args: str) -> bool:
    return exec_form_args(args) is not None
