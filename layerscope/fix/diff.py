"""The unified diff of a patched Dockerfile, for ``patch -p0`` / ``git apply -p0``."""

from __future__ import annotations

import difflib

__all__ = ["unified_diff"]


def unified_diff(old: str, new: str, path: str, context: int = 3) -> str:
    """A unified diff of ``old`` -> ``new`` for ``patch -p0`` / ``git apply -p0``."""
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    if a == b:
        return ""
    out = [f"--- {path}\n", f"+++ {path}\n"]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out.extend(_diff_line(" ", line) for line in a[a1:a2])
                continue
            out.extend(_diff_line("-", line) for line in a[a1:a2])
            out.extend(_diff_line("+", line) for line in b[b1:b2])
    return "".join(out)


def _range(start: int, end: int) -> str:
    length = end - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _diff_line(mark: str, line: str) -> str:
    if line.endswith("\n"):
        return mark + line
    return f"{mark}{line}\n\\ No newline at end of file\n"
