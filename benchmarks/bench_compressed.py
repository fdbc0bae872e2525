"""Compressed layers: decompression throughput against gzip -dc / zstd -dc,
and one thread against two (layers in parallel).

Makes OCI layouts (gzip and zstd, with skopeo) from a generated archive and
times, alternating runs:
  - the CLI decompressors over every layer blob (gzip -dc, zstd -dc);
  - layerscope's own inflater (isal for gzip when installed, zstandard) alone;
  - `layerscope LAYOUT --format json` with LAYERSCOPE_SCAN_THREADS=1 and =2.
MB/s are of uncompressed layer bytes.

    python benchmarks/bench_compressed.py [--files 100000] [--gigs 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Summary, alternate, layerscope_cmd
from gen_archive import write_archive

_INFLATE = """
import sys
from layerscope.tar.streams import FileStream, open_decompressed
total = 0
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        s = open_decompressed(FileStream(f), name=path)
        while True:
            chunk = s.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
"""


def _layers(layout: Path) -> list[Path]:
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / digest).read_text())
    return [layout / "blobs" / "sha256" / d["digest"].split(":")[1] for d in manifest["layers"]]


def _row(name: str, s: Summary, plain: int, base: Summary | None) -> str:
    ratio = f"{s.wall / base.wall:.2f}" if base else ""
    return f"| {name} | {s.wall:.3f} | {s.cpu:.3f} | {plain / s.wall / 1e6:,.0f} | {ratio} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--gigs", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ls-comp-"))
    try:
        archive = work / "image.tar"
        write_archive(archive, args.files, args.gigs)
        for kind, flags, tool in (
            ("gzip", [], ["gzip", "-dc"]),
            ("zstd", ["--dest-compress-format", "zstd"], ["zstd", "-dcq"]),
        ):
            layout = work / kind
            subprocess.run(
                ["skopeo", "copy", "-q", *flags, f"docker-archive:{archive}", f"oci:{layout}:x"],
                check=True,
            )
            blobs = _layers(layout)
            stored = sum(b.stat().st_size for b in blobs)
            plain = sum(
                len(subprocess.run([*tool, str(b)], capture_output=True, check=True).stdout)
                for b in blobs
            )
            shell = " ; ".join(f"{' '.join(tool)} {b} > /dev/null" for b in blobs)
            res = alternate(
                {
                    f"{' '.join(tool)} (every layer)": ["sh", "-c", shell],
                    "layerscope inflater alone": [
                        sys.executable,
                        "-c",
                        _INFLATE,
                        *map(str, blobs),
                    ],
                    "layerscope, 1 thread": [
                        "env",
                        "LAYERSCOPE_SCAN_THREADS=1",
                        *layerscope_cmd(str(layout)),
                    ],
                    "layerscope, 2 threads": [
                        "env",
                        "LAYERSCOPE_SCAN_THREADS=2",
                        *layerscope_cmd(str(layout)),
                    ],
                },
                args.repeat,
            )
            print(
                f"\n### {kind}: {len(blobs)} layers, {stored / 1e6:.0f} MB stored, "
                f"{plain / 1e6:.0f} MB uncompressed, median of {args.repeat}\n"
            )
            print("| command | median wall s | median CPU s | MB/s (uncompressed) | wall / CLI |")
            print("|---|---:|---:|---:|---:|")
            base = next(iter(res.values()))
            for name, s in res.items():
                print(_row(name, s, plain, base))
            shutil.rmtree(layout)
        fast = "isal" if _has("isal") else "zlib"
        print(f"\n(gzip inflater in use: {fast})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    os.environ.setdefault("CI", "true")
    main()
