"""The shell tokenizer behind :mod:`layerscope.shell.commands`: words with their
quoting, operators, redirections, here-documents, comments and line
continuations, as a POSIX shell reads them. Best effort, never raising: an
unbalanced quote runs to the end of the text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SEPARATORS = ("&&", "||", "|&", ";;", ";&", "|", "&", ";", "(", ")")
REDIRECTS = ("<<<", "<<-", "<<", "<&", "<>", ">>", ">|", ">&", "<", ">")


@dataclass(slots=True)
class Word:
    """A word after quote removal; ``name`` is set for ``NAME=value``."""

    text: str
    name: str | None = None
    nested: list[str] = field(default_factory=list)


_Token = Word | str  # a str is an operator: separator, newline or redirect


class Lexer:
    """Turns shell text into words and operators (one pass, no expansion)."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.tokens: list[_Token] = []
        self.heredocs: list[tuple[str, bool]] = []  # (delimiter, strip tabs)
        self.delim_next: bool | None = None  # the next word is a heredoc delimiter
        # the word being read
        self.buf: list[str] = []
        self.in_word = False
        self.quoted = False
        self.assign: str | None = None
        self.nested: list[str] = []

    def _reset(self) -> None:
        self.buf = []
        self.in_word = False
        self.quoted = False
        self.assign = None
        self.nested = []

    def _add(self, text: str, quoted: bool = False) -> None:
        if (
            text == "="
            and not quoted
            and not self.quoted
            and self.assign is None
            and NAME_RE.fullmatch("".join(self.buf))
        ):
            self.assign = "".join(self.buf)
        self.in_word = True
        self.quoted = self.quoted or quoted
        self.buf.append(text)

    def _end_word(self) -> None:
        if not self.in_word:
            return
        text = "".join(self.buf)
        if self.delim_next is not None:
            self.heredocs.append((text, self.delim_next))
            self.delim_next = None
        self.tokens.append(Word(text, self.assign, self.nested))
        self._reset()

    def run(self) -> list[_Token]:
        s = self.s
        n = len(s)
        while self.i < n:
            c = s[self.i]
            nxt = s[self.i + 1] if self.i + 1 < n else ""
            if c == "\\":
                if nxt != "\n" and nxt:
                    self._add(nxt, quoted=True)
                self.i += 2
            elif c == "'":
                end = s.find("'", self.i + 1)
                end = n if end < 0 else end
                self._add(s[self.i + 1 : end], quoted=True)
                self.i = end + 1
            elif c == '"':
                self._double_quoted()
            elif c == "`":
                self._backtick()
            elif c == "$" and nxt in ("(", "{"):
                self._dollar()
            elif c in " \t\r":
                self._end_word()
                self.i += 1
            elif c == "\n":
                self._end_word()
                self.tokens.append("\n")
                self.i += 1
                self._skip_heredoc_bodies()
            elif c == "#" and not self.in_word:
                end = s.find("\n", self.i)
                self.i = n if end < 0 else end
            elif c in "<>" or (c == "&" and nxt == ">"):
                self._redirect()
            elif c in "|&;()":
                self._end_word()
                op = next(o for o in SEPARATORS if s.startswith(o, self.i))
                self.tokens.append(op)
                self.i += len(op)
            else:
                self._add(c)
                self.i += 1
        self._end_word()
        return self.tokens

    def _redirect(self) -> None:
        s = self.s
        if self.in_word and not self.quoted and "".join(self.buf).isdigit():
            self._reset()  # "2>" : the digits name a file descriptor
        else:
            self._end_word()
        if s.startswith("&>>", self.i):
            op = "&>>"
        elif s.startswith("&>", self.i):
            op = "&>"
        else:
            op = next(o for o in REDIRECTS if s.startswith(o, self.i))
        self.tokens.append(op)
        self.i += len(op)
        if op in ("<<", "<<-"):
            self.delim_next = op == "<<-"

    def _skip_heredoc_bodies(self) -> None:
        s = self.s
        for delimiter, strip_tabs in self.heredocs:
            while self.i < len(s):
                end = s.find("\n", self.i)
                end = len(s) if end < 0 else end
                line = s[self.i : end]
                self.i = end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
        self.heredocs = []

    def _double_quoted(self) -> None:
        s = self.s
        self._add("", quoted=True)
        self.i += 1
        while self.i < len(s):
            c = s[self.i]
            nxt = s[self.i + 1] if self.i + 1 < len(s) else ""
            if c == '"':
                self.i += 1
                return
            if c == "\\" and nxt in ('"', "\\", "$", "`", "\n"):
                if nxt != "\n":
                    self._add(nxt, quoted=True)
                self.i += 2
            elif c == "$" and nxt in ("(", "{"):
                self._dollar()
            elif c == "`":
                self._backtick()
            else:
                self._add(c, quoted=True)
                self.i += 1

    def _dollar(self) -> None:
        s = self.s
        start = self.i
        if s.startswith("$((", start):
            content, end = _balanced(s, start + 2, "(", ")")
        elif s[start + 1] == "(":
            content, end = _balanced(s, start + 2, "(", ")")
            self.nested.append(content)
        else:
            content, end = _balanced(s, start + 2, "{", "}")
        self._add(s[start:end], quoted=True)
        self.i = end

    def _backtick(self) -> None:
        s = self.s
        j = self.i + 1
        content: list[str] = []
        while j < len(s) and s[j] != "`":
            if s[j] == "\\" and j + 1 < len(s):
                content.append(s[j + 1] if s[j + 1] in "`\\$" else s[j : j + 2])
                j += 2
            else:
                content.append(s[j])
                j += 1
        self.nested.append("".join(content))
        self._add(s[self.i : j + 1], quoted=True)
        self.i = j + 1


def _balanced(s: str, i: int, open_: str, close: str) -> tuple[str, int]:
    """Content up to the ``close`` matching an already-open ``open_``.

    Returns the content and the index just past the closing character (the
    end of ``s`` when it never closes). Quotes and backslashes are honoured.
    """
    depth = 1
    start = i
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            end = s.find("'", i + 1)
            i = len(s) if end < 0 else end + 1
            continue
        if c == '"':
            i += 1
            while i < len(s) and s[i] != '"':
                i += 2 if s[i] == "\\" else 1
            i += 1
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return s[start:i], i + 1
        i += 1
    return s[start:], len(s)
