"""The interactive view only runs on a terminal, and only it imports Textual.

Each case runs the real command in a subprocess, on a pseudo-terminal where
it matters, and records ``sys.modules`` at exit.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_images" / "removed-later.tar.gz"
PROBE = """
import atexit, sys
def dump():
    with open({out!r}, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
atexit.register(dump)
from layerscope.cli import main
sys.exit(main({argv!r}))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40", PYTHONPATH=str(ROOT), **extra)
    return env


def _run_on_pty(argv: list[str], out: Path, env: dict[str, str], keys: bytes = b"") -> str:
    """Run the CLI with stdin/stdout/stderr on a pseudo-terminal; returns what it drew."""
    master, slave = pty.openpty()
    code = PROBE.format(out=str(out), argv=argv)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave, env=env
        )
    finally:
        os.close(slave)
    seen = b""
    sent = False
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
            if keys and not sent and b"Waste" in seen:
                time.sleep(0.5)
                os.write(master, keys)
                sent = True
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return seen.decode("utf-8", "replace")


def _modules(out: Path) -> set[str]:
    return set(out.read_text().split())


def _textual(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] == "textual" or m.startswith("layerscope.tui")}


def test_pipe_gets_the_table_without_textual(tmp_path: Path) -> None:
    out = tmp_path / "modules"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(out=str(out), argv=[str(SAMPLE)])],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Reclaimable:" in proc.stdout
    loaded = _modules(out)
    assert "layerscope.analysis" in loaded  # the probe did record the run
    assert not _textual(loaded)


@pytest.mark.parametrize(
    ("argv_extra", "env_extra"),
    [([], {"CI": "true"}), (["--format", "table"], {}), (["--format", "json"], {})],
    ids=["CI=true", "--format table", "--format json"],
)
def test_terminal_with_ci_or_format_gets_no_tui(
    tmp_path: Path, argv_extra: list[str], env_extra: dict[str, str]
) -> None:
    out = tmp_path / "modules"
    drawn = _run_on_pty([str(SAMPLE), *argv_extra], out, _env(**env_extra))
    assert "\x1b[?1049h" not in drawn  # never switched to the alternate screen
    assert "removed-later" in drawn
    loaded = _modules(out)
    assert "layerscope.analysis" in loaded
    assert not _textual(loaded)


def test_terminal_gets_the_tui_and_q_quits(tmp_path: Path) -> None:
    out = tmp_path / "modules"
    drawn = _run_on_pty([str(SAMPLE)], out, _env(), keys=b"q")
    assert "\x1b[?1049h" in drawn  # the alternate screen: the app ran
    assert "LS101" in drawn
    loaded = _modules(out)
    assert "textual" in loaded and "layerscope.tui.app" in loaded
