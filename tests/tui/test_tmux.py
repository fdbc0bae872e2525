"""End to end in a real terminal: tmux runs `python -m layerscope ARCHIVE`,
keys go in with send-keys, the screen comes back with capture-pane."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Terminal:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "ls")

    def wait_for(self, *texts: str, timeout: float = 60.0) -> str:
        """The screen once every text is on it and it has stopped changing (a capture
        taken mid-repaint, as on a loaded machine, would show half a frame)."""
        end = time.monotonic() + timeout
        screen = last = ""
        while time.monotonic() < end:
            screen = self.screen()
            if all(t in screen for t in texts) and screen == last:
                return screen
            last = screen
            time.sleep(0.2)
        raise AssertionError(f"{texts} not on a settled screen:\n{screen}")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "ls", key)
            time.sleep(0.3)


def open_terminal(archive: Path, width: int, height: int) -> Terminal:
    term = Terminal(f"layerscope-test-{os.getpid()}-{width}")
    command = (
        f"cd {shlex.quote(str(ROOT))} && env -u CI -u COLUMNS -u LINES TERM=xterm-256color "
        f"PYTHONPATH={shlex.quote(str(ROOT))} {shlex.quote(sys.executable)} "
        f"-m layerscope {shlex.quote(str(archive))}; echo EXIT=$?; sleep 120"
    )
    term.tmux("new-session", "-d", "-s", "ls", "-x", str(width), "-y", str(height), command)
    return term


@pytest.fixture
def small_terminal(archive: Path) -> Iterator[Terminal]:
    term = open_terminal(archive, 60, 20)
    try:
        yield term
    finally:
        subprocess.run(
            ["tmux", "-L", term.socket, "kill-server"], capture_output=True, timeout=30, check=False
        )


@pytest.fixture
def terminal(archive: Path) -> Iterator[Terminal]:
    term = Terminal(f"layerscope-test-{os.getpid()}")
    command = (
        f"cd {shlex.quote(str(ROOT))} && env -u CI -u COLUMNS -u LINES TERM=xterm-256color "
        f"PYTHONPATH={shlex.quote(str(ROOT))} {shlex.quote(sys.executable)} "
        f"-m layerscope {shlex.quote(str(archive))}; echo EXIT=$?; sleep 120"
    )
    term.tmux("new-session", "-d", "-s", "ls", "-x", "140", "-y", "40", command)
    try:
        yield term
    finally:
        subprocess.run(
            ["tmux", "-L", term.socket, "kill-server"], capture_output=True, timeout=30, check=False
        )


def test_layers_finding_and_fix_in_a_real_terminal(terminal: Terminal) -> None:
    screen = terminal.wait_for("Waste", "Fix:", "File tree", "q Quit", "install-tool")
    # The layers, with their commands.
    assert "mkdir -p /etc /usr/bin && install-tool" in screen
    assert "rm -f /tmp/src.tgz" in screen
    # The biggest finding, selected, with its fix as a Dockerfile rewrite.
    assert "LS101" in screen and "removed-later" in screen
    assert "Fix: Move the cleanup of layer 3 into the RUN" in screen
    # As a short diff: the RUN once, the line that makes the difference signed.
    assert "  RUN wget -O /tmp/src.tgz" in screen
    assert "+     && rm -f /tmp/src.tgz" in screen
    # The tree shows its layer with the archive under the cursor.
    assert "layer 2" in screen and "src.tgz" in screen
    # No raw escape from the hostile file name reached the terminal title or screen.
    assert "pwned" not in terminal.tmux("display-message", "-p", "-t", "ls", "#{pane_title}")

    terminal.keys("Down", "Enter")
    screen = terminal.wait_for("deb.debian.org_Packages", "layer 1")
    assert "rm -rf /var/lib/apt/lists/*" in screen
    # Next layer, then filter the tree: the hostile name shows escaped.
    terminal.keys("]", "/", *"evil", "Enter")
    # The long name is cut in the middle in the tree row: its ends stay.
    terminal.wait_for("layer 2", "1 match", "evil\\x1b]0;", "\\nname.txt")
    terminal.keys("q")
    terminal.wait_for("EXIT=0")


def boxed(screen: str) -> list[str]:
    """The lines of the pane's box: from its top border to its bottom border."""
    lines = screen.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("╭"))
    bottom = next(i for i, line in enumerate(lines) if line.startswith("╰"))
    return lines[top : bottom + 1]


def test_small_terminal_shows_one_whole_pane_at_a_time(small_terminal: Terminal) -> None:
    """60x20: the focused pane fills the screen with its borders; 2 shows the tree."""
    screen = small_terminal.wait_for("Waste", "Fix:")
    assert "? Help" in screen and "q Quit" in screen
    box = boxed(screen)
    assert all(line.rstrip().endswith(("│", "╮", "╯")) for line in box), screen
    assert "File tree" not in screen  # not drawn off screen beside the waste
    small_terminal.keys("2")
    screen = small_terminal.wait_for("File tree", "src.tgz")
    box = boxed(screen)
    assert all(len(line.rstrip()) <= 60 and line.rstrip()[-1] in "│╮╯" for line in box), screen
    assert "stored by layer 2" in screen  # the cursor's info keeps its layers
    small_terminal.keys("1")
    small_terminal.wait_for("Layers", "rm -f /tmp/src")
    small_terminal.keys("q")
    small_terminal.wait_for("EXIT=0")


def test_editor_opens_at_the_fix_line(tmp_path: Path) -> None:
    """`o` hands the terminal to $EDITOR at the planned fix's Dockerfile line."""
    args = tmp_path / "args"
    editor = tmp_path / "editor.sh"
    editor.write_text(f'#!/bin/sh\necho "$@" > {shlex.quote(str(args))}\n')
    editor.chmod(0o755)
    term = Terminal(f"layerscope-test-{os.getpid()}-editor")
    sample = ROOT / "sample_images"
    command = (
        f"cd {shlex.quote(str(ROOT))} && env -u CI -u COLUMNS -u LINES TERM=xterm-256color "
        f"EDITOR={shlex.quote(str(editor))} PYTHONPATH={shlex.quote(str(ROOT))} "
        f"{shlex.quote(sys.executable)} -m layerscope sample_images/chown-copy.tar.gz "
        f"--dockerfile sample_images/chown-copy/Dockerfile; echo EXIT=$?; sleep 120"
    )
    term.tmux("new-session", "-d", "-s", "ls", "-x", "120", "-y", "40", command)
    try:
        term.wait_for("+ COPY --chown=1000:1000 app/ /app/")
        term.keys("o")
        end = time.monotonic() + 30
        while not args.exists() and time.monotonic() < end:
            time.sleep(0.2)
        assert args.read_text().split() == ["+3", "sample_images/chown-copy/Dockerfile"]
        assert (sample / "chown-copy" / "Dockerfile").exists()
        term.wait_for("q Quit")  # the view is back
        term.keys("q")
        term.wait_for("EXIT=0")
    finally:
        subprocess.run(
            ["tmux", "-L", term.socket, "kill-server"], capture_output=True, timeout=30, check=False
        )
