"""Every hostile input through the real CLI, in a subprocess, under limits.

For each case of the corpus: the exit code is the one expected; an error is
exactly one line on stderr matching the case's pattern, never a traceback;
CPU time and peak RSS stay under the case's bounds; the private TMPDIR is
left empty; nothing appears in the working directory or at the host paths
the archive names try to reach.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

import tests.hostile.round2  # noqa: F401  (adds its cases to CASES)
from tests.hostile.corpus import CASES, HOST_CANARIES, HOSTILE_NAMES, Case
from tests.hostile.runner import run_cli

_UNSAFE_OUTPUT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Raw in JSON text: C1 controls and separators (C0 ones are always escaped by JSON).
_UNSAFE_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _fingerprint(root: Path) -> dict[str, str]:
    """Every file under ``root`` (links not followed) and a hash of its bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink() or not p.is_file():
            out[str(p.relative_to(root))] = "link" if p.is_symlink() else "other"
        else:
            with open(p, "rb") as f:
                out[str(p.relative_to(root))] = hashlib.file_digest(f, "sha256").hexdigest()
    return out


def _params() -> list[object]:
    out = []
    for c in CASES:
        marks = [pytest.mark.slow] if "slow" in c.tags else []
        out.append(pytest.param(c, id=c.name, marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    work = tmp_path / "cwd"
    work.mkdir()
    args = case.build(inputs)
    for canary in HOST_CANARIES:
        assert not canary.exists(), f"left over from an earlier run: {canary}"
    before = _fingerprint(inputs)

    out = run_cli(args, cwd=work, timeout=max(60.0, case.cpu_seconds * 6))

    detail = f"{case.name}: exit {out.code}, stderr {out.err!r}"
    assert out.code in case.exit, detail
    assert "Traceback" not in out.err, detail
    if out.code == 2:
        lines = out.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("layerscope: error: "), detail
        assert re.search(case.stderr, lines[0]), detail
        assert out.stdout == b"", "no partial report after an error"
    else:
        assert out.err == "", detail
    assert not _UNSAFE_OUTPUT.search(out.err), detail

    assert out.cpu_seconds <= case.cpu_seconds, f"{case.name}: {out.cpu_seconds:.1f}s CPU"
    assert out.max_rss_mb <= case.max_rss_mb, f"{case.name}: {out.max_rss_mb:.0f} MB peak RSS"
    assert out.tmpdir_left == [], f"temp files left: {out.tmpdir_left}"
    assert list(work.iterdir()) == [], "nothing may be written to the working directory"
    assert _fingerprint(inputs) == before, "the input was modified"
    for canary in HOST_CANARIES:
        assert not canary.exists(), f"archive content reached the host: {canary}"

    if out.code in (0, 1):
        text = out.stdout.decode("utf-8")  # valid UTF-8 whatever the names held
        if "text" in case.tags:  # table, markdown: for people and terminals
            for line in text.splitlines():
                assert not _UNSAFE_OUTPUT.search(line), f"raw control character in {line!r}"
            for name in HOSTILE_NAMES:
                assert name not in text or name.isprintable(), name
            if case.check is not None:
                case.check(text)  # type: ignore[arg-type]
        else:  # json, sarif: valid UTF-8 (checked above) and valid JSON
            assert not _UNSAFE_JSON.search(text), _UNSAFE_JSON.search(text)
            report = json.loads(text)
            if case.check is not None:
                case.check(report)
