"""Writing reports: which format each ``-o FILE`` gets, and writing files safely."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from layerscope.errors import UsageError
from layerscope.policy.values import Policy

# Every report extension any command knows: a command that lacks the format
# refuses the file instead of writing another format into it.
KNOWN_EXTENSIONS = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".sarif": "sarif",
    ".xml": "junit",
}


# Formats whose files carry another format's extension: with --format, the
# file takes it (a Code Quality report is a .json, SARIF may be one too).
_WRITTEN_AS = {"codequality": (".json",), "sarif": (".json",)}
_ALL_FORMATS = ("table", "json", "markdown", "sarif", "junit", "codequality")


def plan_outputs(
    outputs: Sequence[str] | None,
    fmt: str | None,
    extensions: dict[str, str],
    command: str = "layerscope",
    formats: Sequence[str] = (),
) -> tuple[list[tuple[str, str]], str | None]:
    """Which format each ``-o FILE`` gets, and which format (if any) goes to stdout.

    A file's extension decides (``.json``, ``.md``, ``.sarif``, ``.xml``);
    other files take ``--format``, else the table (``--format codequality``
    or ``sarif`` also takes a ``.json`` file). ``--format`` not taken by any file
    goes to stdout, and with no ``-o`` at all so does the table. ``-o -`` is
    stdout (``--format``, else the table), never a file named ``-``. An
    extension of a format ``command`` cannot write is a usage error.
    """
    files: list[tuple[str, str]] = []
    seen: set[str] = set()
    to_stdout = False
    for path in outputs or []:
        if path == "-":
            if to_stdout:
                raise UsageError("-o - given twice")
            to_stdout = True
            continue
        named, colon, rest = path.partition(":")
        forced = None
        if colon and rest and named in _ALL_FORMATS:
            # -o codequality:gl-code-quality-report.json names the format outright.
            if named not in {*extensions.values(), "table", *formats}:
                raise UsageError(f"-o {path}: {command} cannot write {named}")
            forced, path = named, rest
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"-o {path} given twice")
        seen.add(real)
        ext = os.path.splitext(path)[1].lower()
        chosen = forced or extensions.get(ext)
        if forced is None and fmt is not None and ext in _WRITTEN_AS.get(fmt, ()):
            chosen = fmt  # --format codequality -o gl-code-quality.json
        if chosen is None and ext in KNOWN_EXTENSIONS:
            raise UsageError(
                f"-o {path}: {command} cannot write {KNOWN_EXTENSIONS[ext]} "
                f"(its formats: {', '.join(sorted(set(extensions.values()) | {'table'}))})"
            )
        files.append((path, chosen or fmt or "table"))
    if to_stdout:
        return files, fmt or "table"
    if fmt is not None:
        return files, None if any(f == fmt for _, f in files) else fmt
    return files, None if files else "table"


def write_reports(
    result: Any,
    files: Sequence[tuple[str, str]],
    stdout_fmt: str | None,
    policy: Policy,
    render: Callable[[str, Any], str],
    write: Callable[[str, str], None],
    *,
    quiet: bool = False,
) -> list[str]:
    """Render ``result`` into every ``-o`` file (as ``plan_outputs`` planned),
    print the policy's notes on stderr (not under ``--quiet``), then the stdout
    report if there is one.

    A file that cannot be written does not stop the others: the reasons are
    returned (the caller exits 2 after writing everything it can)."""
    errors: list[str] = []
    for path, fmt in files:
        try:
            write(path, render(fmt, result))
        except UsageError as e:
            errors.append(str(e))
    for note in () if quiet else policy.notes:
        print(f"layerscope: note: {note}", file=sys.stderr)
    if stdout_fmt is not None:
        sys.stdout.write(render(stdout_fmt, result))
        sys.stdout.flush()
    return errors


def write_output(path: str, text: str) -> None:
    """Write a report to ``path``.

    A regular file (or a new one) is written atomically: a temp file beside
    it, then a rename, so a reader never sees half a report; through a
    symlink, the file it points to is replaced and the link kept. Anything
    else (``/dev/null``, ``/dev/stdout``, a FIFO) is written to as it is:
    renaming over it would replace the device with a file.
    """
    try:
        st = os.stat(path)  # through symlinks, /proc's magic ones included
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"cannot write {path}: it is a directory")
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            raise UsageError(f"cannot write {path}: {e.strerror or e}") from None
        return
    real = os.path.realpath(path)
    directory = os.path.dirname(real)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".layerscope-", dir=directory)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    try:
        # mkstemp makes the file 0600; a report is an ordinary file: honour the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, real)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk, a read-only target: not a traceback
            raise UsageError(f"cannot write {path}: {e.strerror or e}") from None
        raise
