"""Run the real CLI in a subprocess under a memory cap and measure it.

The child gets ``RLIMIT_AS`` (a runaway allocation fails instead of taking
the machine down), a private ``TMPDIR`` (so the test can check nothing is
left behind) and a wall-clock deadline; ``os.wait4`` reports its CPU time.

Its peak RSS is the child's own ``VmHWM``, written at exit by a
``sitecustomize`` hook: ``ru_maxrss`` would carry the forking test process's
size across ``exec`` (Linux keeps the old memory map's high-water mark), so a
whole-suite run, whose pytest process is large, would see every child as large.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MEMORY_CAP = 3 << 30  # address space; peak RSS is checked far below this
PEAK_FILE = "LAYERSCOPE_TEST_PEAK_FILE"
_PEAK_HOOK = f"""
import atexit, os


def _write_peak():
    path = os.environ.get({PEAK_FILE!r})
    if not path:
        return
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(path, "w") as out:
                    out.write(line.split()[1])


atexit.register(_write_peak)
"""


def _peak_kib(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None  # killed, or exited without running atexit


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: bytes
    stderr: bytes
    seconds: float
    cpu_seconds: float
    max_rss_mb: float
    tmpdir_left: list[str]

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_cli(
    args: Sequence[str],
    *,
    cwd: Path,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    during: Callable[[subprocess.Popen[bytes]], None] | None = None,
    prefix: Sequence[str] = (),
) -> Outcome:
    """``python -m layerscope ARGS`` with stdin closed; ``during(proc)`` runs
    once the child started (to send it signals); ``prefix`` wraps the command
    (``setpriv ...`` to drop root's override of file permissions)."""
    with (
        tempfile.TemporaryDirectory(prefix="hostile-tmp-") as tmp,
        tempfile.TemporaryDirectory(prefix="hostile-hook-") as hook,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        Path(hook, "sitecustomize.py").write_text(_PEAK_HOOK)
        peak = Path(hook, "peak")
        child_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join((hook, str(REPO))),
            PEAK_FILE: str(peak),
            "TMPDIR": tmp,
            "LC_ALL": "C.UTF-8",
            **(env or {}),
        }
        start = time.monotonic()
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "layerscope", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=cwd,
            env=child_env,
            preexec_fn=_limits,
        )
        if during is not None:
            during(proc)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                proc.send_signal(signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                raise AssertionError(f"layerscope {' '.join(args)} ran over {timeout}s")
            time.sleep(0.01)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Outcome(
            code=proc.returncode,
            stdout=out.read(),
            stderr=err.read(),
            seconds=seconds,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            max_rss_mb=(_peak_kib(peak) or usage.ru_maxrss) / 1024,
            tmpdir_left=sorted(os.listdir(tmp)),
        )
