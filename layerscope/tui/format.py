"""Text helpers for the views: sizes, shortening, and fixes split into prose
and Dockerfile code. Pure functions; every name goes through ``printable``."""

from __future__ import annotations

import difflib
import re

import humanize

from layerscope.names import printable

_INSTRUCTIONS = (
    "RUN|COPY|ADD|FROM|ENV|ARG|LABEL|WORKDIR|USER|EXPOSE|VOLUME|ENTRYPOINT|CMD|SHELL|"
    "HEALTHCHECK|STOPSIGNAL|ONBUILD"
)
# "prose: RUN ..." on one line; a line that is an instruction; a diff line.
_CODE_AFTER_COLON = re.compile(rf"^(?P<prose>.*?):\s+(?P<code>(?:{_INSTRUCTIONS})\s.*)$", re.S)
_CODE_LINE = re.compile(rf"^(?:{_INSTRUCTIONS})\s")
_DIFF_LINE = re.compile(rf"^(?P<sign>[-+])(?P<code>(?:{_INSTRUCTIONS})\s.*)$")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<delim>[A-Za-z_][\w-]*)\1")
WRAP_AT = 72


def size(n: int) -> str:
    """Bytes for people (binary units), exact below 1 KiB."""
    if n < 1024:
        return f"{n} B"
    return str(humanize.naturalsize(n, binary=True, format="%.1f"))


def printable_lines(text: str) -> str:
    """``text`` escaped line by line: its newlines stay, every other control goes."""
    return "\n".join(printable(line) for line in text.split("\n"))


def short(text: str, width: int) -> str:
    """One line, escaped, cut to ``width`` cells with an ellipsis."""
    text = printable(" ".join(text.split()))
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def fix_blocks(fix: str) -> list[tuple[str, str]]:
    """A finding's fix cut into blocks: ``("prose", text)``, ``("code", dockerfile)``,
    and diff style ``("-", as built)`` / ``("+", as it should be)``.

    A code block goes on over lines ending in a backslash and through the
    body of a heredoc; any other line is prose again.
    """
    blocks: list[tuple[str, list[str]]] = []
    heredoc: str | None = None
    for line in fix.splitlines():
        kind, body = "", line
        open_block = blocks and blocks[-1][0] != "prose"
        if open_block and (heredoc is not None or blocks[-1][1][-1].rstrip().endswith("\\")):
            blocks[-1][1].append(line)
            if heredoc is not None and line.strip() == heredoc:
                heredoc = None
            continue
        diff = _DIFF_LINE.match(line)
        if diff is not None:
            kind, body = diff.group("sign"), diff.group("code")
        elif _CODE_LINE.match(line):
            kind = "code"
        else:
            inline = _CODE_AFTER_COLON.match(line)
            if inline is not None:
                blocks.append(("prose", [inline.group("prose").strip() + ":"]))
                kind, body = "code", inline.group("code").strip()
            else:
                kind = "prose"
        if kind != "prose":
            mark = _HEREDOC.search(body)
            heredoc = mark.group("delim") if mark is not None else None
        if blocks and blocks[-1][0] == kind:
            blocks[-1][1].append(body)
        else:
            blocks.append((kind, [body]))
    return [(kind, "\n".join(lines).strip("\n")) for kind, lines in blocks]


def dockerfile(code: str, width: int = WRAP_AT) -> str:
    """A long one-line RUN broken at ``&&`` the way people write Dockerfiles."""
    out = []
    for line in code.splitlines():
        if len(line) <= width or " && " not in line:
            out.append(line)
            continue
        parts = line.split(" && ")
        out.append(parts[0] + " \\")
        out.extend(f"    && {p} \\" for p in parts[1:-1])
        out.append(f"    && {parts[-1]}")
    return "\n".join(out)


def rule_example(doc: str) -> str:
    """The ``Good::`` block of a rule's docstring (its documented fix), dedented."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip().lower().rstrip(":") == "good":
            block = []
            for body in lines[i + 1 :]:
                if body.strip() and not body.startswith((" ", "\t")):
                    break
                block.append(body)
            text = "\n".join(block).strip("\n")
            indent = min(
                (len(b) - len(b.lstrip()) for b in text.splitlines() if b.strip()), default=0
            )
            return "\n".join(b[indent:] for b in text.splitlines()).strip()
    return ""


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 finding``, ``2 findings``, with the count formatted for people."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def short_middle(text: str, width: int) -> str:
    """One line, escaped, cut in the middle so both ends (the file name) stay."""
    return cut_middle(printable(" ".join(text.split())), width)


def cut_middle(text: str, width: int) -> str:
    """``text`` (already printable) cut in the middle to ``width`` cells."""
    if len(text) <= width:
        return text
    if width < 8:
        return text[: max(0, width - 1)] + "…"
    tail = (width - 1) * 2 // 3
    return text[: width - 1 - tail] + "…" + text[len(text) - tail :]


def _bare(line: str) -> str:
    return line.rstrip().removesuffix("\\").strip()


def rewrite_lines(old: str, new: str) -> list[tuple[str, str]]:
    """A ``-`` / ``+`` rewrite as one short diff: both sides broken at ``&&``
    the way Dockerfiles are written, unchanged lines once (sign ``" "``), so the
    line that makes the difference is near the top, not at the end of a copy."""
    a = dockerfile(old, 0).splitlines()
    b = dockerfile(new, 0).splitlines()
    out: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=[_bare(x) for x in a], b=[_bare(x) for x in b])
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.extend((" ", line) for line in b[j1:j2])
            continue
        out.extend(("-", line) for line in a[i1:i2])
        out.extend(("+", line) for line in b[j1:j2])
    return out
