"""Paths are data: render them safely for people, exactly for machines.

Archive names may hold any bytes. Undecodable bytes arrive as lone
surrogates (``surrogateescape``); control characters and terminal escape
sequences may be anywhere. ``printable`` is for terminals, tables and logs;
``json_text`` keeps valid UTF-8 names exact and turns undecodable bytes
into ``\\xNN`` text so the JSON stays valid Unicode; ``raw_bytes`` gives
such a name's exact bytes and ``safe_json`` makes a serialized JSON report
free of raw controls and separators.
"""

from __future__ import annotations

import base64
import re

# C0 and C1 controls, DEL, lone surrogates, Unicode line/paragraph separators,
# and the invisible characters that make a name look like another: zero-width
# spaces and joiners, bidi marks, embeddings, overrides and isolates ("Trojan
# Source", CVE-2021-42574), and the byte-order mark.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:  # a raw byte that was not UTF-8
        return f"\\x{c - 0xDC00:02x}"
    if c < 0x100:
        return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(m.group(), f"\\x{c:02x}")
    return f"\\u{c:04x}"


def printable(text: str) -> str:
    """``text`` with every control character and raw byte shown as an escape."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def json_text(text: str) -> str:
    """``text`` for JSON: exact when it is valid Unicode, raw bytes as ``\\xNN``."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(_escape, text)


def raw_bytes(text: str) -> str | None:
    """The exact bytes of a name that is not valid UTF-8, in base64; None for
    any other name (its text is exact)."""
    if _SURROGATE.search(text) is None:
        return None
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that was never a byte (from a JSON escape)
        raw = text.encode("utf-8", "surrogatepass")
    return base64.b64encode(raw).decode("ascii")


# What JSON text may carry raw yet should not: C1 controls and DEL (terminals
# act on them), line and paragraph separators, bidi and invisible characters.
# Within a JSON string each becomes a \uXXXX escape: the value stays exact.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _json_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def safe_json(text: str) -> str:
    """Serialized JSON (``ensure_ascii=False``) with the characters above as
    ``\\uXXXX`` escapes and any lone surrogate left in a string shown as
    escape text (``\\xNN``, ``\\udNNN``): valid UTF-8, no raw controls."""
    if _SURROGATE.search(text) is not None:
        text = _SURROGATE.sub(lambda m: _escape(m).replace("\\", "\\\\"), text)
    if _JSON_UNSAFE.search(text) is None:
        return text
    return _JSON_UNSAFE.sub(_json_escape, text)
