"""Shared benchmark helpers: run a command in its own wrapper process and
report wall time, CPU time and peak RSS; alternate commands; summarise."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# ru_maxrss of RUSAGE_CHILDREN is the max over every child so far: each
# measurement runs in a fresh wrapper so the figure is that command's alone.
_WRAPPER = (
    "import resource,subprocess,sys,time\n"
    "t=time.perf_counter()\n"
    "p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE)\n"
    "w=time.perf_counter()-t\n"
    "r=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "sys.stderr.write(p.stderr.decode(errors='replace')[-2000:])\n"
    "print(w, r.ru_utime+r.ru_stime, r.ru_maxrss, p.returncode)\n"
)


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    rss_kb: int


def measure(cmd: Sequence[str], *, ok: Sequence[int] = (0, 1)) -> Run:
    """One run of ``cmd`` (stdout discarded): wall s, CPU s, peak RSS KiB."""
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd],
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "true"},
        check=True,
    )
    wall, cpu, rss, rc = proc.stdout.split()
    if int(rc) not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {rc}: {proc.stderr.strip()[-500:]}")
    return Run(float(wall), float(cpu), int(rss))


@dataclass(frozen=True)
class Summary:
    name: str
    wall: float  # median
    cpu: float  # median
    rss_mb: float  # max over runs
    runs: int


def alternate(commands: Mapping[str, Sequence[str]], repeat: int) -> dict[str, Summary]:
    """Run every command ``repeat`` times, interleaved so drift hits all alike."""
    runs: dict[str, list[Run]] = {k: [] for k in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            runs[name].append(measure(cmd))
    return summarize(runs)


def summarize(runs: Mapping[str, Sequence[Run]]) -> dict[str, Summary]:
    """Median wall and CPU time, peak RSS (MB) and count of each command's runs."""
    return {
        name: Summary(
            name,
            statistics.median(r.wall for r in rs),
            statistics.median(r.cpu for r in rs),
            max(r.rss_kb for r in rs) / 1024,
            len(rs),
        )
        for name, rs in runs.items()
    }


def table(results: Mapping[str, Summary], base: str | None = None) -> str:
    """A markdown table; ``base`` adds time and RSS ratios against that row."""
    head = "| command | median wall s | median CPU s | peak RSS MB |"
    sep = "|---|---:|---:|---:|"
    if base:
        head += f" wall / {base} | RSS / {base} |"
        sep += "---:|---:|"
    lines = [head, sep]
    for s in results.values():
        line = f"| {s.name} | {s.wall:.3f} | {s.cpu:.3f} | {s.rss_mb:.1f} |"
        if base:
            b = results[base]
            line += f" {s.wall / b.wall:.2f} | {s.rss_mb / b.rss_mb:.2f} |"
        lines.append(line)
    return "\n".join(lines)


def layerscope_cmd(target: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "layerscope", target, "--format", "json", *extra]
