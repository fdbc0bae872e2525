"""Dockerfile words: quoting, leading flags, heredoc marks and ``$VAR`` expansion.

The lexical rules BuildKit applies inside one instruction, as plain string
functions shared by the line reader, the parser and the layer mapping:
whitespace-separated words with their quotes kept, quote removal, leading
``--flag`` words, here-document markers, ``name=value`` pairs, and variable
substitution.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "HEREDOC",
    "env_pairs",
    "expand",
    "heredoc_marks",
    "split_flags",
    "split_words",
    "unquote",
]

HEREDOC = re.compile(r"(\d*)<<(-?)([^<]*)\Z")
_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


# -- expansion ----------------------------------------------------------------


def expand(text: str, env: Mapping[str, str], unknown: str | None = None) -> str:
    """Substitute ``$VAR``, ``${VAR}``, ``${VAR:-word}``, ``${VAR:+word}`` in ``text``.

    Like BuildKit's word expansion: nothing inside single quotes, and an
    escaped ``\\$`` stays literal. A variable not in ``env`` becomes
    ``unknown`` when given, else stays as written.
    """
    out: list[str] = []
    i = 0
    quote = ""
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and quote != "'":
            out.append(text[i : i + 2])
            i += 2
            continue
        if c in "'\"" and (not quote or quote == c):
            quote = "" if quote else c
        if c == "$" and quote != "'":
            m = _VAR.match(text, i)
            if m is not None:
                out.append(_substitute(m, env, unknown))
                i = m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _substitute(m: re.Match[str], env: Mapping[str, str], unknown: str | None) -> str:
    name = m["braced"] or m["bare"]
    value = env.get(name)
    op = m["op"] or ""
    if op:
        is_set = value is not None and (value != "" or ":" not in op)
        word = expand(m["word"], env, unknown)
        if op.endswith("-"):
            return value if is_set and value is not None else word
        return word if is_set else ""
    if value is not None:
        return value
    return m.group() if unknown is None else unknown


# -- words --------------------------------------------------------------------


def split_words(text: str) -> list[str]:
    """Whitespace-separated words, quotes kept, quoted spaces not splitting."""
    words: list[str] = []
    buf: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and quote != "'":
            buf.append(text[i : i + 2])
            i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
            buf.append(c)
        elif c in "'\"":
            quote = c
            buf.append(c)
        elif c.isspace():
            if buf:
                words.append("".join(buf))
                buf = []
        else:
            buf.append(c)
        i += 1
    if buf:
        words.append("".join(buf))
    return words


def unquote(word: str) -> str:
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(word):
        c = word[i]
        if c == "\\" and i + 1 < len(word) and quote != "'":
            out.append(word[i + 1])
            i += 2
            continue
        if c in "'\"" and (not quote or quote == c):
            quote = "" if quote else c
        else:
            out.append(c)
        i += 1
    return "".join(out)


def heredoc_marks(line: str) -> list[tuple[str, bool, bool]]:
    marks = []
    for word in split_words(line):
        m = HEREDOC.match(word)
        if m is None or not m.group(3):
            continue
        name = unquote(m.group(3))
        if not name or len(split_words(name)) != 1:
            continue
        marks.append((name, name == m.group(3), m.group(2) == "-"))
    return marks


def split_flags(line: str) -> tuple[str, list[str], str]:
    """``RUN --mount=x cmd`` -> (``RUN``, [``--mount=x``], ``cmd``)."""
    parts = line.strip().split(None, 1)
    keyword = parts[0].upper()
    rest = parts[1] if len(parts) > 1 else ""
    flags: list[str] = []
    while rest.startswith("--"):
        words = split_words(rest)
        if not words or words[0] == "--":
            break
        flags.append(unquote(words[0]))
        m = re.match(r"\s*" + re.escape(words[0]) + r"\s*", rest)
        rest = rest[m.end() :] if m else ""
    return keyword, flags, rest


def env_pairs(args: str, legacy_ok: bool = True) -> list[tuple[str, str]]:
    """ENV/LABEL/ARG argument text -> (name, value) pairs, values unquoted."""
    words = split_words(args)
    if legacy_ok and words and "=" not in words[0] and len(words) > 1:
        return [(words[0], unquote(args.strip()[len(words[0]) :].strip()))]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        pairs.append((unquote(key), unquote(value) if sep else ""))
    return pairs
