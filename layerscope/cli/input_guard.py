"""``-o`` never writes over what the command reads.

``layerscope img.tar -o img.tar`` would replace the archive it just read,
``-o LAYOUT/index.json`` an OCI layout's index: data loss. The check runs
before anything is read or written, on the paths as they resolve (symlinks
followed, hard links compared by inode).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from layerscope.errors import UsageError
from layerscope.names import printable
from layerscope.sources import split_archive_ref

__all__ = ["refuse_overwriting_inputs"]


def _resolved(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_overwriting_inputs(outputs: Sequence[str] | None, inputs: Iterable[str | None]) -> None:
    """UsageError when an output path is an input file, or lies inside an
    input directory (an OCI layout). Inputs that are not paths (engine
    references) are passed over; an ``archive.tar:tag`` input counts as
    ``archive.tar``."""
    paths = []
    for given in inputs:
        if not given:
            continue
        path, _ = split_archive_ref(given)
        if os.path.exists(path):
            paths.append((given, path, _resolved(path), os.path.isdir(path)))
    for out in outputs or []:
        if out == "-":
            continue
        real_out = _resolved(out)
        for given, path, real_in, is_dir in paths:
            inside = is_dir and (real_out == real_in or real_out.startswith(real_in + os.sep))
            if real_out == real_in or inside or _same_file(out, path):
                what = "inside the input" if inside and real_out != real_in else "the input"
                raise UsageError(
                    f"-o {printable(out)[:200]}: that is {what} {printable(given)[:200]}; "
                    "refusing to overwrite it"
                )
