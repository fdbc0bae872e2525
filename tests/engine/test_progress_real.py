"""Progress in a real terminal (tmux): it shows within a second while an engine
prepares its export and while a large archive is read, it is gone when the report
is printed, and the report's bytes are those of a run in a pipe."""

from __future__ import annotations

import gzip
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import layerscope

from .imagebuild import build_image

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "benchmarks" / "gen_archive.py"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
BIG_TAG = "layerscope-test/progress-big:1"


def _pipe_json(target: str, *extra: str) -> bytes:
    out = layerscope(
        target, "--format", "json", "--no-config", *extra, timeout=600, cwd=ROOT, binary=True
    )
    out.check_returncode()
    return bytes(out.stdout)


class Terminal:
    """A tmux session running one layerscope command, stdout to a file."""

    def __init__(self, target: str, out: Path, *extra: str) -> None:
        self.socket = f"layerscope-progress-{os.getpid()}"
        command = (
            f"cd {shlex.quote(str(ROOT))} && env -u CI -u GITHUB_ACTIONS TERM=xterm-256color "
            f"{shlex.quote(sys.executable)} -m layerscope {shlex.quote(target)} --format json "
            f"--no-config {' '.join(extra)} > {shlex.quote(str(out))}; echo EXIT=$?; sleep 600"
        )
        self.started = time.monotonic()
        self.tmux("new-session", "-d", "-s", "p", "-x", "160", "-y", "20", command)

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True,
            timeout=30,
        ).stdout  # fmt: skip

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "p")

    def watch(self, timeout: float = 300) -> tuple[list[tuple[float, str]], str]:
        """Screens seen (seconds since start, text) until the command exits; the last one."""
        seen: list[tuple[float, str]] = []
        end = self.started + timeout
        while time.monotonic() < end:
            text = self.screen()
            seen.append((time.monotonic() - self.started, text))
            if "EXIT=" in text:
                return seen, text
            time.sleep(0.05)
        raise AssertionError(f"no exit within {timeout} s:\n{seen[-1][1] if seen else ''}")

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30,
            check=False,
        )  # fmt: skip


@pytest.fixture
def run_in_terminal(tmp_path: Path) -> Iterator[object]:
    terminals: list[Terminal] = []

    def run(target: str, *extra: str) -> tuple[list[tuple[float, str]], str, bytes]:
        out = tmp_path / f"out-{len(terminals)}.json"
        term = Terminal(target, out, *extra)
        terminals.append(term)
        seen, last = term.watch()
        return seen, last, out.read_bytes()

    yield run
    for term in terminals:
        term.close()


def _first(seen: list[tuple[float, str]], text: str) -> float | None:
    return next((t for t, screen in seen if text in screen), None)


def test_engine_export_shows_progress_then_clears(
    run_in_terminal: object, busybox_base: str
) -> None:
    # ~300 MB of incompressible bytes: Docker 20.10 takes seconds to prepare the export.
    build_image(
        BIG_TAG,
        f"FROM {busybox_base}\nRUN dd if=/dev/urandom of=/big bs=1M count=300\n",
    )
    # The export, not the engine's layer storage (read in well under a second).
    seen, last, report = run_in_terminal(BIG_TAG, "--engine-read", "export")  # type: ignore[operator]
    shown = _first(seen, "waiting for the engine's export")
    assert shown is not None and shown < 1.5, [t for t, _ in seen[:5]]
    assert "EXIT=0" in last
    assert "waiting for the engine" not in last and "reading" not in last
    assert report == _pipe_json(BIG_TAG, "--engine-read", "export")


def test_large_archive_shows_progress_then_clears(run_in_terminal: object, tmp_path: Path) -> None:
    plain = tmp_path / "big.tar"
    subprocess.run(
        [sys.executable, str(GEN), str(plain), "--files", "150000", "--big-gb", "0"],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    archive = tmp_path / "big.tar.gz"
    with plain.open("rb") as src, gzip.open(archive, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    plain.unlink()
    seen, last, report = run_in_terminal(str(archive))  # type: ignore[operator]
    shown = _first(seen, "reading ")
    assert shown is not None and shown < 1.5, [t for t, _ in seen[:5]]
    assert "EXIT=0" in last and "reading " not in last
    assert report == _pipe_json(str(archive))


def test_ctrl_c_while_waiting_for_the_engine(tmp_path: Path, busybox_base: str) -> None:
    build_image(
        BIG_TAG,
        f"FROM {busybox_base}\nRUN dd if=/dev/urandom of=/big bs=1M count=300\n",
    )
    temp = Path(os.environ.get("TMPDIR", "/tmp"))
    before = set(temp.glob("*layerscope*"))
    term = Terminal(BIG_TAG, tmp_path / "out.json", "--engine-read", "export")
    try:
        end = time.monotonic() + 30
        while "waiting for the engine's export" not in term.screen():
            assert time.monotonic() < end, term.screen()
            time.sleep(0.05)
        pressed = time.monotonic()
        term.tmux("send-keys", "-t", "p", "C-c")
        while "EXIT=" not in (screen := term.screen()):
            assert time.monotonic() - pressed < 1.0, screen
            time.sleep(0.05)
        assert "EXIT=130" in screen and "layerscope: interrupted" in screen
        assert "waiting for the engine" not in screen  # the display was cleared
    finally:
        term.close()
    assert set(temp.glob("*layerscope*")) <= before
