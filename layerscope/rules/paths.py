"""Many paths searched at once, and the final filesystem laid out for it.

An image holds hundreds of thousands of paths, and a Python call per path per
rule was most of an analysis. :class:`PathText` joins the paths with newlines
once, so a regex scans all of them in C and only the few paths it hits come
back to Python. :class:`FinalPaths` is the final filesystem as plain lists
(built once per analysis, see ``RuleContext.paths``) with such a text.

A search here is a filter, never the answer: callers test every candidate
with the exact per-path condition, so a regex only has to find at least the
paths that condition accepts.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from itertools import chain

from layerscope.model import Entry, EntryType
from layerscope.tallies import final_columns

__all__ = ["FinalPaths", "PathText", "alternation", "line_pattern"]


class PathText:
    """Paths joined as ``"\\npath0\\npath1\\n...\\n"`` for bulk regex search.

    :meth:`candidates` gives the indices of the paths a regex finds
    something in. A match belongs to the path that holds its last character,
    the newline after a path counting as part of it. So a pattern anchors at
    a path's start with the newline before it (``\\ntmp/``) and at its end
    with a lookahead (``\\.log(?=\\n)``). A match must take a character of
    its path or the newline after it (a bare ``\\n`` belongs to the path
    before), and must not cross a newline: a match spanning two paths could
    hide a hit in the first.

    A regex with a literal prefix (``\\ntmp/``, ``\\.git/``) scans the text at
    memory speed; an alternation with no common first character is tried at
    every position and is ten times slower, so pass such alternatives as
    separate regexes.
    """

    __slots__ = ("_text", "paths")

    def __init__(self, paths: Sequence[str], text: str | None = None) -> None:
        """``text``: the joined paths, made already by one who checked that
        no path holds a newline (``tallies.final_columns``)."""
        self.paths = paths
        if text is not None:
            self._text: str | None = text
            return
        # One join (not "\n" + ... + "\n": two more copies of the whole text,
        # and two held at once, at the analysis' peak of memory).
        text = "\n".join(chain(("",), paths, ("",)))
        # A path holding a newline would make two lines: then there is no
        # telling paths apart, and every path is a candidate.
        self._text = text if text.count("\n") == len(paths) + 1 else None

    def candidates(self, *regexes: re.Pattern[str]) -> list[int]:
        """Indices, ascending, of the paths in which any of ``regexes`` matches."""
        text = self._text
        if text is None:
            return list(range(len(self.paths)))
        hits: list[int] = []
        for regex in regexes:
            search = regex.search
            pos = 0
            # Newlines before offset ``counted``: the text before a character
            # of path i holds i + 1 of them (the first, and one per path).
            counted = newlines = 0
            while (m := search(text, pos)) is not None:
                last = max(m.end() - 1, m.start())
                newlines += text.count("\n", counted, last)
                counted = last
                hits.append(max(newlines - 1, 0))
                # Go on from the newline that ends this path (it may start a
                # match in the next one); always move forwards.
                pos = max(text.find("\n", last), m.start() + 1)
        if len(regexes) > 1:
            return sorted(set(hits))
        return hits


def line_pattern(pattern: str) -> re.Pattern[str]:
    """The :class:`PathText` version of a hand-written path regex.

    ``pattern`` is matched from a path's start (``re.match``), ends a path
    with ``\\Z`` and spells "any character of one path component" ``[^/]``.
    The result anchors at the newline before a path, stops at the one after
    it and never crosses one. A pattern with another class that matches a
    newline (``\\s``, ``[^x]``) or an escaped backslash needs its own.
    """
    body = pattern.replace("[^/]", "[^/\\n]").replace("\\Z", "(?=\\n)")
    return re.compile("\\n(?:" + body + ")")


_META = frozenset(".^$*+?{}[]|()\\")
_QUANTIFIERS = frozenset("*+?{")


def _literal_head(pattern: str) -> tuple[list[str], str]:
    """``pattern`` split into its leading literal tokens (a character, or an
    escaped one such as ``\\.``) and the rest. A token a quantifier follows
    (``3?``) is not fixed, so it starts the rest."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            # Only an escaped punctuation character is one literal character
            # (\\d, \\n, \\Z, \\1 ... are classes, anchors or references).
            if not nxt or nxt.isalnum() or nxt == "_":
                break
            token = pattern[i : i + 2]
        elif c in _META:
            break
        else:
            token = c
        if pattern[i + len(token) : i + len(token) + 1] in _QUANTIFIERS:
            break
        tokens.append(token)
        i += len(token)
    return tokens, pattern[i:]


def alternation(parts: Sequence[str]) -> str:
    """``(?:a|b|...)`` of the regexes ``parts``, their common literal heads
    factored out (``var/lib/x|var/cache/y`` becomes ``var/(?:lib/x|cache/y)``).

    The same strings match at a position, but the regex engine, which tries
    an alternation's branches one by one, compares a shared head once: a
    search of every path for dozens of cache roots takes a fraction of the
    time. Which branch matches may differ, so use it where only whether (and
    where a match starts) counts, as in :meth:`PathText.candidates`.
    """
    trie: dict[str, object] = {}
    for part in parts:
        if _has_top_level_bar(part):
            part = f"(?:{part})"  # its own alternation: kept whole
        tokens, rest = _literal_head(part)
        node = trie
        for token in tokens:
            node = node.setdefault(token, {})  # type: ignore[assignment]
        ends: list[str] = node.setdefault("", [])  # type: ignore[assignment]
        if rest not in ends:
            ends.append(rest)
    return _emit(trie)


def _emit(node: dict[str, object]) -> str:
    branches: list[str] = list(node.get("", []))  # type: ignore[call-overload]
    for token, child in node.items():
        if token:
            branches.append(token + _emit(child))  # type: ignore[arg-type]
    if len(branches) == 1:
        only = branches[0]
        # One branch: no group needed unless it is an alternation itself.
        return only if not _has_top_level_bar(only) else f"(?:{only})"
    return "(?:" + "|".join(branches) + ")"


def _has_top_level_bar(pattern: str) -> bool:
    depth = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            # Skip a character class: ']' right after '[' or '[^' is literal.
            j = i + 1
            if pattern[j : j + 1] == "^":
                j += 1
            if pattern[j : j + 1] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


class FinalPaths:
    """The final filesystem as lists in one order: ``paths``, ``nodes``
    (``(layer, entry)`` of each path, as ``UnionFS.final`` has them),
    ``types`` (each entry's type) and ``text`` (the paths, for search)."""

    __slots__ = ("nodes", "paths", "text", "types")

    def __init__(self, final: dict[str, tuple[int, Entry]]) -> None:
        self.paths, self.nodes, self.types, text = final_columns(final)
        self.text = PathText(self.paths, text)

    def of_type(self, kind: EntryType) -> list[int]:
        """Indices of the paths whose entry is of ``kind``, ascending.

        ``list.index`` skips the other entries in C: fast for a rare kind
        (hard links), one Python step per hit for a common one.
        """
        out: list[int] = []
        find = self.types.index
        i = -1
        with contextlib.suppress(ValueError):
            while True:
                i = find(kind, i + 1)
                out.append(i)
        return out
