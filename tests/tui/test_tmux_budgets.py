"""After the interactive view closes, a broken budget is still stated on stderr, so the
exit status 1 has its reason in the terminal (as in every other mode)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_tmux import ROOT, Terminal

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
SAMPLE = ROOT / "sample_images" / "removed-later.tar.gz"


def _terminal(extra: str, tmp_path: Path) -> Terminal:
    term = Terminal(f"layerscope-budget-{os.getpid()}-{len(extra)}")
    command = (
        f"cd {shlex.quote(str(tmp_path))} && env -u CI -u GITHUB_ACTIONS TERM=xterm-256color "
        f"PYTHONPATH={shlex.quote(str(ROOT))} {shlex.quote(sys.executable)} "
        f"-m layerscope {shlex.quote(str(SAMPLE))} --no-config {extra}; echo EXIT=$?; sleep 60"
    )
    term.tmux("new-session", "-d", "-s", "ls", "-x", "140", "-y", "40", command)
    return term


def _quit_and_read(term: Terminal) -> str:
    try:
        term.wait_for("Waste", "Fix:")
        term.keys("q")
        return term.wait_for("EXIT=")
    finally:
        subprocess.run(
            ["tmux", "-L", term.socket, "kill-server"], capture_output=True, timeout=30,
            check=False,
        )  # fmt: skip


def test_broken_budget_is_stated_after_the_view_closes(tmp_path: Path) -> None:
    screen = _quit_and_read(_terminal("--max-total 1", tmp_path))
    assert "EXIT=1" in screen
    assert "layerscope: budget failed: max_total" in screen


def test_nothing_is_said_when_budgets_hold(tmp_path: Path) -> None:
    screen = _quit_and_read(_terminal("--max-total 1G", tmp_path))
    assert "EXIT=0" in screen and "budget" not in screen
