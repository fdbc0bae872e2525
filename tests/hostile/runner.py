"""Run the real CLI in a subprocess under a memory cap and measure it.

The child gets ``RLIMIT_AS`` (a runaway allocation fails instead of taking
the machine down), a private ``TMPDIR`` (so the test can check nothing is
left behind) and a wall-clock deadline; ``os.wait4`` reports its peak RSS
and CPU time.
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
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        child_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
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
            max_rss_mb=usage.ru_maxrss / 1024,
            tmpdir_left=sorted(os.listdir(tmp)),
        )
