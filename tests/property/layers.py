"""Hypothesis strategies for random layer stacks, shaped like real layer tars.

A layer is a random sequence of operations over a tiny name space (so paths
collide, replace and shadow each other often): regular files, directories,
symlinks, hard links to a file stored earlier in the same layer, FIFOs,
whiteouts and opaque directories. Like a builder's diff, every member comes
after directory entries for all of its ancestors (that is also what turns a
lower file or symlink in the way into a directory, explicitly). Every stored
file has unique content; its XXH3-128 (as layerscan tags it) is the entry's
digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import xxhash
from hypothesis import strategies as st

from layerscope.model import Entry, EntryType


def examples(n: int) -> int:
    """``n`` examples, times ``LAYERSCOPE_FUZZ_SCALE`` (a long run sets it high)."""
    import os

    return n * int(os.environ.get("LAYERSCOPE_FUZZ_SCALE", "1"))


NAMES = ("a", "b", "c")
# Mostly short paths, so that layers collide on the same few names.
paths = (
    st.integers(1, 6)
    .flatmap(
        lambda n: st.lists(
            st.sampled_from(NAMES), min_size=1 if n < 4 else 2, max_size=1 if n < 4 else 3
        )
    )
    .map("/".join)
)


@dataclass
class Stack:
    """Layers of entries, and the content of every stored file by digest."""

    layers: list[list[Entry]] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)

    def describe(self) -> str:
        lines = []
        for i, layer in enumerate(self.layers):
            lines.append(f"layer {i}:")
            for e in layer:
                extra = f" -> {e.linkname}" if e.linkname else f" {e.size}b" if e.size else ""
                lines.append(f"  {e.type.value:9} {e.path!r}{extra}")
        return "\n".join(lines)


OPS = ("file", "file", "file", "dir", "symlink", "hardlink", "fifo", "whiteout", "opaque")


@st.composite
def stacks(
    draw: st.DrawFn, max_layers: int = 4, max_ops: int = 8, implicit_parents: bool = False
) -> Stack:
    """``implicit_parents``: members may come without directory entries for
    their ancestors (a non-directory in the way is then replaced by one)."""
    stack = Stack()
    serial = 0
    for index in range(draw(st.integers(1, max_layers))):
        entries: list[Entry] = []
        files: list[tuple[str, str]] = []  # (path, digest) stored in this layer so far

        def ancestors(path: str, out: list[Entry] = entries) -> None:
            parts = path.split("/")[:-1]
            out.extend(
                Entry("/".join(parts[: i + 1]), EntryType.DIR, mode=0o755)
                for i in range(len(parts))
            )

        for _ in range(draw(st.integers(0, max_ops))):
            op = draw(st.sampled_from(OPS))
            path = draw(paths)
            if not (implicit_parents and draw(st.booleans())):
                ancestors(path)
            if op == "file":
                serial += 1
                data = f"layer {index} file {serial}\n".encode() * draw(st.integers(0, 3))
                data += serial.to_bytes(4, "big")  # unique, even when empty otherwise
                digest = content_digest(data)
                stack.contents[digest] = data
                entries.append(Entry(path, EntryType.FILE, len(data), digest=digest))
                files.append((path, digest))
            elif op == "dir":
                entries.append(Entry(path, EntryType.DIR, mode=0o755))
            elif op == "symlink":
                target = draw(st.sampled_from(["a", "../b", "/etc", "/", "c/../../..", "x"]))
                entries.append(Entry(path, EntryType.SYMLINK, linkname=target))
            elif op == "hardlink" and files:
                target = draw(st.sampled_from(sorted({p for p, _ in files})))
                digest = [d for p, d in files if p == target][-1]  # the file there now
                nested = (target + "/").startswith(path + "/") or path.startswith(target + "/")
                if _still_file(entries, target) and not nested:
                    entries.append(Entry(path, EntryType.HARDLINK, linkname=target, digest=digest))
            elif op == "fifo":
                entries.append(Entry(path, EntryType.FIFO))
            elif op == "whiteout":
                entries.append(Entry(path, EntryType.WHITEOUT))
            elif op == "opaque":
                entries.append(Entry(path, EntryType.DIR, mode=0o755))
                entries.append(Entry(path, EntryType.OPAQUE))
        stack.layers.append(entries)
    return stack


def _still_file(entries: list[Entry], path: str) -> bool:
    """True when the last member naming ``path`` (or an ancestor of it) left
    ``path`` a regular file: a hard link needs a file to link to."""
    for e in reversed(entries):
        if e.type in (EntryType.WHITEOUT, EntryType.OPAQUE):
            continue
        if e.path == path:
            return e.type is EntryType.FILE
        if path.startswith(e.path + "/") and e.type is not EntryType.DIR:
            return False
        if e.path.startswith(path + "/"):
            return False  # a member below it made it a directory
    return False


def content_digest(data: bytes) -> str:
    """What a scan with ``want_digest`` records for ``data``, computed apart
    from layerscope's own code."""
    return "xxh3-128:" + xxhash.xxh3_128_hexdigest(data)
