"""SIGINT and SIGTERM in the middle of reading an archive: exit 130/143, one
line on stderr, no temp files, and an existing -o report left untouched
(reports are written to a temp name and renamed)."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.hostile.runner import run_cli
from tests.hostile.tarcraft import docker_archive, many_files_layer


@pytest.fixture(scope="module")
def slow_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive that takes a second or more to read: 200k files, gzipped whole."""
    d = tmp_path_factory.mktemp("slow")
    docker_archive(d / "img.tar", [many_files_layer(200_000)])
    with open(d / "img.tar", "rb") as f, gzip.open(d / "img.tar.gz", "wb", compresslevel=1) as g:
        while chunk := f.read(1 << 20):
            g.write(chunk)
    (d / "img.tar").unlink()
    return d / "img.tar.gz"


def _wait_until_reading(proc: subprocess.Popen[bytes], path: Path) -> None:
    """Block until the child has the archive open (its handlers are installed)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            fds = os.listdir(f"/proc/{proc.pid}/fd")
            if any(os.readlink(f"/proc/{proc.pid}/fd/{fd}") == str(path) for fd in fds):
                return
        except OSError:
            pass
        time.sleep(0.005)
    raise AssertionError("the child never opened the archive")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_while_reading(
    slow_archive: Path, tmp_path: Path, signum: int, code: int
) -> None:
    report = tmp_path / "report.json"
    report.write_text("the previous report\n")

    def interrupt(proc: subprocess.Popen[bytes]) -> None:
        _wait_until_reading(proc, slow_archive)
        time.sleep(0.2)
        proc.send_signal(signum)

    out = run_cli(
        [str(slow_archive), "-o", str(report), "--format", "json"],
        cwd=tmp_path,
        during=interrupt,
    )
    assert out.code == code, (out.code, out.err)
    assert out.err.count("\n") <= 1 and "Traceback" not in out.err, out.err
    assert out.stdout == b""
    assert report.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    assert out.tmpdir_left == []


def test_uninterrupted_run_replaces_the_report(slow_archive: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text("the previous report\n")
    out = run_cli([str(slow_archive), "-o", str(report), "--format", "json"], cwd=tmp_path)
    assert out.code in (0, 1), out.err
    assert report.read_text().startswith("{")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
