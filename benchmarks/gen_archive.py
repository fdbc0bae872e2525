"""Write large ``docker save``-style archives straight to disk (never held in
memory): many small files over several layers with overwrites and
deletions, and/or a few large files. Used by the scaling benchmark.

    python benchmarks/gen_archive.py OUT.tar --files 200000 --big-gb 0
    python benchmarks/gen_archive.py OUT.tar --files 150000 --deletions 50
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import tarfile
import tempfile
import zlib
from pathlib import Path

MB = 1 << 20
# Large files: hex text, so compressed layers shrink about as real content
# does (a 4 MiB block: farther apart than gzip's or zstd -3's window).
_BIG = random.Random(1).randbytes(2 * MB).hex().encode()


class _HashingWriter:
    """File wrapper that hashes what is written (the layer's diff_id)."""

    def __init__(self, f: object) -> None:
        self._f = f
        self.h = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.h.update(data)
        return self._f.write(data)  # type: ignore[attr-defined, no-any-return]

    def tell(self) -> int:
        return self._f.tell()  # type: ignore[attr-defined, no-any-return]


class _Source:
    """A file-like of ``size`` bytes of pattern data (for addfile)."""

    def __init__(self, size: int, blob: bytes, start: int = 0) -> None:
        self._left = size
        self._blob = blob
        self._pos = start % len(blob)

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        self._left -= n
        out = []
        while n > 0:
            piece = self._blob[self._pos : self._pos + n]
            out.append(piece)
            n -= len(piece)
            self._pos = (self._pos + len(piece)) % len(self._blob)
        return b"".join(out)


def _layer(path: Path, members: list[tuple[str, str, int]], blob: bytes) -> str:
    """members: (name, kind, size); kind file|dir|whiteout. Returns the diff_id."""
    with open(path, "wb") as raw:
        hw = _HashingWriter(raw)
        with tarfile.open(fileobj=hw, mode="w", format=tarfile.GNU_FORMAT) as t:  # type: ignore[call-overload]
            for name, kind, size in members:
                info = tarfile.TarInfo(name)
                info.mtime = 1_700_000_000
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    t.addfile(info)
                elif kind == "whiteout":
                    head, _, base = name.rpartition("/")
                    info.name = f"{head}/.wh.{base}" if head else f".wh.{base}"
                    t.addfile(info)
                else:
                    info.size = size
                    # Each small file starts elsewhere in the blob: distinct
                    # content (duplicates would be the exception, as in images).
                    start = zlib.crc32(name.encode()) if size < MB else 0
                    t.addfile(info, _Source(size, blob if size < MB else _BIG, start))
        return "sha256:" + hw.h.hexdigest()


def _small(start: int, count: int, rng: random.Random) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for i in range(start, start + count):
        d = f"usr/lib/python3/site-packages/pkg{i % 997}/sub{(i // 997) % 13}"
        out.append((f"{d}/mod{i}.py", "file", rng.randint(100, 8192)))
    return out


def write_archive(
    out: Path,
    files: int,
    big_gb: float = 0.0,
    seed: int = 0,
    deletions: bool = True,
    delete_count: int | None = None,
) -> None:
    """``files`` members (small files) over 5 layers, a quarter of the first
    layer's overwritten and (``deletions``) a tenth of the second's deleted
    (or ``delete_count`` of them, spread over it), plus ``big_gb`` GiB in four
    large files (one of them deleted again)."""
    rng = random.Random(seed)
    blob = random.Random(seed).randbytes(64 * 1024)
    per = max(1, files * 100 // 335)  # members in all: 3 x per + per/4 + per/10
    plans: list[list[tuple[str, str, int]]] = []
    a = _small(0, per, rng)
    plans.append(a)
    plans.append(_small(per, per, rng))
    plans.append(_small(2 * per, max(0, files - 2 * per - per // 4 - per // 10), rng))
    over = [(n, k, s + 1) for n, k, s in a[: per // 4]]
    doomed = plans[1][: per // 10]
    if delete_count is not None:
        step = max(1, len(plans[1]) // max(1, delete_count))
        doomed = plans[1][::step][:delete_count]
    gone = [(n, "whiteout", 0) for n, _, _ in doomed] if deletions else []
    plans.append(over + gone)
    plans.append([])
    big = int(big_gb * 1024) * MB
    if big:
        # Four large files, one a layer (so compressed layers are of similar
        # size and can inflate side by side); the last layer deletes one.
        # Sizes differ (same-size files are duplicate candidates: hashed).
        for i in range(4):
            size = big // 4 - i * 4096 if i < 3 else big - 3 * (big // 4) + 3 * 4096
            plans[i].append((f"opt/data/big{i}.bin", "file", size))
        if deletions:
            plans[4].append(("opt/data/big1.bin", "whiteout", 0))
    with tempfile.TemporaryDirectory(prefix="ls-gen-", dir=out.parent) as tmp:
        diff_ids, names = [], []
        for i, plan in enumerate(plans):
            p = Path(tmp) / f"{i}.tar"
            diff_ids.append(_layer(p, plan, blob))
            names.append(p)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"/bin/sh -c step {i}"} for i in range(len(plans))],
        }
        raw = json.dumps(config).encode()
        cfg_name = hashlib.sha256(raw).hexdigest() + ".json"
        layer_names = [f"{d.split(':')[1]}/layer.tar" for d in diff_ids]
        manifest = [{"Config": cfg_name, "RepoTags": ["bench/gen:1"], "Layers": layer_names}]
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
            for name, p in zip(layer_names, names, strict=True):
                t.add(p, arcname=name)
                os.unlink(p)
            for name, data in ((cfg_name, raw), ("manifest.json", json.dumps(manifest).encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, _Source(len(data), data))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--big-gb", type=float, default=0.0)
    ap.add_argument("--no-deletions", action="store_true")
    ap.add_argument(
        "--deletions",
        type=int,
        metavar="N",
        help="delete N files of the second layer (default: a tenth of it; "
        "dive slows down sharply with many whiteouts)",
    )
    args = ap.parse_args()
    write_archive(
        args.out,
        args.files,
        args.big_gb,
        deletions=not args.no_deletions,
        delete_count=args.deletions,
    )


if __name__ == "__main__":
    main()
