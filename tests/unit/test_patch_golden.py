"""Golden Dockerfiles: the LS5xx findings, the fixes and the exact patch for each.

tests/golden/dockerfiles/<case>/ holds the Dockerfile and, as golden files,
``findings.txt`` (``LINE RULE ecosystem``), ``fixes.txt`` (``LINE KIND
title``) and ``fix.patch`` (the diff ``layerscope fix`` prints). The patch
must apply with ``patch -p0`` and ``git apply -p0`` and give the text the
planner computed; the patched file must parse, and planning again on it
must find nothing more to fix. Regenerate after a reviewed change with
``LAYERSCOPE_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from layerscope.dockerfile.parser import parse
from layerscope.fix.diff import unified_diff
from layerscope.fix.planner import apply, plan
from layerscope.rules.order import check_dockerfile

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "dockerfiles"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "Dockerfile").is_file())
UPDATE = os.environ.get("LAYERSCOPE_UPDATE_GOLDEN") == "1"


def _golden(path: Path, text: str) -> None:
    if UPDATE:
        path.write_text(text)
    assert path.is_file(), f"missing golden file {path} (LAYERSCOPE_UPDATE_GOLDEN=1)"
    assert text == path.read_text(), f"{path} differs"


def _render(case: str) -> tuple[str, str, str, str]:
    original = (GOLDEN / case / "Dockerfile").read_text()
    df = parse(original, "Dockerfile")
    findings = "".join(
        f"{f.location[1] if f.location else '-'} {f.rule} {f.ecosystem or '-'}\n"
        for f in check_dockerfile(df)
    )
    fixes = plan(df)
    listing = "".join(f"{f.line} {f.kind} {f.title}\n" for f in fixes)
    patched = apply(original, fixes)
    return findings, listing, unified_diff(original, patched, "Dockerfile"), patched


def test_the_golden_set_covers_every_ecosystem_asked_for() -> None:
    assert {"python", "node", "go", "debian-apt", "alpine-apk", "multi-stage", "heredoc"} <= set(
        CASES
    )


@pytest.mark.parametrize("case", CASES)
def test_findings_fixes_and_patch(case: str) -> None:
    findings, listing, diff, patched = _render(case)
    _golden(GOLDEN / case / "findings.txt", findings)
    _golden(GOLDEN / case / "fixes.txt", listing)
    _golden(GOLDEN / case / "fix.patch", diff)
    again = parse(patched, "Dockerfile")
    assert plan(again) == [], "a second run of fix still finds something"


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("tool", ["patch", "git"])
def test_patch_applies_with_the_usual_tools(case: str, tool: str, tmp_path: Path) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"no {tool}")
    _, _, diff, patched = _render(case)
    if not diff:
        pytest.skip("nothing to fix")
    shutil.copy(GOLDEN / case / "Dockerfile", tmp_path / "Dockerfile")
    argv = ["patch", "-p0", "--batch"] if tool == "patch" else ["git", "apply", "-p0", "-"]
    proc = subprocess.run(
        argv, cwd=tmp_path, input=diff, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "Dockerfile").read_text() == patched


def test_patch_keeps_every_command() -> None:
    """No fix deletes a command: every shell word of the original survives."""
    for case in CASES:
        original = (GOLDEN / case / "Dockerfile").read_text()
        _, _, _, patched = _render(case)
        words = set(original.split()) - {"\\", "-R", "RUN"}
        missing = {w for w in words if w not in patched}
        assert not missing, (case, missing)
