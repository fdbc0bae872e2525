"""What the command line says on stderr while it works: never escape sequences
outside a terminal, nothing under --quiet, one line per phase under --verbose."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from layerscope.cli.progress import PHASES, Status
from tests.cli import layerscope

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_images" / "removed-later.tar.gz"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return layerscope(*args, env=env, timeout=120, cwd=ROOT, binary=True)


def test_quiet_passing_run_prints_nothing_on_stderr() -> None:
    proc = _run(str(SAMPLE), "--format", "json", "--no-config", "--quiet")
    assert proc.returncode == 0
    assert proc.stderr == b""
    assert proc.stdout.startswith(b"{")


def test_verbose_names_every_phase_in_order() -> None:
    proc = _run(str(SAMPLE), "--format", "json", "--no-config", "--verbose")
    assert proc.returncode == 0
    lines = proc.stderr.decode().splitlines()
    names = [line.split()[1] for line in lines if line.startswith("layerscope: ")]
    assert names == list(PHASES)
    for line in lines:
        assert line.endswith(" s") and float(line.split()[2]) >= 0


def test_no_escape_sequences_in_a_pipe() -> None:
    proc = _run(str(SAMPLE), "--format", "table", "--no-config", "--verbose")
    assert b"\x1b" not in proc.stderr and b"\r" not in proc.stderr
    assert b"\x1b" not in proc.stdout


def test_quiet_and_verbose_exclude_each_other() -> None:
    proc = _run(str(SAMPLE), "--quiet", "--verbose")
    assert proc.returncode == 2
    assert len(proc.stderr.decode().strip().splitlines()) == 1


def _args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"quiet": False, "verbose": False, "ci": False, **kw})


@pytest.mark.parametrize(
    ("env", "kw"),
    [({"CI": "true"}, {}), ({"TERM": "dumb"}, {}), ({}, {"quiet": True}), ({}, {"ci": True})],
)
def test_no_live_display(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], kw: dict[str, object]
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert not Status(_args(**kw)).live
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("CI", raising=False)
    assert Status(_args()).live  # the same terminal, without the reason, does show it


def test_diff_and_fix_take_the_same_flags(tmp_path: Path) -> None:
    proc = _run("diff", str(SAMPLE), str(SAMPLE), "--no-config", "--quiet")
    assert proc.returncode == 0 and proc.stderr == b""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\nCOPY a /a\n")
    proc = _run("fix", "--dockerfile", str(dockerfile), "--verbose")
    assert proc.returncode == 0
